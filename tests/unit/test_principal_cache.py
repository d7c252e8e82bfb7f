"""The per-process cache of recently authenticated keys: expiry, off switch, bounded size."""

from __future__ import annotations

from uuid import uuid4

from psp.domain.merchants import Principal
from psp.transporters.rest import principal_cache
from psp.transporters.rest.principal_cache import PrincipalCache


def a_principal() -> Principal:
    return Principal(merchant_id=uuid4(), api_key_id=uuid4(), mode="test")


def test_a_remembered_key_is_trusted_until_its_time_lapses() -> None:
    now = [0.0]
    cache = PrincipalCache(10, clock=lambda: now[0])
    principal = a_principal()
    cache.remember("sk_test_one", principal)

    now[0] = 9.9
    trusted = cache.get("sk_test_one")
    now[0] = 10.0
    lapsed = cache.get("sk_test_one")

    assert trusted == principal
    assert lapsed is None


def test_another_key_is_never_answered_from_the_cache() -> None:
    cache = PrincipalCache(10)
    cache.remember("sk_test_one", a_principal())

    assert cache.get("sk_test_two") is None


def test_a_zero_time_turns_the_cache_off() -> None:
    cache = PrincipalCache(0)
    cache.remember("sk_test_one", a_principal())

    assert not cache.enabled
    assert cache.get("sk_test_one") is None


def test_the_cache_never_grows_past_its_bound() -> None:
    cache = PrincipalCache(60)
    for n in range(principal_cache.MAX_ENTRIES + 10):
        cache.remember(f"sk_test_{n}", a_principal())

    assert len(cache._entries) <= principal_cache.MAX_ENTRIES
    assert cache.get(f"sk_test_{principal_cache.MAX_ENTRIES + 9}") is not None  # the newest stays


def test_the_cache_holds_digests_never_the_keys_themselves() -> None:
    cache = PrincipalCache(60)
    cache.remember("sk_test_canary", a_principal())

    assert all(isinstance(key, bytes) and b"canary" not in key for key in cache._entries)
