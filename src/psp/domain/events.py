"""Events written to the outbox in the same database transaction as the change they describe."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psp.domain.ids import new_id
from psp.domain.objects import payable_object, refund_object, timestamp, transaction_object
from psp.domain.payables import ApprovedTransaction, Payable
from psp.domain.refunds import Refund
from psp.domain.transactions import Transaction

TRANSACTION_APPROVED = "transaction.approved"
TRANSACTION_DECLINED = "transaction.declined"
TRANSACTION_PAID = "transaction.paid"
PAYABLE_CREATED = "payable.created"
PAYABLE_PAID = "payable.paid"
REFUND_CREATED = "refund.created"
# Every type a merchant can subscribe to; ``*`` subscribes to all, present and future.
EVENT_TYPES = (
    TRANSACTION_APPROVED,
    TRANSACTION_DECLINED,
    TRANSACTION_PAID,
    PAYABLE_CREATED,
    PAYABLE_PAID,
    REFUND_CREATED,
)
API_VERSION = "2026-11-20"  # the shape of event objects; bumped on an incompatible change


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


@dataclass(frozen=True)
class Event:
    """A public event: what a merchant lists at ``/v1/events`` and receives at its webhook endpoints.

    ``data`` is the object as the API shows it, plus its ``version``: it grows by one with every change of
    the object, so a receiver seeing version 3 after version 4 knows the former is stale.
    """

    id: UUID
    merchant_id: UUID
    type: str
    object_id: UUID
    object_version: int
    data: dict[str, Any]
    created_at: datetime
    api_version: str = API_VERSION


def event_object(event: Event) -> dict[str, Any]:
    """The event as the API answers it and as webhook deliveries carry it (the raw JSON body)."""
    return {
        "id": str(event.id),
        "object": "event",
        "type": event.type,
        "created": timestamp(event.created_at),
        "api_version": event.api_version,
        "data": {"object": event.data},
    }


def event_body(event: Event) -> bytes:
    """The raw JSON a webhook delivery POSTs: compact, fields in documented order, same bytes every retry."""
    return json.dumps(event_object(event), separators=(",", ":"), ensure_ascii=False).encode()


def transaction_changed(transaction: Transaction) -> Event:
    """``transaction.approved`` or ``transaction.declined`` (at creation, or when a stuck one is resolved)."""
    event_type = TRANSACTION_APPROVED if transaction.is_approved else TRANSACTION_DECLINED
    return transaction_event_of(event_type, transaction, transaction.updated_at)


def transaction_event_of(event_type: str, transaction: Transaction, at: datetime) -> Event:
    """A public event carrying the transaction as the API shows it, with its version."""
    return _object_event(event_type, transaction, transaction_object(transaction), at)


def payable_event_of(event_type: str, payable: Payable, at: datetime) -> Event:
    """A public event carrying the payable as the API shows it, with its version."""
    return _object_event(event_type, payable, payable_object(payable), at)


def _object_event(
    event_type: str, source: Transaction | Payable, shown: dict[str, Any], at: datetime
) -> Event:
    return Event(
        id=new_id(),
        merchant_id=source.merchant_id,
        type=event_type,
        object_id=source.id,
        object_version=source.version,
        data={**shown, "version": source.version},
        created_at=at,
    )


def refund_created(refund: Refund) -> Event:
    return Event(
        id=new_id(),
        merchant_id=refund.merchant_id,
        type=REFUND_CREATED,
        object_id=refund.id,
        object_version=1,  # refunds never change
        data={**refund_object(refund), "version": 1},
        created_at=refund.created_at,
    )


def as_queued(event: Event) -> OutboxEvent:
    """A public event as queue messages carry it (the webhooks queue: SQS, or the events table)."""
    return OutboxEvent(
        id=event.id,
        type=event.type,
        merchant_id=event.merchant_id,
        aggregate_id=event.object_id,
        payload=event.data,
        created_at=event.created_at,
    )
