"""The body of ``POST /v1/transactions/<id>/refunds``: an optional ``amount``; none means everything left."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from psp.domain.transactions import MAX_AMOUNT
from psp.validators import RequestSchema, integer_field, load


class NewRefundSchema(RequestSchema):
    amount = integer_field("amount", minimum=1, maximum=MAX_AMOUNT, required=False)


_SCHEMA: Final = NewRefundSchema()


def parse_new_refund(body: Mapping[str, Any]) -> int | None:
    """The amount to refund, or None for all that is refundable; raise ValidationFailed if malformed."""
    amount: int | None = load(_SCHEMA, body).get("amount")
    return amount
