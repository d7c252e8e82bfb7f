"""Prometheus metrics: HTTP traffic measured in-process, pipeline health read from the database.

Under gunicorn every worker process records its own samples; ``psp serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory so a scrape of any worker sums all of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
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


@dataclass(frozen=True)
class PipelineHealth:
    """What an operator watches between the API and the money: read fresh at every scrape."""

    outbox_backlog: int  # events not yet handed on (postgres queue: not processed; sqs: not relayed)
    oldest_event_age_seconds: float  # the queue lag
    dead_letters: int
    payables_waiting: int
    payables_due_unsettled: int  # waiting payables due today or earlier: should be 0 after settlement


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
