"""Server-side seeding (``INSERT ... SELECT generate_series``): rows that pass psp's CHECK constraints.

Columns the product fills by default (``amount_refunded``, ``receive_count``, ...) are left to their
server defaults, so a new defaulted column does not break the seed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString
from uuid import UUID

import psycopg
from psycopg import sql

from benchmarks.database import Database
from benchmarks.sql import FINGERPRINT

# created_at, spaced 2 s apart, going back from (now - days_ago); the newest row is row 1.
_TRANSACTIONS: LiteralString = f"""
INSERT INTO transactions (id, merchant_id, amount, currency, description, payment_method, installments,
    status, fee_bps, card_brand, card_first_six, card_last_four, card_holder_name, card_expiration_month,
    card_expiration_year, card_fingerprint, created_at, updated_at)
SELECT {{id_at}}, %(merchant)s, 1000 + (g %% 9000), 'BRL', 'seed', 'credit_card', 1, 'waiting_funds',
    500, 'visa', '411111', '1111', 'Seed Holder', 12, 2030, '{FINGERPRINT}', at, at
FROM generate_series(1, %(rows)s) AS g,
     LATERAL (SELECT now() - make_interval(days => %(days_ago)s) - g * interval '2 seconds' AS at) AS t
"""  # noqa: S608 - built from constants only

# One credit payable per seeded transaction: 5% fee floored, due D+30 (UTC), waiting.
_PAYABLES: LiteralString = """
INSERT INTO payables (id, merchant_id, transaction_id, installment, status, amount, fee, net_amount, currency,
    payment_date, paid_at, created_at)
SELECT {id_created_at}, merchant_id, id, 1, 'waiting_funds', amount, amount * 500 / 10000,
    amount - amount * 500 / 10000, currency, CAST(created_at AT TIME ZONE 'UTC' AS date) + 30, NULL,
    created_at + interval '200 milliseconds'
FROM transactions WHERE merchant_id = %(merchant)s
"""

# Approved transactions with their outbox events, as psp writes them, for the pipeline scenario.
_APPROVED_WITH_EVENTS: LiteralString = f"""
WITH created AS (
    INSERT INTO transactions (id, merchant_id, amount, currency, description, payment_method, installments,
        status, fee_bps, card_brand, card_first_six, card_last_four, card_holder_name,
        card_expiration_month, card_expiration_year, card_fingerprint, created_at, updated_at)
    SELECT {{id_now}}, %(merchant)s, 1000 + (g %% 9000), 'BRL', 'pipeline', 'credit_card', 1,
        'waiting_funds', 500, 'visa', '411111', '1111', 'Seed Holder', 12, 2030, '{FINGERPRINT}',
        clock_timestamp(), clock_timestamp()
    FROM generate_series(1, %(rows)s) AS g
    RETURNING id, merchant_id, amount, currency, payment_method, installments, fee_bps, status, created_at
)
INSERT INTO outbox (id, event_type, merchant_id, aggregate_id, payload, created_at, visible_at)
SELECT {{id_now}}, 'transaction.approved', merchant_id, id,
    jsonb_build_object('transaction_id', CAST(id AS text), 'merchant_id', CAST(merchant_id AS text),
        'amount', amount, 'currency', currency, 'payment_method', payment_method,
        'installments', installments, 'fee_bps', fee_bps, 'status', status,
        'created_at', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')),
    created_at, created_at
FROM created
"""  # noqa: S608 - built from constants only

# The cursor psp would hand out after the row at ``depth`` (0-based, newest first).
_ROW_AT_DEPTH: LiteralString = """
SELECT created_at, id FROM {table} WHERE merchant_id = %(merchant)s {where}
ORDER BY created_at DESC, id DESC OFFSET %(depth)s LIMIT 1
"""


@dataclass(frozen=True)
class SeedReport:
    rows: int
    transactions_seconds: float
    payables_seconds: float
    vacuum_seconds: float


def _with_ids(connection: psycopg.Connection[Any], statement: LiteralString) -> LiteralString:
    """psp's ids are UUIDv7 (time-ordered, so index inserts and lookups stay local); PostgreSQL 18 has
    ``uuidv7(shift)``, whose timestamp can match the seeded ``created_at``. Older servers: random v4."""
    row = connection.execute("SELECT current_setting('server_version_num')::int >= 180000").fetchone()
    if row is not None and row[0]:
        ids = {
            "id_at": "uuidv7(at - now())",
            "id_created_at": "uuidv7(created_at - now())",
            "id_now": "uuidv7()",
        }
    else:
        ids = dict.fromkeys(("id_at", "id_created_at", "id_now"), "gen_random_uuid()")
    return statement.format(**ids)


def seed_history(database: Database, merchant_id: str, rows: int, days_ago: int = 60) -> SeedReport:
    """``rows`` transactions with one waiting payable each, all due by today; then VACUUM ANALYZE."""
    params = {"merchant": merchant_id, "rows": rows, "days_ago": days_ago}
    with database.connect() as connection:
        connection.execute("SET maintenance_work_mem = '256MB'")
        transactions_seconds = _timed(connection, _with_ids(connection, _TRANSACTIONS), params)
        payables_seconds = _timed(connection, _with_ids(connection, _PAYABLES), params)
        # As autovacuum would eventually: statistics, and the visibility map index-only scans need.
        vacuum_seconds = _timed(connection, "VACUUM (ANALYZE) transactions, payables, waiting_payables", None)
    return SeedReport(rows, transactions_seconds, payables_seconds, vacuum_seconds)


def seed_approved_events(database: Database, merchant_id: str, rows: int) -> float:
    with database.connect() as connection:
        statement = _with_ids(connection, _APPROVED_WITH_EVENTS)
        seconds = _timed(connection, statement, {"merchant": merchant_id, "rows": rows})
        connection.execute("ANALYZE outbox")
    return seconds


def row_at_depth(
    database: Database, table: str, merchant_id: str, depth: int, where: LiteralString = ""
) -> tuple[datetime, UUID]:
    """(created_at, id) of the row at ``depth``: what a cursor that deep into a list points at."""
    query = sql.SQL(_ROW_AT_DEPTH).format(table=sql.Identifier(table), where=sql.SQL(where))
    with database.connect() as connection:
        row = connection.execute(query, {"merchant": merchant_id, "depth": depth}).fetchone()
    if row is None:
        raise RuntimeError(f"no {table} row at depth {depth}")
    return row[0], row[1]


def _timed(
    connection: psycopg.Connection[Any], statement: LiteralString, params: dict[str, Any] | None
) -> float:
    started = time.perf_counter()
    connection.execute(statement, params)
    return time.perf_counter() - started
