"""Merchants and their secret keys: creation, revocation and authentication."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from psp.domain.ids import new_id
from psp.domain.merchants import (
    ApiKey,
    Merchant,
    Principal,
    generate_secret_key,
    hash_secret_key,
    secret_key_mode,
    secret_key_prefix,
)
from psp.lib.errors import AuthenticationFailed, NotFound, ValidationFailed
from psp.repositories.ports import UnitOfWork
from psp.services.clock import Clock


@dataclass(frozen=True, repr=False)
class IssuedKey:
    """A key as issued: the secret is here once, for showing to the merchant, and never again."""

    api_key: ApiKey
    secret_key: str

    def __repr__(self) -> str:
        return f"IssuedKey(api_key={self.api_key!r}, secret_key='{self.api_key.prefix}…')"


@dataclass(frozen=True)
class Onboarded:
    merchant: Merchant
    key: IssuedKey


def create_merchant(
    name: str,
    *,
    currency: str,
    debit_fee_bps: int,
    credit_fee_bps: int,
    mode: str,
    uow: UnitOfWork,
    clock: Clock,
) -> Onboarded:
    """Create a merchant with its first secret key."""
    clean_name = " ".join(name.split())
    if not clean_name or len(clean_name) > 200:
        raise ValidationFailed("name must have 1 to 200 characters", code="invalid_name", param="name")
    now = clock()
    merchant = Merchant(
        id=new_id(),
        name=clean_name,
        default_currency=currency,
        debit_fee_bps=debit_fee_bps,
        credit_fee_bps=credit_fee_bps,
        created_at=now,
    )
    with uow:
        uow.merchants.add(merchant)
        key = _issue_key(merchant.id, mode, uow, clock)
        uow.commit()
    return Onboarded(merchant=merchant, key=key)


def create_api_key(merchant_id: UUID, mode: str, *, uow: UnitOfWork, clock: Clock) -> IssuedKey:
    """Issue another secret key to an existing merchant."""
    with uow:
        if uow.merchants.get(merchant_id) is None:
            raise NotFound(f"no merchant {merchant_id}", code="resource_missing", param="merchant_id")
        key = _issue_key(merchant_id, mode, uow, clock)
        uow.commit()
    return key


def revoke_api_key(merchant_id: UUID, key_id: UUID, *, uow: UnitOfWork, clock: Clock) -> None:
    """Revoke a key at once; requests with it fail authentication from then on."""
    with uow:
        if not uow.api_keys.revoke(merchant_id, key_id, clock()):
            raise NotFound(
                f"no active key {key_id} for that merchant", code="resource_missing", param="key_id"
            )
        uow.commit()


def authenticate(secret_key: str, *, uow: UnitOfWork) -> Principal:
    """Find the merchant a secret key belongs to; any failure reads the same to the caller."""
    if secret_key_mode(secret_key) is None:
        raise invalid_key()
    presented_hash = hash_secret_key(secret_key)
    with uow:
        found = uow.api_keys.find_with_merchant_by_hash(presented_hash)
    if found is None or not found[0].matches(presented_hash) or not found[0].is_active:
        raise invalid_key()
    key, merchant = found
    return Principal(merchant_id=key.merchant_id, api_key_id=key.id, mode=key.mode, merchant=merchant)


def get_merchant(merchant_id: UUID, *, uow: UnitOfWork) -> Merchant:
    with uow:
        merchant = uow.merchants.get(merchant_id)
    if merchant is None:
        raise NotFound(f"no merchant {merchant_id}", code="resource_missing", param="merchant_id")
    return merchant


def find_merchant_by_name(name: str, *, uow: UnitOfWork) -> Merchant | None:
    with uow:
        return uow.merchants.find_by_name(name)


def invalid_key() -> AuthenticationFailed:
    return AuthenticationFailed(
        "Invalid API key: send 'Authorization: Bearer sk_test_...' with an active secret key",
        code="invalid_api_key",
    )


def _issue_key(merchant_id: UUID, mode: str, uow: UnitOfWork, clock: Clock) -> IssuedKey:
    secret = generate_secret_key(mode)
    api_key = ApiKey(
        id=new_id(),
        merchant_id=merchant_id,
        mode=mode,
        prefix=secret_key_prefix(secret),
        key_hash=hash_secret_key(secret),
        created_at=clock(),
    )
    uow.api_keys.add(api_key)
    return IssuedKey(api_key=api_key, secret_key=secret)
