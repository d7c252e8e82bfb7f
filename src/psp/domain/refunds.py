"""Refunds: how giving money back changes what psp owes the merchant.

Rules (issue 4):
- A refund reduces the payables not yet paid first, latest installment first. A reduced payable keeps the
  fee rule it was created with: its fee is recomputed on its new gross (floor of gross * rate), so
  ``fee + net == gross`` still holds on every payable.
- Whatever exceeds what is unpaid was already paid out: it becomes a negative *adjustment* payable, paid at
  once, which reduces the merchant's available balance by the refunded gross. The fee psp charged on money
  it already paid out is not returned (as card networks keep theirs).
- A transaction can be refunded up to its amount, in as many partial refunds as the merchant likes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from uuid import UUID

from psp.domain.ids import new_id
from psp.domain.payables import Payable, PayableStatus
from psp.domain.pricing import split_fee

ADJUSTMENT_INSTALLMENT_BASE = 100  # adjustment payables are numbered 101, 102, ... after the installments


@dataclass(frozen=True)
class Refund:
    id: UUID
    merchant_id: UUID
    transaction_id: UUID
    amount: int
    currency: str
    created_at: datetime


@dataclass(frozen=True)
class RefundPlan:
    """The payables a refund changes and the adjustment it adds, if any."""

    reduced: list[Payable]
    adjustment: Payable | None


def plan_refund(
    amount: int,
    payables: list[Payable],
    *,
    rate_bps: int,
    refund_date: date,
    now: datetime,
) -> RefundPlan:
    """Take ``amount`` from the unpaid payables, latest installment first; the rest as an adjustment.

    ``payables`` are all the transaction's payables (installments and earlier adjustments).
    """
    if amount <= 0:
        raise ValueError("a refund must be positive")
    remaining = amount
    reduced: list[Payable] = []
    unpaid = sorted(
        (p for p in payables if p.status is PayableStatus.WAITING_FUNDS and p.amount > 0),
        key=lambda p: p.installment,
        reverse=True,
    )
    for payable in unpaid:
        if remaining == 0:
            break
        taken = min(remaining, payable.amount)
        remaining -= taken
        split = split_fee(payable.amount - taken, rate_bps)
        reduced.append(replace(payable, amount=split.gross, fee=split.fee, net_amount=split.net))
    adjustment = None
    if remaining > 0:
        adjustment = _adjustment(payables, remaining, refund_date=refund_date, now=now)
    return RefundPlan(reduced=reduced, adjustment=adjustment)


def _adjustment(payables: list[Payable], amount: int, *, refund_date: date, now: datetime) -> Payable:
    template = payables[0]
    earlier = [p.installment for p in payables if p.installment > ADJUSTMENT_INSTALLMENT_BASE]
    return Payable(
        id=new_id(),
        merchant_id=template.merchant_id,
        transaction_id=template.transaction_id,
        installment=max(earlier, default=ADJUSTMENT_INSTALLMENT_BASE) + 1,
        status=PayableStatus.PAID,
        amount=-amount,
        fee=0,
        net_amount=-amount,
        currency=template.currency,
        payment_date=refund_date,
        paid_at=now,
        created_at=now,
    )
