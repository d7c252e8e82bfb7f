"""Idempotency keys over Postgres: claimed with ``INSERT ... ON CONFLICT DO NOTHING``, completed in the
same database transaction as the request's effect, pruned in chunks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final
from uuid import UUID

from sqlalchemy import Connection, delete, select, text, update
from sqlalchemy.dialects.postgresql import insert

from psp.data_sources.encryption import SecretBox
from psp.data_sources.postgres.tables import idempotency_keys
from psp.lib.errors import IdempotencyConflict
from psp.repositories.ports import IdempotencyClaim, IdempotencyClaimOutcome, StoredResponse

IN_PROGRESS: Final = "in_progress"
COMPLETED: Final = "completed"
# A claim released (deleted) between our insert and our read is gone: insert again, a bounded number of
# times (each round means another request finished its whole life in between).
_CLAIM_ATTEMPTS: Final = 5

_PRUNE = text(
    """
    DELETE FROM idempotency_keys AS k
    USING (
        SELECT merchant_id, key FROM idempotency_keys
        WHERE created_at < :created_before
        ORDER BY created_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ) AS old
    WHERE k.merchant_id = old.merchant_id AND k.key = old.key
    """
)


class PostgresIdempotencyKeyRepository:
    """Stored responses are sealed (they hold webhook secrets and other private data); callers see bytes."""

    def __init__(self, connection: Connection, box: SecretBox) -> None:
        self._connection = connection
        self._box = box

    def claim(
        self, merchant_id: UUID, key: str, fingerprint: str, *, now: datetime, lock_for_seconds: int
    ) -> IdempotencyClaim:
        locked_until = now + timedelta(seconds=lock_for_seconds)
        for _ in range(_CLAIM_ATTEMPTS):
            # Concurrent inserts of one key wait for each other: exactly one of them inserts the row.
            inserted = self._connection.execute(
                insert(idempotency_keys)
                .values(
                    merchant_id=merchant_id,
                    key=key,
                    request_fingerprint=fingerprint,
                    state=IN_PROGRESS,
                    locked_until=locked_until,
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["merchant_id", "key"])
                .returning(idempotency_keys.c.key)
            ).first()
            if inserted is not None:
                return IdempotencyClaim(IdempotencyClaimOutcome.CLAIMED)
            row = self._connection.execute(
                select(idempotency_keys).where(*_key_is(merchant_id, key)).with_for_update()
            ).first()
            if row is not None:
                return self._existing(row._mapping, fingerprint, now=now, locked_until=locked_until)
        raise IdempotencyConflict(
            "Another request with this Idempotency-Key is in progress; retry shortly",
            code="idempotency_key_in_use",
            param="Idempotency-Key",
        )

    def _existing(
        self, row: Any, fingerprint: str, *, now: datetime, locked_until: datetime
    ) -> IdempotencyClaim:
        if row["request_fingerprint"] != fingerprint:
            return IdempotencyClaim(IdempotencyClaimOutcome.MISMATCH)
        if row["state"] == COMPLETED:
            body = self._box.open(
                row["response_body_sealed"], response_context(row["merchant_id"], row["key"])
            )
            response = StoredResponse(status=row["response_status"], body=body)
            return IdempotencyClaim(IdempotencyClaimOutcome.COMPLETED, response)
        if row["locked_until"] > now:
            return IdempotencyClaim(IdempotencyClaimOutcome.IN_PROGRESS)
        # The request that held the key died before committing anything: take the key over.
        self._connection.execute(
            update(idempotency_keys)
            .where(*_key_is(row["merchant_id"], row["key"]))
            .values(locked_until=locked_until)
        )
        return IdempotencyClaim(IdempotencyClaimOutcome.CLAIMED)

    def complete(self, merchant_id: UUID, key: str, response: StoredResponse, at: datetime) -> None:
        updated = self._connection.execute(
            update(idempotency_keys)
            .where(*_key_is(merchant_id, key), idempotency_keys.c.state == IN_PROGRESS)
            .values(
                state=COMPLETED,
                response_status=response.status,
                response_body_sealed=self._box.seal(response.body, response_context(merchant_id, key)),
                completed_at=at,
            )
        )
        if updated.rowcount != 1:
            # Another request completed (or released) the key first: this one's effect must not commit.
            raise IdempotencyConflict(
                "Another request with this Idempotency-Key completed first; retry to get its response",
                code="idempotency_key_in_use",
                param="Idempotency-Key",
            )

    def release(self, merchant_id: UUID, key: str) -> None:
        self._connection.execute(
            delete(idempotency_keys).where(
                *_key_is(merchant_id, key), idempotency_keys.c.state == IN_PROGRESS
            )
        )

    def prune(self, created_before: datetime, limit: int) -> int:
        result = self._connection.execute(_PRUNE, {"created_before": created_before, "limit": limit})
        return result.rowcount


def response_context(merchant_id: UUID, key: str) -> bytes:
    """Associated data of a sealed response: its merchant and key, so it replays for no other."""
    return b"idempotency_keys.response_body_sealed\x00" + merchant_id.bytes + key.encode()


def _key_is(merchant_id: UUID, key: str) -> tuple[Any, Any]:
    return idempotency_keys.c.merchant_id == merchant_id, idempotency_keys.c.key == key
