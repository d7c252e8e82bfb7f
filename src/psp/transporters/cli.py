"""The ``psp`` command line: serve the API, run the worker and jobs, manage merchants and the database.

Every command reads its settings from ``PSP_*`` variables, configures logging, builds its container with
``bootstrap`` and closes it on the way out. A bad setting exits with status 2 and one line naming it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from types import FrameType
from typing import Any, NoReturn
from uuid import UUID

import click
import structlog
from alembic.util.exc import CommandError

from psp.data_sources.postgres.migrations import check_no_drift, upgrade_to_head
from psp.domain.currencies import is_known_currency
from psp.domain.merchants import SECRET_KEY_MODES
from psp.lib.errors import ConfigurationError, PSPError
from psp.services import merchants as merchant_service
from psp.services import webhooks as webhook_service
from psp.services.idempotency import prune_expired_keys
from psp.services.settlement import SettlementReport
from psp.transporters import dev
from psp.transporters.cli_queues import queues, relay
from psp.transporters.command_support import (
    BACKGROUND_STATEMENT_TIMEOUT_MS,
    command_container,
    load_settings,
    run_until_stopped,
)
from psp.transporters.jobs.processing import RESOLUTION_CHUNK_SIZE, describe_resolution, resolve
from psp.transporters.jobs.scheduler import run_scheduler
from psp.transporters.jobs.settle import describe_report, settle
from psp.transporters.workers.payables import run_payables_worker
from psp.transporters.workers.webhooks import run_webhooks_worker

log = structlog.get_logger(__name__)

CONFIGURATION_ERROR_EXIT_CODE = 2
GUNICORN_CONFIG = "python:psp.transporters.gunicorn_config"
WSGI_APP = "psp.transporters.rest.app:create_app()"


class PspGroup(click.Group):
    """Turns psp's errors into one-line messages and exit codes instead of tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigurationError as error:
            click.echo(f"psp: configuration error: {error.message}", err=True)
            ctx.exit(CONFIGURATION_ERROR_EXIT_CODE)
        except PSPError as error:
            raise click.ClickException(error.message) from error


@click.group(cls=PspGroup)
def main() -> None:
    """psp: a payment service provider. Settings come from PSP_* environment variables."""


# --- serve --------------------------------------------------------------------------------------------


@main.command()
def serve() -> None:
    """Serve the HTTP API with gunicorn (PSP_HOST, PSP_PORT, PSP_WEB_CONCURRENCY, PSP_WEB_THREADS)."""
    settings = load_settings()
    argv = [sys.executable, "-m", "gunicorn", "-c", GUNICORN_CONFIG, WSGI_APP]
    # gunicorn's workers are separate processes: they share metric samples through files in this
    # directory, so a scrape of any worker reports them all. A fresh directory per start: no stale samples.
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="psp-metrics-"))
    if not settings.uses_embedded_database:
        # gunicorn takes over this process, so signals reach it; our own interpreter and module.
        os.execv(sys.executable, argv)  # noqa: S606  # nosec B606
    # Resolve the embedded server once, here, and hand its URL to gunicorn so forked workers do not each
    # attach. This process stays alive as gunicorn's parent: it holds the attachment for their lifetime.
    with command_container("psp-serve") as container:
        environment = {**os.environ, "PSP_DATABASE_URL": container.database_url}
    sys.exit(run_forwarding_signals(argv, environment))


def run_forwarding_signals(argv: list[str], environment: dict[str, str]) -> int:
    """Run a child, passing on the signals that stop or reload it; return its exit status."""
    # Our own interpreter and module, arguments built here.
    with subprocess.Popen(argv, env=environment) as child:  # noqa: S603  # nosec B603

        def forward(signal_number: int, _frame: FrameType | None) -> None:
            child.send_signal(signal_number)

        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(number, forward)
        return child.wait()


# --- worker, jobs, scheduler ----------------------------------------------------------------------------


@main.group()
def worker() -> None:
    """Queue consumers."""


@worker.command("payables")
@click.option("--once", is_flag=True, help="Process what is visible in the queue now, then exit.")
def worker_payables(once: bool) -> None:
    """Turn approved transactions into payables. SIGTERM finishes the batch in hand, then exits."""
    with command_container("psp-worker", statement_timeout_ms=BACKGROUND_STATEMENT_TIMEOUT_MS) as container:
        run_until_stopped(lambda shutdown: run_payables_worker(container, shutdown=shutdown, once=once))


@worker.command("webhooks")
@click.option("--once", is_flag=True, help="Deliver what is queued and due now, then exit.")
def worker_webhooks(once: bool) -> None:
    """Deliver events to merchants' webhook endpoints, signed, retried for 3 days. SIGTERM drains."""
    with command_container("psp-webhooks", statement_timeout_ms=BACKGROUND_STATEMENT_TIMEOUT_MS) as container:
        run_until_stopped(lambda shutdown: run_webhooks_worker(container, shutdown=shutdown, once=once))


@main.group()
def events() -> None:
    """Public events and their webhook deliveries."""


@events.command("redeliver")
@click.option(
    "--since",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]),
    help="Replay events created at or after this moment (YYYY-MM-DD or ISO 8601; UTC unless it says).",
)
@click.option(
    "--endpoint",
    "endpoint_id",
    type=click.UUID,
    help="Only to this webhook endpoint (default: every endpoint that wants each event).",
)
def events_redeliver(since: datetime, endpoint_id: UUID | None) -> None:
    """Send events again (after an outage on the merchant's side); the worker delivers them."""
    moment = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
    with command_container("psp-cli", statement_timeout_ms=BACKGROUND_STATEMENT_TIMEOUT_MS) as container:
        endpoint = None
        if endpoint_id is not None:
            owner = webhook_service.endpoint_owner(endpoint_id, uow=container.uow())
            if owner is None:
                fail(f"no such webhook endpoint: {endpoint_id}")
            endpoint = (owner, endpoint_id)
        scheduled = webhook_service.redeliver_since(
            moment, endpoint=endpoint, uow_factory=container.uow_factory, clock=container.clock
        )
    click.echo(f"Scheduled {scheduled} delivery(ies) of events since {moment.isoformat()}.")


@main.group()
def jobs() -> None:
    """Jobs run on a schedule (or by hand)."""


@jobs.command("settle")
@click.option(
    "--date",
    "run_date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Pay what is due on or before this date (YYYY-MM-DD). Default: today in PSP_SETTLEMENT_TIMEZONE.",
)
def jobs_settle(run_date: datetime | None) -> None:
    """Pay every waiting payable due by the date, missed days included; safe to run twice."""
    with command_container("psp-settle", statement_timeout_ms=BACKGROUND_STATEMENT_TIMEOUT_MS) as container:
        chunk_size = container.settings.settlement_chunk_size
        report = settle(
            container,
            None if run_date is None else run_date.date(),
            on_chunk=lambda progress: echo_progress(progress, chunk_size),
        )
    for line in describe_report(report):
        click.echo(line)


@jobs.command("resolve-processing")
@click.option(
    "--chunk-size",
    type=click.IntRange(1, 10_000),
    default=RESOLUTION_CHUNK_SIZE,
    show_default=True,
    help="Transactions claimed per database transaction.",
)
def jobs_resolve_processing(chunk_size: int) -> None:
    """Ask the acquirer again about processing transactions; never moves one without a definite answer."""
    with command_container("psp-resolve", statement_timeout_ms=BACKGROUND_STATEMENT_TIMEOUT_MS) as container:
        report = resolve(container, chunk_size=chunk_size)
    for line in describe_resolution(report):
        click.echo(line)


@jobs.command("prune-idempotency-keys")
def jobs_prune_idempotency_keys() -> None:
    """Delete idempotency keys (and stored responses) older than PSP_IDEMPOTENCY_KEY_TTL_DAYS."""
    with command_container("psp-prune", statement_timeout_ms=BACKGROUND_STATEMENT_TIMEOUT_MS) as container:
        ttl_days = container.settings.idempotency_key_ttl_days
        pruned = prune_expired_keys(ttl_days, uow_factory=container.uow_factory, clock=container.clock)
    click.echo(f"Pruned {pruned} idempotency key(s) older than {ttl_days} day(s).")


@jobs.command("reencrypt-data")
def jobs_reencrypt_data() -> None:
    """Reseal with PSP_DATA_ENCRYPTION_KEY what an old key sealed; then the old key can be dropped."""
    with command_container(
        "psp-reencrypt", statement_timeout_ms=BACKGROUND_STATEMENT_TIMEOUT_MS
    ) as container:
        report = container.reseal_data()
        key_id = container.box.current_key_id
    click.echo(
        f"Resealed with data key {key_id}: {report.webhook_endpoints} webhook endpoint(s), "
        f"{report.idempotency_responses} stored response(s)."
    )


def echo_progress(report: SettlementReport, chunk_size: int) -> None:
    """One line per chunk on stderr, only when the run spans more than one chunk."""
    if report.chunks > 1 or report.payables_paid >= chunk_size:
        click.echo(
            f"chunk {report.chunks}: {report.payables_paid} payable(s) paid so far, "
            f"{report.transactions_paid} transaction(s) moved to paid",
            err=True,
        )


@main.command()
def scheduler() -> None:
    """Settle now (catching up missed days), then daily at PSP_SETTLEMENT_TIME; stops on SIGTERM."""
    with command_container(
        "psp-scheduler", statement_timeout_ms=BACKGROUND_STATEMENT_TIMEOUT_MS
    ) as container:
        run_until_stopped(lambda shutdown: run_scheduler(container, shutdown=shutdown))


# --- database ----------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    with command_container("psp-migrate") as container:
        upgrade_to_head(container.database_url)
    click.echo("Database schema is up to date.")


@db.command("check")
def db_check() -> None:
    """Fail unless the database is migrated to head and matches the tables in code."""
    with command_container("psp-migrate") as container:
        try:
            check_no_drift(container.database_url)
        except CommandError as error:
            fail(f"database check failed: {error}")
    click.echo("Database schema matches the code.")


# --- merchants --------------------------------------------------------------------------------------


MODE_OPTION = click.option(
    "--mode", type=click.Choice(SECRET_KEY_MODES), default="test", show_default=True, help="Key mode."
)


@main.group()
def merchants() -> None:
    """Merchants and their secret keys."""


@merchants.command("create")
@click.option("--name", required=True, help="The merchant's name.")
@click.option("--currency", help="Default currency (ISO 4217). Default: PSP_DEFAULT_CURRENCY.")
@MODE_OPTION
@click.option("--json", "as_json", is_flag=True, help='Print only {"id": ..., "secret_key": ...}.')
def merchants_create(name: str, currency: str | None, mode: str, as_json: bool) -> None:
    """Create a merchant with its first secret key; the key is printed once and never again."""
    with command_container("psp-cli") as container:
        settings = container.settings
        currency = (currency or settings.default_currency).strip().upper()
        if not is_known_currency(currency):
            raise click.BadParameter("must be an ISO 4217 code such as BRL", param_hint="--currency")
        onboarded = merchant_service.create_merchant(
            name,
            currency=currency,
            debit_fee_bps=settings.debit_fee_bps,
            credit_fee_bps=settings.credit_fee_bps,
            mode=mode,
            uow=container.uow(),
            clock=container.clock,
        )
    merchant, key = onboarded.merchant, onboarded.key
    if as_json:
        click.echo(json.dumps({"id": str(merchant.id), "secret_key": key.secret_key}))
        return
    click.echo(f"Merchant {merchant.id} ({merchant.name}, {merchant.default_currency}) created.")
    click.echo(f"Secret key {key.api_key.id} ({mode}): {key.secret_key}")
    click.echo("Store the key now: it is not shown again.")


@merchants.group("keys")
def merchant_keys() -> None:
    """A merchant's secret keys."""


@merchant_keys.command("create")
@click.option("--merchant", "merchant_id", type=click.UUID, required=True, help="The merchant's id.")
@MODE_OPTION
def merchant_keys_create(merchant_id: UUID, mode: str) -> None:
    """Issue another secret key (to rotate: create, deploy it, then revoke the old one)."""
    with command_container("psp-cli") as container:
        issued = merchant_service.create_api_key(
            merchant_id, mode, uow=container.uow(), clock=container.clock
        )
    click.echo(f"Secret key {issued.api_key.id} ({mode}): {issued.secret_key}")
    click.echo("Store the key now: it is not shown again.")


@merchant_keys.command("revoke")
@click.option("--merchant", "merchant_id", type=click.UUID, required=True, help="The merchant's id.")
@click.option("--key", "key_id", type=click.UUID, required=True, help="The key's id.")
def merchant_keys_revoke(merchant_id: UUID, key_id: UUID) -> None:
    """Revoke a secret key at once."""
    with command_container("psp-cli") as container:
        merchant_service.revoke_api_key(merchant_id, key_id, uow=container.uow(), clock=container.clock)
    click.echo(f"Secret key {key_id} revoked.")


# --- dev ----------------------------------------------------------------------------------------------


@main.command("dev")
@click.option(
    "--demo-webhook",
    is_flag=True,
    help="Also run a loopback webhook receiver for the demo merchant that prints each verified event.",
)
def dev_command(demo_webhook: bool) -> None:
    """Everything on this machine: embedded PostgreSQL, migrations, demo merchant, API, workers, scheduler."""
    settings = load_settings()
    sys.exit(dev.run_dev(settings, demo_webhook=demo_webhook))


def fail(message: str) -> NoReturn:
    """Stop the command with a one-line message and exit status 1."""
    raise click.ClickException(message)


# `psp relay` and `psp queues create|redrive` (both backends) live beside this module: SQS-specific
# commands that must run without the database.
main.add_command(relay)
main.add_command(queues)


if __name__ == "__main__":
    main(prog_name="psp")
