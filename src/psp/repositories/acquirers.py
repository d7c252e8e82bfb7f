"""Acquirer adapters. ``simulator`` is deterministic by card number so tests and demos reach every path."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from psp.domain.cards import CardForAuthorization
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


class SimulatorAcquirer:
    """Answers at once: the time-out card yields ``UNKNOWN`` without making anyone wait.

    A time-out still gets a reference; asked again with it, the simulator answers ``UNKNOWN`` until
    ``SIMULATED_RESOLUTION_DELAY`` after the authorisation, and ``APPROVED`` from then on.
    """

    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock

    def authorize(self, card: CardForAuthorization, amount: int, currency: str) -> Authorization:
        if card.number in SIMULATED_TIMEOUTS:
            return Authorization(
                AuthorizationOutcome.UNKNOWN, reference=f"{TIMEOUT_PREFIX}{secrets.token_hex(12)}"
            )
        decline_code = SIMULATED_DECLINES.get(card.number)
        if decline_code is not None:
            return Authorization(AuthorizationOutcome.DECLINED, decline_code=decline_code)
        return Authorization(AuthorizationOutcome.APPROVED, reference=_reference(card, amount, currency))

    def status(self, reference: str, authorized_at: datetime) -> Authorization:
        if reference.startswith(TIMEOUT_PREFIX):
            if self._clock() < authorized_at + SIMULATED_RESOLUTION_DELAY:
                return Authorization(AuthorizationOutcome.UNKNOWN, reference=reference)
            return Authorization(AuthorizationOutcome.APPROVED, reference=reference)
        if reference.startswith(APPROVED_PREFIX):
            return Authorization(AuthorizationOutcome.APPROVED, reference=reference)
        return Authorization(AuthorizationOutcome.UNKNOWN, reference=reference)  # not one of ours


def _reference(card: CardForAuthorization, amount: int, currency: str) -> str:
    digest = hashlib.sha256(f"{card.card.fingerprint}:{amount}:{currency}".encode()).hexdigest()
    return f"{APPROVED_PREFIX}{digest[:16]}"
