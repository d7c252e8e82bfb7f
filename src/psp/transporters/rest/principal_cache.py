"""Recently authenticated keys, remembered per process for a few seconds.

Every API request presents a key; looking it up costs a pool checkout and a query, which on the ingest
path is a large share of a request. A key seen valid in the last ``ttl`` seconds is trusted again without
the lookup. The price is written down in the README: a revoked key (or a merchant's changed fees) takes
effect within ``ttl`` seconds in every process, not at once. Only successes are remembered; a wrong key
always reaches the database. Entries are keyed by a SHA-256 of the key, never the key itself.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from psp.domain.merchants import Principal

MAX_ENTRIES = 10_000  # far more live keys than one process sees; past it, the oldest half is dropped


class PrincipalCache:
    def __init__(self, ttl_seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[bytes, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self._ttl > 0

    def get(self, secret_key: str) -> Principal | None:
        if not self.enabled:
            return None
        entry = self._entries.get(_digest(secret_key))
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    def remember(self, secret_key: str, principal: Principal) -> None:
        if not self.enabled:
            return
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                for stale in list(self._entries)[: MAX_ENTRIES // 2]:  # dicts keep insertion order
                    del self._entries[stale]
            self._entries[_digest(secret_key)] = (self._clock() + self._ttl, principal)


def _digest(secret_key: str) -> bytes:
    return hashlib.sha256(secret_key.encode()).digest()
