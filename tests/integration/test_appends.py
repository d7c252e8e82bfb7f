"""Rows a unit of work appends are written in one statement, before anything reads, or not at all."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from psp.bootstrap import Container
from psp.data_sources.postgres.tables import events, outbox, transactions
from psp.domain.events import transaction_changed, transaction_event
from psp.repositories.postgres.appends import combined_insert
from psp.services.merchants import Onboarded
from tests.integration.test_settlement import credit_transaction


def count(container: Container, table: str) -> int:
    with container.engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608


def test_an_approval_writes_its_three_rows_in_one_statement_at_commit(
    container: Container, merchant: Onboarded
) -> None:
    transaction = credit_transaction(merchant.merchant.id, datetime.now(UTC))
    statements: list[str] = []

    autocommitted: list[bool] = []

    def record(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)
        autocommitted.append(conn.connection.dbapi_connection.autocommit)

    event.listen(container.engine, "before_cursor_execute", record)
    try:
        with container.uow() as uow:
            uow.transactions.add(transaction)
            uow.outbox.add(transaction_event(transaction))
            uow.events.add(transaction_changed(transaction))
            assert statements == []  # held
            uow.commit()
    finally:
        event.remove(container.engine, "before_cursor_execute", record)
    assert len(statements) == 1
    assert statements[0].startswith("WITH w0 AS (INSERT INTO transactions")
    assert autocommitted == [True]  # a statement alone is atomic: no BEGIN and COMMIT round trips
    assert (count(container, "transactions"), count(container, "outbox"), count(container, "events")) == (
        1,
        1,
        1,
    )


def test_a_read_in_the_same_unit_of_work_sees_the_rows_appended_before_it(
    container: Container, merchant: Onboarded
) -> None:
    transaction = credit_transaction(merchant.merchant.id, datetime.now(UTC))
    with container.uow() as uow:
        uow.transactions.add(transaction)
        uow.events.add(transaction_changed(transaction))
        assert uow.transactions.get(merchant.merchant.id, transaction.id) == transaction
        uow.commit()
    assert count(container, "events") == 1


def test_rows_appended_in_a_unit_of_work_left_without_commit_are_never_written(
    container: Container, merchant: Onboarded
) -> None:
    transaction = credit_transaction(merchant.merchant.id, datetime.now(UTC))
    with container.uow() as uow:
        uow.transactions.add(transaction)
        uow.outbox.add(transaction_event(transaction))
    with container.uow() as uow:  # the next unit of work on the same pooled connection holds nothing
        uow.commit()
    assert (count(container, "transactions"), count(container, "outbox")) == (0, 0)


def test_the_combined_statement_binds_every_value_and_sends_json_columns_as_json() -> None:
    now = datetime.now(UTC)
    transaction = credit_transaction(uuid4(), now)
    approved = transaction_event(transaction)
    statement, parameters = combined_insert(
        [
            (transactions, {"id": transaction.id, "amount": 10}),
            (outbox, {"id": approved.id, "payload": approved.payload}),
            (outbox, {"id": approved.id, "payload": None}),
            (events, {"id": approved.id, "data": {"a": 1}}),
        ]
    )
    assert statement == (
        "WITH w0 AS (INSERT INTO transactions (id, amount) VALUES (%(p0)s, %(p1)s)), "
        "w1 AS (INSERT INTO outbox (id, payload) VALUES (%(p2)s, %(p3)s), (%(p4)s, %(p5)s)) "
        "INSERT INTO events (id, data) VALUES (%(p6)s, %(p7)s)"
    )
    assert type(parameters["p3"]).__name__ == "Jsonb"
    assert parameters["p5"] is None
    assert type(parameters["p7"]).__name__ == "Json"
    assert parameters["p1"] == 10


def test_a_held_row_that_breaks_a_constraint_fails_the_whole_statement_and_nothing_is_written(
    container: Container, merchant: Onboarded
) -> None:
    transaction = credit_transaction(merchant.merchant.id, datetime.now(UTC))
    broken = replace(transaction_changed(transaction), object_version=0)  # ck_events_object_version_positive
    with container.uow() as uow:
        uow.transactions.add(transaction)
        uow.outbox.add(transaction_event(transaction))
        uow.events.add(broken)
        with pytest.raises(IntegrityError):
            uow.commit()
    written = (count(container, "transactions"), count(container, "outbox"), count(container, "events"))
    assert written == (0, 0, 0)


def test_the_pooled_connection_goes_back_to_transactions_after_a_write_alone(
    container: Container, merchant: Onboarded
) -> None:
    first, second = (credit_transaction(merchant.merchant.id, datetime.now(UTC)) for _ in range(2))
    with container.uow() as uow:
        uow.transactions.add(first)
        uow.commit()
    with container.uow() as uow:  # same pooled connection: a read, then a write never committed
        assert uow.transactions.get(merchant.merchant.id, first.id) == first
        uow.transactions.add(second)
        uow.outbox.add(transaction_event(second))
        assert uow.transactions.get(merchant.merchant.id, second.id) == second  # written, in a transaction
    assert (count(container, "transactions"), count(container, "outbox")) == (1, 0)


def test_a_unit_of_work_that_read_first_commits_its_rows_in_its_transaction(
    container: Container, merchant: Onboarded
) -> None:
    transaction = credit_transaction(merchant.merchant.id, datetime.now(UTC))
    with container.uow() as uow:
        assert uow.transactions.get(merchant.merchant.id, transaction.id) is None
        uow.transactions.add(transaction)
        uow.events.add(transaction_changed(transaction))
        uow.commit()
    assert (count(container, "transactions"), count(container, "events")) == (1, 1)
