"""Payables from approvals, the balance, and settlement: catch-up, completeness, idempotence."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, timedelta
from uuid import UUID

from psp.domain.events import approved_transaction_of
from psp.domain.ids import new_id
from psp.domain.merchants import Principal
from psp.domain.payables import BalanceLine, PayableStatus
from psp.domain.transactions import PaymentMethod
from psp.repositories.memory import InMemoryStore
from psp.services.payables import create_payables, get_balance
from psp.services.settlement import settle_due_payables
from tests.unit.fakes import FrozenClock, RecordingAcquirer
from tests.unit.test_transaction_service import VALID, create

CREATED = FrozenClock().now  # the shared clock fixture's instant


def approve(
    store: InMemoryStore,
    principal: Principal,
    clock: FrozenClock,
    amount: int,
    installments: int = 1,
    method: PaymentMethod = PaymentMethod.CREDIT_CARD,
) -> UUID:
    request = replace(VALID, amount=amount, installments=installments, payment_method=method)
    transaction = create(request, principal, store, RecordingAcquirer(), clock)
    create_payables([approved_transaction_of(transaction)], uow=store.uow(), settlement_zone=UTC, clock=clock)
    return transaction.id


def settle(store: InMemoryStore, run_date: date, clock: FrozenClock, chunk_size: int = 2) -> int:
    report = settle_due_payables(run_date, uow_factory=store.uow, chunk_size=chunk_size, clock=clock)
    return report.payables_paid


def test_creating_the_payables_of_an_approval_twice_creates_them_once(
    store: InMemoryStore, principal: Principal, clock: FrozenClock
) -> None:
    transaction_id = approve(store, principal, clock, 1000, installments=3)
    transaction = store.transactions[transaction_id]
    again = create_payables(
        [approved_transaction_of(transaction)], uow=store.uow(), settlement_zone=UTC, clock=clock
    )
    assert again == 0
    assert len(store.payables) == 3


def test_the_balance_splits_waiting_funds_from_available_per_currency(
    store: InMemoryStore, principal: Principal, clock: FrozenClock
) -> None:
    approve(store, principal, clock, 2500)
    approve(store, principal, clock, 1001, method=PaymentMethod.DEBIT_CARD)
    balance = get_balance(principal, uow=store.uow())
    assert balance.waiting_funds == [BalanceLine(amount=2375, currency="BRL")]
    assert balance.available == [BalanceLine(amount=971, currency="BRL")]


def test_settlement_pays_what_is_due_including_missed_days_and_nothing_in_the_future(
    store: InMemoryStore, principal: Principal, clock: FrozenClock
) -> None:
    three_installments = approve(store, principal, clock, 3000, installments=3)
    run_date = CREATED.date() + timedelta(days=60)  # installments 1 and 2 are due (one of them long ago)
    assert settle(store, run_date, clock) == 2
    statuses = sorted((p.installment, p.status) for p in store.payables.values())
    assert statuses == [(1, PayableStatus.PAID), (2, PayableStatus.PAID), (3, PayableStatus.WAITING_FUNDS)]
    assert store.transactions[three_installments].status.value == "waiting_funds"


def test_a_transaction_is_paid_once_all_its_payables_are(
    store: InMemoryStore, principal: Principal, clock: FrozenClock
) -> None:
    transaction_id = approve(store, principal, clock, 3000, installments=3)
    settle(store, CREATED.date() + timedelta(days=90), clock, chunk_size=1)
    assert store.transactions[transaction_id].status.value == "paid"
    assert all(p.paid_at == CREATED for p in store.payables.values())


def test_settling_twice_pays_nothing_twice(
    store: InMemoryStore, principal: Principal, clock: FrozenClock
) -> None:
    for amount in (2500, 4000, 999):
        approve(store, principal, clock, amount)
    run_date = CREATED.date() + timedelta(days=30)
    first = settle_due_payables(run_date, uow_factory=store.uow, chunk_size=2, clock=clock)
    clock.advance(hours=1)
    second = settle_due_payables(run_date, uow_factory=store.uow, chunk_size=2, clock=clock)
    assert first.payables_paid == 3
    assert first.totals["BRL"].net == 2375 + 3800 + 950
    assert first.transactions_paid == 3
    assert second.payables_paid == 0
    assert all(p.paid_at == CREATED for p in store.payables.values())


def test_settlement_before_anything_is_due_pays_nothing(
    store: InMemoryStore, principal: Principal, clock: FrozenClock
) -> None:
    approve(store, principal, clock, 2500)
    assert settle(store, CREATED.date() + timedelta(days=29), clock) == 0
    assert new_id() != new_id()
