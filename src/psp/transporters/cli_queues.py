"""``psp relay`` and ``psp queues create|redrive``, registered on the main ``psp`` group.

SQS-only commands talk to SQS without a database container: creating queues on a first deploy must
not need the database, nor start the embedded one; boto3 is imported only by the commands using it.
"""

from __future__ import annotations

import click

from psp.config import Settings
from psp.transporters.command_support import command_container, load_settings, run_until_stopped
from psp.transporters.jobs.relay import DEFAULT_BATCH_SIZE, run_relay

# A relay cycle holds its rows locked while SQS answers; generous, but a stuck statement still ends.
RELAY_STATEMENT_TIMEOUT_MS = 60_000


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
    settings = load_settings()
    require_sqs(settings, "psp relay")
    with command_container(
        "psp-relay", statement_timeout_ms=RELAY_STATEMENT_TIMEOUT_MS, settings=settings
    ) as container:
        run_until_stopped(lambda shutdown: run_relay(container, shutdown=shutdown, batch_size=batch_size))


@click.group("queues")
def queues() -> None:
    """Event queues: create them (SQS), redrive dead-lettered events (either backend)."""


@queues.command("create")
def queues_create() -> None:
    """Create the SQS queues (payables, webhooks) and their dead-letter queues, or update their attributes."""
    from psp.data_sources.sqs.client import build_sqs_client, create_psp_queues  # noqa: PLC0415 - boto3

    settings = load_settings()
    require_sqs(settings, "psp queues create")
    for kind, created in create_psp_queues(build_sqs_client(settings), settings).items():
        click.echo(f"{kind} queue: {created.queue_url}")
        click.echo(
            f"{kind} dead-letter queue: {created.dlq_url} (after {settings.worker_max_receives} receives)"
        )


@queues.command("redrive")
def queues_redrive() -> None:
    """Give every dead-lettered event a fresh set of deliveries (run once its cause is fixed)."""
    settings = load_settings()
    if settings.queue_backend == "sqs":
        # No container: SQS needs no database, and this must not start the embedded one.
        from psp.repositories.sqs.queue import SqsEventQueue  # noqa: PLC0415 - boto3 only when used

        redriven = SqsEventQueue.from_settings(settings).redrive_dead()
    else:
        with command_container("psp-cli", settings=settings) as container:
            redriven = container.event_queue().redrive_dead()
    click.echo(f"Redrove {redriven} dead-lettered event(s).")
