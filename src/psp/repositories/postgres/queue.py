"""The Postgres queue adapter: a table (the outbox, or the events table) claimed with ``SKIP LOCKED``.

Semantics match SQS: a received event is invisible for the visibility timeout; acknowledged events are
never delivered again; unacknowledged ones (a crashed worker's) come back when the timeout lapses; an
event received ``max_receives`` times without success is dead-lettered (``dead_at`` set) instead.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import structlog
from sqlalchemy import Engine, TextClause, text

from psp.data_sources.postgres.engine import database_answers
from psp.data_sources.postgres.tables import NOT_HANDED_OFF
from psp.repositories.ports import ReceivedEvent
from psp.repositories.postgres.event_sql import event_data_sql
from psp.repositories.postgres.outbox import outbox_event_from_row

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class QueueTable:
    """A table serving as a queue: its name, the column holding an event's aggregate, and the SQL of its
    payload for a row aliased ``o``."""

    name: str
    aggregate: str
    payload: str


# The payables worker's queue is the outbox; the webhooks worker's is the public events table (whose
# data settlement's events render from their rows, see event_sql.event_data_sql).
OUTBOX: Final = QueueTable("outbox", aggregate="aggregate_id", payload="o.payload")
EVENTS: Final = QueueTable("events", aggregate="object_id", payload=event_data_sql("o"))


@dataclass(frozen=True)
class _Statements:
    claim: TextClause
    acknowledge: TextClause
    release: TextClause
    extend: TextClause
    redrive: TextClause

    @classmethod
    def for_table(cls, table: QueueTable) -> _Statements:
        # Constant SQL: the table and column names come from the two QueueTables above, never from input.
        t = table.name
        return cls(
            claim=text(
                f"""
                WITH claimable AS (
                    SELECT id FROM {t}
                    WHERE {NOT_HANDED_OFF} AND visible_at <= now()
                    ORDER BY visible_at, id
                    LIMIT :limit
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE {t} AS o
                SET receive_count = o.receive_count + 1,
                    visible_at = now() + make_interval(secs => :visibility_timeout),
                    dead_at = CASE WHEN o.receive_count >= :max_receives THEN now() END
                FROM claimable WHERE o.id = claimable.id
                RETURNING o.id, o.event_type, o.merchant_id, o.{table.aggregate} AS aggregate_id,
                          {table.payload} AS payload, o.created_at, o.receive_count, o.dead_at
                """  # noqa: S608  # nosec B608
            ),
            acknowledge=text(f"UPDATE {t} SET processed_at = now() WHERE id = ANY(CAST(:ids AS uuid[]))"),  # noqa: S608  # nosec B608
            release=text(
                f"UPDATE {t} SET visible_at = now() "  # noqa: S608  # nosec B608
                "WHERE id = ANY(CAST(:ids AS uuid[])) AND processed_at IS NULL"
            ),
            extend=text(
                f"UPDATE {t} SET visible_at = now() + make_interval(secs => :seconds) "  # noqa: S608  # nosec B608
                "WHERE id = ANY(CAST(:ids AS uuid[])) AND processed_at IS NULL"
            ),
            redrive=text(
                f"UPDATE {t} SET dead_at = NULL, receive_count = 0, visible_at = now() "  # noqa: S608  # nosec B608
                "WHERE dead_at IS NOT NULL AND processed_at IS NULL"
            ),
        )


class PostgresEventQueue:
    def __init__(
        self,
        engine: Engine,
        *,
        visibility_timeout: int,
        max_receives: int,
        poll_interval: float,
        table: QueueTable = OUTBOX,
    ) -> None:
        self._engine = engine
        self._table = table
        self._sql = _Statements.for_table(table)
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
        self._update(self._sql.acknowledge, received)

    def release(self, received: Sequence[ReceivedEvent]) -> None:
        self._update(self._sql.release, received)

    def extend_visibility(self, received: Sequence[ReceivedEvent], seconds: int) -> None:
        if received:
            with self._engine.begin() as connection:
                connection.execute(
                    self._sql.extend, {"ids": [item.receipt for item in received], "seconds": seconds}
                )

    def is_reachable(self) -> bool:
        """The queue is a table: reachable when a bounded query on it answers."""
        return database_answers(self._engine, f"SELECT 1 FROM {self._table.name} LIMIT 1")  # noqa: S608  # nosec B608

    def redrive_dead(self) -> int:
        """Give every dead-lettered event a fresh set of receives."""
        with self._engine.begin() as connection:
            return connection.execute(self._sql.redrive).rowcount

    def _claim(self, limit: int) -> list[ReceivedEvent]:
        parameters = {
            "limit": limit,
            "visibility_timeout": self._visibility_timeout,
            "max_receives": self._max_receives,
        }
        with self._engine.begin() as connection:
            rows = connection.execute(self._sql.claim, parameters).all()
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
