"""Secret keys: the stored hash is confirmed in constant time; logs mask keys, webhook secrets and cards."""

from __future__ import annotations

import hmac

import pytest

from psp.domain.merchants import hash_secret_key
from psp.lib.errors import AuthenticationFailed
from psp.lib.logging import drop_sensitive_fields, redact_secret_values, redact_text
from psp.repositories.memory import InMemoryStore
from psp.services.merchants import Onboarded, authenticate
from tests.unit.conftest import onboard
from tests.unit.fakes import FrozenClock


def test_a_key_authenticates_as_its_merchant(store: InMemoryStore, clock: FrozenClock) -> None:
    onboarded = onboard(store, clock)

    principal = authenticate(onboarded.key.secret_key, uow=store.uow())

    assert principal.merchant_id == onboarded.merchant.id


def test_a_repository_that_matches_loosely_cannot_let_a_wrong_key_in(
    store: InMemoryStore, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    onboarded = onboard(store, clock)
    # An adapter bug (a prefix match, a case-insensitive collation): any hash finds the merchant's key.
    monkeypatch.setattr(
        "psp.repositories.memory.unit_of_work.InMemoryApiKeyRepository.find_with_merchant_by_hash",
        lambda _self, _hash: (onboarded.key.api_key, onboarded.merchant),
    )

    with pytest.raises(AuthenticationFailed):
        authenticate("sk_test_" + "A" * 43, uow=store.uow())


def test_the_stored_hash_is_compared_with_hmac_compare_digest(
    store: InMemoryStore, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    onboarded: Onboarded = onboard(store, clock)
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr("psp.domain.merchants.hmac.compare_digest", spy)

    authenticate(onboarded.key.secret_key, uow=store.uow())

    expected = hash_secret_key(onboarded.key.secret_key).encode()
    assert compared == [(expected, expected)]


def test_a_key_is_kept_only_as_its_hash(store: InMemoryStore, clock: FrozenClock) -> None:
    onboarded = onboard(store, clock)
    secret, key = onboarded.key.secret_key, store.api_keys[onboarded.key.api_key.id]

    assert key.matches(hash_secret_key(secret))
    assert not key.matches(secret)
    assert secret not in repr(key)
    assert secret not in repr(onboarded)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("/v1/x?key=sk_live_AbC-123_x&y=1", "/v1/x?key=sk_live_[redacted]&y=1"),
        ("Bearer sk_test_abcdefghijklmnop", "Bearer sk_test_[redacted]"),
        # A webhook secret is base64: "+", "/" and "=" are part of it and go with it.
        ("signed with whsec_abc+DEF/123= then", "signed with whsec_[redacted] then"),
        ("card 4242 4242 4242 4242 ok", "card [redacted] ok"),
        ("card 4242-4242-4242-4242", "card [redacted]"),
        ("amex 379154321987651.", "amex [redacted]."),
    ],
)
def test_secret_keys_webhook_secrets_and_card_numbers_are_masked_in_any_text(text: str, masked: str) -> None:
    assert redact_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "id 01a1fb49-9d8a-7cc7-b46a-42c3ae0eb50f",
        "4242424242424241 fails the Luhn check",
        "part of a word 4242424242424242x",
        "sk_other_thing and whsec alone",
        "duration 123456789012 ns",
    ],
)
def test_ids_and_numbers_that_are_not_cards_are_left_alone(text: str) -> None:
    assert redact_text(text) == text


def test_the_processors_mask_fields_by_name_and_by_value() -> None:
    event = {
        "event": "webhook.sent",
        "webhook_secret": "whsec_named",
        "api_key": "anything",
        "query": "key=sk_live_valuevalue",
        "status": 200,
    }

    redact_secret_values(None, "info", drop_sensitive_fields(None, "info", event))

    assert event == {
        "event": "webhook.sent",
        "webhook_secret": "[redacted]",
        "api_key": "[redacted]",
        "query": "key=sk_live_[redacted]",
        "status": 200,
    }
