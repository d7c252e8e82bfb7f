"""Money rules for card payables (DESIGN.md section 3). Pure integer arithmetic: no floats, ever.

Rounding rule: ``fee = floor(gross * rate_bps / 10_000)``; the merchant keeps the fraction of a cent, and
``net = gross - fee``, so ``fee + net == gross`` for every payable by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

BASIS_POINTS_PER_UNIT = 10_000
MAX_INSTALLMENTS = 12


@dataclass(frozen=True)
class FeeSplit:
    gross: int
    fee: int
    net: int


def split_fee(gross: int, rate_bps: int) -> FeeSplit:
    """Charge ``rate_bps`` basis points of ``gross``, rounding the fee down."""
    if gross < 0:
        raise ValueError("gross must not be negative")
    if not 0 <= rate_bps <= BASIS_POINTS_PER_UNIT:
        raise ValueError("rate_bps must be within 0..10000")
    fee = gross * rate_bps // BASIS_POINTS_PER_UNIT
    return FeeSplit(gross=gross, fee=fee, net=gross - fee)


def split_installments(gross: int, installments: int) -> list[int]:
    """Split ``gross`` evenly in ``installments`` parts; the remainder cents go to the first one."""
    if not 1 <= installments <= MAX_INSTALLMENTS:
        raise ValueError("installments must be within 1..12")
    if gross < installments:
        raise ValueError("gross must be at least one minor unit per installment")
    share, remainder = divmod(gross, installments)
    return [share + remainder] + [share] * (installments - 1)


def payment_date(transaction_date: date, days_after: int) -> date:
    """D+N: calendar days after the transaction's date (already in the settlement time zone)."""
    return transaction_date + timedelta(days=days_after)
