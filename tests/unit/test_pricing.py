"""The money rules of DESIGN.md section 3: examples that must hold, and properties for any amount."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from psp.domain.payables import ApprovedTransaction, PayableStatus, build_payables
from psp.domain.pricing import payment_date, split_fee, split_installments
from psp.domain.transactions import MAX_AMOUNT, PaymentMethod

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def approval(
    amount: int,
    method: PaymentMethod = PaymentMethod.CREDIT_CARD,
    installments: int = 1,
    fee_bps: int = 500,
    created_at: datetime = NOW,
) -> ApprovedTransaction:
    return ApprovedTransaction(
        transaction_id=uuid4(),
        merchant_id=uuid4(),
        amount=amount,
        currency="BRL",
        payment_method=method,
        installments=installments,
        fee_bps=fee_bps,
        created_at=created_at,
    )


@pytest.mark.parametrize(
    ("gross", "rate_bps", "fee", "net"),
    [(2500, 500, 125, 2375), (1001, 300, 30, 971), (1, 300, 0, 1), (19, 500, 0, 19), (20, 500, 1, 19)],
)
def test_the_fee_is_rounded_down_and_the_merchant_keeps_the_fraction(
    gross: int, rate_bps: int, fee: int, net: int
) -> None:
    split = split_fee(gross, rate_bps)
    assert (split.fee, split.net) == (fee, net)


def test_a_credit_transaction_of_2500_owes_one_payable_of_net_2375_due_in_30_days() -> None:
    (payable,) = build_payables(approval(2500), UTC, NOW)
    assert (payable.amount, payable.fee, payable.net_amount) == (2500, 125, 2375)
    assert payable.status is PayableStatus.WAITING_FUNDS
    assert payable.payment_date == date(2026, 12, 20)
    assert payable.paid_at is None


def test_a_debit_transaction_is_paid_on_the_same_day_at_creation() -> None:
    (payable,) = build_payables(approval(1001, PaymentMethod.DEBIT_CARD, fee_bps=300), UTC, NOW)
    assert (payable.fee, payable.net_amount) == (30, 971)
    assert payable.status is PayableStatus.PAID
    assert payable.payment_date == NOW.date()
    assert payable.paid_at == NOW


def test_installments_split_evenly_with_the_remainder_cents_on_the_first() -> None:
    assert split_installments(1000, 3) == [334, 333, 333]
    payables = build_payables(approval(1000, installments=3), UTC, NOW)
    assert [p.amount for p in payables] == [334, 333, 333]
    assert [p.fee for p in payables] == [16, 16, 16]  # each fee on its own gross, floored
    assert [p.payment_date for p in payables] == [NOW.date() + timedelta(days=30 * i) for i in (1, 2, 3)]
    assert [p.installment for p in payables] == [1, 2, 3]


def test_payment_dates_count_from_the_date_in_the_settlement_time_zone() -> None:
    late_evening_in_sao_paulo = datetime(2026, 11, 21, 1, 30, tzinfo=UTC)  # 22:30 on the 20th there
    (payable,) = build_payables(
        approval(2500, created_at=late_evening_in_sao_paulo), ZoneInfo("America/Sao_Paulo"), NOW
    )
    assert payable.payment_date == date(2026, 12, 20)


def test_d_plus_n_counts_calendar_days_across_month_and_leap_year_ends() -> None:
    assert payment_date(date(2028, 1, 30), 30) == date(2028, 2, 29)
    assert payment_date(date(2026, 12, 15), 30) == date(2027, 1, 14)


@pytest.mark.parametrize("installments", [0, 13])
def test_installments_outside_one_to_twelve_are_refused(installments: int) -> None:
    with pytest.raises(ValueError, match="installments"):
        split_installments(1000, installments)


def test_a_rate_outside_zero_to_one_hundred_percent_is_refused() -> None:
    with pytest.raises(ValueError, match="rate_bps"):
        split_fee(100, 10_001)


amounts = st.integers(min_value=1, max_value=MAX_AMOUNT)
rates = st.integers(min_value=0, max_value=10_000)


@given(gross=amounts, rate_bps=rates)
def test_fee_plus_net_always_equals_gross(gross: int, rate_bps: int) -> None:
    split = split_fee(gross, rate_bps)
    assert split.fee + split.net == gross
    assert 0 <= split.fee <= gross
    assert split.fee * 10_000 <= gross * rate_bps < (split.fee + 1) * 10_000  # exactly floor


@given(
    gross=amounts,
    installments=st.integers(min_value=1, max_value=12),
    rate_bps=rates,
    method=st.sampled_from(PaymentMethod),
)
def test_payables_of_any_transaction_add_up_to_its_gross(
    gross: int, installments: int, rate_bps: int, method: PaymentMethod
) -> None:
    installments = installments if method is PaymentMethod.CREDIT_CARD else 1
    gross = max(gross, installments)
    payables = build_payables(approval(gross, method, installments, rate_bps), UTC, NOW)
    assert len(payables) == installments
    assert sum(p.amount for p in payables) == gross
    assert all(p.fee + p.net_amount == p.amount for p in payables)
    assert all(p.net_amount >= 0 and p.fee >= 0 for p in payables)
    shares = [p.amount for p in payables]
    assert max(shares[1:], default=shares[0]) <= shares[0] <= shares[-1] + installments - 1
