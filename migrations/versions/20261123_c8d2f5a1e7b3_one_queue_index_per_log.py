"""one "not yet handed off" index per log (outbox, events), and no per-row merchant check on them

The outbox and the events table each carried two partial indexes: one for the Postgres queue
(``processed_at IS NULL AND dead_at IS NULL``) and one for the SQS relay (``published_at IS NULL``). A
deployment runs one backend, so the other index held every row ever written, and every insert paid for
both. The relay now marks what SQS accepted as processed too (``processed_at`` = ``published_at``), so
both backends read the one claimable index.

Their ``merchant_id`` foreign keys go too: each row copies ``merchant_id`` from the transaction or payable
it reports on, which is itself checked against ``merchants``; the check ran once per row, twice per
settled payable (its event and its transaction's).

Revision ID: c8d2f5a1e7b3
Revises: b4f1e7a2c903
Create Date: 2026-11-21 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c8d2f5a1e7b3"
down_revision: str | None = "b4f1e7a2c903"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOGS = ("outbox", "events")


def upgrade() -> None:
    for table in LOGS:
        # What the relay already handed to SQS must not be claimed again through the one index left.
        op.execute(
            f"UPDATE {table} SET processed_at = published_at "  # nosec B608
            "WHERE published_at IS NOT NULL AND processed_at IS NULL"
        )
        op.drop_index(
            f"ix_{table}_unpublished", table_name=table, postgresql_where=sa.text("published_at IS NULL")
        )
        op.drop_constraint(op.f(f"fk_{table}_merchant_id_merchants"), table, type_="foreignkey")


def downgrade() -> None:
    for table in LOGS:
        op.create_foreign_key(
            f"fk_{table}_merchant_id_merchants", table, "merchants", ["merchant_id"], ["id"]
        )
        op.create_index(
            f"ix_{table}_unpublished",
            table,
            ["created_at", "id"],
            unique=False,
            postgresql_where=sa.text("published_at IS NULL"),
        )
