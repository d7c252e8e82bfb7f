"""The event objects PostgreSQL builds as text equal the API's objects, whatever the strings hold."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from psp.bootstrap import Container
from psp.domain.cards import Card
from psp.domain.objects import payable_object, transaction_object
from psp.domain.payables import PayableStatus
from psp.domain.transactions import TransactionStatus
from psp.repositories.postgres.event_sql import payable_json_sql, transaction_json_sql
from tests.integration.test_repository_contract import a_merchant, a_payable, a_transaction, stored

AWKWARD_TEXT = [
    "Sneakers",
    'say "hi"',
    "back\\slash and a solidus /",
    "line\nbreak\ttab\rreturn",
    "\x01\x08\x0c\x1f controls",
    "São Paulo \u2013 café ☕ 𝄞",
    "it's O'Brien; --",
    "",
]


def object_built_in_sql(container: Container, json_sql: str, table: str, row_id: object) -> Any:
    query = text(f"SELECT CAST({json_sql} AS text) FROM {table} AS e WHERE e.id = :id")  # noqa: S608  # nosec B608
    with container.engine.connect() as connection:
        return json.loads(connection.execute(query, {"id": row_id}).scalar_one())


@pytest.mark.parametrize("awkward", AWKWARD_TEXT)
def test_a_transaction_object_built_in_sql_equals_the_api_object(container: Container, awkward: str) -> None:
    merchant = a_merchant()
    transaction = a_transaction(merchant.id)
    card = Card("visa", "411111", "1111", awkward, 12, 2030, "f" * 64)
    transaction = replace(transaction, description=awkward, card=card)
    stored(container.uow, merchant, transaction)

    built = object_built_in_sql(container, transaction_json_sql("e"), "transactions", transaction.id)

    assert built == {**transaction_object(transaction), "version": transaction.version}


def test_a_declined_transaction_keeps_its_decline_code(container: Container) -> None:
    merchant = a_merchant()
    declined = replace(
        a_transaction(merchant.id), status=TransactionStatus.DECLINED, decline_code="do_not_honor"
    )
    stored(container.uow, merchant, declined)

    built = object_built_in_sql(container, transaction_json_sql("e"), "transactions", declined.id)

    assert built["decline_code"] == "do_not_honor"
    assert built == {**transaction_object(declined), "version": declined.version}


@pytest.mark.parametrize("paid_at", [None, datetime(2026, 12, 20, 3, 4, 5, 678901, tzinfo=UTC)])
def test_a_payable_object_built_in_sql_equals_the_api_object(
    container: Container, paid_at: datetime | None
) -> None:
    merchant = a_merchant()
    transaction = a_transaction(merchant.id)
    payable = a_payable(transaction)
    if paid_at is not None:
        payable = replace(payable, status=PayableStatus.PAID, paid_at=paid_at)
    stored(container.uow, merchant, transaction, payable)

    built = object_built_in_sql(container, payable_json_sql("e"), "payables", payable.id)

    assert built == {**payable_object(payable), "version": payable.version}
    assert built["paid_at"] == (None if paid_at is None else "2026-12-20T03:04:05.678Z")
