"""Refund rules: unpaid payables first (latest installment first), the rest as a negative adjustment."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from psp.domain.payables import Payable, PayableStatus, build_payables
from psp.domain.refunds import plan_refund
from psp.domain.transactions import PaymentMethod
from tests.unit.test_pricing import approval

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


def apply(payables: list[Payable], amount: int, rate_bps: int = 500) -> list[Payable]:
    plan = plan_refund(amount, payables, rate_bps=rate_bps, refund_date=TODAY, now=NOW)
    by_id = {p.id: p for p in payables}
    by_id.update({p.id: p for p in plan.reduced})
    return list(by_id.values()) + ([plan.adjustment] if plan.adjustment else [])


def pay(payables: list[Payable], installments: set[int]) -> list[Payable]:
    return [
        replace(p, status=PayableStatus.PAID, paid_at=NOW) if p.installment in installments else p
        for p in payables
    ]


def test_a_full_refund_before_settlement_brings_every_payable_to_zero() -> None:
    payables = apply(build_payables(approval(3000, installments=3), UTC, NOW), 3000)
    assert [(p.amount, p.fee, p.net_amount) for p in payables] == [(0, 0, 0)] * 3


def test_a_partial_refund_takes_from_the_latest_unpaid_installment_first_and_recomputes_its_fee() -> None:
    payables = apply(build_payables(approval(3000, installments=3), UTC, NOW), 1500)
    assert [(p.installment, p.amount, p.fee, p.net_amount) for p in payables] == [
        (1, 1000, 50, 950),
        (2, 500, 25, 475),
        (3, 0, 0, 0),
    ]


def test_a_refund_after_a_partial_settlement_spares_paid_installments_until_unpaid_ones_are_gone() -> None:
    payables = pay(build_payables(approval(3000, installments=3), UTC, NOW), {1})
    after = apply(payables, 2500)
    by_installment = {p.installment: p for p in after}
    assert (by_installment[2].amount, by_installment[3].amount) == (0, 0)
    assert by_installment[1].amount == 1000  # paid out already: untouched
    adjustment = by_installment[101]
    assert (adjustment.amount, adjustment.fee, adjustment.net_amount) == (-500, 0, -500)
    assert adjustment.status is PayableStatus.PAID
    assert adjustment.payment_date == TODAY


def test_refunding_a_debit_transaction_is_a_negative_adjustment_due_at_once() -> None:
    debit = build_payables(approval(1001, PaymentMethod.DEBIT_CARD, fee_bps=300), UTC, NOW)
    after = apply(debit, 400, rate_bps=300)
    assert sorted(p.amount for p in after) == [-400, 1001]


def test_successive_adjustments_get_their_own_numbers() -> None:
    debit = build_payables(approval(1000, PaymentMethod.DEBIT_CARD, fee_bps=300), UTC, NOW)
    after = apply(apply(debit, 100, 300), 200, 300)
    assert sorted(p.installment for p in after) == [1, 101, 102]


def test_a_refund_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        plan_refund(0, build_payables(approval(100), UTC, NOW), rate_bps=500, refund_date=TODAY, now=NOW)


@st.composite
def refund_stories(draw: st.DrawFn) -> tuple[int, int, int, list[tuple[str, int]]]:
    installments = draw(st.integers(1, 12))
    amount = draw(st.integers(installments, 1_000_000))
    rate = draw(st.integers(0, 10_000))
    steps = draw(
        st.lists(st.tuples(st.sampled_from(["refund", "settle"]), st.integers(1, amount)), max_size=8)
    )
    return installments, amount, rate, steps


@given(refund_stories())
def test_no_sequence_of_refunds_and_settlements_breaks_the_money(
    story: tuple[int, int, int, list[tuple[str, int]]],
) -> None:
    installments, amount, rate, steps = story
    payables = build_payables(approval(amount, installments=installments, fee_bps=rate), UTC, NOW)
    refunded = 0
    settled = 0
    for action, asked in steps:
        if action == "settle":
            settled = min(installments, settled + 1)
            payables = pay(payables, set(range(1, settled + 1)))
            continue
        value = min(asked, amount - refunded)
        if value == 0:
            continue
        payables = apply(payables, value, rate)
        refunded += value
        # each payable stays coherent and unpaid ones never go negative
        assert all(p.fee + p.net_amount == p.amount for p in payables)
        assert all(p.amount >= 0 and p.fee >= 0 for p in payables if p.installment <= 12)
        # the gross owed always equals what was captured minus what was refunded
        assert sum(p.amount for p in payables) == amount - refunded
        fees = sum(p.fee for p in payables)
        assert sum(p.net_amount for p in payables) == amount - fees - refunded
    assert sum(p.amount for p in payables) == amount - refunded
