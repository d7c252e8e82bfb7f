"""Refunding transactions through the service, over the in-memory unit of work."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, timedelta, timezone
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from psp.domain.events import REFUND_CREATED, approved_transaction_of
from psp.domain.ids import new_id
from psp.domain.merchants import Principal
from psp.domain.pagination import PageRequest
from psp.domain.payables import Balance, Payable, PayableStatus
from psp.domain.refunds import Refund
from psp.domain.transactions import PaymentMethod, Transaction, TransactionStatus
from psp.lib.errors import NotFound, UnprocessableEntity, ValidationFailed
from psp.repositories.memory import InMemoryStore
from psp.services.merchants import create_merchant
from psp.services.payables import create_payables, get_balance
from psp.services.refunds import create_refund, get_refund, list_refunds
from psp.services.settlement import settle_due_payables
from tests.unit.fakes import FrozenClock, RecordingAcquirer
from tests.unit.test_transaction_service import VALID, create

TIMEOUT_CARD = "4000000000000119"
DECLINED_CARD = "4000000000000002"


class World:
    """A merchant over an in-memory store, with the worker and settlement at hand."""

    def __init__(self) -> None:
        self.store = InMemoryStore()
        self.clock = FrozenClock()
        self.principal = self.merchant("Acme")

    def merchant(self, name: str) -> Principal:
        onboarded = create_merchant(
            name,
            currency="BRL",
            debit_fee_bps=300,
            credit_fee_bps=500,
            mode="test",
            uow=self.store.uow(),
            clock=self.clock,
        )
        key = onboarded.key.api_key
        return Principal(merchant_id=key.merchant_id, api_key_id=key.id, mode="test")

    def transaction(
        self,
        amount: int = 3000,
        installments: int = 1,
        method: PaymentMethod = PaymentMethod.CREDIT_CARD,
        card_number: str = VALID.card_number,
        principal: Principal | None = None,
        *,
        with_payables: bool = True,
    ) -> Transaction:
        request = replace(
            VALID, amount=amount, installments=installments, payment_method=method, card_number=card_number
        )
        transaction = create(
            request, principal or self.principal, self.store, RecordingAcquirer(), self.clock
        )
        if with_payables and transaction.is_approved:
            self.run_worker(transaction)
        return transaction

    def run_worker(self, transaction: Transaction) -> int:
        return create_payables(
            [approved_transaction_of(transaction)],
            uow=self.store.uow(),
            settlement_zone=UTC,
            clock=self.clock,
        )

    def refund(
        self, transaction_id: UUID, amount: int | None = None, principal: Principal | None = None
    ) -> Refund:
        return create_refund(
            principal or self.principal,
            transaction_id,
            amount,
            uow=self.store.uow(),
            clock=self.clock,
            settlement_zone=UTC,
        )

    def settle_after(self, days: int) -> int:
        self.clock.advance(days=days)
        report = settle_due_payables(
            self.clock().date(), uow_factory=self.store.uow, chunk_size=3, clock=self.clock
        )
        return report.payables_paid

    def payables(self, transaction_id: UUID) -> dict[int, Payable]:
        return {p.installment: p for p in self.store.payables.values() if p.transaction_id == transaction_id}

    def balance(self) -> Balance:
        return get_balance(self.principal, uow=self.store.uow())

    def available(self) -> int:
        return sum(line.amount for line in self.balance().available)

    def waiting(self) -> int:
        return sum(line.amount for line in self.balance().waiting_funds)


@pytest.fixture
def world() -> World:
    return World()


def amounts(payables: dict[int, Payable]) -> dict[int, tuple[int, int, int, PayableStatus]]:
    return {number: (p.amount, p.fee, p.net_amount, p.status) for number, p in sorted(payables.items())}


W, P = PayableStatus.WAITING_FUNDS, PayableStatus.PAID


def test_a_full_refund_before_settlement_zeroes_every_payable_and_the_balance(world: World) -> None:
    transaction = world.transaction(3000, installments=3)
    assert world.waiting() == 2850

    refund = world.refund(transaction.id)

    assert (refund.amount, refund.currency, refund.transaction_id) == (3000, "BRL", transaction.id)
    assert amounts(world.payables(transaction.id)) == {1: (0, 0, 0, W), 2: (0, 0, 0, W), 3: (0, 0, 0, W)}
    assert (world.available(), world.waiting()) == (0, 0)
    stored = world.store.transactions[transaction.id]
    assert (stored.status, stored.amount_refunded, stored.updated_at) == (
        TransactionStatus.REFUNDED,
        3000,
        world.clock(),
    )


def test_partial_refunds_repeat_until_the_transaction_is_refunded_in_full(world: World) -> None:
    transaction = world.transaction(3000, installments=3)

    world.refund(transaction.id, 1000)
    world.refund(transaction.id, 700)
    stored = world.store.transactions[transaction.id]
    assert (stored.status, stored.amount_refunded) == (TransactionStatus.WAITING_FUNDS, 1700)
    assert amounts(world.payables(transaction.id)) == {
        1: (1000, 50, 950, W),
        2: (300, 15, 285, W),
        3: (0, 0, 0, W),
    }

    rest = world.refund(transaction.id)  # no amount: everything still refundable

    assert rest.amount == 1300
    assert world.store.transactions[transaction.id].status is TransactionStatus.REFUNDED


def test_a_refund_after_a_partial_settlement_takes_what_was_paid_out_from_available(world: World) -> None:
    transaction = world.transaction(3000, installments=3)
    assert world.settle_after(30) == 1  # installment 1 paid: 950 available
    assert (world.available(), world.waiting()) == (950, 1900)

    world.refund(transaction.id, 2500)

    assert amounts(world.payables(transaction.id)) == {
        1: (1000, 50, 950, P),
        2: (0, 0, 0, W),
        3: (0, 0, 0, W),
        101: (-500, 0, -500, P),
    }
    adjustment = world.payables(transaction.id)[101]
    assert adjustment.payment_date == world.clock().date()
    assert (world.available(), world.waiting()) == (450, 0)
    assert world.store.transactions[transaction.id].status is TransactionStatus.WAITING_FUNDS


def test_refunding_a_debit_transaction_adds_a_negative_adjustment_due_at_once(world: World) -> None:
    transaction = world.transaction(1001, method=PaymentMethod.DEBIT_CARD)
    assert world.available() == 971

    world.refund(transaction.id, 400)
    world.refund(transaction.id, 100)

    assert amounts(world.payables(transaction.id)) == {
        1: (1001, 30, 971, P),
        101: (-400, 0, -400, P),
        102: (-100, 0, -100, P),
    }
    assert world.available() == 471  # psp keeps the fee on money it already paid out
    stored = world.store.transactions[transaction.id]
    assert (stored.status, stored.amount_refunded) == (TransactionStatus.PAID, 500)


def test_over_refunding_is_refused_with_the_refundable_amount_and_changes_nothing(world: World) -> None:
    transaction = world.transaction(3000)
    world.refund(transaction.id, 1000)
    before = (dict(world.store.payables), dict(world.store.refunds), list(world.store.outbox))

    with pytest.raises(UnprocessableEntity) as refused:
        world.refund(transaction.id, 2001)

    assert (refused.value.code, refused.value.param) == ("amount_too_large", "amount")
    assert "2000" in refused.value.message
    assert (dict(world.store.payables), dict(world.store.refunds), list(world.store.outbox)) == before


@pytest.mark.parametrize("amount", [0, -5])
def test_a_refund_amount_must_be_positive(world: World, amount: int) -> None:
    transaction = world.transaction(3000)
    with pytest.raises(ValidationFailed) as refused:
        world.refund(transaction.id, amount)
    assert refused.value.param == "amount"


@pytest.mark.parametrize("card_number", [DECLINED_CARD, TIMEOUT_CARD])
def test_declined_and_processing_transactions_cannot_be_refunded(world: World, card_number: str) -> None:
    transaction = world.transaction(3000, card_number=card_number)

    with pytest.raises(UnprocessableEntity) as refused:
        world.refund(transaction.id)

    assert refused.value.code == "transaction_not_refundable"
    assert world.store.refunds == {}
    assert world.store.payables == {}


def test_a_transaction_refunded_in_full_cannot_be_refunded_again(world: World) -> None:
    transaction = world.transaction(3000)
    world.refund(transaction.id)

    for amount in (None, 1):
        with pytest.raises(UnprocessableEntity) as refused:
            world.refund(transaction.id, amount)
        assert refused.value.code == "transaction_not_refundable"


def test_another_merchants_transaction_and_refund_are_not_found(world: World) -> None:
    globex = world.merchant("Globex")
    transaction = world.transaction(3000)
    refund = world.refund(transaction.id, 100)

    with pytest.raises(NotFound):
        world.refund(transaction.id, 100, principal=globex)
    with pytest.raises(NotFound):
        world.refund(new_id())
    with pytest.raises(NotFound):
        get_refund(globex, refund.id, uow=world.store.uow())
    with pytest.raises(NotFound):
        list_refunds(globex, transaction.id, PageRequest(), uow=world.store.uow())
    assert world.store.transactions[transaction.id].amount_refunded == 100


def test_refunds_are_read_back_and_listed_newest_first(world: World) -> None:
    transaction = world.transaction(3000)
    other = world.transaction(500)
    first = world.refund(transaction.id, 100)
    world.clock.advance(seconds=1)
    second = world.refund(transaction.id, 200)
    world.refund(other.id, 50)

    page = list_refunds(world.principal, transaction.id, PageRequest(limit=1), uow=world.store.uow())
    assert (page.items, page.has_more) == ([second], True)
    rest = list_refunds(
        world.principal,
        transaction.id,
        PageRequest(limit=5, starting_after=page.next_cursor),
        uow=world.store.uow(),
    )
    assert rest.items == [first]
    assert get_refund(world.principal, first.id, uow=world.store.uow()) == first


def test_a_refund_before_the_worker_ran_creates_the_payables_and_the_worker_then_adds_none(
    world: World,
) -> None:
    transaction = world.transaction(3000, installments=2, with_payables=False)

    world.refund(transaction.id, 1600)

    assert amounts(world.payables(transaction.id)) == {1: (1400, 70, 1330, W), 2: (0, 0, 0, W)}
    assert world.run_worker(transaction) == 0
    assert amounts(world.payables(transaction.id)) == {1: (1400, 70, 1330, W), 2: (0, 0, 0, W)}


def test_a_refund_writes_a_refund_created_event_with_no_card_data(world: World) -> None:
    transaction = world.transaction(3000)

    refund = world.refund(transaction.id, 100)

    event = world.store.outbox[-1]
    assert (event.type, event.aggregate_id, event.merchant_id) == (
        REFUND_CREATED,
        transaction.id,
        transaction.merchant_id,
    )
    assert event.payload["refund_id"] == str(refund.id)
    assert event.payload["amount"] == 100
    text = json.dumps(event.payload)
    assert VALID.card_number.replace(" ", "") not in text
    assert transaction.card.fingerprint not in text


def test_settlement_pays_zeroed_payables_harmlessly_and_never_moves_a_refunded_transaction(
    world: World,
) -> None:
    refunded = world.transaction(3000, installments=2)
    world.refund(refunded.id)

    assert world.settle_after(60) == 2

    assert world.store.transactions[refunded.id].status is TransactionStatus.REFUNDED
    assert amounts(world.payables(refunded.id)) == {1: (0, 0, 0, P), 2: (0, 0, 0, P)}
    assert (world.available(), world.waiting()) == (0, 0)


def test_a_partly_refunded_credit_transaction_is_paid_when_its_payables_are(world: World) -> None:
    transaction = world.transaction(3000, installments=2)
    world.refund(transaction.id, 1500)  # installment 2 down to zero

    world.settle_after(30)
    assert world.store.transactions[transaction.id].status is TransactionStatus.WAITING_FUNDS
    world.settle_after(30)

    assert world.store.transactions[transaction.id].status is TransactionStatus.PAID
    assert world.available() == 1425


# --- properties ---------------------------------------------------------------------------------------

Step = tuple[str, int | None]


@st.composite
def stories(draw: st.DrawFn) -> tuple[PaymentMethod, int, int, bool, list[Step]]:
    method = draw(st.sampled_from(PaymentMethod))
    installments = draw(st.integers(1, 12)) if method is PaymentMethod.CREDIT_CARD else 1
    amount = draw(st.integers(installments, 100_000))
    worker_first = draw(st.booleans())
    step = st.one_of(
        st.tuples(
            st.just("refund"), st.none() | st.integers(1, amount + 10) | st.integers(1, amount // 4 + 1)
        ),
        st.tuples(st.just("settle"), st.integers(1, 60)),
        st.tuples(st.just("worker"), st.none()),
    )
    return method, installments, amount, worker_first, draw(st.lists(step, max_size=10))


@settings(max_examples=150, deadline=None)
@given(stories())
def test_no_sequence_of_refunds_and_settlements_breaks_the_money(
    story: tuple[PaymentMethod, int, int, bool, list[Step]],
) -> None:
    method, installments, amount, worker_first, steps = story
    world = World()
    transaction = world.transaction(amount, installments, method, with_payables=worker_first)
    refunded = 0
    for action, value in steps:
        if action == "worker":
            world.run_worker(transaction)
        elif action == "settle":
            world.settle_after(value or 1)
        else:
            refundable = amount - refunded
            if refundable == 0 or (value is not None and value > refundable):
                with pytest.raises(UnprocessableEntity):
                    world.refund(transaction.id, value)
            else:
                refunded += world.refund(transaction.id, value).amount
        assert_money_holds(world, transaction, amount, refunded)


def assert_money_holds(world: World, transaction: Transaction, captured: int, refunded: int) -> None:
    payables = list(world.payables(transaction.id).values())
    stored = world.store.transactions[transaction.id]
    assert stored.amount_refunded == refunded == sum(r.amount for r in world.store.refunds.values())
    assert all(p.fee + p.net_amount == p.amount for p in payables)
    assert all(min(p.amount, p.fee, p.net_amount) >= 0 for p in payables if p.installment <= 12)
    assert all(p.amount < 0 and p.fee == 0 and p.status is P for p in payables if p.installment > 12)
    if payables:  # the worker or a refund created them
        fees = sum(p.fee for p in payables)
        net = sum(p.net_amount for p in payables)
        assert sum(p.amount for p in payables) == captured - refunded
        assert net == captured - fees - refunded
        assert world.available() + world.waiting() == net
        assert world.waiting() == sum(p.net_amount for p in payables if p.status is W)
    if refunded == captured:
        assert stored.status is TransactionStatus.REFUNDED
    elif transaction.payment_method is PaymentMethod.DEBIT_CARD or (
        payables and all(p.status is P for p in payables)
    ):
        assert stored.status is TransactionStatus.PAID
    else:
        assert stored.status is TransactionStatus.WAITING_FUNDS


def test_the_refund_clock_counts_the_adjustment_date_in_the_settlement_zone(world: World) -> None:
    transaction = world.transaction(1000, method=PaymentMethod.DEBIT_CARD)
    world.clock.now = world.clock.now.replace(hour=23, minute=30)
    zone = timezone(timedelta(hours=3))  # already tomorrow there

    create_refund(
        world.principal, transaction.id, 100, uow=world.store.uow(), clock=world.clock, settlement_zone=zone
    )

    assert world.payables(transaction.id)[101].payment_date == world.clock().date() + timedelta(days=1)
