"""Acquirer adapters. ``simulator`` is deterministic by card number so tests and demos reach every path.

For fault drills (``tests/faults``) the simulator can also misbehave on purpose, at random: fail before the
request reaches the card network, time out (the outcome exists but is not known yet), or answer slowly.
Settings refuse these knobs in production.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from psp.domain.cards import CardForAuthorization
from psp.lib.errors import AcquirerUnavailable
from psp.repositories.ports import Authorization, AuthorizationOutcome
from psp.services.clock import Clock, utc_now

SIMULATED_DECLINES = {
    "4000000000000002": "card_declined",
    "4000000000009995": "insufficient_funds",
    "4000000000000127": "incorrect_cvc",
}
SIMULATED_TIMEOUTS = frozenset({"4000000000000119"})
# How long after a time-out the simulated acquirer still has no answer; after it, the payment is approved.
SIMULATED_RESOLUTION_DELAY = timedelta(seconds=60)
APPROVED_PREFIX = "sim_"
TIMEOUT_PREFIX = "sim_timeout_"
# A decline whose answer was lost to an injected time-out: the code rides in the reference, so asking
# again later gives the decline the card would have had (an outcome is never invented).
DECLINED_TIMEOUT_PREFIX = f"{TIMEOUT_PREFIX}declined_"


@dataclass(frozen=True)
class SimulatorFaults:
    """Injected misbehaviour; all zero (the default) is the plain deterministic simulator."""

    failure_rate: float = 0.0  # calls that fail before reaching the network: AcquirerUnavailable
    timeout_rate: float = 0.0  # authorisations whose answer is lost: outcome UNKNOWN, resolved later
    max_latency_ms: int = 0  # each call waits uniformly 0..max_latency_ms


class SimulatorAcquirer:
    """Answers at once: the time-out card yields ``UNKNOWN`` without making anyone wait.

    A time-out still gets a reference; asked again with it, the simulator answers ``UNKNOWN`` until
    ``resolution_delay`` after the authorisation, and the card's real outcome from then on.
    """

    def __init__(
        self,
        clock: Clock = utc_now,
        *,
        faults: SimulatorFaults | None = None,
        resolution_delay: timedelta = SIMULATED_RESOLUTION_DELAY,
        rng: random.Random | None = None,
    ) -> None:
        self._clock = clock
        self._faults = faults or SimulatorFaults()
        self._resolution_delay = resolution_delay
        self._random = rng or random.Random()  # noqa: S311  # fault injection, not cryptography  # nosec B311

    def authorize(self, card: CardForAuthorization, amount: int, currency: str) -> Authorization:
        self._misbehave()
        if card.number in SIMULATED_TIMEOUTS:
            return Authorization(
                AuthorizationOutcome.UNKNOWN, reference=f"{TIMEOUT_PREFIX}{secrets.token_hex(12)}"
            )
        decline_code = SIMULATED_DECLINES.get(card.number)
        timed_out = self._chance(self._faults.timeout_rate)
        if decline_code is not None:
            if timed_out:
                reference = f"{DECLINED_TIMEOUT_PREFIX}{decline_code}_{secrets.token_hex(6)}"
                return Authorization(AuthorizationOutcome.UNKNOWN, reference=reference)
            return Authorization(AuthorizationOutcome.DECLINED, decline_code=decline_code)
        if timed_out:
            return Authorization(
                AuthorizationOutcome.UNKNOWN, reference=f"{TIMEOUT_PREFIX}{secrets.token_hex(12)}"
            )
        return Authorization(AuthorizationOutcome.APPROVED, reference=_reference(card, amount, currency))

    def status(self, reference: str, authorized_at: datetime) -> Authorization:
        self._misbehave()
        if reference.startswith(TIMEOUT_PREFIX):
            if self._clock() < authorized_at + self._resolution_delay:
                return Authorization(AuthorizationOutcome.UNKNOWN, reference=reference)
            if reference.startswith(DECLINED_TIMEOUT_PREFIX):
                code = reference.removeprefix(DECLINED_TIMEOUT_PREFIX).rsplit("_", 1)[0]
                return Authorization(AuthorizationOutcome.DECLINED, decline_code=code, reference=reference)
            return Authorization(AuthorizationOutcome.APPROVED, reference=reference)
        if reference.startswith(APPROVED_PREFIX):
            return Authorization(AuthorizationOutcome.APPROVED, reference=reference)
        return Authorization(AuthorizationOutcome.UNKNOWN, reference=reference)  # not one of ours

    def _misbehave(self) -> None:
        """The injected latency, then perhaps a failure that never reached the card network."""
        if self._faults.max_latency_ms:
            time.sleep(self._random.uniform(0, self._faults.max_latency_ms) / 1000)
        if self._chance(self._faults.failure_rate):
            raise AcquirerUnavailable()

    def _chance(self, rate: float) -> bool:
        return rate > 0 and self._random.random() < rate


def _reference(card: CardForAuthorization, amount: int, currency: str) -> str:
    digest = hashlib.sha256(f"{card.card.fingerprint}:{amount}:{currency}".encode()).hexdigest()
    return f"{APPROVED_PREFIX}{digest[:16]}"
