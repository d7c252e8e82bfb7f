"""Idempotency keys: one contract, run against the in-memory fake and Postgres."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from psp.bootstrap import Container
from psp.domain.ids import new_id
from psp.domain.merchants import Merchant
from psp.lib.errors import IdempotencyConflict
from psp.repositories.memory import InMemoryStore
from psp.repositories.ports import (
    IdempotencyClaim,
    IdempotencyClaimOutcome,
    StoredResponse,
    UnitOfWork,
)

UowFactory = Callable[[], UnitOfWork]
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LOCK = 60
FINGERPRINT = "a" * 64
RESPONSE = StoredResponse(status=201, body=b'{"id": "tx_1", "amount": 2500}\n\x00\xff')

CLAIMED = IdempotencyClaim(IdempotencyClaimOutcome.CLAIMED)
IN_PROGRESS = IdempotencyClaim(IdempotencyClaimOutcome.IN_PROGRESS)
MISMATCH = IdempotencyClaim(IdempotencyClaimOutcome.MISMATCH)


@pytest.fixture(params=["memory", "postgres"])
def uow_factory(request: pytest.FixtureRequest) -> UowFactory:
    if request.param == "memory":
        return InMemoryStore().uow
    container: Container = request.getfixturevalue("container")
    return container.uow


@pytest.fixture
def merchant_id(uow_factory: UowFactory) -> UUID:
    return a_merchant(uow_factory)


def a_merchant(uow_factory: UowFactory) -> UUID:
    merchant = Merchant(
        id=new_id(), name="Acme", default_currency="BRL", debit_fee_bps=300, credit_fee_bps=500, created_at=T0
    )
    with uow_factory() as uow:
        uow.merchants.add(merchant)
        uow.commit()
    return merchant.id


def claim(
    uow_factory: UowFactory,
    merchant_id: UUID,
    key: str = "key-1",
    fingerprint: str = FINGERPRINT,
    now: datetime = T0,
) -> IdempotencyClaim:
    with uow_factory() as uow:
        result = uow.idempotency_keys.claim(merchant_id, key, fingerprint, now=now, lock_for_seconds=LOCK)
        uow.commit()
    return result


def complete(uow_factory: UowFactory, merchant_id: UUID, key: str = "key-1") -> None:
    with uow_factory() as uow:
        uow.idempotency_keys.complete(merchant_id, key, RESPONSE, at=T0)
        uow.commit()


def test_the_first_claim_wins_and_a_second_one_is_told_the_first_is_in_progress(
    uow_factory: UowFactory, merchant_id: UUID
) -> None:
    assert claim(uow_factory, merchant_id) == CLAIMED
    assert claim(uow_factory, merchant_id, now=T0 + timedelta(seconds=LOCK - 1)) == IN_PROGRESS


def test_a_completed_key_returns_the_stored_status_and_exact_bytes(
    uow_factory: UowFactory, merchant_id: UUID
) -> None:
    claim(uow_factory, merchant_id)
    complete(uow_factory, merchant_id)

    replayed = claim(uow_factory, merchant_id, now=T0 + timedelta(days=1))

    assert replayed == IdempotencyClaim(IdempotencyClaimOutcome.COMPLETED, RESPONSE)
    assert replayed.response is not None
    assert replayed.response.body == RESPONSE.body


def test_the_key_with_another_fingerprint_is_a_mismatch_whether_in_progress_or_completed(
    uow_factory: UowFactory, merchant_id: UUID
) -> None:
    claim(uow_factory, merchant_id)
    assert claim(uow_factory, merchant_id, fingerprint="b" * 64) == MISMATCH
    complete(uow_factory, merchant_id)
    assert claim(uow_factory, merchant_id, fingerprint="b" * 64) == MISMATCH


def test_keys_are_scoped_to_their_merchant(uow_factory: UowFactory, merchant_id: UUID) -> None:
    other = a_merchant(uow_factory)
    claim(uow_factory, merchant_id)
    complete(uow_factory, merchant_id)

    assert claim(uow_factory, other, fingerprint="b" * 64) == CLAIMED


def test_an_in_progress_claim_whose_lock_lapsed_is_taken_over_once(
    uow_factory: UowFactory, merchant_id: UUID
) -> None:
    claim(uow_factory, merchant_id)
    later = T0 + timedelta(seconds=LOCK + 1)

    assert claim(uow_factory, merchant_id, now=later) == CLAIMED
    assert claim(uow_factory, merchant_id, now=later + timedelta(seconds=1)) == IN_PROGRESS


def test_a_response_not_committed_is_not_kept(uow_factory: UowFactory, merchant_id: UUID) -> None:
    claim(uow_factory, merchant_id)
    with uow_factory() as uow:
        uow.idempotency_keys.complete(merchant_id, "key-1", RESPONSE, at=T0)  # and no commit

    assert claim(uow_factory, merchant_id) == IN_PROGRESS


def test_completing_a_key_twice_or_a_key_never_claimed_fails(
    uow_factory: UowFactory, merchant_id: UUID
) -> None:
    claim(uow_factory, merchant_id)
    complete(uow_factory, merchant_id)

    with pytest.raises(IdempotencyConflict):
        complete(uow_factory, merchant_id)
    with pytest.raises(IdempotencyConflict):
        complete(uow_factory, merchant_id, key="never-claimed")


def test_a_released_claim_frees_the_key_but_a_completed_key_is_never_released(
    uow_factory: UowFactory, merchant_id: UUID
) -> None:
    claim(uow_factory, merchant_id)
    with uow_factory() as uow:
        uow.idempotency_keys.release(merchant_id, "key-1")
        uow.commit()
    assert claim(uow_factory, merchant_id, fingerprint="b" * 64) == CLAIMED

    complete(uow_factory, merchant_id)
    with uow_factory() as uow:
        uow.idempotency_keys.release(merchant_id, "key-1")
        uow.commit()
    assert claim(uow_factory, merchant_id, fingerprint="b" * 64).outcome is IdempotencyClaimOutcome.COMPLETED


def test_prune_deletes_up_to_the_limit_of_the_keys_created_before_the_cut_off(
    uow_factory: UowFactory, merchant_id: UUID
) -> None:
    for day in range(5):
        claim(uow_factory, merchant_id, key=f"day-{day}", now=T0 + timedelta(days=day))
    complete(uow_factory, merchant_id, key="day-0")
    cut_off = T0 + timedelta(days=3)  # days 0, 1 and 2 are older

    with uow_factory() as uow:
        first = uow.idempotency_keys.prune(cut_off, limit=2)
        uow.commit()
    with uow_factory() as uow:
        second = uow.idempotency_keys.prune(cut_off, limit=2)
        uow.commit()

    assert (first, second) == (2, 1)
    for day in range(3):
        assert claim(uow_factory, merchant_id, key=f"day-{day}", fingerprint="b" * 64) == CLAIMED
    for day in (3, 4):
        assert claim(uow_factory, merchant_id, key=f"day-{day}", fingerprint="b" * 64) == MISMATCH
