"""Webhook endpoints and deliveries over Postgres.

Deliveries are the retry schedule: one row per event and endpoint (unique, so fanning an event out twice
creates nothing twice), ``next_attempt_at`` says when it is due, and a claim pushes it a lease into the
future, so a worker killed mid-attempt leaves the delivery due again when the lease lapses.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, case, insert, select, text, update

from psp.data_sources.encryption import SecretBox
from psp.data_sources.postgres.tables import webhook_attempts, webhook_deliveries, webhook_endpoints
from psp.domain.events import Event, event_body
from psp.domain.pagination import Page, PageRequest
from psp.domain.webhooks import (
    DeliveryAttempt,
    DeliveryStatus,
    DueDelivery,
    EndpointStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from psp.repositories.postgres.event_sql import endpoint_wants_sql, event_data_sql
from psp.repositories.postgres.pagination import fetch_page

_ENDPOINT_WANTS = endpoint_wants_sql("e.event_type")

# Fan-out: endpoints that existed when the event happened. Redelivery: the endpoints there now.
_FAN_OUT = text(
    f"""
    INSERT INTO webhook_deliveries
        (id, merchant_id, event_id, endpoint_id, status, attempts, next_attempt_at, retrying_since,
         created_at, updated_at)
    SELECT psp_uuid_v7(:now), e.merchant_id, e.id, ep.id, 'pending', 0, :now, :now, :now, :now
    FROM events AS e JOIN webhook_endpoints AS ep ON ep.merchant_id = e.merchant_id
    WHERE e.id = ANY(CAST(:ids AS uuid[])) AND {_ENDPOINT_WANTS}
      AND (CAST(:endpoint_id AS uuid) IS NULL AND ep.created_at <= e.created_at
           OR ep.id = CAST(:endpoint_id AS uuid) OR CAST(:redelivery AS boolean))
    ON CONFLICT (event_id, endpoint_id) DO NOTHING
    """  # noqa: S608 - constant SQL  # nosec B608
)
_RESCHEDULE = text(
    """
    UPDATE webhook_deliveries AS d
    SET status = 'pending', next_attempt_at = :now, retrying_since = :now, updated_at = :now
    FROM webhook_endpoints AS ep
    WHERE d.event_id = ANY(CAST(:ids AS uuid[])) AND ep.id = d.endpoint_id
      AND ep.status = 'enabled' AND ep.deleted_at IS NULL
      AND (CAST(:endpoint_id AS uuid) IS NULL OR d.endpoint_id = CAST(:endpoint_id AS uuid))
      AND (d.status <> 'pending' OR d.next_attempt_at > :now)
    """
)
_CLAIM = text(
    f"""
    WITH due AS (
        SELECT d.id FROM webhook_deliveries AS d
        WHERE d.status = 'pending' AND d.next_attempt_at <= :now
          AND EXISTS (SELECT 1 FROM webhook_endpoints AS ep
                      WHERE ep.id = d.endpoint_id AND ep.status = 'enabled' AND ep.deleted_at IS NULL)
        ORDER BY d.next_attempt_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE webhook_deliveries AS d
        SET next_attempt_at = :now + make_interval(secs => :lease_seconds), updated_at = :now
        FROM due WHERE d.id = due.id
        RETURNING d.id, d.event_id, d.endpoint_id, d.attempts, d.retrying_since
    )
    SELECT c.id AS delivery_id, c.event_id, c.attempts, c.retrying_since,
           e.merchant_id AS event_merchant_id, e.event_type, e.object_id, e.object_version,
           {event_data_sql("e")} AS data,
           e.api_version, e.created_at AS event_created_at, ep.*
    FROM claimed AS c
    JOIN events AS e ON e.id = c.event_id
    JOIN webhook_endpoints AS ep ON ep.id = c.endpoint_id
    """  # noqa: S608 - constant SQL composed from our own fragments  # nosec B608
)
_FAIL_PENDING_OF_ENDPOINT = text(
    "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, updated_at = :now "
    "WHERE endpoint_id = :endpoint_id AND status = 'pending'"
)


class PostgresWebhookEndpointRepository:
    """Signing secrets are sealed on the way in and opened on the way out: callers see plain values."""

    def __init__(self, connection: Connection, box: SecretBox) -> None:
        self._connection = connection
        self._box = box

    def add(self, endpoint: WebhookEndpoint) -> None:
        self._connection.execute(insert(webhook_endpoints).values(endpoint_row(endpoint, self._box)))

    def get(self, merchant_id: UUID, endpoint_id: UUID) -> WebhookEndpoint | None:
        query = select(webhook_endpoints).where(
            webhook_endpoints.c.id == endpoint_id,
            webhook_endpoints.c.merchant_id == merchant_id,
            webhook_endpoints.c.deleted_at.is_(None),
        )
        row = self._connection.execute(query).first()
        return None if row is None else endpoint_from_row(row._mapping, self._box)

    def list(self, merchant_id: UUID, page: PageRequest) -> Page[WebhookEndpoint]:
        query = select(webhook_endpoints).where(
            webhook_endpoints.c.merchant_id == merchant_id, webhook_endpoints.c.deleted_at.is_(None)
        )
        return fetch_page(
            self._connection, query, webhook_endpoints, page, lambda row: endpoint_from_row(row, self._box)
        )

    def owner(self, endpoint_id: UUID) -> UUID | None:
        query = select(webhook_endpoints.c.merchant_id).where(
            webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.deleted_at.is_(None)
        )
        found: UUID | None = self._connection.execute(query).scalar()
        return found

    def update(self, endpoint: WebhookEndpoint) -> None:
        """Store secrets, status and health (the rest of an endpoint never changes)."""
        self._connection.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == endpoint.id)
            .values(
                **sealed_secrets(endpoint, self._box),
                previous_secret_expires_at=endpoint.previous_secret_expires_at,
                status=endpoint.status.value,
                failing_since=endpoint.failing_since,
                disabled_reason=endpoint.disabled_reason,
            )
        )

    def delete(self, merchant_id: UUID, endpoint_id: UUID, at: datetime) -> bool:
        """Soft delete (its deliveries' history stays readable); pending deliveries to it fail."""
        deleted = self._connection.execute(
            update(webhook_endpoints)
            .where(
                webhook_endpoints.c.id == endpoint_id,
                webhook_endpoints.c.merchant_id == merchant_id,
                webhook_endpoints.c.deleted_at.is_(None),
            )
            .values(deleted_at=at)
        ).rowcount
        if deleted:
            self._connection.execute(_FAIL_PENDING_OF_ENDPOINT, {"endpoint_id": endpoint_id, "now": at})
        return bool(deleted)

    def note_success(self, endpoint_id: UUID) -> None:
        self._connection.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.failing_since.is_not(None))
            .values(failing_since=None)
        )

    def note_failure(self, endpoint_id: UUID, at: datetime) -> datetime | None:
        """Start (or continue) the endpoint's failing streak; return when it started."""
        statement = text(
            "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, :at) "
            "WHERE id = :endpoint_id RETURNING failing_since"
        )
        found: datetime | None = self._connection.execute(
            statement, {"at": at, "endpoint_id": endpoint_id}
        ).scalar()
        return found

    def disable(self, endpoint_id: UUID, reason: str, at: datetime) -> None:
        """Stop delivering to it and flag it; what was pending for it fails."""
        self._connection.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == endpoint_id)
            .values(status=EndpointStatus.DISABLED.value, disabled_reason=reason)
        )
        self._connection.execute(_FAIL_PENDING_OF_ENDPOINT, {"endpoint_id": endpoint_id, "now": at})


class PostgresWebhookDeliveryRepository:
    def __init__(self, connection: Connection, box: SecretBox) -> None:
        self._connection = connection
        self._box = box  # a claimed delivery carries its endpoint, secrets opened to sign with

    def fan_out(self, event_ids: Sequence[UUID], at: datetime) -> int:
        if not event_ids:
            return 0
        parameters = {"ids": list(event_ids), "now": at, "endpoint_id": None, "redelivery": False}
        return self._connection.execute(_FAN_OUT, parameters).rowcount

    def redeliver(self, event_ids: Sequence[UUID], endpoint_id: UUID | None, at: datetime) -> int:
        if not event_ids:
            return 0
        parameters = {"ids": list(event_ids), "now": at, "endpoint_id": endpoint_id, "redelivery": True}
        created = self._connection.execute(_FAN_OUT, parameters).rowcount
        return created + self._connection.execute(_RESCHEDULE, parameters).rowcount

    def claim_due(self, limit: int, now: datetime, lease_seconds: float) -> builtins.list[DueDelivery]:
        parameters = {"limit": limit, "now": now, "lease_seconds": lease_seconds}
        rows = self._connection.execute(_CLAIM, parameters).all()
        return [due_from_row(row._mapping, self._box) for row in rows]

    def record_attempt(
        self, attempt: DeliveryAttempt, *, succeeded: bool, next_attempt_at: datetime | None
    ) -> None:
        """Log the attempt; the delivery succeeds, waits for ``next_attempt_at``, or (None) fails."""
        self._connection.execute(insert(webhook_attempts).values(attempt_row(attempt)))
        if succeeded:
            status = DeliveryStatus.SUCCEEDED
        else:
            status = DeliveryStatus.FAILED if next_attempt_at is None else DeliveryStatus.PENDING
        self._connection.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == attempt.delivery_id)
            .values(
                status=status.value,
                attempts=webhook_deliveries.c.attempts + 1,
                retrying_since=case(
                    (webhook_deliveries.c.attempts == 0, attempt.attempted_at),
                    else_=webhook_deliveries.c.retrying_since,
                ),
                next_attempt_at=None if status is not DeliveryStatus.PENDING else next_attempt_at,
                updated_at=attempt.attempted_at,
            )
        )

    def list_for_event(self, merchant_id: UUID, event_id: UUID, page: PageRequest) -> Page[WebhookDelivery]:
        query = select(webhook_deliveries).where(
            webhook_deliveries.c.event_id == event_id, webhook_deliveries.c.merchant_id == merchant_id
        )
        found = fetch_page(self._connection, query, webhook_deliveries, page, delivery_from_row)
        ids = [delivery.id for delivery in found.items]
        if not ids:
            return found
        attempts_query = (
            select(webhook_attempts)
            .where(webhook_attempts.c.delivery_id.in_(ids))
            .order_by(webhook_attempts.c.attempted_at, webhook_attempts.c.id)
        )
        by_delivery: dict[UUID, list[DeliveryAttempt]] = {delivery_id: [] for delivery_id in ids}
        for row in self._connection.execute(attempts_query):
            by_delivery[row.delivery_id].append(attempt_from_row(row._mapping))
        items = [replace(delivery, attempt_log=tuple(by_delivery[delivery.id])) for delivery in found.items]
        return Page(items=items, has_more=found.has_more)


def secret_context(column: str, merchant_id: UUID, endpoint_id: UUID) -> bytes:
    """Associated data of a sealed secret: its column and row, so it opens nowhere else."""
    return f"webhook_endpoints.{column}".encode() + b"\x00" + merchant_id.bytes + endpoint_id.bytes


def sealed_secrets(endpoint: WebhookEndpoint, box: SecretBox) -> dict[str, bytes | None]:
    def seal(column: str, secret: str | None) -> bytes | None:
        if secret is None:
            return None
        return box.seal_text(secret, secret_context(column, endpoint.merchant_id, endpoint.id))

    return {
        "secret_sealed": seal("secret_sealed", endpoint.secret),
        "previous_secret_sealed": seal("previous_secret_sealed", endpoint.previous_secret),
    }


def open_secret(row: Any, column: str, box: SecretBox) -> str | None:
    sealed = row[column]
    if sealed is None:
        return None
    return box.open_text(sealed, secret_context(column, row["merchant_id"], row["id"]))


def endpoint_row(endpoint: WebhookEndpoint, box: SecretBox) -> dict[str, object]:
    return {
        "id": endpoint.id,
        "merchant_id": endpoint.merchant_id,
        "url": endpoint.url,
        "enabled_events": list(endpoint.enabled_events),
        "description": endpoint.description,
        "mode": endpoint.mode,
        **sealed_secrets(endpoint, box),
        "previous_secret_expires_at": endpoint.previous_secret_expires_at,
        "status": endpoint.status.value,
        "failing_since": endpoint.failing_since,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": endpoint.created_at,
    }


def endpoint_from_row(row: Any, box: SecretBox) -> WebhookEndpoint:
    secret = open_secret(row, "secret_sealed", box)
    if secret is None:
        raise ValueError("an endpoint row without a secret")  # the column is NOT NULL
    return WebhookEndpoint(
        id=row["id"],
        merchant_id=row["merchant_id"],
        url=row["url"],
        enabled_events=tuple(row["enabled_events"]),
        description=row["description"],
        mode=row["mode"],
        secret=secret,
        created_at=row["created_at"],
        status=EndpointStatus(row["status"]),
        previous_secret=open_secret(row, "previous_secret_sealed", box),
        previous_secret_expires_at=row["previous_secret_expires_at"],
        failing_since=row["failing_since"],
        disabled_reason=row["disabled_reason"],
    )


def delivery_from_row(row: Any) -> WebhookDelivery:
    return WebhookDelivery(
        id=row["id"],
        merchant_id=row["merchant_id"],
        event_id=row["event_id"],
        endpoint_id=row["endpoint_id"],
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
    )


def attempt_row(attempt: DeliveryAttempt) -> dict[str, object]:
    return {
        "id": attempt.id,
        "delivery_id": attempt.delivery_id,
        "attempted_at": attempt.attempted_at,
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "response_excerpt": attempt.response_excerpt,
        "error": None if attempt.error is None else attempt.error[:255],
    }


def attempt_from_row(row: Any) -> DeliveryAttempt:
    return DeliveryAttempt(
        id=row["id"],
        delivery_id=row["delivery_id"],
        attempted_at=row["attempted_at"],
        status_code=row["status_code"],
        latency_ms=row["latency_ms"],
        response_excerpt=row["response_excerpt"],
        error=row["error"],
    )


def due_from_row(row: Any, box: SecretBox) -> DueDelivery:
    event = Event(
        id=row["event_id"],
        merchant_id=row["event_merchant_id"],
        type=row["event_type"],
        object_id=row["object_id"],
        object_version=row["object_version"],
        data=row["data"],
        created_at=row["event_created_at"],
        api_version=row["api_version"],
    )
    return DueDelivery(
        id=row["delivery_id"],
        event_id=row["event_id"],
        endpoint=endpoint_from_row(row, box),
        body=event_body(event),
        attempts=row["attempts"],
        retrying_since=row["retrying_since"],
    )
