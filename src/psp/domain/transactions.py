"""Card transactions: payment methods, statuses and the rules each method carries."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from psp.domain.cards import Card

MAX_AMOUNT = 99_999_999_999  # minor units; just under a billion major units
MAX_DESCRIPTION_LENGTH = 255


class PaymentMethod(enum.StrEnum):
    DEBIT_CARD = "debit_card"
    CREDIT_CARD = "credit_card"


class TransactionStatus(enum.StrEnum):
    PROCESSING = "processing"  # the acquirer gave no definite answer yet
    DECLINED = "declined"
    WAITING_FUNDS = "waiting_funds"  # approved; some payables are not paid yet
    PAID = "paid"  # approved; every payable is paid
    REFUNDED = "refunded"  # approved, then refunded in full


@dataclass(frozen=True)
class MethodRules:
    """What approval means for one payment method (DESIGN.md section 3)."""

    settlement_days_per_installment: int
    paid_at_creation: bool
    allows_installments: bool

    @property
    def status_when_approved(self) -> TransactionStatus:
        return TransactionStatus.PAID if self.paid_at_creation else TransactionStatus.WAITING_FUNDS


METHOD_RULES: dict[PaymentMethod, MethodRules] = {
    PaymentMethod.DEBIT_CARD: MethodRules(
        settlement_days_per_installment=0, paid_at_creation=True, allows_installments=False
    ),
    PaymentMethod.CREDIT_CARD: MethodRules(
        settlement_days_per_installment=30, paid_at_creation=False, allows_installments=True
    ),
}


@dataclass(frozen=True)
class Transaction:
    id: UUID
    merchant_id: UUID
    amount: int
    currency: str
    description: str
    payment_method: PaymentMethod
    installments: int
    status: TransactionStatus
    card: Card
    fee_bps: int
    decline_code: str | None
    created_at: datetime
    updated_at: datetime
    amount_refunded: int = 0
    acquirer_reference: str | None = None  # the acquirer's id of the authorisation, to ask about it later
    version: int = 1  # bumped on every change, so webhook receivers can drop stale updates

    @property
    def is_approved(self) -> bool:
        return self.status in (
            TransactionStatus.WAITING_FUNDS,
            TransactionStatus.PAID,
            TransactionStatus.REFUNDED,
        )

    @property
    def refundable_amount(self) -> int:
        return self.amount - self.amount_refunded if self.is_approved else 0
