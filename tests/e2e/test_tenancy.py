"""A merchant sees and touches only its own objects; another merchant's id answers 404, not 403."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from psp.bootstrap import Container
from psp.services.merchants import Onboarded
from tests.e2e.support import assert_error, auth, create_transaction, transaction_body
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


# --- the matrix: every route and method of the app, probed by merchant B with merchant A's ids ----------


@dataclass(frozen=True)
class Probe:
    """How merchant B is kept out of merchant A's objects on one route and method.

    ``foreign_ids``: the path names A's objects; B's key gets 404 ``resource_missing`` (A's own key gets a
    2xx, so the 404 is about B). ``own``: no id in the path; B acts on its own objects and sees none of A's.
    ``list``: like ``own``, and every item listed is B's. ``public``: no key needed; nothing of A's in it.
    Whatever the kind, none of A's rows changes.
    """

    kind: str
    body: dict[str, Any] | None = None


FOREIGN_IDS = Probe("foreign_ids")
OWN = Probe("own")
LIST = Probe("list")
PUBLIC = Probe("public")

ENDPOINT_BODY: Final = {"url": "http://localhost:9/hooks", "enabled_events": ["transaction.approved"]}

# Every route and method the app serves. A route added without a line here fails
# test_every_route_and_method_of_the_app_is_in_the_tenancy_matrix, which names it.
TENANCY_MATRIX: Final[dict[str, Probe]] = {
    "GET /healthz": PUBLIC,
    "GET /readyz": PUBLIC,
    "GET /metrics": PUBLIC,
    "GET /v1/openapi.json": PUBLIC,
    "GET /docs": PUBLIC,
    "POST /v1/transactions": Probe("own", body=transaction_body()),
    "GET /v1/transactions": LIST,
    "GET /v1/transactions/<transaction_id>": FOREIGN_IDS,
    "POST /v1/transactions/<transaction_id>/refunds": Probe("foreign_ids", body={"amount": 100}),
    "GET /v1/transactions/<transaction_id>/refunds": FOREIGN_IDS,
    "GET /v1/refunds/<refund_id>": FOREIGN_IDS,
    "GET /v1/payables": LIST,
    "GET /v1/payables/<payable_id>": FOREIGN_IDS,
    "GET /v1/balance": OWN,
    "POST /v1/webhook_endpoints": Probe("own", body=ENDPOINT_BODY),
    "GET /v1/webhook_endpoints": LIST,
    "GET /v1/webhook_endpoints/<endpoint_id>": FOREIGN_IDS,
    "DELETE /v1/webhook_endpoints/<endpoint_id>": FOREIGN_IDS,
    "POST /v1/webhook_endpoints/<endpoint_id>/rotate_secret": Probe("foreign_ids", body={}),
    "GET /v1/events": LIST,
    "GET /v1/events/<event_id>": FOREIGN_IDS,
    "GET /v1/events/<event_id>/deliveries": FOREIGN_IDS,
    "POST /v1/events/<event_id>/redeliver": Probe("foreign_ids", body={}),
}
IGNORED_METHODS: Final = {"HEAD", "OPTIONS"}
PATH_PARAMETER: Final = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


@dataclass
class World:
    """Merchant A with one of every object (ids by path parameter name), and merchant B with its own."""

    a: Onboarded
    b: Onboarded
    a_ids: dict[str, str]
    b_ids: set[str]


@pytest.fixture
def world(client: FlaskClient, container: Container, merchant: Onboarded, other_merchant: Onboarded) -> World:
    transaction = create_transaction(client, merchant, installments=2)
    create_payables_for(container, merchant, transaction)
    payable = client.get("/v1/payables", headers=auth(merchant)).get_json()["data"][0]
    refund = client.post(
        f"/v1/transactions/{transaction['id']}/refunds", json={"amount": 50}, headers=auth(merchant)
    ).get_json()
    endpoint = client.post("/v1/webhook_endpoints", json=ENDPOINT_BODY, headers=auth(merchant)).get_json()
    event = client.get("/v1/events", headers=auth(merchant)).get_json()["data"][0]
    # Merchant A's object for every path parameter of the app; a new kind of object needs a line here.
    a_ids = {
        "transaction_id": transaction["id"],
        "payable_id": payable["id"],
        "refund_id": refund["id"],
        "endpoint_id": endpoint["id"],
        "event_id": event["id"],
    }

    theirs = create_transaction(client, other_merchant, amount=7000)
    create_payables_for(container, other_merchant, theirs)
    b_payables = client.get("/v1/payables", headers=auth(other_merchant)).get_json()["data"]
    b_endpoint = client.post("/v1/webhook_endpoints", json=ENDPOINT_BODY, headers=auth(other_merchant))
    b_events = client.get("/v1/events?limit=100", headers=auth(other_merchant)).get_json()["data"]
    b_ids = {
        theirs["id"],
        b_endpoint.get_json()["id"],
        *(payable["id"] for payable in b_payables),
        *(event["id"] for event in b_events),
    }
    return World(merchant, other_merchant, a_ids, b_ids)


def served_routes(app: Flask) -> dict[str, str]:
    """``"METHOD rule"`` of every route and method the app serves, to its rule."""
    return {
        f"{method} {rule.rule}": rule.rule
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in IGNORED_METHODS
    }


def test_every_route_and_method_of_the_app_is_in_the_tenancy_matrix(app: Flask) -> None:
    served = set(served_routes(app))

    missing = sorted(served - set(TENANCY_MATRIX))
    stale = sorted(set(TENANCY_MATRIX) - served)

    assert not missing, (
        "routes without an entry in TENANCY_MATRIX (tests/e2e/test_tenancy.py): "
        + ", ".join(missing)
        + ". Add one line per route saying how merchant B is kept out there (FOREIGN_IDS, OWN, LIST, PUBLIC)."
    )
    assert not stale, f"TENANCY_MATRIX names routes the app no longer serves: {', '.join(stale)}"


def rows_of(container: Container, merchant_id: UUID) -> list[str]:
    """Every row of every table that names the merchant, as sorted JSON: its whole footprint."""
    with container.engine.connect() as connection:
        tables = connection.execute(
            text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        ).scalars()
        rows = [
            row
            for table in list(tables)
            # Table names come from the catalogue, not from input.
            for row in connection.execute(text(f'SELECT row_to_json(t)::text FROM "{table}" t')).scalars()  # noqa: S608
        ]
    return sorted(row for row in rows if str(merchant_id) in row)


def leaked_ids(body: str, world: World, allowed: set[str]) -> set[str]:
    a_identifiers = {str(world.a.merchant.id), str(world.a.key.api_key.id), *world.a_ids.values()}
    return {identifier for identifier in a_identifiers - allowed if identifier in body}


@pytest.mark.parametrize("route", sorted(TENANCY_MATRIX))
def test_merchant_b_never_sees_or_changes_merchant_a_objects(
    route: str, app: Flask, client: FlaskClient, container: Container, world: World
) -> None:
    probe = TENANCY_MATRIX[route]
    method, rule = route.split(" ", 1)
    if probe.kind == "foreign_ids":
        unknown = [name for name in PATH_PARAMETER.findall(rule) if name not in world.a_ids]
        if unknown:
            pytest.fail(f"{route}: add how merchant A gets a {unknown} to the `world` fixture's a_ids")
    path = PATH_PARAMETER.sub(lambda match: world.a_ids[match.group(1)], rule)
    in_path = {value for value in world.a_ids.values() if value in path}
    before = rows_of(container, world.a.merchant.id)

    answer = client.open(path, method=method, json=probe.body, headers=auth(world.b))

    assert leaked_ids(answer.get_data(as_text=True), world, in_path) == set(), route
    assert rows_of(container, world.a.merchant.id) == before, f"{route} changed merchant A's rows"
    if probe.kind == "foreign_ids":
        assert_error(answer, 404, "invalid_request_error", "resource_missing", "id")
        control = client.open(path, method=method, json=probe.body, headers=auth(world.a))
        assert 200 <= control.status_code < 300, (route, control.get_json())
    elif probe.kind == "public":
        assert answer.status_code == 200, route
        anonymous = client.open(path, method=method)
        assert leaked_ids(anonymous.get_data(as_text=True), world, set()) == set(), route
    else:
        assert 200 <= answer.status_code < 300, (route, answer.get_json())
    if probe.kind == "list":
        listed = {item["id"] for item in answer.get_json()["data"]}
        assert listed, route  # B has objects of its own: an empty list would prove nothing
        assert listed <= world.b_ids, route
