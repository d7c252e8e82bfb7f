"""A merchant sees and touches only its own objects; another merchant's id answers 404, not 403."""

from __future__ import annotations

from flask.testing import FlaskClient

from psp.bootstrap import Container
from psp.services.merchants import Onboarded
from tests.e2e.support import assert_error, auth, create_transaction
from tests.e2e.workflow import create_payables_for


def test_another_merchants_transaction_answers_404(
    client: FlaskClient, merchant: Onboarded, other_merchant: Onboarded
) -> None:
    theirs = create_transaction(client, merchant)

    response = client.get(f"/v1/transactions/{theirs['id']}", headers=auth(other_merchant))

    assert_error(response, 404, "invalid_request_error", "resource_missing", "id")


def test_another_merchants_payable_answers_404(
    client: FlaskClient, container: Container, merchant: Onboarded, other_merchant: Onboarded
) -> None:
    create_payables_for(container, merchant, create_transaction(client, merchant))
    payable = client.get("/v1/payables", headers=auth(merchant)).get_json()["data"][0]

    response = client.get(f"/v1/payables/{payable['id']}", headers=auth(other_merchant))

    assert_error(response, 404, "invalid_request_error", "resource_missing", "id")


def test_lists_and_balance_show_only_the_merchants_own_objects(
    client: FlaskClient, container: Container, merchant: Onboarded, other_merchant: Onboarded
) -> None:
    mine = create_transaction(client, merchant, amount=1000)
    theirs = create_transaction(client, other_merchant, amount=7000)
    create_payables_for(container, merchant, mine)
    create_payables_for(container, other_merchant, theirs)

    transactions = client.get("/v1/transactions", headers=auth(other_merchant)).get_json()
    payables = client.get("/v1/payables", headers=auth(other_merchant)).get_json()
    filtered = client.get(
        f"/v1/payables?transaction_id={mine['id']}", headers=auth(other_merchant)
    ).get_json()
    balance = client.get("/v1/balance", headers=auth(other_merchant)).get_json()

    assert [item["id"] for item in transactions["data"]] == [theirs["id"]]
    assert [item["transaction_id"] for item in payables["data"]] == [theirs["id"]]
    assert filtered["data"] == []
    assert balance["waiting_funds"] == [{"amount": 6650, "currency": "BRL"}]
