"""Refunds over HTTP: the scenarios of the issue, validation, tenancy, and what merchants read after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from werkzeug.test import TestResponse

from psp.bootstrap import Container
from psp.repositories.acquirers import SimulatorAcquirer
from psp.services.merchants import Onboarded
from psp.services.processing import resolve_processing
from psp.transporters.workers.payables import run_payables_worker
from psp.transporters.workers.shutdown import Shutdown
from tests.e2e.support import (
    DECLINED_CARD,
    TIMEOUT_CARD,
    assert_error,
    assert_invalid,
    auth,
    create_transaction,
    post_transaction,
    today,
)
from tests.e2e.workflow import create_payables_for, settle


def post_refund(client: FlaskClient, merchant: Onboarded, transaction_id: str, **body: Any) -> TestResponse:
    return client.post(f"/v1/transactions/{transaction_id}/refunds", json=body, headers=auth(merchant))


def refund(client: FlaskClient, merchant: Onboarded, transaction_id: str, **body: Any) -> dict[str, Any]:
    response = post_refund(client, merchant, transaction_id, **body)
    assert response.status_code == 201, response.get_json()
    created: dict[str, Any] = response.get_json()
    return created


def get(client: FlaskClient, merchant: Onboarded, path: str) -> Any:
    response = client.get(path, headers=auth(merchant))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def payables_by_installment(
    client: FlaskClient, merchant: Onboarded, transaction_id: str
) -> dict[int, tuple]:
    data = get(client, merchant, f"/v1/payables?transaction_id={transaction_id}")["data"]
    return {p["installment"]: (p["amount"], p["fee"], p["net_amount"], p["status"]) for p in data}


def balance(client: FlaskClient, merchant: Onboarded) -> tuple[int, int]:
    body = get(client, merchant, "/v1/balance")
    return sum(line["amount"] for line in body["available"]), sum(
        line["amount"] for line in body["waiting_funds"]
    )


def test_a_full_refund_before_settlement_zeroes_the_payables_and_gives_the_balance_back(
    client: FlaskClient, container: Container, merchant: Onboarded
) -> None:
    transaction = create_transaction(client, merchant, amount=3000, installments=3)
    create_payables_for(container, merchant, transaction)
    assert balance(client, merchant) == (0, 2850)

    response = post_refund(client, merchant, transaction["id"])

    assert response.status_code == 201
    created = response.get_json()
    assert set(created) == {"id", "object", "transaction_id", "amount", "currency", "created_at"}
    assert (created["object"], created["transaction_id"], created["amount"], created["currency"]) == (
        "refund",
        transaction["id"],
        3000,
        "BRL",
    )
    assert response.headers["Location"] == f"/v1/refunds/{created['id']}"
    zeroed = (0, 0, 0, "waiting_funds")
    assert payables_by_installment(client, merchant, transaction["id"]) == {1: zeroed, 2: zeroed, 3: zeroed}
    assert balance(client, merchant) == (0, 0)
    after = get(client, merchant, f"/v1/transactions/{transaction['id']}")
    assert (after["status"], after["amount_refunded"]) == ("refunded", 3000)
    with container.engine.connect() as connection:
        event = connection.execute(
            text("SELECT aggregate_id, payload FROM outbox WHERE event_type = 'refund.created'")
        ).one()
    assert str(event.aggregate_id) == transaction["id"]
    assert event.payload["refund_id"] == created["id"]


def test_a_partial_refund_after_a_partial_settlement_takes_the_paid_out_part_from_available(
    client: FlaskClient, container: Container, merchant: Onboarded
) -> None:
    transaction = create_transaction(client, merchant, amount=3000, installments=3)
    create_payables_for(container, merchant, transaction)
    settle(container, today() + timedelta(days=30))  # installment 1 of 3 paid
    assert balance(client, merchant) == (950, 1900)

    refund(client, merchant, transaction["id"], amount=2500)

    assert payables_by_installment(client, merchant, transaction["id"]) == {
        1: (1000, 50, 950, "paid"),
        2: (0, 0, 0, "waiting_funds"),
        3: (0, 0, 0, "waiting_funds"),
        101: (-500, 0, -500, "paid"),
    }
    assert balance(client, merchant) == (450, 0)
    after = get(client, merchant, f"/v1/transactions/{transaction['id']}")
    assert (after["status"], after["amount_refunded"]) == ("waiting_funds", 2500)
    refund(client, merchant, transaction["id"])  # the 500 left
    assert get(client, merchant, f"/v1/transactions/{transaction['id']}")["status"] == "refunded"
    assert balance(client, merchant) == (-50, 0)  # psp keeps the fee of the installment it paid out


def test_refunding_a_debit_transaction_is_a_negative_adjustment_due_today(
    client: FlaskClient, container: Container, merchant: Onboarded
) -> None:
    transaction = create_transaction(client, merchant, amount=1001, payment_method="debit_card")
    create_payables_for(container, merchant, transaction)

    refund(client, merchant, transaction["id"], amount=400)

    data = get(client, merchant, f"/v1/payables?transaction_id={transaction['id']}")["data"]
    adjustment = next(p for p in data if p["installment"] == 101)
    assert (adjustment["amount"], adjustment["fee"], adjustment["net_amount"]) == (-400, 0, -400)
    assert (adjustment["status"], adjustment["payment_date"]) == ("paid", today().isoformat())
    assert balance(client, merchant) == (571, 0)


def test_over_refunding_answers_422_with_the_refundable_amount(
    client: FlaskClient, merchant: Onboarded
) -> None:
    transaction = create_transaction(client, merchant, amount=2500)
    refund(client, merchant, transaction["id"], amount=500)

    response = post_refund(client, merchant, transaction["id"], amount=2001)

    error = assert_error(response, 422, "invalid_request_error", "amount_too_large", "amount")
    assert "2000" in error["message"]
    assert get(client, merchant, f"/v1/transactions/{transaction['id']}")["amount_refunded"] == 500


def test_declined_and_processing_transactions_answer_422(client: FlaskClient, merchant: Onboarded) -> None:
    declined = post_transaction(client, merchant, card_number=DECLINED_CARD).get_json()["error"][
        "transaction"
    ]
    processing = post_transaction(client, merchant, card_number=TIMEOUT_CARD).get_json()

    for transaction in (declined, processing):
        response = post_refund(client, merchant, transaction["id"])
        assert_error(response, 422, "invalid_request_error", "transaction_not_refundable")


def test_an_empty_body_refunds_everything_even_before_the_worker_ran(
    client: FlaskClient, merchant: Onboarded
) -> None:
    transaction = create_transaction(client, merchant, amount=1200, installments=2)

    response = client.post(
        f"/v1/transactions/{transaction['id']}/refunds",
        data=b"",
        content_type="application/json",
        headers=auth(merchant),
    )

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["amount"] == 1200
    assert payables_by_installment(client, merchant, transaction["id"]) == {
        1: (0, 0, 0, "waiting_funds"),
        2: (0, 0, 0, "waiting_funds"),
    }
    again = post_refund(client, merchant, transaction["id"])
    assert_error(again, 422, "invalid_request_error", "transaction_not_refundable")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"amount": "100"}, "parameter_invalid_type"),
        ({"amount": 10.0}, "parameter_invalid_type"),
        ({"amount": True}, "parameter_invalid_type"),
        ({"amount": 0}, "parameter_out_of_range"),
        ({"amount": -1}, "parameter_out_of_range"),
        ({"amount": 10**12}, "parameter_out_of_range"),
        ({"amount": 100, "reason": "x"}, "parameter_unknown"),
    ],
)
def test_a_malformed_refund_body_answers_400_naming_the_parameter(
    client: FlaskClient, merchant: Onboarded, body: dict[str, Any], code: str
) -> None:
    transaction = create_transaction(client, merchant)

    response = client.post(f"/v1/transactions/{transaction['id']}/refunds", json=body, headers=auth(merchant))

    assert_invalid(response, code, "reason" if code == "parameter_unknown" else "amount")
    assert get(client, merchant, f"/v1/transactions/{transaction['id']}")["amount_refunded"] == 0


def test_a_refund_needs_a_json_content_type_and_valid_json(client: FlaskClient, merchant: Onboarded) -> None:
    transaction = create_transaction(client, merchant)
    path = f"/v1/transactions/{transaction['id']}/refunds"

    no_type = client.post(path, headers=auth(merchant))
    broken = client.post(path, data=b"{", content_type="application/json", headers=auth(merchant))

    assert_error(no_type, 415, "invalid_request_error", "unsupported_media_type")
    assert_error(broken, 400, "invalid_request_error", "invalid_json")


def test_refunds_are_listed_newest_first_and_read_by_id(client: FlaskClient, merchant: Onboarded) -> None:
    transaction = create_transaction(client, merchant, amount=2500)
    first = refund(client, merchant, transaction["id"], amount=100)
    second = refund(client, merchant, transaction["id"], amount=200)

    page = get(client, merchant, f"/v1/transactions/{transaction['id']}/refunds?limit=1")
    rest = get(
        client, merchant, f"/v1/transactions/{transaction['id']}/refunds?starting_after={page['next_cursor']}"
    )

    assert [r["id"] for r in page["data"]] == [second["id"]]
    assert page["has_more"] is True
    assert [r["id"] for r in rest["data"]] == [first["id"]]
    assert get(client, merchant, f"/v1/refunds/{first['id']}") == first


def test_another_merchants_transaction_and_refunds_answer_404(
    client: FlaskClient, merchant: Onboarded, other_merchant: Onboarded
) -> None:
    transaction = create_transaction(client, merchant)
    mine = refund(client, merchant, transaction["id"], amount=100)

    responses = [
        post_refund(client, other_merchant, transaction["id"], amount=100),
        client.get(f"/v1/transactions/{transaction['id']}/refunds", headers=auth(other_merchant)),
        client.get(f"/v1/refunds/{mine['id']}", headers=auth(other_merchant)),
        client.get("/v1/refunds/not-an-id", headers=auth(merchant)),
        post_refund(client, merchant, "not-an-id", amount=1),
    ]

    for response in responses:
        assert_error(response, 404, "invalid_request_error", "resource_missing", "id")
    assert get(client, merchant, f"/v1/transactions/{transaction['id']}")["amount_refunded"] == 100


def test_a_timed_out_transaction_is_approved_once_the_acquirer_knows_and_then_gets_its_payables(
    client: FlaskClient, container: Container, merchant: Onboarded
) -> None:
    response = post_transaction(client, merchant, card_number=TIMEOUT_CARD)
    assert response.status_code == 202
    transaction_id = response.get_json()["id"]

    def resolve(minutes_later: int) -> None:
        later = datetime.now(UTC) + timedelta(minutes=minutes_later)
        resolve_processing(
            uow_factory=container.uow_factory,
            acquirer=SimulatorAcquirer(clock=lambda: later),
            clock=lambda: later,
            limit=10,
        )

    resolve(0)
    assert get(client, merchant, f"/v1/transactions/{transaction_id}")["status"] == "processing"
    resolve(2)
    assert get(client, merchant, f"/v1/transactions/{transaction_id}")["status"] == "waiting_funds"

    run_payables_worker(container, shutdown=Shutdown(), once=True)

    assert payables_by_installment(client, merchant, transaction_id) == {
        1: (2500, 125, 2375, "waiting_funds")
    }
