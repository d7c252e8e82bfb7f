"""Token buckets kept in the memory of one process: cheap enough to sit on every request.

A bucket holds up to ``capacity`` tokens and earns ``refill_per_second`` more every second; a request that
finds a token takes it, one that finds none is told how long to wait. Checking a bucket is one dictionary
look-up and a little arithmetic under a lock (a few microseconds), never I/O.

The state lives in one process: behind gunicorn, every worker process keeps its own buckets, so the
effective limit of a deployment is the configured one times the number of worker processes (times the
number of tasks). The shared limit is the edge's (the WAF rate-based rules in ``infrastructure/``).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Final

DEFAULT_MAX_KEYS: Final = 100_000


@dataclass
class _Bucket:
    tokens: float
    updated_at: float


class TokenBuckets:
    """One token bucket per key (an API key, a client address), created full on first use.

    At most ``max_keys`` buckets are kept; past that the least recently used is forgotten, so a flood of
    distinct keys costs bounded memory (a forgotten bucket comes back full, which only ever errs towards
    letting a client through).
    """

    def __init__(
        self,
        *,
        capacity: float,
        refill_per_second: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        if capacity < 1 or refill_per_second <= 0:
            raise ValueError("a bucket needs a capacity of at least 1 and a positive refill rate")
        self.capacity = float(capacity)
        self.refill_per_second = float(refill_per_second)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[Hashable, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: Hashable) -> float:
        """Take a token for ``key``: 0.0 when one was there, else the seconds until one will be."""
        with self._lock:
            bucket = self._refilled(key)
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.refill_per_second

    def wait_time(self, key: Hashable) -> float:
        """Seconds until ``key`` has a token again (0.0 if it has one now), taking nothing."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                return 0.0
            bucket = self._refilled(key)
            return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / self.refill_per_second

    def _refilled(self, key: Hashable) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
            return bucket
        self._buckets.move_to_end(key)
        elapsed = max(0.0, now - bucket.updated_at)
        bucket.tokens = min(self.capacity, bucket.tokens + elapsed * self.refill_per_second)
        bucket.updated_at = now
        return bucket

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after_seconds(wait: float) -> int:
    """A ``Retry-After`` value: whole seconds, rounded up, never 0 (0 would invite an immediate retry)."""
    return max(1, math.ceil(wait))
