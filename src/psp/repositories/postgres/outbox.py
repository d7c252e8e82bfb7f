"""Writing events to the transactional outbox, and claiming them for the SQS relay."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, func, select, text, update

from psp.data_sources.postgres.tables import NOT_HANDED_OFF, outbox
from psp.domain.events import OutboxEvent
from psp.repositories.postgres.appends import PendingAppends

# The relay reads the claimable index the Postgres queue reads; it marks what SQS accepted as processed.
_NOT_HANDED_OFF = text(NOT_HANDED_OFF)


class PostgresOutboxRepository:
    def __init__(self, connection: Connection, appends: PendingAppends) -> None:
        self._connection = connection
        self._appends = appends

    def add(self, event: OutboxEvent) -> None:
        self._appends.add(outbox, outbox_row(event))  # written with the change it reports, see appends

    def claim_unpublished(self, limit: int) -> list[OutboxEvent]:
        # SKIP LOCKED lets several relays run at once without sending the same rows twice.
        statement = (
            select(
                outbox.c.id,
                outbox.c.event_type,
                outbox.c.merchant_id,
                outbox.c.aggregate_id,
                outbox.c.payload,
                outbox.c.created_at,
            )
            .where(_NOT_HANDED_OFF)
            .order_by(outbox.c.visible_at, outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [outbox_event_from_row(row) for row in self._connection.execute(statement)]

    def mark_published(self, event_ids: Sequence[UUID], at: datetime) -> None:
        if event_ids:
            self._connection.execute(
                update(outbox).where(outbox.c.id.in_(event_ids)).values(published_at=at, processed_at=at)
            )

    def count_unpublished(self) -> int:
        statement = select(func.count()).select_from(outbox).where(_NOT_HANDED_OFF)
        return int(self._connection.execute(statement).scalar_one())


def outbox_event_from_row(row: Any) -> OutboxEvent:
    return OutboxEvent(
        id=row.id,
        type=row.event_type,
        merchant_id=row.merchant_id,
        aggregate_id=row.aggregate_id,
        payload=row.payload,
        created_at=row.created_at,
    )


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
