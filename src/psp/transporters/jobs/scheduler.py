"""The built-in scheduler, for ``psp dev`` and small deployments (in AWS, EventBridge runs the jobs).

- settlement at start-up (catching up whatever was missed), then daily at ``PSP_SETTLEMENT_TIME``, with
  the pruning of expired idempotency keys after it;
- stuck (``processing``) transactions asked about again every minute.

Every job is safe to run twice or concurrently, so an overlap with a manual run is fine.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta, tzinfo

import structlog

from psp.bootstrap import Container
from psp.services.idempotency import prune_expired_keys
from psp.services.settlement import SettlementReport
from psp.transporters.jobs.processing import resolve
from psp.transporters.jobs.settle import settle
from psp.transporters.workers.shutdown import Shutdown

log = structlog.get_logger(__name__)

RETRY_SECONDS = 60.0
# The clock is re-read at least this often while sleeping, so a suspended laptop or a corrected clock
# does not make the scheduler miss its time by much.
MAX_SLEEP_SECONDS = 60.0


class SettlementInterrupted(Exception):
    """Raised between chunks when a stop was requested: every chunk is its own committed transaction."""


def next_run_at(now: datetime, at: time, zone: tzinfo) -> datetime:
    """The first moment after ``now`` when the wall clock in ``zone`` reads ``at``."""
    local_now = now.astimezone(zone)
    candidate = datetime.combine(local_now.date(), at, tzinfo=zone)
    if candidate <= local_now:
        candidate = datetime.combine(local_now.date() + timedelta(days=1), at, tzinfo=zone)
    return candidate


def run_scheduler(container: Container, *, shutdown: Shutdown) -> None:
    """Run the daily jobs now and at ``PSP_SETTLEMENT_TIME``, the minutely ones in between, until stopped."""
    settings = container.settings
    log.info("scheduler.started", settlement_time=settings.settlement_time.isoformat("minutes"))
    run_daily_jobs(container, shutdown=shutdown)
    while not shutdown.requested:
        due = next_run_at(container.clock(), settings.settlement_time, settings.settlement_timezone)
        log.info("scheduler.next_run", at=due.isoformat())
        if sleep_until(due, container=container, shutdown=shutdown):
            break
        run_daily_jobs(container, shutdown=shutdown)
    log.info("scheduler.stopped")


def run_daily_jobs(container: Container, *, shutdown: Shutdown) -> None:
    settle_until_done(container, shutdown=shutdown)
    run_guarded(
        "prune_idempotency_keys",
        lambda: prune_expired_keys(
            container.settings.idempotency_key_ttl_days,
            uow_factory=container.uow_factory,
            clock=container.clock,
        ),
    )


def run_minutely_jobs(container: Container) -> None:
    run_guarded("resolve_processing", lambda: resolve(container))


def run_guarded(job: str, run: Callable[[], object]) -> None:
    """A failing periodic job is logged and tried again at its next turn; it never stops the scheduler."""
    try:
        run()
    except Exception:
        log.exception("scheduler.job_failed", job=job)


def settle_until_done(container: Container, *, shutdown: Shutdown) -> None:
    """Run settlement for today, retrying after failures (a database restart) until it completes."""

    def stop_between_chunks(_report: SettlementReport) -> None:
        if shutdown.requested:
            raise SettlementInterrupted

    while not shutdown.requested:
        try:
            settle(container, on_chunk=stop_between_chunks)
            return
        except SettlementInterrupted:
            log.info("scheduler.settlement_interrupted")
            return
        except Exception:
            log.exception("scheduler.settlement_failed", retry_in_seconds=RETRY_SECONDS)
            shutdown.wait(RETRY_SECONDS)


def sleep_until(moment: datetime, *, container: Container, shutdown: Shutdown) -> bool:
    """Wait for ``moment``, running the minutely jobs meanwhile; return True if a stop was requested."""
    while True:
        run_minutely_jobs(container)
        remaining = (moment - container.clock()).total_seconds()
        if remaining <= 0:
            return shutdown.requested
        if shutdown.wait(min(remaining, MAX_SLEEP_SECONDS)):
            return True
