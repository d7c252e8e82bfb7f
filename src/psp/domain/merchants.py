"""Merchants, their pricing, and their API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

SECRET_KEY_MODES = ("test", "live")


@dataclass(frozen=True)
class Merchant:
    id: UUID
    name: str
    default_currency: str
    debit_fee_bps: int
    credit_fee_bps: int
    created_at: datetime

    def fee_bps_for(self, payment_method: str) -> int:
        """The merchant's rate for a payment method (``credit_card`` or ``debit_card``)."""
        return self.credit_fee_bps if payment_method == "credit_card" else self.debit_fee_bps


@dataclass(frozen=True)
class ApiKey:
    """A secret key as stored: its SHA-256 hash and a short prefix to recognise it, never the key."""

    id: UUID
    merchant_id: UUID
    mode: str
    prefix: str
    key_hash: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def matches(self, presented_hash: str) -> bool:
        """Whether a presented key's hash is this key's, compared in constant time.

        The database found the row by this very hash, so this never fails on a real row; it makes the
        decision ours, not an index's, and an adapter that matched loosely cannot let a wrong key in.
        """
        return hmac.compare_digest(self.key_hash.encode(), presented_hash.encode())


@dataclass(frozen=True)
class Principal:
    """Who a request acts for, once its key is authenticated."""

    merchant_id: UUID
    api_key_id: UUID
    mode: str
    merchant: Merchant | None = None  # as read at authentication, so a request reads it only once


def generate_secret_key(mode: str) -> str:
    """A new ``sk_<mode>_<random>`` key: 32 random bytes, URL-safe, shown once."""
    if mode not in SECRET_KEY_MODES:
        raise ValueError("mode must be test or live")
    return f"sk_{mode}_{secrets.token_urlsafe(32)}"


def hash_secret_key(secret_key: str) -> str:
    """Keys carry 256 random bits, so one fast hash suffices: no key is guessable from its hash."""
    return hashlib.sha256(secret_key.encode()).hexdigest()


def secret_key_mode(secret_key: str) -> str | None:
    for mode in SECRET_KEY_MODES:
        if secret_key.startswith(f"sk_{mode}_"):
            return mode
    return None


def secret_key_prefix(secret_key: str) -> str:
    """Enough of the key to recognise it in a listing (``sk_test_AbCd``), far too little to use it."""
    return secret_key[: len("sk_test_") + 4]
