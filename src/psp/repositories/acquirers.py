"""Acquirer adapters. ``simulator`` is deterministic by card number so tests and demos reach every path."""

from __future__ import annotations

import hashlib

from psp.domain.cards import CardForAuthorization
from psp.repositories.ports import Authorization, AuthorizationOutcome

SIMULATED_DECLINES = {
    "4000000000000002": "card_declined",
    "4000000000009995": "insufficient_funds",
    "4000000000000127": "incorrect_cvc",
}
SIMULATED_TIMEOUTS = frozenset({"4000000000000119"})


class SimulatorAcquirer:
    """Answers at once: the time-out card yields ``UNKNOWN`` without making anyone wait."""

    def authorize(self, card: CardForAuthorization, amount: int, currency: str) -> Authorization:
        if card.number in SIMULATED_TIMEOUTS:
            return Authorization(AuthorizationOutcome.UNKNOWN)
        decline_code = SIMULATED_DECLINES.get(card.number)
        if decline_code is not None:
            return Authorization(AuthorizationOutcome.DECLINED, decline_code=decline_code)
        return Authorization(AuthorizationOutcome.APPROVED, reference=_reference(card, amount, currency))


def _reference(card: CardForAuthorization, amount: int, currency: str) -> str:
    digest = hashlib.sha256(f"{card.card.fingerprint}:{amount}:{currency}".encode()).hexdigest()
    return f"sim_{digest[:16]}"
