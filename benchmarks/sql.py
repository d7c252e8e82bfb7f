"""The rows psp writes per approved transaction, for the ceilings (pgbench and the bare app).

An approval writes three rows in one statement (``psp.repositories.postgres.appends``): the transaction,
its outbox event for the payables worker and its public ``transaction.approved`` event, whose ``data`` is
the transaction object. These mirror ``transaction_row``, ``outbox_row`` and ``event_row``: the same
columns, the same kinds of values (time-ordered ids, JSON of the same shape and size), one statement sent
alone in autocommit, as psp sends it (a statement is atomic on its own: no BEGIN and COMMIT round trips).
If the product's schema or its approval statement changes, change these too (``tests/integration/
test_benchmark_sql.py`` compares the rows).
"""

from __future__ import annotations

from psp.domain.events import API_VERSION

FINGERPRINT = "f" * 64
TRANSACTION_COLUMNS = (
    "id, merchant_id, amount, currency, description, payment_method, installments, status, "
    "awaiting_acquirer, fee_bps, decline_code, card_brand, card_first_six, card_last_four, card_holder_name, "
    "card_expiration_month, card_expiration_year, card_fingerprint, created_at, updated_at, amount_refunded, "
    "acquirer_reference, version"
)
OUTBOX_COLUMNS = "id, event_type, merchant_id, aggregate_id, payload, created_at, visible_at"
EVENT_COLUMNS = (
    "id, merchant_id, event_type, object_id, object_version, data, api_version, created_at, visible_at"
)

# psycopg (the bare app): every value a bound parameter, in one multi-table INSERT as psp sends it.
INSERT_APPROVAL = f"""WITH transaction AS (
    INSERT INTO transactions ({TRANSACTION_COLUMNS}) VALUES (
        %(id)s, %(merchant_id)s, %(amount)s, %(currency)s, %(description)s, %(payment_method)s,
        %(installments)s, %(status)s, false, %(fee_bps)s, NULL, %(card_brand)s, %(card_first_six)s,
        %(card_last_four)s, %(card_holder_name)s, %(card_expiration_month)s, %(card_expiration_year)s,
        %(card_fingerprint)s, %(created_at)s, %(created_at)s, 0, %(acquirer_reference)s, 1)
), outbox_event AS (
    INSERT INTO outbox ({OUTBOX_COLUMNS}) VALUES (
        %(outbox_id)s, 'transaction.approved', %(merchant_id)s, %(id)s, %(payload)s, %(created_at)s,
        %(created_at)s)
)
INSERT INTO events ({EVENT_COLUMNS}) VALUES (
    %(event_id)s, %(merchant_id)s, 'transaction.approved', %(id)s, 1, %(data)s, %(api_version)s,
    %(created_at)s, %(created_at)s)
"""  # noqa: S608 - constants only

# pgbench (-M prepared): the same three rows in one statement, alone; :merchant comes from -D.
# The ids are psp's time-ordered ones (``psp_uuid_v7``, from psp's migrations); the JSON has psp's keys.
# The JSON comes from json_build_object, not ``event_sql.transaction_json_sql``: pgbench would read that
# builder's to_char pattern (HH24:MI:SS) as variables :MI and :SS.
PGBENCH_SCRIPT = f"""\\set amount random(100, 100000)
WITH transaction AS (
    INSERT INTO transactions ({TRANSACTION_COLUMNS})
    VALUES (psp_uuid_v7(now()), :merchant, :amount, 'BRL', 'Benchmark', 'credit_card', 1, 'waiting_funds',
            false, 500, NULL, 'visa', '411111', '1111', 'Ana Souza', 12, 2030, '{FINGERPRINT}', now(), now(),
            0, 'sim_bench', 1)
    RETURNING *
), outbox_event AS (
    INSERT INTO outbox ({OUTBOX_COLUMNS})
    SELECT psp_uuid_v7(now()), 'transaction.approved', t.merchant_id, t.id,
           jsonb_build_object('transaction_id', CAST(t.id AS text),
                              'merchant_id', CAST(t.merchant_id AS text), 'amount', t.amount,
                              'currency', t.currency, 'payment_method', t.payment_method,
                              'installments', t.installments, 'fee_bps', t.fee_bps, 'status', t.status,
                              'created_at', CAST(t.created_at AS text)),
           t.created_at, t.created_at
    FROM transaction AS t
)
INSERT INTO events ({EVENT_COLUMNS})
SELECT psp_uuid_v7(now()), t.merchant_id, 'transaction.approved', t.id, 1,
       json_build_object('id', t.id, 'object', 'transaction', 'amount', t.amount, 'currency', t.currency,
                         'description', t.description, 'payment_method', t.payment_method,
                         'installments', t.installments, 'status', t.status,
                         'amount_refunded', t.amount_refunded, 'decline_code', t.decline_code,
                         'card', json_build_object('brand', t.card_brand, 'first_six', t.card_first_six,
                                                   'last_four', t.card_last_four,
                                                   'holder_name', t.card_holder_name,
                                                   'expiration_month', t.card_expiration_month,
                                                   'expiration_year', t.card_expiration_year,
                                                   'fingerprint', t.card_fingerprint),
                         'created_at', t.created_at, 'updated_at', t.updated_at, 'version', t.version),
       '{API_VERSION}', t.created_at, t.created_at
FROM transaction AS t;
"""  # noqa: S608 - a pgbench script built from this module's constants
