"""The webhooks worker (``psp worker webhooks``): events in, signed POSTs to merchants' endpoints out.

Each cycle it (1) takes new events from its queue (the events table, or the SQS webhooks queue) and fans
them out into deliveries, acknowledging the messages once the deliveries are committed (fanning out twice
creates nothing twice); and (2) claims due deliveries, as many as it has free threads, and attempts them
concurrently. Attempts are bounded by ``PSP_WEBHOOK_TIMEOUT_SECONDS``, and a thread waiting on a
silent endpoint holds only its own delivery: the other threads keep delivering to everyone else.

A claimed delivery is leased: if the worker dies mid-attempt, the delivery is due again when the lease
lapses and is sent again with the same ``webhook-id`` (at least once; receivers dedupe on it).
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor

import structlog

from psp.bootstrap import Container
from psp.domain.webhooks import DueDelivery, RetrySchedule
from psp.repositories.ports import EventQueue, WebhookSender
from psp.services import webhooks as service
from psp.transporters.workers.shutdown import Shutdown

log = structlog.get_logger(__name__)

FIRST_ERROR_BACKOFF_SECONDS = 0.5
MAX_ERROR_BACKOFF_SECONDS = 30.0
# A claimed delivery is due again after twice the attempt's time-out and a second: long enough for the
# attempt and its record, short enough that a killed worker's deliveries are soon picked up again.
LEASE_MARGIN_SECONDS = 1.0
IDLE_WAIT_CAP_SECONDS = 1.0


def run_webhooks_worker(
    container: Container,
    *,
    shutdown: Shutdown,
    once: bool = False,
    queue: EventQueue | None = None,
    sender: WebhookSender | None = None,
    schedule: RetrySchedule | None = None,
) -> None:
    """Deliver until asked to stop, or with ``once`` until nothing is queued, due or in flight."""
    settings = container.settings
    queue = queue or container.webhook_event_queue()
    sender = sender or container.webhook_sender()
    schedule = schedule or container.retry_schedule()
    concurrency = settings.webhook_concurrency
    lease = 2 * settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS
    idle_wait = min(IDLE_WAIT_CAP_SECONDS, max(settings.worker_poll_interval, 0.01))
    in_flight: set[Future[None]] = set()
    backoff = FIRST_ERROR_BACKOFF_SECONDS
    log.info("worker.started", worker="webhooks", concurrency=concurrency, once=once)
    with ThreadPoolExecutor(concurrency, thread_name_prefix="psp-webhook") as pool:

        def attempt(due: DueDelivery) -> None:
            try:
                result = service.attempt_delivery(
                    due,
                    sender=sender,
                    uow_factory=container.uow_factory,
                    clock=container.clock,
                    schedule=schedule,
                )
                log.info(
                    "webhooks.attempted",
                    event_id=str(due.event_id),
                    endpoint_id=str(due.endpoint.id),
                    attempt=due.attempts + 1,
                    status_code=result.status_code,
                    latency_ms=result.latency_ms,
                    error=result.error,
                )
            except Exception:
                # Not recorded: the lease lapses and the delivery is attempted again.
                log.exception("webhooks.attempt_not_recorded", delivery_id=str(due.id))

        while not shutdown.requested:
            try:
                in_flight = {future for future in in_flight if not future.done()}
                received = queue.receive(settings.worker_batch_size, 0.0)
                if received:
                    created = service.fan_out(
                        [item.event.id for item in received], uow=container.uow(), clock=container.clock
                    )
                    queue.acknowledge(received)
                    log.info("webhooks.fanned_out", events=len(received), deliveries=created)
                free = concurrency - len(in_flight)
                due = (
                    service.claim_due(free, lease, uow=container.uow(), clock=container.clock)
                    if free > 0
                    else []
                )
                in_flight.update(pool.submit(attempt, item) for item in due)
            except Exception:
                log.exception("worker.iteration_failed", worker="webhooks", retry_in_seconds=backoff)
                shutdown.wait(backoff)
                backoff = min(backoff * 2, MAX_ERROR_BACKOFF_SECONDS)
                continue
            backoff = FIRST_ERROR_BACKOFF_SECONDS
            if once and not received and not due and not in_flight:
                break
            if not received and not due:
                shutdown.wait(idle_wait)
        started = time.monotonic()
        # Leaving the pool's block waits for attempts in flight (each bounded by the time-out).
    log.info("worker.stopped", worker="webhooks", drained_seconds=round(time.monotonic() - started, 2))
