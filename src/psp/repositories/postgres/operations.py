"""Operational reads for metrics: how far behind the pipeline, settlement and webhooks are (one query)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Row, text

from psp.data_sources.postgres.tables import NOT_HANDED_OFF
from psp.lib.metrics import PipelineHealth, WebhookHealth

# Each count rides a partial index (ix_outbox_claimable, ix_webhook_deliveries_due) or the primary key
# of waiting_payables; webhook endpoints are few (a handful per merchant).
_WEBHOOKS = """
        (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending') AS deliveries_pending,
        (SELECT count(*) FROM webhook_deliveries
         WHERE status = 'pending' AND next_attempt_at <= now()) AS deliveries_due,
        (SELECT coalesce(extract(epoch FROM now() - min(next_attempt_at)), 0) FROM webhook_deliveries
         WHERE status = 'pending' AND next_attempt_at <= now()) AS delivery_lag,
        (SELECT count(*) FROM webhook_endpoints
         WHERE status = 'disabled' AND deleted_at IS NULL) AS endpoints_disabled
"""
_HEALTH = """
    SELECT
        (SELECT count(*) FROM outbox WHERE {pending}) AS backlog,
        (SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM outbox WHERE {pending}) AS lag,
        (SELECT count(*) FROM outbox WHERE dead_at IS NOT NULL AND processed_at IS NULL) AS dead,
        (SELECT count(*) FROM waiting_payables) AS waiting,
        (SELECT count(*) FROM waiting_payables WHERE payment_date <= current_date) AS due,
"""


def read_pipeline_health(engine: Engine) -> PipelineHealth:
    statement = text(_HEALTH.format(pending=NOT_HANDED_OFF) + _WEBHOOKS)
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL statement_timeout = '2s'"))
        row = connection.execute(statement).one()
    return PipelineHealth(
        outbox_backlog=row.backlog,
        oldest_event_age_seconds=float(row.lag),
        dead_letters=row.dead,
        payables_waiting=row.waiting,
        payables_due_unsettled=row.due,
        webhooks=_webhook_health(row),
    )


def read_webhook_health(engine: Engine) -> WebhookHealth:
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL statement_timeout = '2s'"))
        row = connection.execute(text("SELECT" + _WEBHOOKS)).one()
    return _webhook_health(row)


def _webhook_health(row: Row[Any]) -> WebhookHealth:
    return WebhookHealth(
        deliveries_pending=row.deliveries_pending,
        deliveries_due=row.deliveries_due,
        oldest_due_age_seconds=float(row.delivery_lag),
        endpoints_disabled=row.endpoints_disabled,
    )
