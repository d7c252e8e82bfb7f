"""Resolving transactions left ``processing`` by an acquirer time-out, over the in-memory unit of work."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from psp.domain.cards import CardForAuthorization
from psp.domain.events import TRANSACTION_APPROVED, TRANSACTION_DECLINED, approved_transaction_of
from psp.domain.merchants import Principal
from psp.domain.transactions import PaymentMethod, Transaction, TransactionStatus
from psp.repositories.acquirers import SIMULATED_RESOLUTION_DELAY, SimulatorAcquirer
from psp.repositories.memory import InMemoryStore
from psp.repositories.ports import Acquirer, Authorization, AuthorizationOutcome
from psp.services.payables import create_payables
from psp.services.processing import ResolutionReport, resolve_processing
from psp.services.transactions import create_transaction
from tests.unit.fakes import FrozenClock
from tests.unit.test_transaction_service import VALID

TIMEOUT_CARD = "4000000000000119"


@dataclass
class ScriptedAcquirer:
    """Answers ``status`` from a script by reference; unknown references stay unknown."""

    answers: dict[str, Authorization] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def authorize(self, card: CardForAuthorization, amount: int, currency: str) -> Authorization:
        raise AssertionError("resolution never authorises again")

    def status(self, reference: str, authorized_at: datetime) -> Authorization:
        self.asked.append(reference)
        return self.answers.get(reference, Authorization(AuthorizationOutcome.UNKNOWN))


@pytest.fixture
def simulator(clock: FrozenClock) -> SimulatorAcquirer:
    return SimulatorAcquirer(clock=clock)


def timed_out(
    store: InMemoryStore,
    principal: Principal,
    simulator: SimulatorAcquirer,
    clock: FrozenClock,
    method: PaymentMethod = PaymentMethod.CREDIT_CARD,
) -> Transaction:
    request = replace(VALID, card_number=TIMEOUT_CARD, payment_method=method)
    transaction = create_transaction(
        request, principal, uow=store.uow(), acquirer=simulator, clock=clock, fingerprint_key=b"k" * 32
    )
    assert transaction.status is TransactionStatus.PROCESSING
    assert transaction.acquirer_reference is not None
    assert transaction.acquirer_reference.startswith("sim_timeout_")
    return transaction


def resolve(
    store: InMemoryStore, acquirer: Acquirer, clock: FrozenClock, limit: int = 10
) -> ResolutionReport:
    return resolve_processing(uow_factory=store.uow, acquirer=acquirer, clock=clock, limit=limit)


def test_the_simulator_has_no_answer_before_its_delay_and_approves_after(
    simulator: SimulatorAcquirer, clock: FrozenClock
) -> None:
    authorized_at = clock()
    reference = "sim_timeout_abc"
    clock.advance(seconds=SIMULATED_RESOLUTION_DELAY.total_seconds() - 1)
    assert simulator.status(reference, authorized_at).outcome is AuthorizationOutcome.UNKNOWN
    clock.advance(seconds=1)
    assert simulator.status(reference, authorized_at).outcome is AuthorizationOutcome.APPROVED
    assert simulator.status("not-ours", authorized_at).outcome is AuthorizationOutcome.UNKNOWN


def test_a_timed_out_transaction_stays_processing_until_the_acquirer_knows(
    store: InMemoryStore, principal: Principal, simulator: SimulatorAcquirer, clock: FrozenClock
) -> None:
    transaction = timed_out(store, principal, simulator, clock)
    clock.advance(seconds=30)

    report = resolve(store, simulator, clock)

    assert (report.approved, report.declined, report.unresolved) == (0, 0, 1)
    assert store.transactions[transaction.id] == transaction
    assert store.outbox == []


def test_after_the_delay_it_is_approved_with_the_event_a_direct_approval_writes(
    store: InMemoryStore, principal: Principal, simulator: SimulatorAcquirer, clock: FrozenClock
) -> None:
    transaction = timed_out(store, principal, simulator, clock)
    clock.advance(seconds=61)

    report = resolve(store, simulator, clock)

    assert (report.approved, report.examined) == (1, 1)
    resolved = store.transactions[transaction.id]
    assert (resolved.status, resolved.updated_at) == (TransactionStatus.WAITING_FUNDS, clock())
    (event,) = store.outbox
    assert (event.type, event.aggregate_id) == (TRANSACTION_APPROVED, transaction.id)
    assert event.payload["status"] == "waiting_funds"
    assert event.payload["created_at"] == transaction.created_at.isoformat()
    # the worker turns that event into payables, dated from the transaction's creation
    created = create_payables(
        [approved_transaction_of(resolved)], uow=store.uow(), settlement_zone=UTC, clock=clock
    )
    assert created == 1
    (payable,) = store.payables.values()
    assert payable.payment_date == transaction.created_at.date() + timedelta(days=30)
    assert resolve(store, simulator, clock).examined == 0  # nothing left to ask about


def test_an_approved_debit_transaction_is_paid_at_once(
    store: InMemoryStore, principal: Principal, simulator: SimulatorAcquirer, clock: FrozenClock
) -> None:
    transaction = timed_out(store, principal, simulator, clock, PaymentMethod.DEBIT_CARD)
    clock.advance(minutes=5)

    resolve(store, simulator, clock)

    assert store.transactions[transaction.id].status is TransactionStatus.PAID


def test_a_declined_answer_records_its_code_and_the_declined_event(
    store: InMemoryStore, principal: Principal, simulator: SimulatorAcquirer, clock: FrozenClock
) -> None:
    transaction = timed_out(store, principal, simulator, clock)
    reference = transaction.acquirer_reference or ""
    acquirer = ScriptedAcquirer(
        {reference: Authorization(AuthorizationOutcome.DECLINED, decline_code="insufficient_funds")}
    )

    report = resolve(store, acquirer, clock)

    assert report.declined == 1
    resolved = store.transactions[transaction.id]
    assert (resolved.status, resolved.decline_code) == (TransactionStatus.DECLINED, "insufficient_funds")
    assert [event.type for event in store.outbox] == [TRANSACTION_DECLINED]


def test_a_transaction_with_no_reference_is_never_failed_nor_asked_about(
    store: InMemoryStore, principal: Principal, simulator: SimulatorAcquirer, clock: FrozenClock
) -> None:
    transaction = timed_out(store, principal, simulator, clock)
    store.transactions[transaction.id] = replace(transaction, acquirer_reference=None)
    acquirer = ScriptedAcquirer()

    report = resolve(store, acquirer, clock)

    assert (report.unresolved, acquirer.asked) == (1, [])
    assert store.transactions[transaction.id].status is TransactionStatus.PROCESSING


def test_chunks_move_past_transactions_still_unknown_and_resolve_the_rest(
    store: InMemoryStore, principal: Principal, simulator: SimulatorAcquirer, clock: FrozenClock
) -> None:
    transactions = []
    for _ in range(7):
        transactions.append(timed_out(store, principal, simulator, clock))
        clock.advance(seconds=1)
    # the oldest five have no answer yet; the two newest are approved
    approved = {t.acquirer_reference or "" for t in transactions[5:]}
    acquirer = ScriptedAcquirer({ref: Authorization(AuthorizationOutcome.APPROVED) for ref in approved})

    report = resolve(store, acquirer, clock, limit=2)

    assert (report.approved, report.unresolved) == (2, 5)
    assert len(acquirer.asked) == 7  # each asked once, although the unknown ones stay processing
    statuses = [store.transactions[t.id].status for t in transactions]
    assert statuses == [TransactionStatus.PROCESSING] * 5 + [TransactionStatus.WAITING_FUNDS] * 2
