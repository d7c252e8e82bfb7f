"""Creating and reading transactions: every simulator outcome, and the response shape."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from psp.services.merchants import Onboarded
from tests.e2e.support import (
    DECLINED_CARD,
    INCORRECT_CVC_CARD,
    INSUFFICIENT_FUNDS_CARD,
    TIMEOUT_CARD,
    assert_error,
    auth,
    create_transaction,
    post_transaction,
)

TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def test_a_credit_transaction_of_2500_is_approved_with_201(client: FlaskClient, merchant: Onboarded) -> None:
    response = post_transaction(client, merchant, amount=2500, payment_method="credit_card")

    assert response.status_code == 201
    body = response.get_json()
    assert body["object"] == "transaction"
    assert body["amount"] == 2500
    assert body["currency"] == "BRL"
    assert body["status"] == "waiting_funds"
    assert body["decline_code"] is None
    assert response.headers["Location"] == f"/v1/transactions/{body['id']}"


def test_an_approved_transaction_has_exactly_the_documented_fields(
    client: FlaskClient, merchant: Onboarded
) -> None:
    body = create_transaction(client, merchant, card_holder_name="  Ana   Souza ")

    assert set(body) == {
        "id",
        "object",
        "amount",
        "currency",
        "description",
        "payment_method",
        "installments",
        "status",
        "amount_refunded",
        "decline_code",
        "card",
        "created_at",
        "updated_at",
    }
    card = body["card"]
    assert card["brand"] == "visa"
    assert card["first_six"] == "424242"
    assert card["last_four"] == "4242"
    assert card["holder_name"] == "Ana Souza"
    assert card["expiration_month"] == 12
    assert re.fullmatch(r"[0-9a-f]{64}", card["fingerprint"])
    assert TIMESTAMP.fullmatch(body["created_at"])
    assert TIMESTAMP.fullmatch(body["updated_at"])


def test_a_debit_transaction_is_approved_and_paid_at_once(client: FlaskClient, merchant: Onboarded) -> None:
    body = create_transaction(client, merchant, amount=1001, payment_method="debit_card")

    assert body["status"] == "paid"


def test_the_same_card_has_the_same_fingerprint(client: FlaskClient, merchant: Onboarded) -> None:
    first = create_transaction(client, merchant)
    second = create_transaction(client, merchant, card_number="4242 4242-4242 4242")

    assert first["card"]["fingerprint"] == second["card"]["fingerprint"]


def test_currency_defaults_to_the_merchants_and_installments_to_one(
    client: FlaskClient, merchant: Onboarded
) -> None:
    body = create_transaction(client, merchant, currency=None, installments=None)

    assert (body["currency"], body["installments"]) == ("BRL", 1)


@pytest.mark.parametrize(
    ("card_number", "decline_code"),
    [
        (DECLINED_CARD, "card_declined"),
        (INSUFFICIENT_FUNDS_CARD, "insufficient_funds"),
        (INCORRECT_CVC_CARD, "incorrect_cvc"),
    ],
)
def test_a_declined_card_answers_402_with_the_recorded_transaction(
    client: FlaskClient, merchant: Onboarded, card_number: str, decline_code: str
) -> None:
    response = post_transaction(client, merchant, card_number=card_number)

    error = assert_error(response, 402, "card_error", decline_code)
    recorded: dict[str, Any] = error["transaction"]
    assert recorded["status"] == "declined"
    assert recorded["decline_code"] == decline_code
    stored = client.get(f"/v1/transactions/{recorded['id']}", headers=auth(merchant)).get_json()
    assert stored == recorded


def test_an_acquirer_time_out_answers_202_with_a_processing_transaction(
    client: FlaskClient, merchant: Onboarded
) -> None:
    response = post_transaction(client, merchant, card_number=TIMEOUT_CARD)

    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "processing"
    assert body["decline_code"] is None
    assert client.get(f"/v1/transactions/{body['id']}", headers=auth(merchant)).get_json() == body


def test_a_transaction_reads_back_as_it_was_created(client: FlaskClient, merchant: Onboarded) -> None:
    created = create_transaction(client, merchant, installments=3, description="Três parcelas ✓")

    response = client.get(f"/v1/transactions/{created['id']}", headers=auth(merchant))

    assert response.status_code == 200
    assert response.get_json() == created


@pytest.mark.parametrize(
    "identifier", ["nope", "123", "00000000-0000-0000-0000-00000000000g", "%F0%9F%92%A3", "a" * 300]
)
def test_an_id_that_is_not_a_uuid_answers_404(
    client: FlaskClient, merchant: Onboarded, identifier: str
) -> None:
    for resource in ("transactions", "payables"):
        response = client.get(f"/v1/{resource}/{identifier}", headers=auth(merchant))

        assert_error(response, 404, "invalid_request_error", "resource_missing", "id")


def test_an_unknown_uuid_answers_404(client: FlaskClient, merchant: Onboarded) -> None:
    response = client.get("/v1/transactions/0190f2a4-0000-7000-8000-000000000000", headers=auth(merchant))

    assert_error(response, 404, "invalid_request_error", "resource_missing", "id")
