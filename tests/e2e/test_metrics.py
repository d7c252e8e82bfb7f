"""Prometheus metrics: traffic by route template, and pipeline gauges read from the database."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from psp.services.merchants import Onboarded
from tests.e2e.support import auth, create_transaction


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = rf"^{name}{{{wanted}}} (\S+)$" if labels else rf"^{name} (\S+)$"
    match = re.search(pattern, text, flags=re.MULTILINE)
    assert match is not None, f"{name} {labels} is not exposed"
    return float(match.group(1))


def test_requests_are_counted_by_route_template_not_by_raw_path(
    client: FlaskClient, merchant: Onboarded
) -> None:
    before = client.get("/metrics").get_data(as_text=True)
    created = create_transaction(client, merchant)
    client.get(f"/v1/transactions/{created['id']}", headers=auth(merchant))
    text = client.get("/metrics").get_data(as_text=True)
    route = "/v1/transactions/<transaction_id>"
    labels = {"method": "GET", "route": route, "status": "200"}
    # Counters live as long as the process: earlier tests may have counted this route (with other statuses).
    sample = f'psp_http_requests_total{{method="GET",route="{route}",status="200"}}'
    counted_before = metric(before, "psp_http_requests_total", **labels) if sample in before else 0.0
    assert metric(text, "psp_http_requests_total", **labels) == counted_before + 1
    assert created["id"] not in text


def test_the_outbox_backlog_counts_events_not_yet_handed_on(client: FlaskClient, merchant: Onboarded) -> None:
    create_transaction(client, merchant)
    create_transaction(client, merchant)
    text = client.get("/metrics").get_data(as_text=True)
    assert metric(text, "psp_outbox_backlog") == 2.0
    assert metric(text, "psp_queue_lag_seconds") >= 0.0
    assert metric(text, "psp_dead_letters") == 0.0


def test_webhook_deliveries_due_and_their_lag_are_read_from_the_database(
    client: FlaskClient, merchant: Onboarded
) -> None:
    hook = {"url": "http://localhost:9/hooks", "enabled_events": ["transaction.approved"]}
    endpoint = client.post("/v1/webhook_endpoints", json=hook, headers=auth(merchant)).get_json()
    create_transaction(client, merchant)
    [event] = client.get("/v1/events", headers=auth(merchant)).get_json()["data"]
    before = client.get("/metrics").get_data(as_text=True)
    client.post(f"/v1/events/{event['id']}/redeliver", json={}, headers=auth(merchant))
    text = client.get("/metrics").get_data(as_text=True)

    assert metric(before, "psp_webhook_deliveries_pending") == 0.0
    assert metric(text, "psp_webhook_deliveries_pending") == 1.0
    assert metric(text, "psp_webhook_deliveries_due") == 1.0
    assert metric(text, "psp_webhook_delivery_lag_seconds") >= 0.0
    assert metric(text, "psp_webhook_endpoints_disabled") == 0.0
    assert endpoint["id"] not in text
    assert "localhost:9" not in text
