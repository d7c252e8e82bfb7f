"""Payables and balance as merchants read them, from creation through settlement."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from psp.bootstrap import Container
from psp.services.merchants import Onboarded
from tests.e2e.support import assert_error, assert_invalid, auth, create_transaction, today
from tests.e2e.workflow import create_payables_for, settle


def payables(client: FlaskClient, merchant: Onboarded, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/v1/payables{query}", headers=auth(merchant))
    assert response.status_code == 200, response.get_json()
    data: list[dict[str, Any]] = response.get_json()["data"]
    return data


def balance(client: FlaskClient, merchant: Onboarded) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/v1/balance", headers=auth(merchant)).get_json()
    return body


def test_a_credit_transaction_of_2500_owes_2375_in_30_days(
    client: FlaskClient, container: Container, merchant: Onboarded
) -> None:
    transaction = create_transaction(client, merchant, amount=2500, payment_method="credit_card")
    create_payables_for(container, merchant, transaction)

    [payable] = payables(client, merchant)

    assert set(payable) == {
        "id",
        "object",
        "transaction_id",
        "installment",
        "status",
        "amount",
        "fee",
        "net_amount",
        "currency",
        "payment_date",
        "paid_at",
        "created_at",
    }
    assert payable["object"] == "payable"
    assert payable["transaction_id"] == transaction["id"]
    assert (payable["installment"], payable["status"]) == (1, "waiting_funds")
    assert (payable["amount"], payable["fee"], payable["net_amount"]) == (2500, 125, 2375)
    assert payable["payment_date"] == (today() + timedelta(days=30)).isoformat()
    assert payable["paid_at"] is None
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", payable["created_at"])
    single = client.get(f"/v1/payables/{payable['id']}", headers=auth(merchant))
    assert single.get_json() == payable


def test_a_debit_transaction_of_1001_is_available_at_once(
    client: FlaskClient, container: Container, merchant: Onboarded
) -> None:
    create_payables_for(
        container, merchant, create_transaction(client, merchant, amount=1001, payment_method="debit_card")
    )

    [payable] = payables(client, merchant)

    assert (payable["status"], payable["fee"], payable["net_amount"]) == ("paid", 30, 971)
    assert payable["payment_date"] == today().isoformat()
    assert payable["paid_at"] is not None
    assert balance(client, merchant) == {
        "object": "balance",
        "available": [{"amount": 971, "currency": "BRL"}],
        "waiting_funds": [],
    }


def test_balance_moves_from_waiting_funds_to_available_after_settlement(
    client: FlaskClient, container: Container, merchant: Onboarded
) -> None:
    transaction = create_transaction(client, merchant, amount=3000, installments=3)
    create_payables_for(container, merchant, transaction)
    assert balance(client, merchant)["waiting_funds"] == [{"amount": 2850, "currency": "BRL"}]
    assert balance(client, merchant)["available"] == []

    settle(container, today() + timedelta(days=30))

    assert balance(client, merchant)["available"] == [{"amount": 950, "currency": "BRL"}]
    assert balance(client, merchant)["waiting_funds"] == [{"amount": 1900, "currency": "BRL"}]

    settle(container, today() + timedelta(days=90))

    assert balance(client, merchant) == {
        "object": "balance",
        "available": [{"amount": 2850, "currency": "BRL"}],
        "waiting_funds": [],
    }
    stored = client.get(f"/v1/transactions/{transaction['id']}", headers=auth(merchant)).get_json()
    assert stored["status"] == "paid"
    assert {payable["status"] for payable in payables(client, merchant)} == {"paid"}


def test_an_empty_balance_has_empty_lines(client: FlaskClient, merchant: Onboarded) -> None:
    assert balance(client, merchant) == {"object": "balance", "available": [], "waiting_funds": []}


@pytest.fixture
def three_installments_and_a_debit(
    client: FlaskClient, container: Container, merchant: Onboarded
) -> tuple[dict[str, Any], dict[str, Any]]:
    credit = create_transaction(client, merchant, amount=9000, installments=3)
    debit = create_transaction(client, merchant, amount=500, payment_method="debit_card")
    create_payables_for(container, merchant, credit, debit)
    return credit, debit


def test_payables_filter_by_status(
    client: FlaskClient,
    merchant: Onboarded,
    three_installments_and_a_debit: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    credit, debit = three_installments_and_a_debit

    waiting = payables(client, merchant, "?status=waiting_funds")
    paid = payables(client, merchant, "?status=paid")

    assert {(p["transaction_id"], p["installment"]) for p in waiting} == {
        (credit["id"], i) for i in (1, 2, 3)
    }
    assert [p["transaction_id"] for p in paid] == [debit["id"]]


def test_payables_filter_by_payment_date_range(
    client: FlaskClient,
    merchant: Onboarded,
    three_installments_and_a_debit: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    gte = (today() + timedelta(days=31)).isoformat()
    lte = (today() + timedelta(days=60)).isoformat()

    found = payables(client, merchant, f"?payment_date[gte]={gte}&payment_date[lte]={lte}")
    up_to_today = payables(client, merchant, f"?payment_date[lte]={today().isoformat()}")

    assert [p["installment"] for p in found] == [2]
    assert [p["amount"] for p in up_to_today] == [500]


def test_payables_filter_by_transaction(
    client: FlaskClient,
    merchant: Onboarded,
    three_installments_and_a_debit: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    credit, _ = three_installments_and_a_debit

    found = payables(client, merchant, f"?transaction_id={credit['id']}&limit=2")

    assert len(found) == 2
    assert {p["transaction_id"] for p in found} == {credit["id"]}


@pytest.mark.parametrize(
    ("query", "code", "param"),
    [
        ("?status=late", "parameter_invalid", "status"),
        ("?payment_date[gte]=yesterday", "parameter_invalid_type", "payment_date[gte]"),
        ("?payment_date[lte]=2026-13-01", "parameter_invalid_type", "payment_date[lte]"),
        ("?transaction_id=nope", "parameter_invalid_type", "transaction_id"),
        ("?payment_date=2026-01-01", "parameter_unknown", "payment_date"),
        ("?status=paid&status=waiting_funds", "parameter_invalid", "status"),
        ("?limit=0", "parameter_out_of_range", "limit"),
    ],
)
def test_a_bad_payable_filter_answers_400_naming_it(
    client: FlaskClient, merchant: Onboarded, query: str, code: str, param: str
) -> None:
    assert_invalid(client.get(f"/v1/payables{query}", headers=auth(merchant)), code, param)


def test_an_unknown_payable_answers_404(client: FlaskClient, merchant: Onboarded) -> None:
    response = client.get("/v1/payables/0190f2a4-0000-7000-8000-000000000000", headers=auth(merchant))

    assert_error(response, 404, "invalid_request_error", "resource_missing", "id")
