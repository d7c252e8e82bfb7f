"""The benchmark ceilings write what psp writes for an approval, or their ratios compare unlike work.

psp's approval is compared with the bare app's statement and with pgbench's script, row by row: the same
tables, the same columns filled (and left NULL), the same event type and version, JSON with the same keys.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from benchmarks.bare_app import transaction_row
from benchmarks.sql import INSERT_APPROVAL, PGBENCH_SCRIPT
from sqlalchemy import text

from psp.bootstrap import Container
from psp.domain.events import transaction_changed, transaction_event
from psp.services.merchants import Onboarded
from tests.integration.test_settlement import credit_transaction

_TABLES = {"transactions": "id", "outbox": "aggregate_id", "events": "object_id"}
_BODY = {
    "amount": 2500,
    "description": "benchmark",
    "payment_method": "credit_card",
    "card_number": "4111111111111111",
    "card_holder_name": "Ana Souza",
}


def test_the_bare_app_writes_the_rows_psp_writes(container: Container, merchant: Onboarded) -> None:
    merchant_id = merchant.merchant.id
    psp_id = approve_through_psp(container, merchant_id)
    with container.engine.begin() as connection:
        bare = transaction_row(_BODY, merchant_id)
        connection.exec_driver_sql(INSERT_APPROVAL, bare)
    assert shape_of(container, bare["id"]) == shape_of(container, psp_id)


def test_pgbench_writes_the_rows_psp_writes(container: Container, merchant: Onboarded) -> None:
    merchant_id = merchant.merchant.id
    psp_id = approve_through_psp(container, merchant_id)
    with container.engine.begin() as connection:
        statement = pgbench_statement(merchant_id, amount=2500)
        connection.execute(text(statement))
        pgbench_id = connection.execute(
            text("SELECT id FROM transactions WHERE id <> :psp"), {"psp": psp_id}
        ).scalar_one()
    assert shape_of(container, pgbench_id) == shape_of(container, psp_id)


def approve_through_psp(container: Container, merchant_id: UUID) -> UUID:
    """The rows of an approval, added as the transactions service adds them (one statement at commit)."""
    transaction = replace(credit_transaction(merchant_id, datetime.now(UTC)), acquirer_reference="sim_1")
    with container.uow() as uow:
        uow.transactions.add(transaction)
        uow.outbox.add(transaction_event(transaction))
        uow.events.add(transaction_changed(transaction))
        uow.commit()
    return transaction.id


def pgbench_statement(merchant_id: UUID, *, amount: int) -> str:
    """The script's statement with its variables filled in, as pgbench would (without meta-commands)."""
    lines = [line for line in PGBENCH_SCRIPT.splitlines() if not line.startswith("\\")]
    statement = "\n".join(lines).replace(":merchant", f"'{merchant_id}'").replace(":amount", str(amount))
    assert re.search(r"(?<!:):[a-z]", statement) is None, "a pgbench variable left unfilled"
    return statement


def shape_of(container: Container, transaction_id: UUID) -> dict[str, Any]:
    """Per table: how many rows, which columns are NULL, and the keys of every JSON document."""
    shape: dict[str, Any] = {}
    with container.engine.connect() as connection:
        for table, key in _TABLES.items():
            rows = connection.execute(
                text(f"SELECT * FROM {table} WHERE {key} = :id"),  # noqa: S608 - our own table names
                {"id": transaction_id},
            ).all()
            shape[table] = [
                {
                    "null": sorted(column for column, value in row._mapping.items() if value is None),
                    "json": {
                        column: keys_of(value)
                        for column, value in row._mapping.items()
                        if isinstance(value, dict)
                    },
                    "kind": row._mapping.get("event_type"),
                    "version": row._mapping.get("object_version", row._mapping.get("version")),
                }
                for row in rows
            ]
    return shape


def keys_of(document: Any) -> Any:
    """The document's structure: keys, recursively, with the JSON kind of each leaf (null stays null)."""
    if isinstance(document, dict):
        return {key: keys_of(value) for key, value in document.items()}
    return type(document).__name__
