"""Refunds over Postgres."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Connection, insert, select

from psp.data_sources.postgres.tables import refunds
from psp.domain.pagination import Page, PageRequest
from psp.domain.refunds import Refund
from psp.repositories.postgres.pagination import fetch_page


class PostgresRefundRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, refund: Refund) -> None:
        self._connection.execute(insert(refunds).values(**refund_row(refund)))

    def get(self, merchant_id: UUID, refund_id: UUID) -> Refund | None:
        query = select(refunds).where(refunds.c.id == refund_id, refunds.c.merchant_id == merchant_id)
        row = self._connection.execute(query).first()
        return None if row is None else refund_from_row(row._mapping)

    def list_for_transaction(
        self, merchant_id: UUID, transaction_id: UUID, page: PageRequest
    ) -> Page[Refund]:
        query = select(refunds).where(
            refunds.c.transaction_id == transaction_id, refunds.c.merchant_id == merchant_id
        )
        return fetch_page(self._connection, query, refunds, page, refund_from_row)


def refund_row(refund: Refund) -> dict[str, object]:
    return {
        "id": refund.id,
        "merchant_id": refund.merchant_id,
        "transaction_id": refund.transaction_id,
        "amount": refund.amount,
        "currency": refund.currency,
        "created_at": refund.created_at,
    }


def refund_from_row(row: Any) -> Refund:
    return Refund(
        id=row["id"],
        merchant_id=row["merchant_id"],
        transaction_id=row["transaction_id"],
        amount=row["amount"],
        currency=row["currency"],
        created_at=row["created_at"],
    )
