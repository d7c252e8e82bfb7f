"""Test doubles for the collaborators a service takes: clocks and a recording acquirer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from psp.domain.cards import CardForAuthorization
from psp.repositories.acquirers import SimulatorAcquirer
from psp.repositories.ports import Authorization


@dataclass
class FrozenClock:
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 20, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class RecordingAcquirer:
    """The simulator, counting calls so tests can prove when the acquirer was (not) asked."""

    calls: int = 0
    simulator: SimulatorAcquirer = field(default_factory=SimulatorAcquirer)

    def authorize(self, card: CardForAuthorization, amount: int, currency: str) -> Authorization:
        self.calls += 1
        return self.simulator.authorize(card, amount, currency)

    def status(self, reference: str, authorized_at: datetime) -> Authorization:
        self.calls += 1
        return self.simulator.status(reference, authorized_at)
