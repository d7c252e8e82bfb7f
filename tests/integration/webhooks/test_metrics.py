"""The webhooks worker's metrics: attempts by outcome and reason, latency, endpoints disabled, its backlog
line, and the port it serves them on. Counters live as long as the process: every test compares deltas."""

from __future__ import annotations

import time
import urllib.request

import structlog
from prometheus_client import REGISTRY

from psp.bootstrap import Container
from psp.domain.pagination import PageRequest
from psp.domain.webhooks import RetrySchedule
from psp.lib.loopback import free_port
from psp.lib.metrics import attempt_reason, serve_worker_metrics
from psp.services import webhooks as service
from psp.services.merchants import Onboarded
from psp.transporters.workers.webhooks import BACKLOG_EVENT, report_backlog
from tests.integration.support import pay
from tests.integration.webhooks.receiver import Receiver, running
from tests.integration.webhooks.support import (
    principal_of,
    register,
    run_until_endpoint_disabled,
    worker_running,
)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def attempts(outcome: str, reason: str) -> float:
    return sample("psp_webhook_attempts_total", outcome=outcome, reason=reason)


def test_a_failed_then_successful_delivery_counts_one_retry_one_success_and_both_latencies(
    container: Container, merchant: Onboarded
) -> None:
    retried, succeeded = attempts("failed_retrying", "http_5xx"), attempts("succeeded", "none")
    timed = sample("psp_webhook_attempt_duration_seconds_count", outcome="succeeded")
    with running(Receiver(statuses=[503])) as receiver:
        register(container, merchant, receiver.url)
        pay(container, merchant)
        with worker_running(container):
            receiver.wait_for(2)
        # Leaving the worker drains the attempts in flight: both are recorded by now.

    assert attempts("failed_retrying", "http_5xx") == retried + 1
    assert attempts("succeeded", "none") == succeeded + 1
    assert sample("psp_webhook_attempt_duration_seconds_count", outcome="succeeded") == timed + 1


def test_an_endpoint_nobody_listens_on_counts_as_a_connection_failure(
    container: Container, merchant: Onboarded
) -> None:
    refused = attempts("failed_retrying", "connection")
    register(container, merchant, f"http://127.0.0.1:{free_port()}/hooks")
    pay(container, merchant)
    slow_retries = RetrySchedule.scaled(60)  # one attempt only while the worker runs
    with worker_running(container, schedule=slow_retries):
        deadline = time.monotonic() + 10
        while attempts("failed_retrying", "connection") == refused and time.monotonic() < deadline:
            time.sleep(0.05)

    assert attempts("failed_retrying", "connection") == refused + 1


def test_disabling_an_endpoint_is_counted_and_its_last_attempt_is_final(
    container: Container, merchant: Onboarded
) -> None:
    disabled = sample("psp_webhook_endpoints_disabled_total")
    final = attempts("failed_final", "http_5xx")
    with running(Receiver(default_status=500)) as receiver:
        endpoint = register(container, merchant, receiver.url)
        pay(container, merchant)
        found = run_until_endpoint_disabled(container, merchant, endpoint.id)

    assert found.status.value == "disabled"
    assert sample("psp_webhook_endpoints_disabled_total") == disabled + 1
    assert attempts("failed_final", "http_5xx") == final + 1
    assert container.pipeline_health().webhooks.endpoints_disabled == 1


def test_the_backlog_line_reports_deliveries_due_and_how_late_they_are(
    container: Container, merchant: Onboarded
) -> None:
    register(container, merchant, "http://localhost:9/hooks")
    pay(container, merchant)
    [event] = service.list_events(principal_of(merchant), None, PageRequest(), uow=container.uow()).items
    service.fan_out([event.id], uow=container.uow(), clock=container.clock)

    with structlog.testing.capture_logs() as logged:
        report_backlog(container)

    [line] = [entry for entry in logged if entry["event"] == BACKLOG_EVENT]
    assert (line["deliveries_due"], line["deliveries_pending"], line["endpoints_disabled"]) == (1, 1, 0)
    assert line["delivery_lag_seconds"] >= 0


def test_the_worker_serves_its_counters_over_http_without_ids_or_urls(
    container: Container, merchant: Onboarded
) -> None:
    with running(Receiver()) as receiver:
        endpoint = register(container, merchant, receiver.url)
        pay(container, merchant)
        with worker_running(container):
            receiver.wait_for(1)
    port = free_port()
    stop = serve_worker_metrics(port)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    finally:
        stop()

    assert 'psp_webhook_attempts_total{outcome="succeeded",reason="none"}' in text
    assert "psp_webhook_attempt_duration_seconds_bucket" in text
    assert str(endpoint.id) not in text
    assert str(receiver.port) not in text


def test_attempt_reasons_are_status_classes_or_error_kinds_never_free_text() -> None:
    assert [attempt_reason(code, None) for code in (200, 204, 301, 404, 429, 500, 503, 99)] == [
        "none",
        "none",
        "http_3xx",
        "http_4xx",
        "http_4xx",
        "http_5xx",
        "http_5xx",
        "http_other",
    ]
    assert attempt_reason(None, "timeout") == "timeout"
    assert attempt_reason(None, None) == "error"
