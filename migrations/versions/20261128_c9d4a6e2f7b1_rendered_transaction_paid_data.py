"""a ``transaction.paid`` event's data is rendered from its transaction until the transaction changes

Settlement wrote each completed transaction's object into its ``transaction.paid`` event: building,
parsing and storing ~640 bytes of JSON per payable was the largest part of a chunk left after
``b3e8f1c5d2a9``. A transaction, unlike a paid payable, can still change after it is paid (refunds), so
its row is the event's object only until then:
- ``transactions.paid_event_id`` names the ``transaction.paid`` event written when the transaction was
  paid; that event stores no data and is rendered from the row while the row names it;
- a row trigger, before any update of a transaction that names such an event, stores the rendered object
  (the row as it was) into the event and clears ``paid_event_id``.

Events written before keep their stored data. Settling 1,000,000 payables on a copy of one seeded
database: 19.9-20.0 s -> 15.5-18.2 s with the events' data left out (machine CPU 35-36 -> 28-31 s, WAL
2.2 -> 1.7 GB).

Revision ID: c9d4a6e2f7b1
Revises: b3e8f1c5d2a9
Create Date: 2026-11-21 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from psp.repositories.postgres.event_sql import transaction_json_sql

revision: str = "c9d4a6e2f7b1"
down_revision: str | None = "b3e8f1c5d2a9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The object as the API shows it, built from the row as it was before the update (``OLD``). A change to
# psp.repositories.postgres.event_sql.transaction_json_sql needs a migration that re-creates this function
# (tests/integration/webhooks/test_delivery.py compares what it stores with the API's object).
STORE_RENDERED_PAID_EVENT = f"""
CREATE OR REPLACE FUNCTION store_rendered_paid_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE events AS e SET data = (SELECT {transaction_json_sql("o")} FROM (SELECT OLD.*) AS o)
    WHERE e.id = OLD.paid_event_id AND e.data IS NULL;
    NEW.paid_event_id := NULL;
    RETURN NEW;
END
$$;
"""
TRIGGER = """
CREATE TRIGGER transactions_changing_store_paid_event BEFORE UPDATE ON transactions
    FOR EACH ROW WHEN (OLD.paid_event_id IS NOT NULL) EXECUTE FUNCTION store_rendered_paid_event();
"""
ONLY_PAYABLE_PAID = "data IS NOT NULL OR event_type = 'payable.paid'"
PAYABLE_AND_TRANSACTION_PAID = "data IS NOT NULL OR event_type IN ('payable.paid', 'transaction.paid')"


def upgrade() -> None:
    # A nullable column without a default: no rewrite.
    op.add_column("transactions", sa.Column("paid_event_id", postgresql.UUID(as_uuid=True), nullable=True))
    op.execute(STORE_RENDERED_PAID_EVENT)
    op.execute(TRIGGER)
    op.drop_constraint(op.f("ck_events_data_stored_unless_derived"), "events", type_="check")
    op.create_check_constraint(
        op.f("ck_events_data_stored_unless_rendered"), "events", PAYABLE_AND_TRANSACTION_PAID
    )


def downgrade() -> None:
    op.execute(
        f"UPDATE events AS e SET data = {transaction_json_sql('t')} FROM transactions AS t "  # nosec B608
        "WHERE e.data IS NULL AND t.paid_event_id = e.id"
    )
    op.drop_constraint(op.f("ck_events_data_stored_unless_rendered"), "events", type_="check")
    op.create_check_constraint(op.f("ck_events_data_stored_unless_derived"), "events", ONLY_PAYABLE_PAID)
    op.execute("DROP TRIGGER transactions_changing_store_paid_event ON transactions")
    op.execute("DROP FUNCTION store_rendered_paid_event()")
    op.drop_column("transactions", "paid_event_id")
