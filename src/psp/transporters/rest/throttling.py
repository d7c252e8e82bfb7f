"""Rate limits of ``/v1``: brute force on authentication, and floods from one API key.

* **Failed authentications** (a presented key that is unknown, revoked or malformed) are counted per
  client address and per presented key. Once either has spent ``PSP_AUTH_FAILURE_LIMIT``, every ``/v1``
  request from that address (or with that key) answers 429 *before* the key is looked up, valid key or
  not (answering a valid key would tell the guesser it guessed right), until one failure is earned back
  every ``PSP_AUTH_FAILURE_REFILL_SECONDS``. A missing key is not a guess and is not counted.
  Why per presented key and not per key prefix: the prefix (``sk_live_AbCd``) is not secret, so throttling
  by it would let anyone lock a merchant's valid key out by failing with that prefix.
* **Authenticated requests** take a token from their API key's bucket: ``PSP_RATE_LIMIT_BURST`` at once,
  then ``PSP_RATE_LIMIT_PER_KEY`` per second.

Both are in-process token buckets (``psp.lib.rate_limits``): microseconds per request, no database round
trip. Each gunicorn worker process has its own, so a deployment's effective limit is the configured one
times its worker processes; the shared limit is the WAF's, at the load balancer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from psp.config import Settings
from psp.lib.errors import RateLimited
from psp.lib.rate_limits import TokenBuckets, retry_after_seconds

EXTENSION: Final = "psp.throttle"


@dataclass(frozen=True)
class Throttle:
    requests_per_key: TokenBuckets | None
    failures_per_address: TokenBuckets | None
    failures_per_presented_key: TokenBuckets | None

    @classmethod
    def from_settings(cls, settings: Settings) -> Throttle:
        requests = (
            TokenBuckets(capacity=settings.rate_limit_burst, refill_per_second=settings.rate_limit_per_key)
            if settings.rate_limit_per_key > 0
            else None
        )
        failures = settings.auth_failure_limit > 0

        def failure_buckets() -> TokenBuckets | None:
            if not failures:
                return None
            refill = 1 / settings.auth_failure_refill_seconds
            return TokenBuckets(capacity=settings.auth_failure_limit, refill_per_second=refill)

        return cls(requests, failure_buckets(), failure_buckets())

    def refuse_locked_out_client(self, address: str, authorization: str | None) -> None:
        """429 when this address, or this very key, has failed authentication too often lately."""
        wait = max(
            _wait(self.failures_per_address, address),
            _wait(self.failures_per_presented_key, _presented(authorization)),
        )
        if wait > 0:
            raise too_many_failures(wait)

    def record_failed_authentication(self, address: str, authorization: str | None) -> None:
        if self.failures_per_address is not None:
            self.failures_per_address.take(address)
        if self.failures_per_presented_key is not None and authorization is not None:
            self.failures_per_presented_key.take(_presented(authorization))

    def admit(self, api_key_id: UUID) -> None:
        """Take one request from the key's bucket; 429 when it is empty."""
        if self.requests_per_key is None:
            return
        wait = self.requests_per_key.take(api_key_id)
        if wait > 0:
            raise RateLimited(
                "Too many requests with this API key; slow down and retry after the Retry-After seconds",
                code="rate_limit_exceeded",
                headers={"Retry-After": str(retry_after_seconds(wait))},
            )


def too_many_failures(wait: float) -> RateLimited:
    return RateLimited(
        "Too many failed authentications from this client; retry after the Retry-After seconds",
        code="too_many_failed_authentications",
        headers={"Retry-After": str(retry_after_seconds(wait))},
    )


def _wait(buckets: TokenBuckets | None, key: object) -> float:
    return 0.0 if buckets is None or key is None else buckets.wait_time(key)


def _presented(authorization: str | None) -> bytes | None:
    # A short digest, not the header: bounded memory per bucket (headers run to kilobytes) and no key
    # kept in memory longer than its request.
    if authorization is None:
        return None
    return hashlib.blake2b(authorization.strip().encode("utf-8", "replace"), digest_size=16).digest()
