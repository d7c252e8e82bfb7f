"""The webhooks worker (``psp worker webhooks``): events in, signed POSTs to merchants' endpoints out.

Each cycle it (1) takes new events from its queue (the events table, or the SQS webhooks queue) and fans
them out into deliveries, acknowledging the messages once the deliveries are committed (fanning out twice
creates nothing twice); and (2) claims due deliveries, as many as it has free threads, and attempts them
concurrently. Attempts are bounded by ``PSP_WEBHOOK_TIMEOUT_SECONDS``, and a thread waiting on a
silent endpoint holds only its own delivery: the other threads keep delivering to everyone else.

A claimed delivery is leased: if the worker dies mid-attempt, the delivery is due again when the lease
lapses and is sent again with the same ``webhook-id`` (at least once; receivers dedupe on it).

Every attempt is counted (``psp_webhook_attempts_total`` by outcome and reason, its latency, endpoints
disabled) and logged as ``webhooks.attempted`` with the same labels; once a minute, busy or idle, the
worker logs ``webhooks.backlog`` (deliveries due, the delivery lag), which CloudWatch Logs metric filters
turn into the metrics the alarms read (infrastructure/monitoring.tf). With ``PSP_WEBHOOK_METRICS_PORT``
the worker also serves its Prometheus metrics on that port.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor

import structlog

from psp.bootstrap import Container
from psp.domain.webhooks import DueDelivery, RetrySchedule
from psp.lib.metrics import attempt_reason, record_webhook_attempt, serve_worker_metrics
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
BACKLOG_EVENT = "webhooks.backlog"  # infrastructure/monitoring.tf turns these lines into PSP/WebhookDelivery*
BACKLOG_REPORT_SECONDS = 60.0


def run_webhooks_worker(
    container: Container,
    *,
    shutdown: Shutdown,
    once: bool = False,
    queue: EventQueue | None = None,
    sender: WebhookSender | None = None,
    schedule: RetrySchedule | None = None,
    backlog_every_seconds: float = BACKLOG_REPORT_SECONDS,
) -> None:
    """Deliver until asked to stop, or with ``once`` until nothing is queued, due or in flight."""
    settings = container.settings
    stop_serving = (
        serve_worker_metrics(settings.webhook_metrics_port) if settings.webhook_metrics_port else None
    )
    try:
        _deliver(
            container,
            shutdown=shutdown,
            once=once,
            queue=queue or container.webhook_event_queue(),
            sender=sender or container.webhook_sender(),
            schedule=schedule or container.retry_schedule(),
            backlog_every_seconds=backlog_every_seconds,
        )
    finally:
        if stop_serving is not None:
            stop_serving()


def _deliver(
    container: Container,
    *,
    shutdown: Shutdown,
    once: bool,
    queue: EventQueue,
    sender: WebhookSender,
    schedule: RetrySchedule,
    backlog_every_seconds: float,
) -> None:
    settings = container.settings
    concurrency = settings.webhook_concurrency
    lease = 2 * settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS
    idle_wait = min(IDLE_WAIT_CAP_SECONDS, max(settings.worker_poll_interval, 0.01))
    in_flight: set[Future[None]] = set()
    backoff = FIRST_ERROR_BACKOFF_SECONDS
    last_report: float | None = None
    log.info("worker.started", worker="webhooks", concurrency=concurrency, once=once)
    with ThreadPoolExecutor(concurrency, thread_name_prefix="psp-webhook") as pool:

        def attempt(due: DueDelivery) -> None:
            try:
                outcome = service.attempt_delivery(
                    due,
                    sender=sender,
                    uow_factory=container.uow_factory,
                    clock=container.clock,
                    schedule=schedule,
                )
                result = outcome.attempt
                record_webhook_attempt(
                    outcome.outcome,
                    result.status_code,
                    outcome.error_kind,
                    result.latency_ms,
                    disabled=outcome.endpoint_disabled,
                )
                log.info(
                    "webhooks.attempted",
                    event_id=str(due.event_id),
                    endpoint_id=str(due.endpoint.id),
                    attempt=due.attempts + 1,
                    outcome=outcome.outcome,
                    reason=attempt_reason(result.status_code, outcome.error_kind),
                    status_code=result.status_code,
                    latency_ms=result.latency_ms,
                    error=result.error,
                )
                if outcome.endpoint_disabled:
                    log.warning("webhooks.endpoint_disabled", endpoint_id=str(due.endpoint.id))
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
                now = time.monotonic()
                if last_report is None or now - last_report >= backlog_every_seconds:
                    last_report = now
                    report_backlog(container)
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


def report_backlog(container: Container) -> None:
    """One ``webhooks.backlog`` line: the log line is the metric (no CloudWatch permission needed), and a
    worker that stops logging makes the lag alarm fire."""
    health = container.webhook_health()
    log.info(
        BACKLOG_EVENT,
        deliveries_due=health.deliveries_due,
        delivery_lag_seconds=round(health.oldest_due_age_seconds, 1),
        deliveries_pending=health.deliveries_pending,
        endpoints_disabled=health.endpoints_disabled,
    )
