"""The Postgres queue adapter: the outbox table itself, claimed with ``FOR UPDATE SKIP LOCKED``.

Semantics match SQS: a received event is invisible for the visibility timeout; acknowledged events are
never delivered again; unacknowledged ones (a crashed worker's) come back when the timeout lapses; an
event received ``max_receives`` times without success is dead-lettered (``dead_at`` set) instead.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy import Engine, text

from psp.data_sources.postgres.engine import database_answers
from psp.repositories.ports import ReceivedEvent
from psp.repositories.postgres.outbox import outbox_event_from_row

log = structlog.get_logger(__name__)

_CLAIM = text(
    """
    WITH claimable AS (
        SELECT id FROM outbox
        WHERE processed_at IS NULL AND dead_at IS NULL AND visible_at <= now()
        ORDER BY visible_at, id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE outbox AS o
    SET receive_count = o.receive_count + 1,
        visible_at = now() + make_interval(secs => :visibility_timeout),
        dead_at = CASE WHEN o.receive_count >= :max_receives THEN now() END
    FROM claimable WHERE o.id = claimable.id
    RETURNING o.id, o.event_type, o.merchant_id, o.aggregate_id, o.payload, o.created_at,
              o.receive_count, o.dead_at
    """
)
_ACKNOWLEDGE = text("UPDATE outbox SET processed_at = now() WHERE id = ANY(CAST(:ids AS uuid[]))")
_RELEASE = text(
    "UPDATE outbox SET visible_at = now() WHERE id = ANY(CAST(:ids AS uuid[])) AND processed_at IS NULL"
)
_EXTEND = text(
    "UPDATE outbox SET visible_at = now() + make_interval(secs => :seconds) "
    "WHERE id = ANY(CAST(:ids AS uuid[])) AND processed_at IS NULL"
)
_REDRIVE = text(
    "UPDATE outbox SET dead_at = NULL, receive_count = 0, visible_at = now() "
    "WHERE dead_at IS NOT NULL AND processed_at IS NULL"
)


class PostgresEventQueue:
    def __init__(
        self, engine: Engine, *, visibility_timeout: int, max_receives: int, poll_interval: float
    ) -> None:
        self._engine = engine
        self._visibility_timeout = visibility_timeout
        self._max_receives = max_receives
        self._poll_interval = poll_interval

    def receive(self, max_events: int, wait_seconds: float) -> list[ReceivedEvent]:
        """Claim up to ``max_events``; poll until some arrive or ``wait_seconds`` pass."""
        deadline = time.monotonic() + wait_seconds
        while True:
            received = self._claim(max_events)
            remaining = deadline - time.monotonic()
            if received or remaining <= 0:
                return received
            time.sleep(min(self._poll_interval, remaining))

    def acknowledge(self, received: Sequence[ReceivedEvent]) -> None:
        self._update(_ACKNOWLEDGE, received)

    def release(self, received: Sequence[ReceivedEvent]) -> None:
        self._update(_RELEASE, received)

    def extend_visibility(self, received: Sequence[ReceivedEvent], seconds: int) -> None:
        if received:
            with self._engine.begin() as connection:
                connection.execute(_EXTEND, {"ids": [item.receipt for item in received], "seconds": seconds})

    def is_reachable(self) -> bool:
        """The queue is the outbox table: reachable when a bounded query on it answers."""
        return database_answers(self._engine, "SELECT 1 FROM outbox LIMIT 1")

    def redrive_dead(self) -> int:
        """Give every dead-lettered event a fresh set of receives."""
        with self._engine.begin() as connection:
            return connection.execute(_REDRIVE).rowcount

    def _claim(self, limit: int) -> list[ReceivedEvent]:
        parameters = {
            "limit": limit,
            "visibility_timeout": self._visibility_timeout,
            "max_receives": self._max_receives,
        }
        with self._engine.begin() as connection:
            rows = connection.execute(_CLAIM, parameters).all()
        received = []
        for row in rows:
            if row.dead_at is not None:
                log.error("event.dead_lettered", event_id=str(row.id), event_type=row.event_type)
                continue
            received.append(
                ReceivedEvent(
                    event=outbox_event_from_row(row), receipt=str(row.id), receive_count=row.receive_count
                )
            )
        return received

    def _update(self, statement: Any, received: Sequence[ReceivedEvent]) -> None:
        if not received:
            return
        with self._engine.begin() as connection:
            connection.execute(statement, {"ids": [item.receipt for item in received]})
