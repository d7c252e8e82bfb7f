"""The cipher of data at rest (AES-256-GCM via ``cryptography``) and the settings that give it its keys."""

from __future__ import annotations

import base64
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from psp.bootstrap import data_box
from psp.config import Settings
from psp.data_sources.encryption import (
    HEADER_BYTES,
    NONCE_BYTES,
    OVERHEAD,
    DecryptionError,
    SecretBox,
    key_id,
)
from psp.lib.errors import ConfigurationError

OLD_KEY = bytes(range(32))
NEW_KEY = bytes(range(32, 64))
CONTEXT = b"webhook_endpoints.secret_sealed\x00row-1"
SECRET = b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw/gK8Ek7bX5A="


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


@given(plaintext=st.binary(max_size=2048), context=st.binary(max_size=64))
def test_what_is_sealed_opens_to_the_same_bytes_and_never_shows_them(
    plaintext: bytes, context: bytes
) -> None:
    box = SecretBox(NEW_KEY)

    sealed = box.seal(plaintext, context)

    assert box.open(sealed, context) == plaintext
    assert len(sealed) == len(plaintext) + OVERHEAD
    if len(plaintext) >= 8:
        assert plaintext not in sealed


def test_a_sealed_secret_does_not_contain_the_secret() -> None:
    sealed = SecretBox(NEW_KEY).seal(SECRET, CONTEXT)

    assert SECRET not in sealed
    assert b"whsec_" not in sealed


def test_changing_any_byte_of_a_sealed_value_makes_it_fail_to_open() -> None:
    box = SecretBox(NEW_KEY, [OLD_KEY])
    sealed = box.seal(SECRET, CONTEXT)

    for position in range(len(sealed)):  # header, key id, nonce, ciphertext and tag alike
        tampered = bytearray(sealed)
        tampered[position] ^= 0x01
        with pytest.raises(DecryptionError):
            box.open(bytes(tampered), CONTEXT)


def test_a_truncated_or_extended_sealed_value_fails_to_open() -> None:
    box = SecretBox(NEW_KEY)
    sealed = box.seal(SECRET, CONTEXT)

    for broken in (sealed[:-1], sealed + b"\x00", sealed[: OVERHEAD - 1], b"", SECRET):
        with pytest.raises(DecryptionError):
            box.open(broken, CONTEXT)


def test_a_value_sealed_for_one_row_fails_to_open_for_another() -> None:
    box = SecretBox(NEW_KEY)
    sealed = box.seal(SECRET, CONTEXT)

    for other in (b"webhook_endpoints.secret_sealed\x00row-2", b"", CONTEXT + b"\x00", CONTEXT[:-1]):
        with pytest.raises(DecryptionError, match="failed authentication"):
            box.open(sealed, other)


def test_new_values_are_sealed_with_the_current_key_and_old_values_still_open() -> None:
    before = SecretBox(OLD_KEY)
    old_value = before.seal(SECRET, CONTEXT)
    after = SecretBox(NEW_KEY, [OLD_KEY])

    new_value = after.seal(SECRET, CONTEXT)

    assert after.open(old_value, CONTEXT) == SECRET
    assert new_value[1:HEADER_BYTES] == key_id(NEW_KEY)
    assert old_value[1:HEADER_BYTES] == key_id(OLD_KEY)
    assert after.is_current(new_value)
    assert not after.is_current(old_value)
    with pytest.raises(DecryptionError):
        before.open(new_value, CONTEXT)  # proof the new value is not under the old key


def test_a_value_sealed_with_a_key_no_longer_configured_fails_naming_only_the_key_id() -> None:
    old_value = SecretBox(OLD_KEY).seal(SECRET, CONTEXT)

    with pytest.raises(DecryptionError) as raised:
        SecretBox(NEW_KEY).open(old_value, CONTEXT)

    assert key_id(OLD_KEY).hex() in str(raised.value)
    assert "PSP_DATA_ENCRYPTION_OLD_KEYS" in str(raised.value)
    assert OLD_KEY.hex() not in str(raised.value)
    assert b64(OLD_KEY) not in str(raised.value)


def test_no_nonce_repeats_across_many_seals_even_of_the_same_value() -> None:
    box = SecretBox(NEW_KEY)

    sealed = [box.seal(SECRET, CONTEXT) for _ in range(20_000)]
    nonces = {value[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES] for value in sealed}

    assert len(nonces) == len(sealed)
    assert len(set(sealed)) == len(sealed)  # the same secret never seals to the same bytes twice


def test_a_key_listed_twice_counts_once_and_keys_must_be_32_bytes() -> None:
    box = SecretBox(NEW_KEY, [OLD_KEY, OLD_KEY, NEW_KEY])
    assert box.open(SecretBox(OLD_KEY).seal(SECRET, CONTEXT), CONTEXT) == SECRET
    assert box.current_key_id == key_id(NEW_KEY).hex()

    for wrong in (b"", OLD_KEY[:16], OLD_KEY + b"\x00"):
        with pytest.raises(ConfigurationError):
            SecretBox(wrong)
        with pytest.raises(ConfigurationError):
            SecretBox(NEW_KEY, [wrong])


# --- settings -----------------------------------------------------------------------------------------

PRODUCTION = {
    "PSP_ENV": "production",
    "PSP_DATABASE_URL": "postgresql://psp@db/psp",
    "PSP_CARD_FINGERPRINT_KEY": "a-production-fingerprint-key",
}


def test_production_refuses_to_start_without_a_data_encryption_key() -> None:
    with pytest.raises(ConfigurationError, match="PSP_DATA_ENCRYPTION_KEY must be set in production"):
        Settings.from_env(PRODUCTION)


def test_production_refuses_the_development_data_encryption_key() -> None:
    development_key = Settings.from_env({"PSP_ENV": "development"}).data_encryption_key

    with pytest.raises(ConfigurationError, match="PSP_DATA_ENCRYPTION_KEY must not be the development key"):
        Settings.from_env({**PRODUCTION, "PSP_DATA_ENCRYPTION_KEY": b64(development_key)})


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PSP_DATA_ENCRYPTION_KEY", "not base64!"),
        ("PSP_DATA_ENCRYPTION_KEY", b64(os.urandom(16))),
        ("PSP_DATA_ENCRYPTION_KEY", b64(os.urandom(33))),
        ("PSP_DATA_ENCRYPTION_OLD_KEYS", f"{b64(OLD_KEY)},short"),
        ("PSP_DATA_ENCRYPTION_OLD_KEYS", b64(os.urandom(24))),
    ],
)
def test_a_data_key_that_is_not_the_base64_of_32_bytes_is_refused_by_name(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_env({"PSP_ENV": "test", variable: value})


def test_the_box_seals_with_the_configured_key_and_opens_with_the_old_ones() -> None:
    settings = Settings.from_env(
        {
            **PRODUCTION,
            "PSP_DATA_ENCRYPTION_KEY": b64(NEW_KEY),
            "PSP_DATA_ENCRYPTION_OLD_KEYS": f" {b64(OLD_KEY)} , {b64(bytes(32))},",
        }
    )
    box = data_box(settings)

    assert settings.data_encryption_old_keys == (OLD_KEY, bytes(32))
    assert box.current_key_id == key_id(NEW_KEY).hex()
    assert box.open(SecretBox(OLD_KEY).seal(SECRET, CONTEXT), CONTEXT) == SECRET
    assert b64(NEW_KEY) not in repr(settings)
    assert repr(NEW_KEY) not in repr(settings)


def test_outside_production_a_fixed_development_key_is_used() -> None:
    first = Settings.from_env({"PSP_ENV": "development"})
    second = Settings.from_env({"PSP_ENV": "test"})

    assert len(first.data_encryption_key) == 32
    assert first.data_encryption_key == second.data_encryption_key
    assert first.data_encryption_old_keys == ()
