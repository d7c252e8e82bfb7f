"""Events written to the outbox in the same database transaction as the change they describe."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psp.domain.ids import new_id
from psp.domain.payables import ApprovedTransaction
from psp.domain.refunds import Refund
from psp.domain.transactions import Transaction

TRANSACTION_APPROVED = "transaction.approved"
TRANSACTION_DECLINED = "transaction.declined"
REFUND_CREATED = "refund.created"


@dataclass(frozen=True)
class OutboxEvent:
    id: UUID
    type: str
    merchant_id: UUID
    aggregate_id: UUID
    payload: dict[str, Any]
    created_at: datetime


def transaction_event(transaction: Transaction) -> OutboxEvent:
    """The event of a transaction's outcome. Its payload carries no card data at all."""
    event_type = TRANSACTION_APPROVED if transaction.is_approved else TRANSACTION_DECLINED
    return OutboxEvent(
        id=new_id(),
        type=event_type,
        merchant_id=transaction.merchant_id,
        aggregate_id=transaction.id,
        payload={
            "transaction_id": str(transaction.id),
            "merchant_id": str(transaction.merchant_id),
            "amount": transaction.amount,
            "currency": transaction.currency,
            "payment_method": transaction.payment_method.value,
            "installments": transaction.installments,
            "fee_bps": transaction.fee_bps,
            "status": transaction.status.value,
            "created_at": transaction.created_at.isoformat(),
        },
        created_at=transaction.created_at,
    )


def refund_event(refund: Refund) -> OutboxEvent:
    """A refund happened; the aggregate is its transaction, whose lock orders refunds. No card data."""
    return OutboxEvent(
        id=new_id(),
        type=REFUND_CREATED,
        merchant_id=refund.merchant_id,
        aggregate_id=refund.transaction_id,
        payload={
            "refund_id": str(refund.id),
            "transaction_id": str(refund.transaction_id),
            "merchant_id": str(refund.merchant_id),
            "amount": refund.amount,
            "currency": refund.currency,
            "created_at": refund.created_at.isoformat(),
        },
        created_at=refund.created_at,
    )


def approved_transaction_of(transaction: Transaction) -> ApprovedTransaction:
    return ApprovedTransaction(
        transaction_id=transaction.id,
        merchant_id=transaction.merchant_id,
        amount=transaction.amount,
        currency=transaction.currency,
        payment_method=transaction.payment_method,
        installments=transaction.installments,
        fee_bps=transaction.fee_bps,
        created_at=transaction.created_at,
    )
