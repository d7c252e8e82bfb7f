"""Creating card transactions: outcomes, atomic outbox events, and nothing written on bad input."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from psp.domain.events import TRANSACTION_APPROVED, TRANSACTION_DECLINED
from psp.domain.merchants import Principal
from psp.domain.transactions import PaymentMethod, Transaction, TransactionStatus
from psp.lib.errors import NotFound, ValidationFailed
from psp.repositories.memory import InMemoryStore
from psp.services.merchants import Onboarded, authenticate, create_merchant
from psp.services.transactions import NewTransaction, create_transaction, get_transaction
from tests.unit.fakes import FrozenClock, RecordingAcquirer

VALID = NewTransaction(
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


def create(
    request: NewTransaction,
    principal: Principal,
    store: InMemoryStore,
    acquirer: RecordingAcquirer,
    clock: FrozenClock,
) -> Transaction:
    return create_transaction(
        request, principal, uow=store.uow(), acquirer=acquirer, clock=clock, fingerprint_key=b"k" * 32
    )


def test_an_approved_credit_transaction_waits_for_funds_and_its_event_is_in_the_outbox(
    store: InMemoryStore, principal: Principal, acquirer: RecordingAcquirer, clock: FrozenClock
) -> None:
    transaction = create(VALID, principal, store, acquirer, clock)
    assert transaction.status is TransactionStatus.WAITING_FUNDS
    assert transaction.currency == "BRL"  # the merchant's default
    assert transaction.fee_bps == 500
    assert store.transactions[transaction.id] == transaction
    (event,) = store.outbox
    assert (event.type, event.aggregate_id) == (TRANSACTION_APPROVED, transaction.id)
    assert event.payload["amount"] == 2500


def test_an_approved_debit_transaction_is_paid_at_once_at_the_debit_rate(
    store: InMemoryStore, principal: Principal, acquirer: RecordingAcquirer, clock: FrozenClock
) -> None:
    transaction = create(
        replace(VALID, payment_method=PaymentMethod.DEBIT_CARD), principal, store, acquirer, clock
    )
    assert transaction.status is TransactionStatus.PAID
    assert transaction.fee_bps == 300


@pytest.mark.parametrize(
    ("card_number", "decline_code"),
    [
        ("4000000000000002", "card_declined"),
        ("4000000000009995", "insufficient_funds"),
        ("4000000000000127", "incorrect_cvc"),
    ],
)
def test_a_declined_card_is_recorded_as_declined_with_its_code(
    store: InMemoryStore,
    principal: Principal,
    acquirer: RecordingAcquirer,
    clock: FrozenClock,
    card_number: str,
    decline_code: str,
) -> None:
    transaction = create(replace(VALID, card_number=card_number), principal, store, acquirer, clock)
    assert transaction.status is TransactionStatus.DECLINED
    assert transaction.decline_code == decline_code
    assert [event.type for event in store.outbox] == [TRANSACTION_DECLINED]


def test_an_acquirer_time_out_leaves_the_transaction_processing_with_no_event_yet(
    store: InMemoryStore, principal: Principal, acquirer: RecordingAcquirer, clock: FrozenClock
) -> None:
    transaction = create(replace(VALID, card_number="4000000000000119"), principal, store, acquirer, clock)
    assert transaction.status is TransactionStatus.PROCESSING
    assert store.outbox == []


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"card_number": "4111111111111112"}, "card_number"),
        ({"card_expiration_date": "01/20"}, "card_expiration_date"),
        ({"card_verification_code": "12"}, "card_verification_code"),
        ({"currency": "ZZZ"}, "currency"),
        ({"payment_method": PaymentMethod.DEBIT_CARD, "installments": 2}, "installments"),
        ({"amount": 5, "installments": 6}, "amount"),
    ],
)
def test_invalid_input_is_refused_before_the_acquirer_is_asked_and_nothing_is_written(
    store: InMemoryStore,
    principal: Principal,
    acquirer: RecordingAcquirer,
    clock: FrozenClock,
    change: dict[str, object],
    param: str,
) -> None:
    with pytest.raises(ValidationFailed) as raised:
        create(replace(VALID, **change), principal, store, acquirer, clock)  # type: ignore[arg-type]
    assert raised.value.param == param
    assert acquirer.calls == 0
    assert store.transactions == {}
    assert store.outbox == []


def test_neither_the_card_number_nor_the_cvv_is_kept_anywhere(
    store: InMemoryStore, principal: Principal, acquirer: RecordingAcquirer, clock: FrozenClock
) -> None:
    request = replace(VALID, card_number="4242424242424242", card_verification_code="987")
    transaction = create(request, principal, store, acquirer, clock)
    everything = repr(store.transactions) + json.dumps([e.payload for e in store.outbox]) + repr(transaction)
    assert "4242424242424242" not in everything
    assert "987" not in everything
    assert (transaction.card.first_six, transaction.card.last_four) == ("424242", "4242")
    assert "4242424242424242" not in repr(request)


def test_another_merchant_cannot_read_the_transaction(
    store: InMemoryStore, principal: Principal, acquirer: RecordingAcquirer, clock: FrozenClock
) -> None:
    transaction = create(VALID, principal, store, acquirer, clock)
    other = create_merchant(
        "Globex", currency="USD", debit_fee_bps=0, credit_fee_bps=0, mode="test", uow=store.uow(), clock=clock
    )
    intruder = Principal(merchant_id=other.merchant.id, api_key_id=other.key.api_key.id, mode="test")
    with pytest.raises(NotFound):
        get_transaction(intruder, transaction.id, uow=store.uow())


def test_an_authenticated_principal_carries_its_merchant_so_pricing_needs_no_second_read(
    store: InMemoryStore, onboarded: Onboarded, acquirer: RecordingAcquirer, clock: FrozenClock
) -> None:
    principal = authenticate(onboarded.key.secret_key, uow=store.uow())
    assert principal.merchant == onboarded.merchant
    store.merchants.clear()  # were the service to read the merchant again, it would find none
    transaction = create(VALID, principal, store, acquirer, clock)
    assert (transaction.fee_bps, transaction.currency) == (500, "BRL")
