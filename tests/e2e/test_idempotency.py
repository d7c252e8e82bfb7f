"""``Idempotency-Key`` over HTTP: replays are byte-identical, misuse is refused, failures store nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from werkzeug.test import TestResponse

from psp.bootstrap import Container
from psp.repositories.acquirers import SimulatorAcquirer, SimulatorFaults
from psp.services import idempotency
from psp.services.merchants import Onboarded
from psp.transporters.rest.app import create_app
from tests.e2e.support import (
    DECLINED_CARD,
    TIMEOUT_CARD,
    assert_error,
    assert_invalid,
    auth,
    transaction_body,
)


def post(
    client: FlaskClient, onboarded: Onboarded, key: str | None, body: dict[str, Any] | None = None
) -> TestResponse:
    headers = auth(onboarded)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/v1/transactions", json=body or transaction_body(), headers=headers)


def count(container: Container, sql: str) -> int:
    with container.engine.connect() as connection:
        return int(connection.execute(text(sql)).scalar_one())


@pytest.mark.parametrize(
    ("card", "status"), [("4242424242424242", 201), (DECLINED_CARD, 402), (TIMEOUT_CARD, 202)]
)
def test_a_retried_post_replays_the_first_status_and_bytes_and_creates_nothing_more(
    client: FlaskClient, container: Container, merchant: Onboarded, card: str, status: int
) -> None:
    body = transaction_body(card_number=card)
    first = post(client, merchant, "order-1", body)
    replays = [post(client, merchant, "order-1", body) for _ in range(3)]

    assert first.status_code == status
    assert "Idempotent-Replayed" not in first.headers
    for replay in replays:
        assert (replay.status_code, replay.get_data()) == (status, first.get_data())
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert replay.headers["Request-Id"] != first.headers["Request-Id"]
    assert count(container, "SELECT count(*) FROM transactions") == 1


def test_posts_without_a_key_or_with_different_keys_are_separate_requests(
    client: FlaskClient, container: Container, merchant: Onboarded
) -> None:
    assert post(client, merchant, None).status_code == 201
    assert post(client, merchant, None).status_code == 201
    assert post(client, merchant, "a").status_code == 201
    assert post(client, merchant, "b").status_code == 201
    assert count(container, "SELECT count(*) FROM transactions") == 4


def test_the_same_key_with_another_body_is_refused_with_422(client: FlaskClient, merchant: Onboarded) -> None:
    post(client, merchant, "order-1", transaction_body(amount=2500))

    response = post(client, merchant, "order-1", transaction_body(amount=2501))

    assert_error(response, 422, "idempotency_error", "idempotency_key_reused", "Idempotency-Key")


def test_a_key_is_scoped_to_its_merchant(
    client: FlaskClient, container: Container, merchant: Onboarded, other_merchant: Onboarded
) -> None:
    assert post(client, merchant, "order-1").status_code == 201
    assert post(client, other_merchant, "order-1", transaction_body(amount=1)).status_code == 201
    assert count(container, "SELECT count(*) FROM transactions") == 2


def test_a_request_that_fails_validation_stores_nothing_and_the_key_stays_usable(
    client: FlaskClient, container: Container, merchant: Onboarded
) -> None:
    bad_schema = post(client, merchant, "order-1", transaction_body(amount="ten"))
    bad_card = post(client, merchant, "order-1", transaction_body(card_number="4242424242424241"))

    assert_invalid(bad_schema, "parameter_invalid_type", "amount")
    assert bad_card.status_code == 400
    assert count(container, "SELECT count(*) FROM idempotency_keys") == 0
    assert post(client, merchant, "order-1").status_code == 201
    assert count(container, "SELECT count(*) FROM idempotency_keys WHERE state = 'completed'") == 1


def test_a_second_request_while_the_first_runs_answers_409_which_is_safe_to_retry(
    client: FlaskClient, container: Container, merchant: Onboarded
) -> None:
    body = transaction_body()
    fingerprint = idempotency.request_fingerprint(
        "POST", "/v1/transactions", body, secret=container.settings.card_fingerprint_key
    )
    # The first request has claimed the key and is talking to the acquirer.
    idempotency.claim_key(
        merchant.merchant.id, "order-1", fingerprint, uow=container.uow(), clock=container.clock
    )

    response = post(client, merchant, "order-1", body)

    assert_error(response, 409, "idempotency_error", "idempotency_key_in_use", "Idempotency-Key")
    assert response.headers["Retry-After"] == "1"
    assert count(container, "SELECT count(*) FROM transactions") == 0


def test_a_claim_whose_request_died_is_taken_over_once_its_lock_lapses(
    client: FlaskClient, container: Container, merchant: Onboarded
) -> None:
    body = transaction_body()
    fingerprint = idempotency.request_fingerprint(
        "POST", "/v1/transactions", body, secret=container.settings.card_fingerprint_key
    )
    long_ago = container.clock() - timedelta(seconds=idempotency.LOCK_SECONDS + 1)
    idempotency.claim_key(
        merchant.merchant.id, "order-1", fingerprint, uow=container.uow(), clock=lambda: long_ago
    )

    assert post(client, merchant, "order-1", body).status_code == 201
    assert post(client, merchant, "order-1", body).headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("key", ["", "x" * 256, "clé", "tab\there"])
def test_a_malformed_key_is_refused_with_400_naming_the_header(
    client: FlaskClient, container: Container, merchant: Onboarded, key: str
) -> None:
    response = post(client, merchant, key)

    assert_error(response, 400, "invalid_request_error", "parameter_invalid", "Idempotency-Key")
    assert count(container, "SELECT count(*) FROM transactions") == 0


def test_the_fingerprint_is_keyed_and_ignores_key_order_but_not_method_path_or_values() -> None:
    body = {"amount": 1, "card_number": "4242424242424242"}
    fingerprint = idempotency.request_fingerprint("POST", "/v1/transactions", body, secret=b"k" * 16)

    assert fingerprint == idempotency.request_fingerprint(
        "POST", "/v1/transactions", dict(reversed(body.items())), secret=b"k" * 16
    )
    assert "4242" not in fingerprint
    others = {
        idempotency.request_fingerprint("POST", "/v1/transactions", body, secret=b"j" * 16),
        idempotency.request_fingerprint("PUT", "/v1/transactions", body, secret=b"k" * 16),
        idempotency.request_fingerprint("POST", "/v1/refunds", body, secret=b"k" * 16),
        idempotency.request_fingerprint("POST", "/v1/transactions", {**body, "amount": 2}, secret=b"k" * 16),
    }
    assert fingerprint not in others
    assert len(others) == 4


def test_a_retried_refund_replays_the_first_answer_and_refunds_once(
    client: FlaskClient, container: Container, merchant: Onboarded
) -> None:
    transaction = post(client, merchant, None).get_json()
    headers = {**auth(merchant), "Idempotency-Key": "refund-1"}
    url = f"/v1/transactions/{transaction['id']}/refunds"

    first = client.post(url, json={"amount": 500}, headers=headers)
    again = client.post(url, json={"amount": 500}, headers=headers)
    too_large = client.post(url, json={"amount": 5000}, headers={**auth(merchant), "Idempotency-Key": "r-2"})

    assert first.status_code == 201
    assert (again.status_code, again.get_data()) == (201, first.get_data())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert too_large.status_code == 422
    assert count(container, "SELECT count(*) FROM refunds") == 1
    assert count(container, "SELECT count(*) FROM idempotency_keys WHERE key = 'r-2'") == 0


def test_an_acquirer_failure_answers_503_with_retry_after_and_the_same_key_then_succeeds_once(
    container: Container, merchant: Onboarded
) -> None:
    container.acquirer = SimulatorAcquirer(faults=SimulatorFaults(failure_rate=1.0))
    failing = create_app(container).test_client()

    response = post(failing, merchant, "retry-me")

    error = assert_error(response, 503, "api_error", "acquirer_unavailable")
    assert "nothing was charged" in error["message"]
    assert response.headers["Retry-After"] == "1"
    assert count(container, "SELECT count(*) FROM transactions") == 0

    container.acquirer = SimulatorAcquirer()
    working = create_app(container).test_client()
    first, replayed = post(working, merchant, "retry-me"), post(working, merchant, "retry-me")

    assert first.status_code == 201
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.get_json()["id"] == first.get_json()["id"]
    assert count(container, "SELECT count(*) FROM transactions") == 1
