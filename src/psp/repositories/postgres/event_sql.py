"""SQL that writes public events set-based, inside the statement that makes the change.

The JSON built here must equal ``psp.domain.objects`` for the same row (plus ``version``); an integration
test compares them. Timestamps: RFC 3339 UTC with milliseconds, like ``objects.timestamp``.
"""

from __future__ import annotations

from typing import Final

from psp.domain.events import API_VERSION, PAYABLE_PAID, TRANSACTION_PAID


def sql_timestamp(column: str) -> str:
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""


# The objects are built as text and cast to json once: json_build_object looks up each argument's type
# output function on every row, which made the transaction's object cost 5.3 us a row against 3.1 us for
# this (measured over 100,000 rows). A value is a list of pieces: constant text (str) or the SQL of an
# expression that is never NULL (``Sql``); adjacent constants are joined into one literal.


class Sql(str):
    """An SQL expression of type text, never NULL, as opposed to constant text."""


Piece = str | Sql


def json_object(*members: tuple[str, list[Piece]]) -> list[Piece]:
    """``{"key":value,...}`` from (key, value) pairs; keys are our own literals."""
    pieces: list[Piece] = []
    for index, (key, value) in enumerate(members):
        pieces += [("{" if index == 0 else ",") + f'"{key}":', *value]
    return [*pieces, "}"]


def as_json(pieces: list[Piece]) -> str:
    """The SQL that concatenates ``pieces`` and casts the text to json."""
    terms: list[str] = []
    constant = ""
    for piece in pieces:
        if isinstance(piece, Sql):
            terms += [f"'{constant}'"] if constant else []
            terms.append(f"({piece})")
            constant = ""
        else:
            constant += piece.replace("'", "''")
    terms += [f"'{constant}'"] if constant else []
    return f"CAST({' || '.join(terms)} AS json)"


def plain_string(column: str) -> list[Piece]:
    """A string that needs no escaping (uuid, date, a checked code of letters, digits and underscores)."""
    return ['"', Sql(column), '"']


def escaped_string(column: str) -> list[Piece]:
    """Any text, escaped by PostgreSQL; NULL becomes JSON null."""
    return [Sql(f"coalesce(to_json({column})::text, 'null')")]


def number(column: str) -> list[Piece]:
    return [Sql(f"CAST({column} AS text)")]


def literal(value: str) -> list[Piece]:
    return [f'"{value}"']


def timestamp(column: str) -> list[Piece]:
    """RFC 3339 UTC with milliseconds, like ``objects.timestamp``; NULL becomes JSON null."""
    return [Sql(f"""coalesce('"' || {sql_timestamp(column)} || '"', 'null')""")]


def payable_json_sql(alias: str) -> str:
    a = alias
    return as_json(
        json_object(
            ("id", plain_string(f"{a}.id")),
            ("object", literal("payable")),
            ("transaction_id", plain_string(f"{a}.transaction_id")),
            ("installment", number(f"{a}.installment")),
            ("status", plain_string(f"{a}.status")),
            ("amount", number(f"{a}.amount")),
            ("fee", number(f"{a}.fee")),
            ("net_amount", number(f"{a}.net_amount")),
            ("currency", plain_string(f"{a}.currency")),
            ("payment_date", plain_string(f"to_char({a}.payment_date, 'YYYY-MM-DD')")),
            ("paid_at", timestamp(f"{a}.paid_at")),
            ("created_at", timestamp(f"{a}.created_at")),
            ("version", number(f"{a}.version")),
        )
    )


def transaction_json_sql(alias: str) -> str:
    a = alias
    card = json_object(
        ("brand", escaped_string(f"{a}.card_brand")),
        ("first_six", plain_string(f"{a}.card_first_six")),
        ("last_four", plain_string(f"{a}.card_last_four")),
        ("holder_name", escaped_string(f"{a}.card_holder_name")),
        ("expiration_month", number(f"{a}.card_expiration_month")),
        ("expiration_year", number(f"{a}.card_expiration_year")),
        ("fingerprint", escaped_string(f"{a}.card_fingerprint")),
    )
    return as_json(
        json_object(
            ("id", plain_string(f"{a}.id")),
            ("object", literal("transaction")),
            ("amount", number(f"{a}.amount")),
            ("currency", plain_string(f"{a}.currency")),
            ("description", escaped_string(f"{a}.description")),
            ("payment_method", plain_string(f"{a}.payment_method")),
            ("installments", number(f"{a}.installments")),
            ("status", plain_string(f"{a}.status")),
            ("amount_refunded", number(f"{a}.amount_refunded")),
            ("decline_code", escaped_string(f"{a}.decline_code")),
            ("card", card),
            ("created_at", timestamp(f"{a}.created_at")),
            ("updated_at", timestamp(f"{a}.updated_at")),
            ("version", number(f"{a}.version")),
        )
    )


# Settlement's events store no data; their objects are rendered from the rows when the event is read,
# wherever ``events.data`` is read (API, webhooks worker, queue payload, SQS relay). Settling 1,000,000
# single-installment payables writes 2,000,000 of them, and building, parsing and storing their JSON was
# a third of its time.
# - ``payable.paid``: a paid payable never changes again (a trigger refuses any update or delete of one),
#   so the payable's row is the object the event reported.
# - ``transaction.paid``: the transaction names the event in ``paid_event_id`` while it is still the
#   object the event reported; the first later change (a refund) stores the rendered object into the
#   event and clears ``paid_event_id`` first (a trigger, see the migration that added the column).
def event_data_sql(alias: str) -> str:
    """The data of event ``alias``: as stored, or rendered from its row (see above)."""
    a = alias
    return f"""coalesce({a}.data, CASE {a}.event_type
        WHEN '{PAYABLE_PAID}' THEN (
            SELECT {payable_json_sql("p")} FROM payables AS p WHERE p.id = {a}.object_id)
        WHEN '{TRANSACTION_PAID}' THEN (
            SELECT {transaction_json_sql("t")} FROM transactions AS t
            WHERE t.id = {a}.object_id AND t.paid_event_id = {a}.id)
        END)"""  # noqa: S608  # nosec B608


# The ``:at`` parameter of a statement, typed, for stamping the events it writes.
AT_PARAMETER: Final = "CAST(:at AS timestamptz)"

# A new time-ordered event id stamped ``:at``, and the data of an event rendered when read (see above).
NEW_EVENT_ID: Final = f"psp_uuid_v7({AT_PARAMETER})"
NO_DATA: Final = "CAST(NULL AS json)"

EVENT_COLUMNS: Final = (
    "id, merchant_id, event_type, object_id, object_version, data, api_version, created_at, visible_at, "
    "processed_at"
)


def endpoint_wants_sql(event_type: str) -> str:
    """Endpoint ``ep`` is live and subscribed to ``event_type`` (an SQL expression): the fan-out's rule."""
    return f"""ep.status = 'enabled' AND ep.deleted_at IS NULL
      AND ({event_type} = ANY(ep.enabled_events) OR '*' = ANY(ep.enabled_events))"""


def insert_events_sql(
    event_type: str, source: str, alias: str, object_json: str, at: str, *, event_id: str | None = None
) -> str:
    """``INSERT INTO events`` one row per row of ``source`` (a CTE or table), all stamped ``at``.

    Each event's id is ``event_id`` (an SQL expression over ``alias``), or a new time-ordered one.

    An event no endpoint of its merchant wants is written handed off (``processed_at`` = ``at``): the
    webhooks queue would only fan it out to nobody, and its claimable index entry (then the update that
    marks it processed) is saved. Settling 1,000,000 payables writes 2,000,000 events; 8 % of a chunk's
    time went to this. Which endpoints want it is read once per statement (a hashed subplan). An
    endpoint created while the statement runs may miss these events, as it would any event happening at
    the instant of its creation (the fan-out also skips endpoints newer than the event).
    """
    wanted = endpoint_wants_sql(f"'{event_type}'")
    new_id = event_id or f"psp_uuid_v7({at})"
    # Constant SQL: every fragment is ours (event types and aliases are literals in this package).
    return f"""INSERT INTO events ({EVENT_COLUMNS})
        SELECT {new_id}, {alias}.merchant_id, '{event_type}', {alias}.id, {alias}.version,
               {object_json}, '{API_VERSION}', {at}, {at},
               CASE WHEN {alias}.merchant_id IN (
                   SELECT ep.merchant_id FROM webhook_endpoints AS ep WHERE {wanted}
               ) THEN NULL ELSE {at} END
        FROM {source} AS {alias}"""  # noqa: S608  # nosec B608


def transaction_paid_events_sql(source: str) -> str:
    """The ``transaction.paid`` events of the transactions ``source`` just paid (an ``UPDATE ... RETURNING``
    that set ``paid_event_id`` to ``NEW_EVENT_ID``): no data, their object is rendered from the row."""
    return insert_events_sql(TRANSACTION_PAID, source, "e", NO_DATA, AT_PARAMETER, event_id="e.paid_event_id")
