"""Idempotency keys in memory, held to the same contract as the Postgres adapter."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

from psp.lib.errors import IdempotencyConflict
from psp.repositories.ports import IdempotencyClaim, IdempotencyClaimOutcome, StoredResponse


@dataclass(frozen=True)
class IdempotencyRecord:
    fingerprint: str
    locked_until: datetime
    created_at: datetime
    response: StoredResponse | None = None  # set once completed
    completed_at: datetime | None = None


IdempotencyRecords = dict[tuple[UUID, str], IdempotencyRecord]


class InMemoryIdempotencyKeyRepository:
    def __init__(self, records: IdempotencyRecords) -> None:
        self._records = records

    def claim(
        self, merchant_id: UUID, key: str, fingerprint: str, *, now: datetime, lock_for_seconds: int
    ) -> IdempotencyClaim:
        locked_until = now + timedelta(seconds=lock_for_seconds)
        record = self._records.get((merchant_id, key))
        if record is None:
            self._records[(merchant_id, key)] = IdempotencyRecord(fingerprint, locked_until, created_at=now)
            return IdempotencyClaim(IdempotencyClaimOutcome.CLAIMED)
        if record.fingerprint != fingerprint:
            return IdempotencyClaim(IdempotencyClaimOutcome.MISMATCH)
        if record.response is not None:
            return IdempotencyClaim(IdempotencyClaimOutcome.COMPLETED, record.response)
        if record.locked_until > now:
            return IdempotencyClaim(IdempotencyClaimOutcome.IN_PROGRESS)
        self._records[(merchant_id, key)] = replace(record, locked_until=locked_until)
        return IdempotencyClaim(IdempotencyClaimOutcome.CLAIMED)

    def complete(self, merchant_id: UUID, key: str, response: StoredResponse, at: datetime) -> None:
        record = self._records.get((merchant_id, key))
        if record is None or record.response is not None:
            raise IdempotencyConflict(
                "Another request with this Idempotency-Key completed first; retry to get its response",
                code="idempotency_key_in_use",
                param="Idempotency-Key",
            )
        self._records[(merchant_id, key)] = replace(record, response=response, completed_at=at)

    def release(self, merchant_id: UUID, key: str) -> None:
        record = self._records.get((merchant_id, key))
        if record is not None and record.response is None:
            del self._records[(merchant_id, key)]

    def prune(self, created_before: datetime, limit: int) -> int:
        old = sorted(
            (item for item in self._records.items() if item[1].created_at < created_before),
            key=lambda item: item[1].created_at,
        )[:limit]
        for record_key, _ in old:
            del self._records[record_key]
        return len(old)
