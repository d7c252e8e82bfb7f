"""Idempotency keys: a retried POST gets the first answer back instead of doing the work twice.

The first request with a key claims it in a short transaction of its own; its response is stored by the
same unit of work that commits its effect (``recorder`` builds the ``on_commit`` hook services accept),
so either both the effect and its response are kept, or neither is.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Final, TypeVar
from uuid import UUID

from psp.repositories.ports import IdempotencyClaim, StoredResponse, UnitOfWork
from psp.services.clock import Clock

T = TypeVar("T")

# How long a claim shuts out retries while its request runs. Longer than any request may live (gunicorn
# kills a worker silent for 30 s), so a claim that outlives it belongs to a request that died.
LOCK_SECONDS: Final = 60
PRUNE_CHUNK_SIZE: Final = 1000

OnCommit = Callable[[UnitOfWork, T], None]
"""A hook a creating service calls inside its unit of work, just before committing, with what it made."""


def request_fingerprint(method: str, path: str, body: Mapping[str, Any], *, secret: bytes) -> str:
    """A keyed HMAC of the request: the body holds card data, so a plain hash of it would be guessable."""
    # One JSON array: unambiguous whatever the path holds, and ASCII whatever the body holds.
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"))
    return hmac.new(secret, canonical.encode("ascii"), hashlib.sha256).hexdigest()


def claim_key(
    merchant_id: UUID, key: str, fingerprint: str, *, uow: UnitOfWork, clock: Clock
) -> IdempotencyClaim:
    """Take the key for this request, or say why not (in progress, completed, used for another request)."""
    with uow:
        claim = uow.idempotency_keys.claim(
            merchant_id, key, fingerprint, now=clock(), lock_for_seconds=LOCK_SECONDS
        )
        uow.commit()
    return claim


def release_key(merchant_id: UUID, key: str, *, uow: UnitOfWork) -> None:
    """Forget a claim whose request changed nothing, so a corrected retry may use the key."""
    with uow:
        uow.idempotency_keys.release(merchant_id, key)
        uow.commit()


def recorder(
    merchant_id: UUID, key: str, render: Callable[[T], StoredResponse], *, clock: Clock
) -> OnCommit[T]:
    """The hook that stores the response ``render`` makes of the result, in the result's own transaction."""

    def record(uow: UnitOfWork, result: T) -> None:
        uow.idempotency_keys.complete(merchant_id, key, render(result), at=clock())

    return record


def prune_expired_keys(
    ttl_days: int, *, uow_factory: Callable[[], UnitOfWork], clock: Clock, chunk_size: int = PRUNE_CHUNK_SIZE
) -> int:
    """Delete keys older than ``ttl_days``, a chunk per transaction; return how many."""
    created_before = clock() - timedelta(days=ttl_days)
    pruned = 0
    while True:
        with uow_factory() as uow:
            count = uow.idempotency_keys.prune(created_before, chunk_size)
            uow.commit()
        pruned += count
        if count < chunk_size:
            return pruned
