"""The public JSON shape of each object: what the API answers and what webhook events carry.

One definition for both, so an event's ``data.object`` is exactly what ``GET`` on the object returns
(plus the object's ``version``). Card data here is only what psp keeps.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from psp.domain.cards import Card
from psp.domain.payables import Payable
from psp.domain.refunds import Refund
from psp.domain.transactions import Transaction


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` and milliseconds: ``2026-11-20T22:07:26.175Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def optional_timestamp(moment: datetime | None) -> str | None:
    return None if moment is None else timestamp(moment)


def day(value: date) -> str:
    return value.isoformat()


def transaction_object(transaction: Transaction) -> dict[str, Any]:
    return {
        "id": str(transaction.id),
        "object": "transaction",
        "amount": transaction.amount,
        "currency": transaction.currency,
        "description": transaction.description,
        "payment_method": transaction.payment_method.value,
        "installments": transaction.installments,
        "status": transaction.status.value,
        "amount_refunded": transaction.amount_refunded,
        "decline_code": transaction.decline_code,
        "card": card_object(transaction.card),
        "created_at": timestamp(transaction.created_at),
        "updated_at": timestamp(transaction.updated_at),
    }


def card_object(card: Card) -> dict[str, Any]:
    # The fingerprint is a keyed HMAC: useless to an attacker, useful to spot a repeat card.
    return {
        "brand": card.brand,
        "first_six": card.first_six,
        "last_four": card.last_four,
        "holder_name": card.holder_name,
        "expiration_month": card.expiration_month,
        "expiration_year": card.expiration_year,
        "fingerprint": card.fingerprint,
    }


def payable_object(payable: Payable) -> dict[str, Any]:
    return {
        "id": str(payable.id),
        "object": "payable",
        "transaction_id": str(payable.transaction_id),
        "installment": payable.installment,
        "status": payable.status.value,
        "amount": payable.amount,
        "fee": payable.fee,
        "net_amount": payable.net_amount,
        "currency": payable.currency,
        "payment_date": day(payable.payment_date),
        "paid_at": optional_timestamp(payable.paid_at),
        "created_at": timestamp(payable.created_at),
    }


def refund_object(refund: Refund) -> dict[str, Any]:
    return {
        "id": str(refund.id),
        "object": "refund",
        "transaction_id": str(refund.transaction_id),
        "amount": refund.amount,
        "currency": refund.currency,
        "created_at": timestamp(refund.created_at),
    }
