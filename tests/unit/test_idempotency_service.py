"""The idempotency service over the in-memory fakes: the response is kept with its effect, or not at all."""

from __future__ import annotations

from dataclasses import replace

import pytest

from psp.domain.merchants import Principal
from psp.domain.transactions import PaymentMethod, Transaction
from psp.lib.errors import ValidationFailed
from psp.repositories.memory import InMemoryStore
from psp.repositories.ports import IdempotencyClaimOutcome, StoredResponse
from psp.services import idempotency
from psp.services.transactions import NewTransaction, create_transaction
from tests.unit.conftest import onboard as onboard_merchant
from tests.unit.conftest import principal_of
from tests.unit.fakes import FrozenClock, RecordingAcquirer

REQUEST = NewTransaction(
    amount=2500,
    currency=None,
    description="Sneakers",
    payment_method=PaymentMethod.CREDIT_CARD,
    installments=1,
    card_holder_name="Ana Souza",
    card_expiration_date="12/30",
    card_number="4111 1111 1111 1111",
    card_verification_code="123",
)


def onboard(store: InMemoryStore, clock: FrozenClock) -> Principal:
    return principal_of(onboard_merchant(store, clock))


def render(transaction: Transaction) -> StoredResponse:
    return StoredResponse(201, str(transaction.id).encode())


def test_the_response_is_stored_by_the_unit_of_work_that_records_the_transaction() -> None:
    store, clock = InMemoryStore(), FrozenClock()
    principal = onboard(store, clock)
    merchant_id = principal.merchant_id
    idempotency.claim_key(merchant_id, "k", "f" * 64, uow=store.uow(), clock=clock)

    transaction = create_transaction(
        REQUEST,
        principal,
        uow=store.uow(),
        acquirer=RecordingAcquirer(),
        clock=clock,
        fingerprint_key=b"k" * 32,
        on_commit=idempotency.recorder(merchant_id, "k", render, clock=clock),
    )

    claim = idempotency.claim_key(merchant_id, "k", "f" * 64, uow=store.uow(), clock=clock)
    assert claim.outcome is IdempotencyClaimOutcome.COMPLETED
    assert claim.response == StoredResponse(201, str(transaction.id).encode())


def test_a_request_that_fails_validation_never_calls_the_hook() -> None:
    store, clock = InMemoryStore(), FrozenClock()
    principal = onboard(store, clock)
    calls: list[Transaction] = []

    with pytest.raises(ValidationFailed):
        create_transaction(
            replace(REQUEST, card_number="4111111111111112"),
            principal,
            uow=store.uow(),
            acquirer=RecordingAcquirer(),
            clock=clock,
            fingerprint_key=b"k" * 32,
            on_commit=lambda _uow, transaction: calls.append(transaction),
        )

    assert calls == []
    assert store.transactions == {}


def test_pruning_deletes_keys_older_than_the_ttl_in_chunks() -> None:
    store, clock = InMemoryStore(), FrozenClock()
    merchant_id = onboard(store, clock).merchant_id
    for n in range(7):
        idempotency.claim_key(merchant_id, f"old-{n}", "f" * 64, uow=store.uow(), clock=clock)
    clock.advance(days=30, seconds=1)
    idempotency.claim_key(merchant_id, "new", "f" * 64, uow=store.uow(), clock=clock)

    pruned = idempotency.prune_expired_keys(30, uow_factory=store.uow, clock=clock, chunk_size=3)

    assert pruned == 7
    assert set(store.idempotency_keys) == {(merchant_id, "new")}
    clock.advance(days=30, seconds=1)
    assert idempotency.prune_expired_keys(30, uow_factory=store.uow, clock=clock) == 1
