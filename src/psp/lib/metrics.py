"""Prometheus metrics: HTTP traffic and webhook attempts measured in-process, pipeline health read from
the database.

Under gunicorn every worker process records its own samples; ``psp serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory so a scrape of any worker sums all of them. The webhooks
worker counts its attempts in its own process and serves them on ``PSP_WEBHOOK_METRICS_PORT`` when set;
the API's ``/metrics`` adds the webhook gauges read from the database (deliveries due, lag, endpoints
disabled), so they are there whichever process is scraped. Labels are low-cardinality values only: never
ids, URLs or hosts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

HTTP_REQUESTS = Counter("psp_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "psp_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

# --- webhooks (recorded by `psp worker webhooks`) -----------------------------------------------------
# outcome: succeeded | failed_retrying (another attempt is scheduled) | failed_final (the delivery failed)
# reason:  none | http_3xx | http_4xx | http_5xx | http_other | timeout | connection | tls | unresolvable |
#          forbidden_address | invalid_url | protocol | error (see ``attempt_reason``)
WEBHOOK_OUTCOMES = ("succeeded", "failed_retrying", "failed_final")
WEBHOOK_ATTEMPTS = Counter(
    "psp_webhook_attempts_total",
    "Webhook delivery attempts, by outcome and failure reason",
    ["outcome", "reason"],
)
WEBHOOK_ATTEMPT_LATENCY = Histogram(
    "psp_webhook_attempt_duration_seconds",
    "Time from sending a webhook to its answer (or to the failure), by outcome",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0),
)
WEBHOOK_ENDPOINTS_DISABLED = Counter(
    "psp_webhook_endpoints_disabled_total",
    "Webhook endpoints disabled after failing for the whole retry window",
)


def attempt_reason(status_code: int | None, error_kind: str | None) -> str:
    """A bounded label for why an attempt ended as it did: the HTTP status class, or the kind of error."""
    if status_code is not None:
        if 200 <= status_code < 300:
            return "none"
        if 300 <= status_code < 600:
            return f"http_{status_code // 100}xx"
        return "http_other"
    return error_kind or "error"


def record_webhook_attempt(
    outcome: str, status_code: int | None, error_kind: str | None, latency_ms: int, *, disabled: bool
) -> None:
    WEBHOOK_ATTEMPTS.labels(outcome=outcome, reason=attempt_reason(status_code, error_kind)).inc()
    WEBHOOK_ATTEMPT_LATENCY.labels(outcome=outcome).observe(max(latency_ms, 0) / 1000)
    if disabled:
        WEBHOOK_ENDPOINTS_DISABLED.inc()


def serve_worker_metrics(port: int) -> Callable[[], None]:
    """Serve this process's metrics (``GET /metrics`` on ``port``, every interface: inside a container
    it is reachable only as the container's ports allow); returns what stops the server."""
    server, thread = start_http_server(port, addr="0.0.0.0")  # noqa: S104  # nosec B104 - see docstring

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return stop


@dataclass(frozen=True)
class WebhookHealth:
    """The webhook deliveries' backlog, read from the database (by ``/metrics`` and the worker's report)."""

    deliveries_pending: int  # not yet succeeded or failed: due now, leased, or waiting for a retry
    deliveries_due: int  # due now and not being attempted: the worker's backlog
    oldest_due_age_seconds: float  # how late the most overdue one is: the delivery lag
    endpoints_disabled: int  # disabled after failing for the whole retry window (and not deleted)


@dataclass(frozen=True)
class PipelineHealth:
    """What an operator watches between the API and the money: read fresh at every scrape."""

    outbox_backlog: int  # events not yet handed on (postgres queue: not processed; sqs: not relayed)
    oldest_event_age_seconds: float  # the queue lag
    dead_letters: int
    payables_waiting: int
    payables_due_unsettled: int  # waiting payables due today or earlier: should be 0 after settlement
    webhooks: WebhookHealth


class PipelineCollector(Collector):
    def __init__(self, read_health: Callable[[], PipelineHealth]) -> None:
        self._read_health = read_health

    def collect(self) -> Iterator[GaugeMetricFamily]:
        health = self._read_health()
        yield GaugeMetricFamily("psp_outbox_backlog", "Events not yet handed on", value=health.outbox_backlog)
        yield GaugeMetricFamily(
            "psp_queue_lag_seconds",
            "Age of the oldest event not yet handed on",
            value=health.oldest_event_age_seconds,
        )
        yield GaugeMetricFamily(
            "psp_dead_letters", "Events that exhausted their receives", value=health.dead_letters
        )
        yield GaugeMetricFamily(
            "psp_payables_waiting", "Payables waiting for funds", value=health.payables_waiting
        )
        yield GaugeMetricFamily(
            "psp_payables_due_unsettled",
            "Waiting payables whose payment date has come (settlement is behind)",
            value=health.payables_due_unsettled,
        )
        webhooks = health.webhooks
        yield GaugeMetricFamily(
            "psp_webhook_deliveries_pending",
            "Webhook deliveries not yet succeeded or failed (due, in flight or waiting for a retry)",
            value=webhooks.deliveries_pending,
        )
        yield GaugeMetricFamily(
            "psp_webhook_deliveries_due",
            "Webhook deliveries due now and not being attempted",
            value=webhooks.deliveries_due,
        )
        yield GaugeMetricFamily(
            "psp_webhook_delivery_lag_seconds",
            "How long the most overdue webhook delivery has been due",
            value=webhooks.oldest_due_age_seconds,
        )
        yield GaugeMetricFamily(
            "psp_webhook_endpoints_disabled",
            "Webhook endpoints disabled after failing for the whole retry window",
            value=webhooks.endpoints_disabled,
        )


def render_metrics(read_health: Callable[[], PipelineHealth]) -> bytes:
    """The exposition text: every process's HTTP samples plus the pipeline gauges."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        for collector in (HTTP_REQUESTS, HTTP_LATENCY):
            registry.register(collector)
    registry.register(PipelineCollector(read_health))
    return generate_latest(registry)
