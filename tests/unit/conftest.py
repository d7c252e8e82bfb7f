"""Fixtures for service tests: an in-memory store, a frozen clock, and a merchant onboarded into them."""

from __future__ import annotations

import pytest

from psp.domain.merchants import Principal
from psp.repositories.memory import InMemoryStore
from psp.services.merchants import Onboarded, create_merchant
from tests.unit.fakes import FrozenClock, RecordingAcquirer


def onboard(store: InMemoryStore, clock: FrozenClock, name: str = "Acme") -> Onboarded:
    """A merchant at the default rates (debit 3%, credit 5%) in BRL, with a test-mode key."""
    return create_merchant(
        name, currency="BRL", debit_fee_bps=300, credit_fee_bps=500, mode="test", uow=store.uow(), clock=clock
    )


def principal_of(onboarded: Onboarded) -> Principal:
    key = onboarded.key.api_key
    return Principal(merchant_id=key.merchant_id, api_key_id=key.id, mode=key.mode)


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def acquirer() -> RecordingAcquirer:
    return RecordingAcquirer()


@pytest.fixture
def onboarded(store: InMemoryStore, clock: FrozenClock) -> Onboarded:
    return onboard(store, clock)


@pytest.fixture
def principal(onboarded: Onboarded) -> Principal:
    return principal_of(onboarded)
