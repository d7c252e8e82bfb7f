"""The relay loop (``psp relay``): drains the outbox into SQS, backing off while SQS or the database is down.

Nothing is lost while SQS is unreachable: events stay in the outbox (not yet processed) until SQS
accepts them, and the loop retries with exponential backoff and jitter, so a fleet of relays does
not hammer an endpoint that is coming back.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from psp.bootstrap import Container
from psp.lib.errors import ServiceUnavailable
from psp.repositories.ports import EventPublisher
from psp.services.relay import events_backlog, outbox_backlog, relay_events, relay_outbox
from psp.transporters.workers.shutdown import Shutdown

log = structlog.get_logger(__name__)

DEFAULT_BATCH_SIZE = 100  # events per database transaction: ten SendMessageBatch calls
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
BACKLOG_EVENT = "relay.backlog"  # infrastructure/monitoring.tf turns these lines into PSP/OutboxBacklog
BACKLOG_REPORT_SECONDS = 60.0


@dataclass
class Backoff:
    """Exponential backoff with jitter: between half and all of ``first * 2**failures``, capped."""

    first: float = FIRST_BACKOFF_SECONDS
    cap: float = MAX_BACKOFF_SECONDS
    failures: int = 0
    _random: random.Random = field(default_factory=random.SystemRandom)

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.first * 2**self.failures)
        self.failures += 1
        return self._random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.failures = 0


@dataclass
class BacklogReport:
    """One ``relay.backlog`` line a minute, busy or idle, so the backlog metric never has gaps.

    The log line is the metric: a CloudWatch Logs metric filter reads ``outbox_backlog`` from it, so the
    relay needs no monitoring API or permission, and a relay that stops logging makes the alarm fire.
    """

    every_seconds: float = BACKLOG_REPORT_SECONDS
    monotonic: Callable[[], float] = time.monotonic
    _last: float | None = None

    def observe(self, backlog: int) -> None:
        now = self.monotonic()
        if self._last is None or now - self._last >= self.every_seconds:
            self._last = now
            log.info(BACKLOG_EVENT, outbox_backlog=backlog)


def run_relay(
    container: Container,
    *,
    shutdown: Shutdown,
    publisher: EventPublisher | None = None,
    webhook_publisher: EventPublisher | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    idle_seconds: float | None = None,
    backoff: Backoff | None = None,
    backlog_report: BacklogReport | None = None,
) -> None:
    """Relay outbox events to the payables queue and public events to the webhooks queue, until asked
    to stop; a stop lets the batch in hand finish."""
    publisher = publisher or container.event_publisher()
    webhook_publisher = webhook_publisher or container.webhook_event_publisher()
    idle = container.settings.worker_poll_interval if idle_seconds is None else idle_seconds
    backoff = backoff or Backoff()
    backlog_report = backlog_report or BacklogReport()
    # The webhooks queue has a backoff of its own: its outage must not slow the payables relay.
    events_backoff, events_retry_at = Backoff(), 0.0
    log.info("relay.started", batch_size=batch_size)
    while not shutdown.requested:
        try:
            published = relay_outbox(
                uow=container.uow(), publisher=publisher, limit=batch_size, clock=container.clock
            )
            published_events = 0
            if time.monotonic() >= events_retry_at:
                try:
                    published_events = relay_events(
                        uow=container.uow(),
                        publisher=webhook_publisher,
                        limit=batch_size,
                        clock=container.clock,
                    )
                    events_backoff.reset()
                except ServiceUnavailable as error:
                    delay = events_backoff.next_delay()
                    events_retry_at = time.monotonic() + delay
                    log.warning(
                        "relay.webhooks_unavailable", code=error.code, retry_in_seconds=round(delay, 2)
                    )
            backlog = outbox_backlog(uow=container.uow()) + events_backlog(uow=container.uow())
        except ServiceUnavailable as error:
            delay = backoff.next_delay()
            log.warning("relay.unavailable", code=error.code, retry_in_seconds=round(delay, 2))
            shutdown.wait(delay)
            continue
        backoff.reset()
        log_cycle(published + published_events, backlog)
        backlog_report.observe(backlog)
        if published < batch_size and published_events < batch_size:
            # Caught up (or SQS refused part of the batch): wait a little instead of spinning.
            shutdown.wait(idle)
    log.info("relay.stopped")


def log_cycle(published: int, backlog: int) -> None:
    # Every cycle reports the backlog; idle cycles only at debug, or an idle relay floods the logs.
    if published:
        log.info("relay.cycle", published=published, outbox_backlog=backlog)
    else:
        log.debug("relay.cycle", published=published, outbox_backlog=backlog)
