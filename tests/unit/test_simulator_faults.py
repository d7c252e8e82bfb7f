"""The simulator's injected faults: failures that charged nothing, time-outs whose outcome comes later."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import timedelta

import pytest

from psp.config import Settings
from psp.domain.merchants import Principal
from psp.domain.transactions import Transaction, TransactionStatus
from psp.lib.errors import AcquirerUnavailable, ConfigurationError
from psp.repositories.acquirers import SimulatorAcquirer, SimulatorFaults
from psp.repositories.memory import InMemoryStore
from psp.repositories.ports import AuthorizationOutcome
from psp.services.processing import resolve_processing
from psp.services.transactions import create_transaction
from tests.unit.fakes import FrozenClock
from tests.unit.test_transaction_service import VALID

DECLINED_CARD = "4000000000009995"  # insufficient_funds


def simulator(clock: FrozenClock, **faults: float) -> SimulatorAcquirer:
    return SimulatorAcquirer(
        clock=clock, faults=SimulatorFaults(**faults), resolution_delay=timedelta(seconds=5)
    )


def create(
    store: InMemoryStore,
    principal: Principal,
    acquirer: SimulatorAcquirer,
    clock: FrozenClock,
    card_number: str = VALID.card_number,
) -> Transaction:
    return create_transaction(
        replace(VALID, card_number=card_number),
        principal,
        uow=store.uow(),
        acquirer=acquirer,
        clock=clock,
        fingerprint_key=b"k" * 32,
    )


def test_an_acquirer_failure_raises_a_retryable_503_and_records_nothing(
    store: InMemoryStore, principal: Principal, clock: FrozenClock
) -> None:
    with pytest.raises(AcquirerUnavailable) as raised:
        create(store, principal, simulator(clock, failure_rate=1.0), clock)

    assert raised.value.http_status == 503
    assert raised.value.code == "acquirer_unavailable"
    assert raised.value.headers == {"Retry-After": "1"}
    assert store.transactions == {}
    assert store.outbox == []


def test_an_injected_time_out_leaves_the_transaction_processing_until_the_acquirer_knows_it_was_approved(
    store: InMemoryStore, principal: Principal, clock: FrozenClock
) -> None:
    acquirer = simulator(clock, timeout_rate=1.0)
    transaction = create(store, principal, acquirer, clock)
    assert transaction.status is TransactionStatus.PROCESSING

    assert resolve_processing(uow_factory=store.uow, acquirer=acquirer, clock=clock, limit=10).unresolved == 1
    clock.advance(seconds=5)
    report = resolve_processing(uow_factory=store.uow, acquirer=acquirer, clock=clock, limit=10)

    assert report.approved == 1
    assert store.transactions[transaction.id].status is TransactionStatus.WAITING_FUNDS


def test_a_timed_out_decline_is_resolved_as_the_same_decline_never_as_an_approval(
    store: InMemoryStore, principal: Principal, clock: FrozenClock
) -> None:
    acquirer = simulator(clock, timeout_rate=1.0)
    transaction = create(store, principal, acquirer, clock, card_number=DECLINED_CARD)
    assert transaction.status is TransactionStatus.PROCESSING

    clock.advance(seconds=5)
    report = resolve_processing(uow_factory=store.uow, acquirer=acquirer, clock=clock, limit=10)

    assert report.declined == 1
    resolved = store.transactions[transaction.id]
    assert (resolved.status, resolved.decline_code) == (TransactionStatus.DECLINED, "insufficient_funds")


def test_an_acquirer_that_cannot_be_asked_leaves_the_transaction_processing_for_a_later_run(
    store: InMemoryStore, principal: Principal, clock: FrozenClock
) -> None:
    transaction = create(store, principal, simulator(clock, timeout_rate=1.0), clock)
    clock.advance(seconds=5)

    failing = simulator(clock, failure_rate=1.0)
    report = resolve_processing(uow_factory=store.uow, acquirer=failing, clock=clock, limit=10)

    assert (report.unresolved, report.approved) == (1, 0)
    assert store.transactions[transaction.id].status is TransactionStatus.PROCESSING


def test_without_faults_the_simulator_answers_by_card_number_as_before(clock: FrozenClock) -> None:
    acquirer = simulator(clock)
    outcomes = {acquirer.status("sim_0123", clock()).outcome for _ in range(50)}
    assert outcomes == {AuthorizationOutcome.APPROVED}


@pytest.mark.parametrize(
    "variable", ["PSP_SIMULATOR_FAILURE_RATE", "PSP_SIMULATOR_TIMEOUT_RATE", "PSP_SIMULATOR_LATENCY_MS"]
)
def test_production_refuses_to_start_with_injected_acquirer_faults(variable: str) -> None:
    environ = {
        "PSP_ENV": "production",
        "PSP_DATABASE_URL": "postgresql://db/psp",
        "PSP_CARD_FINGERPRINT_KEY": "x" * 32,
        "PSP_DATA_ENCRYPTION_KEY": base64.b64encode(b"k" * 32).decode(),
        variable: "1",
    }
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_env(environ)


def test_a_failure_rate_above_one_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="PSP_SIMULATOR_FAILURE_RATE"):
        Settings.from_env({"PSP_SIMULATOR_FAILURE_RATE": "1.5"})
