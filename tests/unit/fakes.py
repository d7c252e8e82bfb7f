"""Test doubles for the collaborators a service takes: clocks, an acquirer, a resolver, a webhook sender."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from psp.domain.cards import CardForAuthorization
from psp.domain.webhooks import WebhookEndpoint
from psp.repositories.acquirers import SimulatorAcquirer
from psp.repositories.ports import Authorization, SendResult


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


@dataclass
class StaticResolver:
    """Resolves every host to ``addresses`` (None: as if DNS did not answer in time)."""

    addresses: list[str] | None = field(default_factory=lambda: ["93.184.216.34"])
    asked: list[str] = field(default_factory=list)

    def resolve(self, host: str, port: int) -> list[str] | None:
        self.asked.append(host)
        return self.addresses


@dataclass
class ScriptedSender:
    """Answers each send with the next status (None: no answer at all), recording what was sent."""

    statuses: list[int | None] = field(default_factory=list)
    default: int | None = 200
    sent: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def send(self, endpoint: WebhookEndpoint, headers: dict[str, str], body: bytes) -> SendResult:
        self.sent.append((endpoint.url, headers, body))
        status = self.statuses.pop(0) if self.statuses else self.default
        return SendResult(status, 12, "ok" if status else "", None if status else "timeout")
