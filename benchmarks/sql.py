"""The two inserts psp makes per approved transaction, for the ceilings (pgbench and the bare app).

They mirror ``transaction_row`` and ``outbox_row`` in ``psp.repositories.postgres``: the same columns, the
same kinds of values, one database transaction. If the product's schema changes, change these too.
"""

from __future__ import annotations

FINGERPRINT = "f" * 64
TRANSACTION_COLUMNS = (
    "id, merchant_id, amount, currency, description, payment_method, installments, status, fee_bps, "
    "decline_code, card_brand, card_first_six, card_last_four, card_holder_name, card_expiration_month, "
    "card_expiration_year, card_fingerprint, created_at, updated_at, amount_refunded, acquirer_reference"
)
OUTBOX_COLUMNS = "id, event_type, merchant_id, aggregate_id, payload, created_at, visible_at"

# psycopg (the bare app): every value a bound parameter, as SQLAlchemy sends them for psp.
INSERT_TRANSACTION = (
    f"INSERT INTO transactions ({TRANSACTION_COLUMNS}) VALUES ("  # noqa: S608 - constants only
    "%(id)s, %(merchant_id)s, %(amount)s, %(currency)s, %(description)s, %(payment_method)s, "
    "%(installments)s, %(status)s, %(fee_bps)s, NULL, %(card_brand)s, %(card_first_six)s, "
    "%(card_last_four)s, %(card_holder_name)s, %(card_expiration_month)s, %(card_expiration_year)s, "
    "%(card_fingerprint)s, %(created_at)s, %(created_at)s, 0, %(acquirer_reference)s)"
)
INSERT_OUTBOX = (
    f"INSERT INTO outbox ({OUTBOX_COLUMNS}) VALUES ("  # noqa: S608 - constants only
    "%(event_id)s, 'transaction.approved', %(merchant_id)s, %(id)s, %(payload)s, "
    "%(created_at)s, %(created_at)s)"
)

# pgbench (-M prepared): the same two statements in one transaction; :merchant comes from -D.
PGBENCH_SCRIPT = f"""\\set amount random(100, 100000)
BEGIN;
INSERT INTO transactions ({TRANSACTION_COLUMNS})
VALUES (gen_random_uuid(), :merchant, :amount, 'BRL', 'Benchmark', 'credit_card', 1, 'waiting_funds', 500,
        NULL, 'visa', '411111', '1111', 'Ana Souza', 12, 2030, '{FINGERPRINT}', now(), now(), 0, 'sim_bench')
RETURNING id AS tid \\gset
INSERT INTO outbox ({OUTBOX_COLUMNS})
VALUES (gen_random_uuid(), 'transaction.approved', :merchant, :tid,
        jsonb_build_object('transaction_id', CAST(:tid AS text), 'merchant_id', CAST(:merchant AS text),
                           'amount', CAST(:amount AS bigint), 'currency', 'BRL',
                           'payment_method', 'credit_card', 'installments', 1, 'fee_bps', 500,
                           'status', 'waiting_funds',
                           'created_at', CAST(now() AS text)),
        now(), now());
COMMIT;
"""  # noqa: S608 - a pgbench script built from this module's constants
