"""Reseal what an older data key sealed with the current one, so the old key can then be retired.

A maintenance job of the adapter (services never see sealed values): it walks each sealed column in
chunks, each chunk one short transaction that locks only its rows (``SKIP LOCKED``), so it runs beside
live traffic. Values already under the current key are skipped, so it can be interrupted and rerun.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text

from psp.data_sources.encryption import HEADER_BYTES, SecretBox
from psp.repositories.postgres.idempotency import response_context
from psp.repositories.postgres.webhooks import secret_context

# Bytes 2-5 of a sealed value are the id of the key that sealed it.
_NOT_CURRENT = f"substring({{column}} FROM 2 FOR {HEADER_BYTES - 1}) <> :key_id"

_ENDPOINTS = text(
    f"""
    SELECT id, merchant_id, secret_sealed, previous_secret_sealed FROM webhook_endpoints
    WHERE {_NOT_CURRENT.format(column="secret_sealed")}
       OR {_NOT_CURRENT.format(column="previous_secret_sealed")}
    LIMIT :limit FOR UPDATE SKIP LOCKED
    """  # noqa: S608 - constant SQL  # nosec B608
)
_UPDATE_ENDPOINT = text(
    "UPDATE webhook_endpoints SET secret_sealed = :secret_sealed, "
    "previous_secret_sealed = :previous_secret_sealed WHERE id = :id"
)
_RESPONSES = text(
    f"""
    SELECT merchant_id, key, response_body_sealed FROM idempotency_keys
    WHERE {_NOT_CURRENT.format(column="response_body_sealed")}
    LIMIT :limit FOR UPDATE SKIP LOCKED
    """  # noqa: S608 - constant SQL  # nosec B608
)
_UPDATE_RESPONSE = text(
    "UPDATE idempotency_keys SET response_body_sealed = :sealed "
    "WHERE merchant_id = :merchant_id AND key = :key"
)


@dataclass(frozen=True)
class ResealReport:
    webhook_endpoints: int
    idempotency_responses: int


def reseal_all(engine: Engine, box: SecretBox, chunk_size: int = 500) -> ResealReport:
    """Reseal every value not sealed with the current key; return how many rows changed per table."""
    return ResealReport(
        webhook_endpoints=_in_chunks(engine, box, chunk_size, _reseal_endpoints),
        idempotency_responses=_in_chunks(engine, box, chunk_size, _reseal_responses),
    )


def _in_chunks(
    engine: Engine, box: SecretBox, chunk_size: int, reseal: Callable[[Any, SecretBox, int], int]
) -> int:
    total = 0
    while True:
        with engine.begin() as connection:
            done = reseal(connection, box, chunk_size)
        total += done
        if done < chunk_size:
            return total


def _reseal_endpoints(connection: Any, box: SecretBox, limit: int) -> int:
    key_id = bytes.fromhex(box.current_key_id)
    rows = connection.execute(_ENDPOINTS, {"key_id": key_id, "limit": limit}).all()
    for row in rows:

        def reseal(column: str, sealed: bytes | None, row: Any = row) -> bytes | None:
            if sealed is None:
                return None
            context = secret_context(column, row.merchant_id, row.id)
            return box.seal(box.open(sealed, context), context)

        connection.execute(
            _UPDATE_ENDPOINT,
            {
                "id": row.id,
                "secret_sealed": reseal("secret_sealed", row.secret_sealed),
                "previous_secret_sealed": reseal("previous_secret_sealed", row.previous_secret_sealed),
            },
        )
    return len(rows)


def _reseal_responses(connection: Any, box: SecretBox, limit: int) -> int:
    key_id = bytes.fromhex(box.current_key_id)
    rows = connection.execute(_RESPONSES, {"key_id": key_id, "limit": limit}).all()
    for row in rows:
        context = response_context(row.merchant_id, row.key)
        sealed = box.seal(box.open(row.response_body_sealed, context), context)
        connection.execute(
            _UPDATE_RESPONSE, {"sealed": sealed, "merchant_id": row.merchant_id, "key": row.key}
        )
    return len(rows)
