"""Queue payloads: the ``transaction.approved`` event, parsed back into what payables are built from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, post_load, validate

from psp.domain.payables import ApprovedTransaction
from psp.domain.pricing import BASIS_POINTS_PER_UNIT, MAX_INSTALLMENTS
from psp.domain.transactions import MAX_AMOUNT, PaymentMethod


class ApprovedTransactionSchema(Schema):
    """The payload of ``psp.domain.events.transaction_event`` for an approval; other keys are ignored."""

    class Meta:
        # The payload also carries ``status`` and may grow; a consumer reads only what it needs.
        unknown = EXCLUDE

    transaction_id = fields.UUID(required=True)
    merchant_id = fields.UUID(required=True)
    amount = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_AMOUNT))
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$"))
    payment_method = fields.Enum(PaymentMethod, by_value=True, required=True)
    installments = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=MAX_INSTALLMENTS)
    )
    fee_bps = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0, max=BASIS_POINTS_PER_UNIT)
    )
    created_at = fields.AwareDateTime(required=True)

    @post_load
    def to_approved_transaction(self, data: dict[str, Any], **_: Any) -> ApprovedTransaction:
        return ApprovedTransaction(**data)


_SCHEMA = ApprovedTransactionSchema()


def parse_approved_transaction(payload: Mapping[str, Any]) -> ApprovedTransaction:
    """Validate a ``transaction.approved`` payload; raise ``marshmallow.ValidationError`` if malformed."""
    approved: ApprovedTransaction = _SCHEMA.load(payload)
    return approved
