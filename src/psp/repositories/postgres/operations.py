"""Operational reads for metrics: how far behind the pipeline and settlement are, in one round trip."""

from __future__ import annotations

from sqlalchemy import Engine, text

from psp.lib.metrics import PipelineHealth

# Each count rides a partial index (ix_outbox_claimable, ix_outbox_unpublished, ix_payables_due).
_PENDING = {
    "postgres": "processed_at IS NULL AND dead_at IS NULL",
    "sqs": "published_at IS NULL",
}
_HEALTH = """
    SELECT
        (SELECT count(*) FROM outbox WHERE {pending}) AS backlog,
        (SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM outbox WHERE {pending}) AS lag,
        (SELECT count(*) FROM outbox WHERE dead_at IS NOT NULL AND processed_at IS NULL) AS dead,
        (SELECT count(*) FROM payables WHERE status = 'waiting_funds') AS waiting,
        (SELECT count(*) FROM payables WHERE status = 'waiting_funds' AND payment_date <= current_date) AS due
"""


def read_pipeline_health(engine: Engine, queue_backend: str) -> PipelineHealth:
    statement = text(_HEALTH.format(pending=_PENDING[queue_backend]))
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL statement_timeout = '2s'"))
        row = connection.execute(statement).one()
    return PipelineHealth(
        outbox_backlog=row.backlog,
        oldest_event_age_seconds=float(row.lag),
        dead_letters=row.dead,
        payables_waiting=row.waiting,
        payables_due_unsettled=row.due,
    )
