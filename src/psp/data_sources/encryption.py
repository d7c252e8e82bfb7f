"""Encryption at rest for the few values psp must read back in the clear (webhook signing secrets, stored
idempotent responses): AES-256-GCM from ``cryptography``, never a primitive of our own.

A sealed value is ``version (1 byte) | key id (4 bytes) | nonce (12 bytes) | ciphertext + 16-byte tag``.
The key id names the key that sealed it, so a rotated-out key listed in ``PSP_DATA_ENCRYPTION_OLD_KEYS``
still opens old values while every new one is sealed with ``PSP_DATA_ENCRYPTION_KEY``. The header and a
caller's *context* (the table, column and row the value belongs to) are the associated data: a sealed
value copied into another row, another column or another merchant's row does not open.

Nonces are 96 random bits from the OS: the collision bound (2^-32 after 2^32 values under one key) is
far beyond the number of endpoints and idempotent responses one key ever seals, and rotation resets it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from psp.lib.errors import ConfigurationError

FORMAT_VERSION: Final = 1
KEY_BYTES: Final = 32
KEY_ID_BYTES: Final = 4
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16
HEADER_BYTES: Final = 1 + KEY_ID_BYTES
OVERHEAD: Final = HEADER_BYTES + NONCE_BYTES + TAG_BYTES


class DecryptionError(Exception):
    """A sealed value does not open: tampered with, moved to another row, or sealed with an unknown key.

    Its message names the key id, never the value or a key.
    """


def key_id(key: bytes) -> bytes:
    """A short public name for a key (a hash of it: 32 random bytes cannot be found from 4 of a hash)."""
    return hashlib.sha256(b"psp-data-key-id\x00" + key).digest()[:KEY_ID_BYTES]


class SecretBox:
    """Seals and opens values bound to a context; seals with the current key, opens with any known one."""

    def __init__(self, current_key: bytes, old_keys: Iterable[bytes] = ()) -> None:
        keys = [current_key, *old_keys]
        if any(len(key) != KEY_BYTES for key in keys):
            raise ConfigurationError(
                f"data encryption keys must be {KEY_BYTES} bytes", code="invalid_setting"
            )
        self._current_id = key_id(current_key)
        self._ciphers: dict[bytes, AESGCM] = {}
        for key in dict.fromkeys(keys):  # a key listed twice (or current and old at once) counts once
            identifier = key_id(key)
            if identifier in self._ciphers:
                raise ConfigurationError(
                    "two data encryption keys share a key id; generate another key", code="invalid_setting"
                )
            self._ciphers[identifier] = AESGCM(key)

    @property
    def current_key_id(self) -> str:
        return self._current_id.hex()

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        header = bytes([FORMAT_VERSION]) + self._current_id
        nonce = os.urandom(NONCE_BYTES)
        return header + nonce + self._ciphers[self._current_id].encrypt(nonce, plaintext, header + context)

    def open(self, sealed: bytes, context: bytes) -> bytes:
        sealed = bytes(sealed)
        if len(sealed) < OVERHEAD or sealed[0] != FORMAT_VERSION:
            raise DecryptionError("not a sealed value of a known format")
        header, identifier = sealed[:HEADER_BYTES], sealed[1:HEADER_BYTES]
        cipher = self._ciphers.get(identifier)
        if cipher is None:
            raise DecryptionError(
                f"sealed with data key {identifier.hex()}, which is neither PSP_DATA_ENCRYPTION_KEY nor "
                "in PSP_DATA_ENCRYPTION_OLD_KEYS"
            )
        nonce, ciphertext = (
            sealed[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES],
            sealed[HEADER_BYTES + NONCE_BYTES :],
        )
        try:
            return cipher.decrypt(nonce, ciphertext, header + context)
        except InvalidTag:
            raise DecryptionError(
                f"a value sealed with data key {identifier.hex()} failed authentication: altered, or not "
                "this row's"
            ) from None

    def is_current(self, sealed: bytes) -> bool:
        """Whether the value was sealed with the current key (re-encryption skips those)."""
        return bytes(sealed[1:HEADER_BYTES]) == self._current_id

    def seal_text(self, plaintext: str, context: bytes) -> bytes:
        return self.seal(plaintext.encode(), context)

    def open_text(self, sealed: bytes, context: bytes) -> str:
        return self.open(sealed, context).decode()
