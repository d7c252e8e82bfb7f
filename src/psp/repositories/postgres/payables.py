"""Payables over Postgres: idempotent bulk creation, lists, balance and set-based settlement."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Final
from uuid import UUID

from sqlalchemy import BigInteger, Connection, bindparam, cast, func, select, text, update

from psp.data_sources.postgres.tables import merchant_balances, payables
from psp.domain.events import PAYABLE_CREATED, PAYABLE_PAID
from psp.domain.pagination import Page, PageRequest
from psp.domain.payables import Balance, BalanceLine, Payable, PayableStatus
from psp.repositories.ports import CurrencyTotals, PayableFilters, SettledChunk
from psp.repositories.postgres.event_sql import (
    AT_PARAMETER,
    NEW_EVENT_ID,
    NO_DATA,
    insert_events_sql,
    payable_json_sql,
    transaction_paid_events_sql,
)
from psp.repositories.postgres.pagination import fetch_page

# One statement claims a chunk of due payables (skipping rows a concurrent settler holds), pays them and
# sums what it paid, so a chunk costs one round trip however large it is. The chunk comes from
# ``waiting_payables`` (exactly the waiting payables, by payment date), whose claimed rows it deletes, so
# the payables' own update names no indexed column and is HOT. ``= ANY(ARRAY(...))`` makes the planner
# look the chunk up by primary key (ctid for the claimed rows); a join on the CTE was planned as a scan of
# the whole table. A claimed payable is paid only if it is still waiting, so a row left behind could never
# pay twice; ``claimed`` counts every row taken, and settlement ends when a chunk claims none.
# The same statement writes one ``payable.paid`` event per payable it pays (set-based, no row in Python),
# and completes the transactions in a single installment whose payable it paid, with their
# ``transaction.paid`` events (both kinds store no data: it is rendered from the rows when read, see
# ``event_sql.event_data_sql``; a transaction names its event in ``paid_event_id``): their one
# installment is the only payable that can be waiting (adjustments are born paid), and this settler holds
# it, so no other settler can complete them. The transactions it touched and did not complete come back
# in ``transaction_ids`` for the locked check.
_SETTLE_DUE = text(
    f"""
    WITH due AS (
        SELECT ctid FROM waiting_payables
        WHERE payment_date <= :run_date
        ORDER BY payment_date, payable_id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ), claimed AS (
        DELETE FROM waiting_payables WHERE ctid = ANY(ARRAY(SELECT ctid FROM due)) RETURNING payable_id
    ), paid AS (
        UPDATE payables AS p SET status = 'paid', paid_at = :at, version = p.version + 1
        WHERE p.id = ANY(ARRAY(SELECT payable_id FROM claimed)) AND p.status = 'waiting_funds'
        RETURNING p.id, p.merchant_id, p.transaction_id, p.version, p.currency, p.amount, p.fee, p.net_amount
    ), paid_events AS (
        {insert_events_sql(PAYABLE_PAID, "paid", "e", NO_DATA, AT_PARAMETER)}
    ), completed AS (
        UPDATE transactions AS t
        SET status = 'paid', updated_at = :at, version = t.version + 1, paid_event_id = {NEW_EVENT_ID}
        WHERE t.id = ANY(ARRAY(SELECT transaction_id FROM paid))
          AND t.installments = 1 AND t.status = 'waiting_funds'
        RETURNING t.id, t.merchant_id, t.version, t.paid_event_id
    ), completed_events AS (
        {transaction_paid_events_sql("completed")}
    )
    SELECT (SELECT count(*) FROM claimed) AS claimed, totals.*
    FROM (SELECT 1) AS one LEFT JOIN (
        SELECT paid.currency, count(*) AS paid_count, sum(paid.amount) AS gross, sum(paid.fee) AS fee,
               sum(paid.net_amount) AS net, count(completed.id) AS transactions_paid,
               array_agg(DISTINCT paid.transaction_id) FILTER (WHERE completed.id IS NULL) AS transaction_ids
        FROM paid LEFT JOIN completed ON completed.id = paid.transaction_id
        GROUP BY paid.currency
    ) AS totals ON true
    """  # noqa: S608 - constant SQL composed from our own fragments  # nosec B608
)
# Payables arrive in batches of any size; one statement text for all of them (column arrays through
# ``unnest``) is parsed and planned once per connection, where a multi-row VALUES list was a new
# statement for every batch size (psycopg re-parsed its placeholders, PostgreSQL re-planned it). Every
# payable inserted gets its ``payable.created`` event in the same statement; a row already there (the
# same transaction and installment) is skipped, and so is its event.
_PAYABLE_ARRAYS: Final = (
    ("id", "uuid"),
    ("merchant_id", "uuid"),
    ("transaction_id", "uuid"),
    ("installment", "smallint"),
    ("status", "text"),
    ("amount", "bigint"),
    ("fee", "bigint"),
    ("net_amount", "bigint"),
    ("currency", "text"),
    ("payment_date", "date"),
    ("paid_at", "timestamptz"),
    ("created_at", "timestamptz"),
    ("version", "integer"),
)
_ADD_ALL_NEW = text(
    f"""
    WITH created AS (
        INSERT INTO payables ({", ".join(column for column, _ in _PAYABLE_ARRAYS)})
        SELECT * FROM unnest({", ".join(f"CAST(:{column} AS {kind}[])" for column, kind in _PAYABLE_ARRAYS)})
        ON CONFLICT (transaction_id, installment) DO NOTHING
        RETURNING *
    ), created_events AS (
        {insert_events_sql(PAYABLE_CREATED, "created", "e", payable_json_sql("e"), "e.created_at")}
    )
    SELECT count(*) FROM created
    """  # noqa: S608 - constant SQL composed from our own fragments  # nosec B608
)


# A merchant's slots, summed per currency: one range of the primary key, at most 16 rows per currency.
_BALANCE = (
    select(
        merchant_balances.c.currency,
        cast(func.sum(merchant_balances.c.waiting_funds), BigInteger).label("waiting_funds"),  # not numeric
        cast(func.sum(merchant_balances.c.available), BigInteger).label("available"),
    )
    .where(merchant_balances.c.merchant_id == bindparam("merchant_id"))
    .group_by(merchant_balances.c.currency)
    .order_by(merchant_balances.c.currency)
)


class PostgresPayableRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add_all_new(self, new_payables: Sequence[Payable]) -> int:
        if not new_payables:
            return 0
        rows = [payable_row(payable) for payable in new_payables]
        columns = {column: [row[column] for row in rows] for column, _ in _PAYABLE_ARRAYS}
        return int(self._connection.execute(_ADD_ALL_NEW, columns).scalar_one())

    def get(self, merchant_id: UUID, payable_id: UUID) -> Payable | None:
        query = select(payables).where(payables.c.id == payable_id, payables.c.merchant_id == merchant_id)
        row = self._connection.execute(query).first()
        return None if row is None else payable_from_row(row._mapping)

    def list(self, merchant_id: UUID, filters: PayableFilters, page: PageRequest) -> Page[Payable]:
        query = select(payables).where(payables.c.merchant_id == merchant_id)
        if filters.status is not None:
            query = query.where(payables.c.status == filters.status.value)
        if filters.payment_date_gte is not None:
            query = query.where(payables.c.payment_date >= filters.payment_date_gte)
        if filters.payment_date_lte is not None:
            query = query.where(payables.c.payment_date <= filters.payment_date_lte)
        if filters.transaction_id is not None:
            query = query.where(payables.c.transaction_id == filters.transaction_id)
        return fetch_page(self._connection, query, payables, page, payable_from_row)

    def balance(self, merchant_id: UUID) -> Balance:
        """One primary-key range of the aggregate the payables triggers maintain (see the migrations)."""
        rows = self._connection.execute(_BALANCE, {"merchant_id": merchant_id}).all()
        return Balance(
            available=[BalanceLine(row.available, row.currency) for row in rows if row.available != 0],
            waiting_funds=[
                BalanceLine(row.waiting_funds, row.currency) for row in rows if row.waiting_funds != 0
            ],
        )

    def list_for_transaction_for_update(self, transaction_id: UUID) -> builtins.list[Payable]:
        query = (
            select(payables)
            .where(payables.c.transaction_id == transaction_id)
            .order_by(payables.c.installment)
            .with_for_update()
        )
        return [payable_from_row(row._mapping) for row in self._connection.execute(query)]

    def update_amounts(self, changed: Sequence[Payable]) -> None:
        if not changed:
            return
        statement = (
            update(payables)
            .where(payables.c.id == bindparam("payable_id"))
            .values(
                amount=bindparam("new_amount"),
                fee=bindparam("new_fee"),
                net_amount=bindparam("new_net"),
                version=payables.c.version + 1,
            )
        )
        self._connection.execute(
            statement,
            [
                {"payable_id": p.id, "new_amount": p.amount, "new_fee": p.fee, "new_net": p.net_amount}
                for p in changed
            ],
        )

    def settle_due(self, run_date: date, limit: int, at: datetime) -> SettledChunk:
        result = self._connection.execute(_SETTLE_DUE, {"run_date": run_date, "limit": limit, "at": at})
        rows = result.all()  # one row per currency paid; one row with no currency when none was
        paid_rows = [row for row in rows if row.currency is not None]
        totals = {
            row.currency: CurrencyTotals(
                count=row.paid_count, gross=int(row.gross), fee=int(row.fee), net=int(row.net)
            )
            for row in paid_rows
        }
        transaction_ids = sorted({tid for row in paid_rows for tid in row.transaction_ids or ()})
        return SettledChunk(
            totals=totals,
            transaction_ids=transaction_ids,
            transactions_paid=sum(row.transactions_paid for row in paid_rows),
            claimed=rows[0].claimed,
        )


def payable_row(payable: Payable) -> dict[str, object]:
    return {
        "id": payable.id,
        "merchant_id": payable.merchant_id,
        "transaction_id": payable.transaction_id,
        "installment": payable.installment,
        "status": payable.status.value,
        "amount": payable.amount,
        "fee": payable.fee,
        "net_amount": payable.net_amount,
        "currency": payable.currency,
        "payment_date": payable.payment_date,
        "paid_at": payable.paid_at,
        "created_at": payable.created_at,
        "version": payable.version,
    }


def payable_from_row(row: Any) -> Payable:
    return Payable(
        id=row["id"],
        merchant_id=row["merchant_id"],
        transaction_id=row["transaction_id"],
        installment=row["installment"],
        status=PayableStatus(row["status"]),
        amount=row["amount"],
        fee=row["fee"],
        net_amount=row["net_amount"],
        currency=row["currency"],
        payment_date=row["payment_date"],
        paid_at=row["paid_at"],
        created_at=row["created_at"],
        version=row["version"],
    )
