"""SQL that writes public events set-based, inside the statement that makes the change.

The JSON built here must equal ``psp.domain.objects`` for the same row (plus ``version``); an integration
test compares them. Timestamps: RFC 3339 UTC with milliseconds, like ``objects.timestamp``.
"""

from __future__ import annotations

from typing import Final

from psp.domain.events import API_VERSION


def sql_timestamp(column: str) -> str:
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""


def payable_json_sql(alias: str) -> str:
    a = alias
    return f"""json_build_object(
        'id', {a}.id, 'object', 'payable', 'transaction_id', {a}.transaction_id,
        'installment', {a}.installment, 'status', {a}.status, 'amount', {a}.amount, 'fee', {a}.fee,
        'net_amount', {a}.net_amount, 'currency', {a}.currency,
        'payment_date', to_char({a}.payment_date, 'YYYY-MM-DD'),
        'paid_at', {sql_timestamp(f"{a}.paid_at")}, 'created_at', {sql_timestamp(f"{a}.created_at")},
        'version', {a}.version)"""


def transaction_json_sql(alias: str) -> str:
    a = alias
    return f"""json_build_object(
        'id', {a}.id, 'object', 'transaction', 'amount', {a}.amount, 'currency', {a}.currency,
        'description', {a}.description, 'payment_method', {a}.payment_method,
        'installments', {a}.installments, 'status', {a}.status, 'amount_refunded', {a}.amount_refunded,
        'decline_code', {a}.decline_code,
        'card', json_build_object(
            'brand', {a}.card_brand, 'first_six', {a}.card_first_six, 'last_four', {a}.card_last_four,
            'holder_name', {a}.card_holder_name, 'expiration_month', {a}.card_expiration_month,
            'expiration_year', {a}.card_expiration_year, 'fingerprint', {a}.card_fingerprint),
        'created_at', {sql_timestamp(f"{a}.created_at")}, 'updated_at', {sql_timestamp(f"{a}.updated_at")},
        'version', {a}.version)"""


EVENT_COLUMNS: Final = (
    "id, merchant_id, event_type, object_id, object_version, data, api_version, created_at, visible_at"
)


def insert_events_sql(event_type: str, source: str, alias: str, object_json: str, at: str) -> str:
    """``INSERT INTO events`` one row per row of ``source`` (a CTE or table), all stamped ``at``."""
    # Constant SQL: every fragment is ours (event types and aliases are literals in this package).
    return f"""INSERT INTO events ({EVENT_COLUMNS})
        SELECT psp_uuid_v7({at}), {alias}.merchant_id, '{event_type}', {alias}.id, {alias}.version,
               {object_json}, '{API_VERSION}', {at}, {at}
        FROM {source} AS {alias}"""  # noqa: S608  # nosec B608
