"""drop the payables index that served balance sums: the maintained aggregate answers balances now

Every settled payable rewrote an entry in each payables index (a status change is never a HOT update),
and this one no longer serves any query: ``GET /v1/balance`` reads ``merchant_balances``.

Revision ID: 7a2d4c8e1b90
Revises: 5b1c0d9e2f41
Create Date: 2026-11-20 23:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7a2d4c8e1b90"
down_revision: str | None = "5b1c0d9e2f41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_payables_merchant_balance", table_name="payables", postgresql_include=["net_amount"])


def downgrade() -> None:
    op.create_index(
        "ix_payables_merchant_balance",
        "payables",
        ["merchant_id", "status", "currency"],
        unique=False,
        postgresql_include=["net_amount"],
    )
