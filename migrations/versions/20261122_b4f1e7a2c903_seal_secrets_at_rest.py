"""seal webhook signing secrets and stored idempotent responses at rest (AES-256-GCM)

Existing plaintext rows are sealed here, with ``PSP_DATA_ENCRYPTION_KEY`` (read from the environment
only when there is a row to seal, so an empty database needs no key), in chunks inside this migration's
transaction. From now on a CHECK refuses any value that is not sealed.

The renamed columns break the previous release: stop it (or let it fail its idempotent POSTs and webhook
reads) while this runs; the API tasks of this release start after ``psp db upgrade``.

Revision ID: b4f1e7a2c903
Revises: 7c3e9a1d5b20
Create Date: 2026-11-22 00:00:00
"""

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import sqlalchemy as sa
from alembic import op

from psp.bootstrap import data_box
from psp.config import Settings
from psp.data_sources.encryption import SecretBox
from psp.repositories.postgres.idempotency import response_context
from psp.repositories.postgres.webhooks import secret_context

revision: str = "b4f1e7a2c903"
down_revision: str | None = "7c3e9a1d5b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 1000
SEALED = "substring({column} FROM 1 FOR 1) = '\\x01'::bytea"


@cache
def box() -> SecretBox:
    return data_box(Settings.from_env())


def upgrade() -> None:
    op.add_column("webhook_endpoints", sa.Column("secret_sealed", sa.LargeBinary(), nullable=True))
    op.add_column("webhook_endpoints", sa.Column("previous_secret_sealed", sa.LargeBinary(), nullable=True))
    _convert_endpoints(
        "SELECT id, merchant_id, secret AS current, previous_secret AS previous FROM webhook_endpoints",
        "UPDATE webhook_endpoints SET secret_sealed = :current, previous_secret_sealed = :previous "
        "WHERE id = :id",
        lambda value, context: box().seal(value.encode(), context),
        ("secret_sealed", "previous_secret_sealed"),
    )
    op.drop_constraint(op.f("ck_webhook_endpoints_secret_prefixed"), "webhook_endpoints", type_="check")
    op.drop_constraint(
        op.f("ck_webhook_endpoints_previous_secret_expiry"), "webhook_endpoints", type_="check"
    )
    op.drop_column("webhook_endpoints", "previous_secret")
    op.drop_column("webhook_endpoints", "secret")
    op.alter_column("webhook_endpoints", "secret_sealed", nullable=False)
    op.create_check_constraint(
        op.f("ck_webhook_endpoints_secret_sealed"), "webhook_endpoints", SEALED.format(column="secret_sealed")
    )
    op.create_check_constraint(
        op.f("ck_webhook_endpoints_previous_secret_sealed"),
        "webhook_endpoints",
        "previous_secret_sealed IS NULL OR " + SEALED.format(column="previous_secret_sealed"),
    )
    op.create_check_constraint(
        op.f("ck_webhook_endpoints_previous_secret_expiry"),
        "webhook_endpoints",
        "(previous_secret_sealed IS NULL) = (previous_secret_expires_at IS NULL)",
    )

    op.drop_constraint(op.f("ck_idempotency_keys_response_iff_completed"), "idempotency_keys", type_="check")
    op.alter_column("idempotency_keys", "response_body", new_column_name="response_body_sealed")
    _convert_responses(lambda value, context: box().seal(value, context))
    op.create_check_constraint(
        op.f("ck_idempotency_keys_response_iff_completed"),
        "idempotency_keys",
        "(state = 'completed') = (response_status IS NOT NULL AND response_body_sealed IS NOT NULL)",
    )
    op.create_check_constraint(
        op.f("ck_idempotency_keys_response_sealed"),
        "idempotency_keys",
        "response_body_sealed IS NULL OR " + SEALED.format(column="response_body_sealed"),
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_idempotency_keys_response_sealed"), "idempotency_keys", type_="check")
    op.drop_constraint(op.f("ck_idempotency_keys_response_iff_completed"), "idempotency_keys", type_="check")
    _convert_responses(lambda value, context: box().open(value, context))
    op.alter_column("idempotency_keys", "response_body_sealed", new_column_name="response_body")
    op.create_check_constraint(
        op.f("ck_idempotency_keys_response_iff_completed"),
        "idempotency_keys",
        "(state = 'completed') = (response_status IS NOT NULL AND response_body IS NOT NULL)",
    )

    op.drop_constraint(
        op.f("ck_webhook_endpoints_previous_secret_expiry"), "webhook_endpoints", type_="check"
    )
    op.drop_constraint(
        op.f("ck_webhook_endpoints_previous_secret_sealed"), "webhook_endpoints", type_="check"
    )
    op.drop_constraint(op.f("ck_webhook_endpoints_secret_sealed"), "webhook_endpoints", type_="check")
    op.add_column("webhook_endpoints", sa.Column("secret", sa.String(length=128), nullable=True))
    op.add_column("webhook_endpoints", sa.Column("previous_secret", sa.String(length=128), nullable=True))
    _convert_endpoints(
        "SELECT id, merchant_id, secret_sealed AS current, previous_secret_sealed AS previous "
        "FROM webhook_endpoints",
        "UPDATE webhook_endpoints SET secret = :current, previous_secret = :previous WHERE id = :id",
        lambda value, context: box().open(value, context).decode(),
        ("secret_sealed", "previous_secret_sealed"),
    )
    op.drop_column("webhook_endpoints", "previous_secret_sealed")
    op.drop_column("webhook_endpoints", "secret_sealed")
    op.alter_column("webhook_endpoints", "secret", nullable=False)
    op.create_check_constraint(
        op.f("ck_webhook_endpoints_secret_prefixed"), "webhook_endpoints", "left(secret, 6) = 'whsec_'"
    )
    op.create_check_constraint(
        op.f("ck_webhook_endpoints_previous_secret_expiry"),
        "webhook_endpoints",
        "(previous_secret IS NULL) = (previous_secret_expires_at IS NULL)",
    )


def _convert_endpoints(
    select: str, update: str, convert: Callable[[Any, bytes], Any], columns: tuple[str, str]
) -> None:
    # Webhook endpoints are few (a handful per merchant): one read, one batched update.
    connection = op.get_bind()
    changes = []
    for row in connection.execute(sa.text(select)).all():
        current_context = secret_context(columns[0], row.merchant_id, row.id)
        previous_context = secret_context(columns[1], row.merchant_id, row.id)
        changes.append(
            {
                "id": row.id,
                "current": convert(row.current, current_context),
                "previous": None if row.previous is None else convert(row.previous, previous_context),
            }
        )
    if changes:
        connection.execute(sa.text(update), changes)


def _convert_responses(convert: Callable[[bytes, bytes], bytes]) -> None:
    # Up to PSP_IDEMPOTENCY_KEY_TTL_DAYS of idempotent POSTs: walked in key order, one chunk at a time.
    connection = op.get_bind()
    after: tuple[Any, str] | None = None
    while True:
        query = (
            "SELECT merchant_id, key, response_body_sealed AS body FROM idempotency_keys "
            "WHERE response_body_sealed IS NOT NULL"
            + ("" if after is None else " AND (merchant_id, key) > (:merchant_id, :key)")
            + " ORDER BY merchant_id, key LIMIT :limit"
        )
        parameters: dict[str, Any] = {"limit": CHUNK}
        if after is not None:
            parameters.update(merchant_id=after[0], key=after[1])
        rows = connection.execute(sa.text(query), parameters).all()
        if not rows:
            return
        connection.execute(
            sa.text(
                "UPDATE idempotency_keys SET response_body_sealed = :body "
                "WHERE merchant_id = :merchant_id AND key = :key"
            ),
            [
                {
                    "merchant_id": row.merchant_id,
                    "key": row.key,
                    "body": convert(bytes(row.body), response_context(row.merchant_id, row.key)),
                }
                for row in rows
            ],
        )
        after = (rows[-1].merchant_id, rows[-1].key)
