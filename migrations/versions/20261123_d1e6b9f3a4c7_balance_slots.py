"""merchant balances in 16 slots per merchant and currency, so concurrent writers do not queue on one row

Every statement that writes payables (the worker's inserts, each settlement chunk, refunds) adds its
changes to the merchant's balance row, and holds that row's lock until it commits. Two settlers, or a
settler and a payables worker, working for one merchant therefore took turns: with two settlers, 15 % of
their time was spent waiting on the other's balance row (pg_stat_activity, Lock:transactionid). Each
statement now adds to one of 16 slots picked by its transaction id; a balance is the sum of a merchant's
slots (at most 16 rows per currency, one index range).

Revision ID: d1e6b9f3a4c7
Revises: c8d2f5a1e7b3
Create Date: 2026-11-21 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d1e6b9f3a4c7"
down_revision: str | None = "c8d2f5a1e7b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SLOTS = 16
ARRIVED = "SELECT merchant_id, currency, status, net_amount AS net FROM new_rows"
LEFT = "SELECT merchant_id, currency, status, -net_amount AS net FROM old_rows"


def add_to_balances(changes: str, slot: str | None) -> str:
    """One upsert adding a statement's signed net amounts, bucketed by status, to the aggregate.

    Rows go in key order, so concurrent statements lock balance rows in the same order (no deadlock).
    ``slot`` is the SQL of the slot written to, or None for the one-row-per-currency shape before slots.
    """
    slot_column, slot_value = ("slot, ", f"{slot}, ") if slot is not None else ("", "")
    return f"""
        INSERT INTO merchant_balances AS b (merchant_id, currency, {slot_column}waiting_funds, available)
        SELECT merchant_id, currency, {slot_value}
               sum(CASE WHEN status = 'waiting_funds' THEN net ELSE 0 END),
               sum(CASE WHEN status = 'paid' THEN net ELSE 0 END)
        FROM ({changes}) AS changes
        GROUP BY merchant_id, currency
        ORDER BY merchant_id, currency
        ON CONFLICT (merchant_id, currency{", slot" if slot is not None else ""}) DO UPDATE
        SET waiting_funds = b.waiting_funds + EXCLUDED.waiting_funds,
            available = b.available + EXCLUDED.available;
    """


def apply_payable_changes(slot: str | None) -> str:
    # PL/pgSQL plans each branch's query when that branch first runs, so a branch may name a transition
    # table only its own trigger event provides.
    return f"""
CREATE OR REPLACE FUNCTION apply_payable_changes_to_balances() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {add_to_balances(ARRIVED, slot)}
    ELSIF TG_OP = 'UPDATE' THEN
        {add_to_balances(f"{ARRIVED} UNION ALL {LEFT}", slot)}
    ELSE
        {add_to_balances(LEFT, slot)}
    END IF;
    RETURN NULL;
END
$$;
"""


# Concurrent transactions have distinct ids, so two writers share a slot 1 time in 16.
SLOT_OF_THIS_TRANSACTION = f"CAST(CAST(CAST(pg_current_xact_id() AS text) AS bigint) % {SLOTS} AS smallint)"


def upgrade() -> None:
    op.execute("LOCK TABLE payables IN SHARE MODE")  # no payable changes while the aggregate changes shape
    op.add_column(
        "merchant_balances", sa.Column("slot", sa.SmallInteger(), server_default=sa.text("0"), nullable=False)
    )
    op.drop_constraint(op.f("pk_merchant_balances"), "merchant_balances", type_="primary")
    op.create_primary_key(
        op.f("pk_merchant_balances"), "merchant_balances", ["merchant_id", "currency", "slot"]
    )
    op.create_check_constraint(
        op.f("ck_merchant_balances_slot_range"), "merchant_balances", f"slot BETWEEN 0 AND {SLOTS - 1}"
    )
    op.execute(apply_payable_changes(SLOT_OF_THIS_TRANSACTION))


def downgrade() -> None:
    op.execute("LOCK TABLE payables IN SHARE MODE")
    op.execute(
        "CREATE TEMPORARY TABLE collapsed ON COMMIT DROP AS SELECT merchant_id, currency, "
        "sum(waiting_funds) AS waiting_funds, sum(available) AS available "
        "FROM merchant_balances GROUP BY merchant_id, currency"
    )
    op.execute("DELETE FROM merchant_balances")
    op.execute(
        "INSERT INTO merchant_balances (merchant_id, currency, slot, waiting_funds, available) "
        "SELECT merchant_id, currency, 0, waiting_funds, available FROM collapsed"
    )
    op.drop_constraint(op.f("ck_merchant_balances_slot_range"), "merchant_balances", type_="check")
    op.drop_constraint(op.f("pk_merchant_balances"), "merchant_balances", type_="primary")
    op.drop_column("merchant_balances", "slot")
    op.create_primary_key(op.f("pk_merchant_balances"), "merchant_balances", ["merchant_id", "currency"])
    op.execute(apply_payable_changes(None))
