"""Query strings of the list routes: ``limit``, ``starting_after`` and the payable filters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from marshmallow import fields

from psp.domain.pagination import DEFAULT_LIMIT, MAX_LIMIT, Cursor, PageRequest
from psp.domain.payables import PayableStatus
from psp.lib.errors import ErrorDetail, ValidationFailed
from psp.repositories.ports import PayableFilters
from psp.validators import (
    PARAMETER_INVALID,
    RequestSchema,
    choice,
    integer_field,
    load,
    string_field,
    type_messages,
)


class ListQuerySchema(RequestSchema):
    # Query strings are text, so ``limit`` is parsed from digits rather than required as a JSON integer.
    limit = integer_field(
        "limit", minimum=1, maximum=MAX_LIMIT, required=False, strict=False, load_default=DEFAULT_LIMIT
    )
    starting_after = string_field("starting_after", required=False)


class PayableListQuerySchema(ListQuerySchema):
    status = string_field(
        "status", required=False, validators=[choice("status", [status.value for status in PayableStatus])]
    )
    payment_date_gte = fields.Date(
        data_key="payment_date[gte]", error_messages=type_messages("payment_date[gte]", "a date (YYYY-MM-DD)")
    )
    payment_date_lte = fields.Date(
        data_key="payment_date[lte]", error_messages=type_messages("payment_date[lte]", "a date (YYYY-MM-DD)")
    )
    transaction_id = fields.UUID(error_messages=type_messages("transaction_id", "a transaction id"))


_LIST_QUERY: Final = ListQuerySchema()
_PAYABLE_LIST_QUERY: Final = PayableListQuerySchema()


def parse_page_request(query: Mapping[str, Sequence[str]]) -> PageRequest:
    """Read ``limit`` and ``starting_after`` from a query string given as ``{name: [values]}``."""
    return page_request_of(load(_LIST_QUERY, single_values(query)))


def parse_payable_query(query: Mapping[str, Sequence[str]]) -> tuple[PayableFilters, PageRequest]:
    """Read the payable filters and the page from a query string given as ``{name: [values]}``."""
    data = load(_PAYABLE_LIST_QUERY, single_values(query))
    status = data.get("status")
    filters = PayableFilters(
        status=None if status is None else PayableStatus(status),
        payment_date_gte=data.get("payment_date_gte"),
        payment_date_lte=data.get("payment_date_lte"),
        transaction_id=data.get("transaction_id"),
    )
    return filters, page_request_of(data)


def single_values(query: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """One value per parameter: ``?limit=1&limit=50`` is ambiguous, so it is refused, not guessed."""
    repeated = [name for name, values in query.items() if len(values) > 1]
    if repeated:
        raise ValidationFailed.from_details(
            [ErrorDetail(PARAMETER_INVALID, f"{name} may be given only once", name) for name in repeated]
        )
    return {name: values[0] for name, values in query.items() if values}


def page_request_of(data: Mapping[str, Any]) -> PageRequest:
    token = data.get("starting_after")
    return PageRequest(
        limit=data.get("limit") or DEFAULT_LIMIT,
        starting_after=None if token is None else Cursor.decode(token, param="starting_after"),
    )
