"""Identifiers: time-ordered UUIDs (version 7 layout), so new rows land at the right edge of indexes."""

from __future__ import annotations

import os
import time
from uuid import UUID


def new_id() -> UUID:
    """A UUIDv7: 48 bits of Unix milliseconds, then 74 random bits (RFC 9562)."""
    millis = time.time_ns() // 1_000_000
    random_bits = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((random_bits >> 62) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # variant
    value |= random_bits & ((1 << 62) - 1)  # rand_b, 62 bits
    return UUID(int=value)
