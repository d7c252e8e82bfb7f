"""The schema, as SQLAlchemy Core tables: the one source Alembic migrations are checked against.

Card data kept is only brand, first six, last four, holder, expiry and a keyed fingerprint; there is no
column for the full number or the verification code, by design.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSON, JSONB, UUID

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

CURRENCY_CHECK = "~ '^[A-Z]{3}$'"
TRANSACTIONS_FILLFACTOR: Final = 50
PAYABLES_FILLFACTOR: Final = 50


def _sealed(column: str) -> str:
    # A sealed value starts with its format version (1): the database itself refuses a plaintext, so
    # no code path can store one by forgetting the cipher.
    return f"substring({column} FROM 1 FOR 1) = '\\x01'::bytea"


def _timestamp(name: str, nullable: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


merchants = Table(
    "merchants",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("default_currency", String(3), nullable=False),
    Column("debit_fee_bps", Integer, nullable=False),
    Column("credit_fee_bps", Integer, nullable=False),
    _timestamp("created_at"),
    CheckConstraint(f"default_currency {CURRENCY_CHECK}", name="default_currency_iso"),
    CheckConstraint("debit_fee_bps BETWEEN 0 AND 10000", name="debit_fee_bps_range"),
    CheckConstraint("credit_fee_bps BETWEEN 0 AND 10000", name="credit_fee_bps_range"),
    CheckConstraint("length(btrim(name)) > 0", name="name_not_blank"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("merchant_id", UUID(as_uuid=True), ForeignKey("merchants.id"), nullable=False),
    Column("mode", String(4), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    _timestamp("created_at"),
    _timestamp("revoked_at", nullable=True),
    CheckConstraint("mode IN ('test', 'live')", name="mode_known"),
    CheckConstraint("key_hash ~ '^[0-9a-f]{64}$'", name="key_hash_sha256"),
    Index(None, "merchant_id"),
)

transactions = Table(
    "transactions",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("merchant_id", UUID(as_uuid=True), ForeignKey("merchants.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("description", String(255), nullable=False),
    Column("payment_method", String(16), nullable=False),
    Column("installments", SmallInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("fee_bps", Integer, nullable=False),
    Column("decline_code", String(64), nullable=True),
    Column("amount_refunded", BigInteger, nullable=False, server_default=text("0")),
    Column("acquirer_reference", String(64), nullable=True),
    Column("version", Integer, nullable=False, server_default=text("1")),
    # True exactly while the status is `processing` (checked below): what the job that resolves unknown
    # outcomes finds through its partial index. No index may name `status` itself: a change of an indexed
    # column (or of one in an index's predicate) makes PostgreSQL write a new entry in every index, where
    # settling (waiting_funds -> paid) and refunding otherwise rewrite the row in place (a HOT update).
    Column("awaiting_acquirer", Boolean, nullable=False, server_default=text("false")),
    # The `transaction.paid` event whose data is this row, rendered when the event is read; set when the
    # transaction is paid, and cleared by a trigger, which first stores the rendered object into the
    # event, on the transaction's next change (see `event_sql.event_data_sql`).
    Column("paid_event_id", UUID(as_uuid=True), nullable=True),
    Column("card_brand", String(16), nullable=False),
    Column("card_first_six", String(6), nullable=False),
    Column("card_last_four", String(4), nullable=False),
    Column("card_holder_name", String(100), nullable=False),
    Column("card_expiration_month", SmallInteger, nullable=False),
    Column("card_expiration_year", SmallInteger, nullable=False),
    Column("card_fingerprint", String(64), nullable=False),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint(f"currency {CURRENCY_CHECK}", name="currency_iso"),
    CheckConstraint("payment_method IN ('debit_card', 'credit_card')", name="payment_method_known"),
    CheckConstraint("installments BETWEEN 1 AND 12", name="installments_range"),
    CheckConstraint("payment_method = 'credit_card' OR installments = 1", name="installments_only_on_credit"),
    CheckConstraint(
        "status IN ('processing', 'declined', 'waiting_funds', 'paid', 'refunded')", name="status_known"
    ),
    CheckConstraint("amount_refunded BETWEEN 0 AND amount", name="amount_refunded_within_amount"),
    CheckConstraint("(status = 'refunded') = (amount_refunded = amount)", name="refunded_iff_fully"),
    CheckConstraint("(status = 'declined') = (decline_code IS NOT NULL)", name="decline_code_iff_declined"),
    CheckConstraint("(status = 'processing') = awaiting_acquirer", name="awaiting_acquirer_iff_processing"),
    CheckConstraint("fee_bps BETWEEN 0 AND 10000", name="fee_bps_range"),
    CheckConstraint("card_first_six ~ '^[0-9]{6}$'", name="card_first_six_digits"),
    CheckConstraint("card_last_four ~ '^[0-9]{4}$'", name="card_last_four_digits"),
    CheckConstraint("card_expiration_month BETWEEN 1 AND 12", name="card_expiration_month_range"),
    Index("ix_transactions_merchant_recent", "merchant_id", text("created_at DESC"), text("id DESC")),
    Index(
        "ix_transactions_awaiting_acquirer",
        "created_at",
        "id",
        postgresql_where=text("awaiting_acquirer"),
    ),
    # Room on every page for one new version of each row: a transaction changes status once or twice
    # after it is written (paid, refunded), and the new version must fit on the row's own page for the
    # update to be HOT. Settling 1,000,000 single-installment payables took 11 % less time with it.
    postgresql_with={"fillfactor": TRANSACTIONS_FILLFACTOR},
)

payables = Table(
    "payables",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("merchant_id", UUID(as_uuid=True), ForeignKey("merchants.id"), nullable=False),
    Column("transaction_id", UUID(as_uuid=True), ForeignKey("transactions.id"), nullable=False),
    Column("installment", SmallInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("net_amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("payment_date", Date, nullable=False),
    _timestamp("paid_at", nullable=True),
    _timestamp("created_at"),
    Column("version", Integer, nullable=False, server_default=text("1")),
    UniqueConstraint("transaction_id", "installment"),
    # Installments 1..12 owe money (never below zero; zero once refunded in full); adjustments (101 and up)
    # take back refunded money already paid out: negative, fee-free and paid at once.
    CheckConstraint(
        "(installment BETWEEN 1 AND 12 AND amount >= 0 AND fee >= 0 AND net_amount >= 0)"
        " OR (installment > 100 AND amount < 0 AND fee = 0 AND status = 'paid')",
        name="installment_or_adjustment",
    ),
    CheckConstraint("status IN ('waiting_funds', 'paid')", name="status_known"),
    CheckConstraint("(status = 'paid') = (paid_at IS NOT NULL)", name="paid_at_iff_paid"),
    CheckConstraint("fee + net_amount = amount", name="fee_plus_net_is_gross"),
    CheckConstraint(f"currency {CURRENCY_CHECK}", name="currency_iso"),
    # No index names `status` (nor a column settlement changes): settling rewrites each payable in place
    # (a HOT update: no new index entries, the new version on the row's own page), the way it rewrites
    # its transaction. What is still to pay is found through `waiting_payables` instead, and a list
    # filtered by status reads the merchant's recent payables and skips the other status.
    Index("ix_payables_merchant_recent", "merchant_id", text("created_at DESC"), text("id DESC")),
    Index("ix_payables_merchant_payment_date", "merchant_id", "payment_date"),
    # Room on every page for one new version of each row: a payable is paid once after it is written.
    postgresql_with={"fillfactor": PAYABLES_FILLFACTOR},
)

# Exactly the payables waiting for funds, by payment date: what settlement claims (and deletes) chunk by
# chunk. A statement trigger on `payables` adds every waiting payable inserted, whatever writes it;
# settlement is the only writer that moves a payable out of `waiting_funds`, and it deletes the rows it
# claims in the statement that pays them (see the migration that made settlement updates HOT).
waiting_payables = Table(
    "waiting_payables",
    metadata,
    Column("payment_date", Date, primary_key=True),
    Column("payable_id", UUID(as_uuid=True), primary_key=True),
)

# The outbox and events rows still to hand off, whichever queue backend runs: the Postgres queue's worker or
# the SQS relay sets processed_at. The predicate of both logs' claimable index, and of every query that
# must use it (the planner uses a partial index only for a query that implies its predicate).
NOT_HANDED_OFF: Final = "processed_at IS NULL AND dead_at IS NULL"

outbox = Table(
    "outbox",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("event_type", String(64), nullable=False),
    # No foreign key: copied from the transaction it reports on, itself checked (see the migration).
    Column("merchant_id", UUID(as_uuid=True), nullable=False),
    Column("aggregate_id", UUID(as_uuid=True), nullable=False),
    Column("payload", JSONB, nullable=False),
    _timestamp("created_at"),
    # Postgres queue: a row is claimable when not processed, not dead and visible again. The SQS relay
    # reads the same index: it sets processed_at (with published_at) once SQS has accepted the row.
    _timestamp("visible_at"),
    Column("receive_count", Integer, nullable=False, server_default=text("0")),
    _timestamp("processed_at", nullable=True),
    _timestamp("dead_at", nullable=True),
    Column("last_error", Text, nullable=True),
    # SQS relay: when SQS accepted the row (processed_at is set with it).
    _timestamp("published_at", nullable=True),
    CheckConstraint("receive_count >= 0", name="receive_count_not_negative"),
    Index(
        "ix_outbox_claimable",
        "visible_at",
        "id",
        postgresql_where=text(NOT_HANDED_OFF),
    ),
    Index("ix_outbox_aggregate", "aggregate_id"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("merchant_id", UUID(as_uuid=True), ForeignKey("merchants.id"), nullable=False),
    Column("transaction_id", UUID(as_uuid=True), ForeignKey("transactions.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    _timestamp("created_at"),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint(f"currency {CURRENCY_CHECK}", name="currency_iso"),
    Index("ix_refunds_transaction_recent", "transaction_id", text("created_at DESC"), text("id DESC")),
    Index("ix_refunds_merchant_recent", "merchant_id", text("created_at DESC"), text("id DESC")),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("merchant_id", UUID(as_uuid=True), ForeignKey("merchants.id"), primary_key=True),
    Column("key", String(255), primary_key=True),
    # A keyed HMAC of method, path and body: the body holds card data, so never a plain hash of it.
    Column("request_fingerprint", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("response_status", SmallInteger, nullable=True),
    # Sealed (AES-256-GCM, see data_sources/encryption.py): a response may hold a webhook signing secret.
    Column("response_body_sealed", LargeBinary, nullable=True),
    _timestamp("locked_until"),
    _timestamp("created_at"),
    _timestamp("completed_at", nullable=True),
    CheckConstraint("state IN ('in_progress', 'completed')", name="state_known"),
    CheckConstraint(
        "(state = 'completed') = (response_status IS NOT NULL AND response_body_sealed IS NOT NULL)",
        name="response_iff_completed",
    ),
    CheckConstraint(
        f"response_body_sealed IS NULL OR {_sealed('response_body_sealed')}", name="response_sealed"
    ),
    Index("ix_idempotency_keys_created_at", "created_at"),
)

# A maintained aggregate of payables' net amounts per merchant and currency, so a balance is a sum of at
# most 16 rows instead of a sum over every payable. Kept exact by statement-level triggers on payables
# (see the migrations that create them); tests compare it with the sum after random sequences of every
# write. Each writing transaction adds to one of the slots, so concurrent writers rarely wait on each other.
merchant_balances = Table(
    "merchant_balances",
    metadata,
    Column("merchant_id", UUID(as_uuid=True), ForeignKey("merchants.id"), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("slot", SmallInteger, primary_key=True, server_default=text("0")),
    Column("waiting_funds", BigInteger, nullable=False, server_default=text("0")),
    Column("available", BigInteger, nullable=False, server_default=text("0")),
    # No sign CHECK: PostgreSQL checks the proposed row of an upsert (a signed delta) before resolving
    # the conflict, so a CHECK here would refuse valid decrements.
    CheckConstraint(f"currency {CURRENCY_CHECK}", name="currency_iso"),
    CheckConstraint("slot BETWEEN 0 AND 15", name="slot_range"),
)

# Public events: one per state change, written in the same database transaction as the change. Also the
# webhooks worker's queue with the Postgres backend (claimed with SKIP LOCKED, like the outbox for the
# payables worker) and the SQS relay's source for the webhooks queue otherwise.
events = Table(
    "events",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    # No foreign key: copied from the object the event reports on, itself checked (see the migration).
    Column("merchant_id", UUID(as_uuid=True), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("object_id", UUID(as_uuid=True), nullable=False),
    Column("object_version", Integer, nullable=False),
    # JSON, not JSONB: the object keeps its documented key order, and is sent byte for byte as stored.
    # NULL for settlement's events (`payable.paid`, `transaction.paid`): their data is rendered from the
    # row when the event is read (`event_sql.event_data_sql`).
    Column("data", JSON, nullable=True),
    Column("api_version", String(16), nullable=False),
    _timestamp("created_at"),
    _timestamp("visible_at"),
    Column("receive_count", Integer, nullable=False, server_default=text("0")),
    _timestamp("processed_at", nullable=True),
    _timestamp("dead_at", nullable=True),
    _timestamp("published_at", nullable=True),
    CheckConstraint("object_version >= 1", name="object_version_positive"),
    CheckConstraint(
        "data IS NOT NULL OR event_type IN ('payable.paid', 'transaction.paid')",
        name="data_stored_unless_rendered",
    ),
    CheckConstraint("receive_count >= 0", name="receive_count_not_negative"),
    Index("ix_events_merchant_recent", "merchant_id", text("created_at DESC"), text("id DESC")),
    Index(
        "ix_events_claimable",
        "visible_at",
        "id",
        postgresql_where=text(NOT_HANDED_OFF),
    ),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("merchant_id", UUID(as_uuid=True), ForeignKey("merchants.id"), nullable=False),
    Column("url", Text, nullable=False),
    Column("enabled_events", ARRAY(String(64)), nullable=False),
    Column("description", String(255), nullable=False),
    Column("mode", String(4), nullable=False),
    # psp signs with them, so they are sealed (AES-256-GCM, see data_sources/encryption.py), not hashed.
    # Shown to the merchant once, never logged.
    Column("secret_sealed", LargeBinary, nullable=False),
    Column("previous_secret_sealed", LargeBinary, nullable=True),
    _timestamp("previous_secret_expires_at", nullable=True),
    Column("status", String(16), nullable=False),
    _timestamp("failing_since", nullable=True),
    Column("disabled_reason", String(64), nullable=True),
    _timestamp("created_at"),
    _timestamp("deleted_at", nullable=True),
    CheckConstraint("mode IN ('test', 'live')", name="mode_known"),
    CheckConstraint("status IN ('enabled', 'disabled')", name="status_known"),
    CheckConstraint(_sealed("secret_sealed"), name="secret_sealed"),
    CheckConstraint(
        f"previous_secret_sealed IS NULL OR {_sealed('previous_secret_sealed')}",
        name="previous_secret_sealed",
    ),
    CheckConstraint(
        "(previous_secret_sealed IS NULL) = (previous_secret_expires_at IS NULL)",
        name="previous_secret_expiry",
    ),
    Index("ix_webhook_endpoints_merchant_recent", "merchant_id", text("created_at DESC"), text("id DESC")),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("merchant_id", UUID(as_uuid=True), ForeignKey("merchants.id"), nullable=False),
    Column("event_id", UUID(as_uuid=True), ForeignKey("events.id"), nullable=False),
    Column("endpoint_id", UUID(as_uuid=True), ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    # When the next attempt is due; while an attempt runs, when its claim lapses (a killed worker's).
    _timestamp("next_attempt_at", nullable=True),
    # Retries stop GIVE_UP_AFTER (3 days) from here: the first attempt, or the last manual redelivery.
    _timestamp("retrying_since"),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    UniqueConstraint("event_id", "endpoint_id"),
    CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status_known"),
    CheckConstraint("(status = 'pending') = (next_attempt_at IS NOT NULL)", name="next_attempt_iff_pending"),
    CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    Index("ix_webhook_deliveries_endpoint", "endpoint_id"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("delivery_id", UUID(as_uuid=True), ForeignKey("webhook_deliveries.id"), nullable=False),
    _timestamp("attempted_at"),
    Column("status_code", SmallInteger, nullable=True),
    Column("latency_ms", Integer, nullable=False),
    Column("response_excerpt", Text, nullable=False),
    Column("error", String(255), nullable=True),
    CheckConstraint("latency_ms >= 0", name="latency_not_negative"),
    Index("ix_webhook_attempts_delivery", "delivery_id", "attempted_at"),
)
