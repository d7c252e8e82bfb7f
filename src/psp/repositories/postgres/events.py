"""Public events over Postgres: written with their change, listed by merchants, relayed to SQS."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Select, func, literal_column, select, text, type_coerce, update

from psp.data_sources.postgres.tables import NOT_HANDED_OFF, events
from psp.domain.events import Event
from psp.domain.pagination import Page, PageRequest
from psp.repositories.postgres.appends import PendingAppends
from psp.repositories.postgres.event_sql import event_data_sql
from psp.repositories.postgres.pagination import fetch_page

# The relay reads the claimable index the Postgres queue reads; it marks what SQS accepted as processed.
_NOT_HANDED_OFF = text(NOT_HANDED_OFF)

# Every column of an event, its data as stored or rendered from its paid payable (event_sql).
_DATA = type_coerce(literal_column(event_data_sql(events.name)), events.c.data.type).label("data")
_READABLE_COLUMNS = [*(column for column in events.c if column.name != "data"), _DATA]


def _select_events() -> Select[Any]:
    return select(*_READABLE_COLUMNS)


class PostgresEventRepository:
    def __init__(self, connection: Connection, appends: PendingAppends) -> None:
        self._connection = connection
        self._appends = appends

    def add(self, event: Event) -> None:
        self._appends.add(events, event_row(event))  # written with the change it reports, see appends

    def get(self, merchant_id: UUID, event_id: UUID) -> Event | None:
        query = _select_events().where(events.c.id == event_id, events.c.merchant_id == merchant_id)
        row = self._connection.execute(query).first()
        return None if row is None else event_from_row(row._mapping)

    def list(self, merchant_id: UUID, event_type: str | None, page: PageRequest) -> Page[Event]:
        query = _select_events().where(events.c.merchant_id == merchant_id)
        if event_type is not None:
            query = query.where(events.c.event_type == event_type)
        return fetch_page(self._connection, query, events, page, event_from_row)

    def ids_since(
        self, since: datetime, merchant_id: UUID | None, limit: int, after: UUID | None
    ) -> builtins.list[UUID]:
        """Ids of events created at or after ``since``, in id order, a page at a time (replays)."""
        query = select(events.c.id).where(events.c.created_at >= since)
        if merchant_id is not None:
            query = query.where(events.c.merchant_id == merchant_id)
        if after is not None:
            query = query.where(events.c.id > after)
        return list(self._connection.execute(query.order_by(events.c.id).limit(limit)).scalars())

    def claim_unpublished(self, limit: int) -> builtins.list[Event]:
        statement = (
            _select_events()
            .where(_NOT_HANDED_OFF)
            .order_by(events.c.visible_at, events.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [event_from_row(row._mapping) for row in self._connection.execute(statement)]

    def mark_published(self, event_ids: Sequence[UUID], at: datetime) -> None:
        if event_ids:
            self._connection.execute(
                update(events).where(events.c.id.in_(event_ids)).values(published_at=at, processed_at=at)
            )

    def count_unpublished(self) -> int:
        statement = select(func.count()).select_from(events).where(_NOT_HANDED_OFF)
        return int(self._connection.execute(statement).scalar_one())


def event_row(event: Event) -> dict[str, object]:
    return {
        "id": event.id,
        "merchant_id": event.merchant_id,
        "event_type": event.type,
        "object_id": event.object_id,
        "object_version": event.object_version,
        "data": event.data,
        "api_version": event.api_version,
        "created_at": event.created_at,
        "visible_at": event.created_at,
    }


def event_from_row(row: Any) -> Event:
    return Event(
        id=row["id"],
        merchant_id=row["merchant_id"],
        type=row["event_type"],
        object_id=row["object_id"],
        object_version=row["object_version"],
        data=row["data"],
        created_at=row["created_at"],
        api_version=row["api_version"],
    )
