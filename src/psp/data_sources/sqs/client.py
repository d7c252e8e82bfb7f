"""The boto3 SQS client, queue addresses and queue creation. Nothing here runs at import.

botocore failures are translated into ``psp.lib.errors.ServiceUnavailable`` here, at the edge, so that
callers (the relay, the worker) back off on one error type whatever the cause: endpoint unreachable,
connection reset, throttling or an SQS-side 5xx.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from psp.config import Settings
from psp.lib.errors import ServiceUnavailable

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType

    QueueAttributes = dict[QueueAttributeNameType, str]

# The longest long poll SQS allows; also set as the queue default so every receive is a long poll.
MAX_WAIT_SECONDS = 20
DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # the SQS maximum: poison messages wait for a fix that long

_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "KMS.ThrottlingException",
    }
)


PROBE_TIMEOUT_SECONDS = 1


def build_sqs_client(settings: Settings) -> SQSClient:
    """An SQS client for the configured region and endpoint (a local SQS server when set)."""
    config = Config(
        region_name=settings.aws_region,
        # Fail fast on an unreachable endpoint: the relay and the worker do their own backoff.
        connect_timeout=3,
        # Longer than the longest long poll, or every idle receive would time out.
        read_timeout=MAX_WAIT_SECONDS + 10,
        retries={"mode": "standard", "max_attempts": 2},
    )
    # A session per client: boto3's default session is not safe to share across threads.
    session = boto3.session.Session()
    return session.client("sqs", endpoint_url=settings.sqs_endpoint_url, config=config)


def build_sqs_probe_client(settings: Settings) -> SQSClient:
    """A client for readiness probes: one attempt, one-second time-outs, so a probe never piles up."""
    config = Config(
        region_name=settings.aws_region,
        connect_timeout=PROBE_TIMEOUT_SECONDS,
        read_timeout=PROBE_TIMEOUT_SECONDS,
        retries={"max_attempts": 1, "mode": "standard"},
    )
    return boto3.session.Session().client("sqs", endpoint_url=settings.sqs_endpoint_url, config=config)


@contextmanager
def translated_errors(operation: str) -> Iterator[None]:
    """Turn botocore's transient failures into ServiceUnavailable; let the others through."""
    try:
        yield
    except (ConnectionError, HTTPClientError) as error:
        raise queue_unavailable(operation) from error
    except ClientError as error:
        if is_transient(error):
            raise queue_unavailable(operation) from error
        raise


def is_transient(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code in _TRANSIENT_CODES or status >= 500


def queue_unavailable(operation: str) -> ServiceUnavailable:
    return ServiceUnavailable(f"SQS is unavailable ({operation}); retry shortly", code="queue_unavailable")


def is_queue_url(name_or_url: str) -> bool:
    return name_or_url.startswith(("https://", "http://"))


def queue_name_of(name_or_url: str) -> str:
    return name_or_url.rstrip("/").rsplit("/", 1)[-1] if is_queue_url(name_or_url) else name_or_url


class QueueAddress:
    """A queue named by URL or by name; a name is resolved to its URL on first use, then remembered.

    Resolving lazily lets a relay or worker start while SQS is down and back off like on any other
    failure, instead of dying in its constructor.
    """

    def __init__(self, client: SQSClient, name_or_url: str) -> None:
        self._client = client
        self._name_or_url = name_or_url
        self._url = name_or_url if is_queue_url(name_or_url) else None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return queue_name_of(self._name_or_url)

    @property
    def url(self) -> str:
        with self._lock:
            if self._url is None:
                with translated_errors("GetQueueUrl"):
                    self._url = self._client.get_queue_url(QueueName=self._name_or_url)["QueueUrl"]
            return self._url


@dataclass(frozen=True)
class CreatedQueues:
    queue_url: str
    dlq_url: str


def create_queues(
    client: SQSClient,
    *,
    queue: str,
    dlq: str,
    visibility_timeout: int,
    max_receives: int,
) -> CreatedQueues:
    """Create (or bring up to date) the queue and its dead-letter queue; safe to run again."""
    dlq_url = ensure_queue(
        client,
        queue_name_of(dlq),
        {"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS), "SqsManagedSseEnabled": "true"},
    )
    with translated_errors("GetQueueAttributes"):
        dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
    redrive_policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}
    queue_url = ensure_queue(
        client,
        queue_name_of(queue),
        {
            "VisibilityTimeout": str(visibility_timeout),
            "ReceiveMessageWaitTimeSeconds": str(MAX_WAIT_SECONDS),
            "RedrivePolicy": json.dumps(redrive_policy),
            "SqsManagedSseEnabled": "true",
        },
    )
    return CreatedQueues(queue_url=queue_url, dlq_url=dlq_url)


def create_psp_queues(client: SQSClient, settings: Settings) -> dict[str, CreatedQueues]:
    """Both queue pairs psp uses, by kind (``Payables``, ``Webhooks``); safe to run again."""
    pairs = {
        "Payables": (settings.sqs_payables_queue, settings.sqs_payables_dlq),
        "Webhooks": (settings.sqs_webhooks_queue, settings.sqs_webhooks_dlq),
    }
    return {
        kind: create_queues(
            client,
            queue=queue,
            dlq=dlq,
            visibility_timeout=settings.worker_visibility_timeout,
            max_receives=settings.worker_max_receives,
        )
        for kind, (queue, dlq) in pairs.items()
    }


def ensure_queue(client: SQSClient, name: str, attributes: QueueAttributes) -> str:
    """Create the queue; if it exists with other attributes, set ours on it instead."""
    with translated_errors("CreateQueue"):
        try:
            return client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        except client.exceptions.QueueNameExists:
            url = client.get_queue_url(QueueName=name)["QueueUrl"]
            client.set_queue_attributes(QueueUrl=url, Attributes=attributes)
            return url
