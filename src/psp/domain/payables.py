"""Payables: what psp owes a merchant for an approved transaction, net of fees, due on a date."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from uuid import UUID

from psp.domain.ids import new_id
from psp.domain.pricing import payment_date, split_fee, split_installments
from psp.domain.transactions import METHOD_RULES, PaymentMethod


class PayableStatus(enum.StrEnum):
    WAITING_FUNDS = "waiting_funds"
    PAID = "paid"


@dataclass(frozen=True)
class Payable:
    id: UUID
    merchant_id: UUID
    transaction_id: UUID
    installment: int
    status: PayableStatus
    amount: int  # gross
    fee: int
    net_amount: int
    currency: str
    payment_date: date
    paid_at: datetime | None
    created_at: datetime
    version: int = 1  # bumped on every change, so webhook receivers can drop stale updates


@dataclass(frozen=True)
class ApprovedTransaction:
    """The facts of an approval that payables are built from (the payload of ``transaction.approved``)."""

    transaction_id: UUID
    merchant_id: UUID
    amount: int
    currency: str
    payment_method: PaymentMethod
    installments: int
    fee_bps: int
    created_at: datetime


def build_payables(approved: ApprovedTransaction, settlement_zone: tzinfo, now: datetime) -> list[Payable]:
    """One payable per installment, each with its own fee, due D+N·i in the settlement time zone."""
    rules = METHOD_RULES[approved.payment_method]
    transaction_date = approved.created_at.astimezone(settlement_zone).date()
    status = PayableStatus.PAID if rules.paid_at_creation else PayableStatus.WAITING_FUNDS
    payables = []
    for number, gross in enumerate(split_installments(approved.amount, approved.installments), start=1):
        split = split_fee(gross, approved.fee_bps)
        payables.append(
            Payable(
                id=new_id(),
                merchant_id=approved.merchant_id,
                transaction_id=approved.transaction_id,
                installment=number,
                status=status,
                amount=split.gross,
                fee=split.fee,
                net_amount=split.net,
                currency=approved.currency,
                payment_date=payment_date(transaction_date, rules.settlement_days_per_installment * number),
                paid_at=now if status is PayableStatus.PAID else None,
                created_at=now,
            )
        )
    return payables


@dataclass(frozen=True)
class BalanceLine:
    amount: int
    currency: str


@dataclass(frozen=True)
class Balance:
    available: list[BalanceLine]
    waiting_funds: list[BalanceLine]
