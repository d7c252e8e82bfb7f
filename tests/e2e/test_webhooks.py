"""The webhook routes over HTTP: endpoints, secrets shown once, events, deliveries, redelivery, tenancy."""

from __future__ import annotations

from datetime import UTC, datetime

from flask.testing import FlaskClient

from psp.bootstrap import Container
from psp.services import merchants as merchant_service
from psp.services.merchants import Onboarded
from tests.e2e.support import assert_error, assert_invalid, auth, create_transaction

HOOK = {"url": "http://localhost:9/hooks", "enabled_events": ["transaction.approved", "refund.created"]}


def create_endpoint(client: FlaskClient, merchant: Onboarded, **overrides: object) -> dict[str, object]:
    response = client.post("/v1/webhook_endpoints", json={**HOOK, **overrides}, headers=auth(merchant))
    assert response.status_code == 201, response.get_data(as_text=True)
    body: dict[str, object] = response.get_json()
    return body


def test_an_endpoint_is_created_with_its_secret_shown_once(client: FlaskClient, merchant: Onboarded) -> None:
    created = create_endpoint(client, merchant, description="orders")

    assert str(created["secret"]).startswith("whsec_")
    assert created["status"] == "enabled"
    assert created["mode"] == "test"
    read = client.get(f"/v1/webhook_endpoints/{created['id']}", headers=auth(merchant)).get_json()
    listed = client.get("/v1/webhook_endpoints", headers=auth(merchant)).get_json()["data"]
    assert "secret" not in read
    assert [item["id"] for item in listed] == [created["id"]]
    assert all("secret" not in item for item in listed)
    assert {k: v for k, v in created.items() if k != "secret"} == read


def test_rotating_a_secret_returns_a_new_one_and_says_until_when_the_old_one_signs(
    client: FlaskClient, merchant: Onboarded
) -> None:
    created = create_endpoint(client, merchant)

    response = client.post(
        f"/v1/webhook_endpoints/{created['id']}/rotate_secret",
        json={"overlap_seconds": 3600},
        headers=auth(merchant),
    )

    assert response.status_code == 200
    rotated = response.get_json()
    assert rotated["secret"] != created["secret"]
    ends = datetime.fromisoformat(rotated["previous_secret_expires_at"].replace("Z", "+00:00"))
    assert 3500 < (ends - datetime.now(UTC)).total_seconds() <= 3600


def test_a_deleted_endpoint_is_gone(client: FlaskClient, merchant: Onboarded) -> None:
    created = create_endpoint(client, merchant)

    deleted = client.delete(f"/v1/webhook_endpoints/{created['id']}", headers=auth(merchant))

    assert deleted.get_json() == {"id": created["id"], "object": "webhook_endpoint", "deleted": True}
    again = client.delete(f"/v1/webhook_endpoints/{created['id']}", headers=auth(merchant))
    assert_error(again, 404, "invalid_request_error", "resource_missing", "id")


def test_insecure_or_unknown_endpoint_settings_are_refused(client: FlaskClient, merchant: Onboarded) -> None:
    insecure = client.post(
        "/v1/webhook_endpoints", json={**HOOK, "url": "http://shop.example.com/"}, headers=auth(merchant)
    )
    unknown = client.post(
        "/v1/webhook_endpoints", json={**HOOK, "enabled_events": ["card.stolen"]}, headers=auth(merchant)
    )
    empty = client.post("/v1/webhook_endpoints", json={**HOOK, "enabled_events": []}, headers=auth(merchant))

    assert_invalid(insecure, "url_insecure", "url")
    assert unknown.status_code == 400
    assert empty.status_code == 400


def test_a_live_key_cannot_point_an_endpoint_at_a_private_address(
    client: FlaskClient, container: Container
) -> None:
    live = merchant_service.create_merchant(
        "Live Shop",
        currency="BRL",
        debit_fee_bps=300,
        credit_fee_bps=500,
        mode="live",
        uow=container.uow(),
        clock=container.clock,
    )

    for url in ("https://169.254.169.254/latest", "https://10.0.0.1/hooks", "https://localhost/hooks"):
        response = client.post("/v1/webhook_endpoints", json={**HOOK, "url": url}, headers=auth(live))
        assert_invalid(response, "url_forbidden_address", "url")


def test_events_are_listed_filtered_read_and_redelivered(client: FlaskClient, merchant: Onboarded) -> None:
    endpoint = create_endpoint(client, merchant)
    transaction = create_transaction(client, merchant)
    refund = client.post(f"/v1/transactions/{transaction['id']}/refunds", json={}, headers=auth(merchant))
    assert refund.status_code == 201

    events = client.get("/v1/events", headers=auth(merchant)).get_json()["data"]
    [listed] = client.get("/v1/events?type=transaction.approved", headers=auth(merchant)).get_json()["data"]

    # The refund made the payables the worker had not made yet: their events come with it.
    assert sorted(event["type"] for event in events) == [
        "payable.created",
        "refund.created",
        "transaction.approved",
    ]
    assert events[-1] == listed
    approved = client.get(f"/v1/events/{listed['id']}", headers=auth(merchant)).get_json()
    assert approved == listed
    assert approved["data"]["object"] == {**transaction, "version": 1}
    redelivered = client.post(f"/v1/events/{approved['id']}/redeliver", json={}, headers=auth(merchant))
    assert redelivered.status_code == 202
    assert redelivered.get_json() == {"object": "redelivery", "event_id": approved["id"], "deliveries": 1}
    deliveries = client.get(f"/v1/events/{approved['id']}/deliveries", headers=auth(merchant)).get_json()
    [delivery] = deliveries["data"]
    assert (delivery["endpoint_id"], delivery["status"], delivery["attempts"]) == (
        endpoint["id"],
        "pending",
        [],
    )


def test_an_unknown_event_type_filter_is_refused(client: FlaskClient, merchant: Onboarded) -> None:
    assert_invalid(client.get("/v1/events?type=nope", headers=auth(merchant)), "parameter_invalid", "type")


def test_another_merchants_endpoints_events_and_deliveries_answer_404(
    client: FlaskClient, merchant: Onboarded, other_merchant: Onboarded
) -> None:
    endpoint = create_endpoint(client, merchant)
    create_transaction(client, merchant)
    [event] = client.get("/v1/events", headers=auth(merchant)).get_json()["data"]
    intruder = auth(other_merchant)

    for response in (
        client.get(f"/v1/webhook_endpoints/{endpoint['id']}", headers=intruder),
        client.delete(f"/v1/webhook_endpoints/{endpoint['id']}", headers=intruder),
        client.post(f"/v1/webhook_endpoints/{endpoint['id']}/rotate_secret", json={}, headers=intruder),
        client.get(f"/v1/events/{event['id']}", headers=intruder),
        client.get(f"/v1/events/{event['id']}/deliveries", headers=intruder),
        client.post(f"/v1/events/{event['id']}/redeliver", json={}, headers=intruder),
    ):
        assert_error(response, 404, "invalid_request_error", "resource_missing", "id")
    assert client.get("/v1/events", headers=intruder).get_json()["data"] == []
    assert client.get("/v1/webhook_endpoints", headers=intruder).get_json()["data"] == []
