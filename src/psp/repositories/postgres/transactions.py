"""Card transactions over Postgres."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, select, text, tuple_, update

from psp.data_sources.postgres.tables import transactions
from psp.domain.cards import Card
from psp.domain.pagination import Cursor, Page, PageRequest
from psp.domain.transactions import PaymentMethod, Transaction, TransactionStatus
from psp.repositories.postgres.appends import PendingAppends
from psp.repositories.postgres.event_sql import NEW_EVENT_ID, transaction_paid_events_sql
from psp.repositories.postgres.pagination import fetch_page

# Settlers lock the transactions they touched, in id order (no deadlock), before a second statement
# checks them: under READ COMMITTED that statement's fresh snapshot sees every payable a concurrent
# settler committed, so whichever settler finishes last marks the transaction paid. Only a transaction in
# installments can be completed by two settlers at once: one in a single installment has one payable that
# can be waiting (adjustments are born paid), and only the settler that pays it can complete it. The
# unpaid ones are found through the (transaction_id, installment) index once per statement.
_LOCK_WAITING = text(
    "SELECT id FROM transactions WHERE id = ANY(:ids) AND status = 'waiting_funds' AND installments > 1 "
    "ORDER BY id FOR UPDATE"
)
_MARK_PAID = text(
    f"""
    WITH marked AS (
        UPDATE transactions AS t
        SET status = 'paid', updated_at = :at, version = t.version + 1, paid_event_id = {NEW_EVENT_ID}
        WHERE t.id = ANY(:ids) AND t.status = 'waiting_funds'
          AND t.id <> ALL(ARRAY(
              SELECT p.transaction_id FROM payables AS p
              WHERE p.transaction_id = ANY(:ids) AND p.status <> 'paid'
          ))
        RETURNING t.*
    ), paid_events AS (
        {transaction_paid_events_sql("marked")}
    )
    SELECT count(*) FROM marked
    """  # noqa: S608 - constant SQL composed from our own fragments  # nosec B608
)


class PostgresTransactionRepository:
    def __init__(self, connection: Connection, appends: PendingAppends) -> None:
        self._connection = connection
        self._appends = appends

    def add(self, transaction: Transaction) -> None:
        self._appends.add(transactions, transaction_row(transaction))  # written with its events, see appends

    def get(self, merchant_id: UUID, transaction_id: UUID) -> Transaction | None:
        query = select(transactions).where(
            transactions.c.id == transaction_id, transactions.c.merchant_id == merchant_id
        )
        row = self._connection.execute(query).first()
        return None if row is None else transaction_from_row(row._mapping)

    def list(self, merchant_id: UUID, page: PageRequest) -> Page[Transaction]:
        query = select(transactions).where(transactions.c.merchant_id == merchant_id)
        return fetch_page(self._connection, query, transactions, page, transaction_from_row)

    def mark_paid_when_fully_settled(self, transaction_ids: Sequence[UUID], at: datetime) -> int:
        if not transaction_ids:
            return 0
        ids = list(transaction_ids)
        self._connection.execute(_LOCK_WAITING, {"ids": ids})
        return int(self._connection.execute(_MARK_PAID, {"ids": ids, "at": at}).scalar_one())

    def get_for_update(self, merchant_id: UUID, transaction_id: UUID) -> Transaction | None:
        query = (
            select(transactions)
            .where(transactions.c.id == transaction_id, transactions.c.merchant_id == merchant_id)
            .with_for_update()
        )
        row = self._connection.execute(query).first()
        return None if row is None else transaction_from_row(row._mapping)

    def update(self, transaction: Transaction) -> None:
        self._connection.execute(
            update(transactions)
            .where(transactions.c.id == transaction.id)
            .values(
                status=transaction.status.value,
                awaiting_acquirer=awaits_acquirer(transaction),
                amount_refunded=transaction.amount_refunded,
                decline_code=transaction.decline_code,
                updated_at=transaction.updated_at,
                version=transaction.version,
            )
        )

    def claim_processing(self, limit: int, after: Cursor | None = None) -> builtins.list[Transaction]:
        query = select(transactions).where(transactions.c.awaiting_acquirer)
        if after is not None:
            query = query.where(
                tuple_(transactions.c.created_at, transactions.c.id) > tuple_(after.created_at, after.id)
            )
        query = (
            query.order_by(transactions.c.created_at, transactions.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [transaction_from_row(row._mapping) for row in self._connection.execute(query)]


def awaits_acquirer(transaction: Transaction) -> bool:
    """The column the resolver's partial index reads, in step with the status (a CHECK holds it)."""
    return transaction.status is TransactionStatus.PROCESSING


def transaction_row(transaction: Transaction) -> dict[str, object]:
    card = transaction.card
    return {
        "id": transaction.id,
        "merchant_id": transaction.merchant_id,
        "amount": transaction.amount,
        "currency": transaction.currency,
        "description": transaction.description,
        "payment_method": transaction.payment_method.value,
        "installments": transaction.installments,
        "status": transaction.status.value,
        "awaiting_acquirer": awaits_acquirer(transaction),
        "fee_bps": transaction.fee_bps,
        "decline_code": transaction.decline_code,
        "card_brand": card.brand,
        "card_first_six": card.first_six,
        "card_last_four": card.last_four,
        "card_holder_name": card.holder_name,
        "card_expiration_month": card.expiration_month,
        "card_expiration_year": card.expiration_year,
        "card_fingerprint": card.fingerprint,
        "created_at": transaction.created_at,
        "updated_at": transaction.updated_at,
        "amount_refunded": transaction.amount_refunded,
        "acquirer_reference": transaction.acquirer_reference,
        "version": transaction.version,
    }


def transaction_from_row(row: Any) -> Transaction:
    return Transaction(
        id=row["id"],
        merchant_id=row["merchant_id"],
        amount=row["amount"],
        currency=row["currency"],
        description=row["description"],
        payment_method=PaymentMethod(row["payment_method"]),
        installments=row["installments"],
        status=TransactionStatus(row["status"]),
        card=Card(
            brand=row["card_brand"],
            first_six=row["card_first_six"],
            last_four=row["card_last_four"],
            holder_name=row["card_holder_name"],
            expiration_month=row["card_expiration_month"],
            expiration_year=row["card_expiration_year"],
            fingerprint=row["card_fingerprint"],
        ),
        fee_bps=row["fee_bps"],
        decline_code=row["decline_code"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        amount_refunded=row["amount_refunded"],
        acquirer_reference=row["acquirer_reference"],
        version=row["version"],
    )
