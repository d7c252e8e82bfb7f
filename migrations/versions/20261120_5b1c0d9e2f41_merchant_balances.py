"""merchant balances: an aggregate of payables kept exact by statement-level triggers

Revision ID: 5b1c0d9e2f41
Revises: 348e47e180e2
Create Date: 2026-11-20 23:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b1c0d9e2f41"
down_revision: str | None = "348e47e180e2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def add_to_balances(changes: str) -> str:
    """One upsert adding a statement's signed net amounts, bucketed by status, to the aggregate.

    Rows go in key order, so concurrent statements lock balance rows in the same order (no deadlock).
    """
    return f"""
        INSERT INTO merchant_balances AS b (merchant_id, currency, waiting_funds, available)
        SELECT merchant_id, currency,
               sum(CASE WHEN status = 'waiting_funds' THEN net ELSE 0 END),
               sum(CASE WHEN status = 'paid' THEN net ELSE 0 END)
        FROM ({changes}) AS changes
        GROUP BY merchant_id, currency
        ORDER BY merchant_id, currency
        ON CONFLICT (merchant_id, currency) DO UPDATE
        SET waiting_funds = b.waiting_funds + EXCLUDED.waiting_funds,
            available = b.available + EXCLUDED.available;
    """


ARRIVED = "SELECT merchant_id, currency, status, net_amount AS net FROM new_rows"
LEFT = "SELECT merchant_id, currency, status, -net_amount AS net FROM old_rows"

# PL/pgSQL plans each branch's query when that branch first runs, so a branch may name a transition
# table only its own trigger event provides.
APPLY_PAYABLE_CHANGES = f"""
CREATE FUNCTION apply_payable_changes_to_balances() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {add_to_balances(ARRIVED)}
    ELSIF TG_OP = 'UPDATE' THEN
        {add_to_balances(f"{ARRIVED} UNION ALL {LEFT}")}
    ELSE
        {add_to_balances(LEFT)}
    END IF;
    RETURN NULL;
END
$$;
"""
TRIGGERS = {
    "payables_inserted_update_balances": "AFTER INSERT ON payables REFERENCING NEW TABLE AS new_rows",
    "payables_updated_update_balances": (
        "AFTER UPDATE ON payables REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    ),
    "payables_deleted_update_balances": "AFTER DELETE ON payables REFERENCING OLD TABLE AS old_rows",
}
BACKFILL = add_to_balances("SELECT merchant_id, currency, status, net_amount AS net FROM payables")


def upgrade() -> None:
    op.create_table(
        "merchant_balances",
        sa.Column("merchant_id", sa.UUID(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("waiting_funds", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("available", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_merchant_balances_currency_iso")),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_merchant_balances_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("merchant_id", "currency", name=op.f("pk_merchant_balances")),
    )
    op.execute("LOCK TABLE payables IN SHARE MODE")  # no payable changes between backfill and triggers
    op.execute(BACKFILL)
    op.execute(APPLY_PAYABLE_CHANGES)
    for name, timing in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} {timing} FOR EACH STATEMENT "
            "EXECUTE FUNCTION apply_payable_changes_to_balances()"
        )


def downgrade() -> None:
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON payables")
    op.execute("DROP FUNCTION apply_payable_changes_to_balances()")
    op.drop_table("merchant_balances")
