"""Readiness probes: can this process reach its database and its queue right now?

Each probe is quick and bounded (a one-second statement timeout, one-second SQS time-outs, no retries):
a load balancer asks often and must not pile up waiting requests on a sick dependency.
"""

from __future__ import annotations

from typing import Final

import boto3
import structlog
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from psp.bootstrap import Container

PROBE_TIMEOUT_SECONDS: Final = 1

log = structlog.get_logger("psp.readiness")


def database_is_ready(container: Container) -> bool:
    """``SELECT 1`` under a one-second statement timeout."""
    return _run_probe(container, "SELECT 1", "database")


def queue_is_ready(container: Container) -> bool:
    """The Postgres queue is the outbox table; the SQS queue is asked for its URL or attributes."""
    if container.settings.queue_backend == "postgres":
        return _run_probe(container, "SELECT 1 FROM outbox LIMIT 1", "queue")
    return _sqs_queue_is_reachable(container)


def _run_probe(container: Container, statement: str, probe: str) -> bool:
    try:
        with container.engine.begin() as connection:
            connection.execute(text(f"SET LOCAL statement_timeout = '{PROBE_TIMEOUT_SECONDS}s'"))
            connection.execute(text(statement))
    except (SQLAlchemyError, OSError) as error:
        log.warning("readiness.failed", probe=probe, error=type(error).__name__)
        return False
    return True


def _sqs_queue_is_reachable(container: Container) -> bool:
    settings = container.settings
    client = boto3.client(
        "sqs",
        region_name=settings.aws_region,
        endpoint_url=settings.sqs_endpoint_url,
        config=Config(
            connect_timeout=PROBE_TIMEOUT_SECONDS,
            read_timeout=PROBE_TIMEOUT_SECONDS,
            retries={"max_attempts": 0},
        ),
    )
    queue = settings.sqs_payables_queue
    try:
        if queue.startswith(("https://", "http://")):
            client.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        else:
            client.get_queue_url(QueueName=queue)
    except (BotoCoreError, ClientError) as error:
        log.warning("readiness.failed", probe="queue", error=type(error).__name__)
        return False
    return True
