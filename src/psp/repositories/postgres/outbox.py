"""Writing events to the transactional outbox."""

from __future__ import annotations

from sqlalchemy import Connection, insert

from psp.data_sources.postgres.tables import outbox
from psp.domain.events import OutboxEvent


class PostgresOutboxRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, event: OutboxEvent) -> None:
        self._connection.execute(insert(outbox).values(**outbox_row(event)))


def outbox_row(event: OutboxEvent) -> dict[str, object]:
    return {
        "id": event.id,
        "event_type": event.type,
        "merchant_id": event.merchant_id,
        "aggregate_id": event.aggregate_id,
        "payload": event.payload,
        "created_at": event.created_at,
        "visible_at": event.created_at,
    }
