"""Marshmallow schemas of what the API answers, for the OpenAPI document.

The JSON itself is written by ``serializers.py``; these schemas describe it, and the contract fuzzing test
(schemathesis) checks every response it gets against them, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from psp.domain.payables import PayableStatus
from psp.domain.transactions import PaymentMethod, TransactionStatus

ERROR_TYPES = (
    "invalid_request_error",
    "authentication_error",
    "card_error",
    "idempotency_error",
    "rate_limit_error",
    "api_error",
)


def _text(description: str, *, nullable: bool = False, choices: list[str] | None = None) -> fields.String:
    return fields.String(
        required=True,
        allow_none=nullable,
        validate=None if choices is None else validate.OneOf(choices),
        metadata={"description": description},
    )


def _integer(description: str) -> fields.Integer:
    return fields.Integer(required=True, metadata={"description": description})


def _object(name: str) -> fields.String:
    return _text(f"always `{name}`", choices=[name])


def _id(description: str) -> fields.UUID:
    return fields.UUID(required=True, metadata={"description": description})


def _timestamp(description: str, *, nullable: bool = False) -> fields.String:
    # Written by ``serializers.timestamp``: RFC 3339 UTC with ``Z`` and milliseconds.
    return fields.String(
        required=True,
        allow_none=nullable,
        metadata={"description": description, "format": "date-time"},
    )


class Closed(Schema):
    """Response objects carry exactly the documented fields (``unknown = RAISE``: none other)."""


class CardSchema(Closed):
    brand = _text("card brand, from the number's range (`unknown` when no known range matches)")
    first_six = _text("the first six digits (BIN)")
    last_four = _text("the last four digits")
    holder_name = _text("the name on the card")
    expiration_month = _integer("1 to 12")
    expiration_year = _integer("four digits")
    fingerprint = _text("keyed HMAC of the card number: the same card always has the same fingerprint")


class TransactionSchema(Closed):
    id = _id("the transaction's id")
    object = _object("transaction")
    amount = _integer("in minor units of the currency (cents)")
    currency = _text("ISO 4217 code")
    description = _text("the merchant's description")
    payment_method = _text("how the card was charged", choices=[m.value for m in PaymentMethod])
    installments = _integer("1 for debit; 1 to 12 for credit")
    status = _text(
        "`processing` (acquirer gave no answer yet), `declined`, `waiting_funds`, `paid` or `refunded`",
        choices=[s.value for s in TransactionStatus],
    )
    amount_refunded = _integer("sum of the transaction's refunds, in minor units")
    decline_code = _text("why the acquirer declined; null unless `declined`", nullable=True)
    card = fields.Nested(CardSchema, required=True, metadata={"description": "what psp keeps of the card"})
    created_at = _timestamp("when the transaction was created")
    updated_at = _timestamp("when its status last changed")


class PayableSchema(Closed):
    id = _id("the payable's id")
    object = _object("payable")
    transaction_id = _id("the transaction it pays out")
    installment = _integer("1 to 12; 101 and up for adjustments taking back refunded money already paid out")
    status = _text("`waiting_funds` or `paid`", choices=[s.value for s in PayableStatus])
    amount = _integer("gross, in minor units (negative for an adjustment)")
    fee = _integer("psp's fee: floor(gross x rate)")
    net_amount = _integer("what the merchant receives: amount - fee")
    currency = _text("ISO 4217 code")
    payment_date = fields.Date(required=True, metadata={"description": "the day it is (or was) due"})
    paid_at = _timestamp("when it was paid; null while waiting", nullable=True)
    created_at = _timestamp("when it was created")


class RefundSchema(Closed):
    id = _id("the refund's id")
    object = _object("refund")
    transaction_id = _id("the refunded transaction")
    amount = _integer("refunded, in minor units")
    currency = _text("ISO 4217 code, the transaction's")
    created_at = _timestamp("when the refund was made")


class BalanceLineSchema(Closed):
    amount = _integer("net amount, in minor units")
    currency = _text("ISO 4217 code")


class BalanceSchema(Closed):
    object = _object("balance")
    available = fields.List(
        fields.Nested(BalanceLineSchema), required=True, metadata={"description": "net of paid payables"}
    )
    waiting_funds = fields.List(
        fields.Nested(BalanceLineSchema), required=True, metadata={"description": "net of waiting payables"}
    )


def _list_of(item: type[Schema], name: str) -> type[Schema]:
    return Closed.from_dict(
        {
            "object": _object("list"),
            "data": fields.List(fields.Nested(item), required=True, metadata={"description": "newest first"}),
            "has_more": fields.Boolean(required=True, metadata={"description": "whether more pages follow"}),
            "next_cursor": _text(
                "pass as `starting_after` to get the next page; null on the last page", nullable=True
            ),
        },
        name=name,
    )


class WebhookEndpointSchema(Closed):
    id = _id("the endpoint's id")
    object = _object("webhook_endpoint")
    url = _text("where deliveries are POSTed")
    enabled_events = fields.List(
        fields.String(), required=True, metadata={"description": "event types delivered here (`*`: all)"}
    )
    description = _text("the merchant's note")
    mode = _text("the mode of the key that created it; live endpoints need https and public addresses")
    status = _text("`enabled`, or `disabled` after failing for 3 days", choices=["enabled", "disabled"])
    disabled_reason = _text("why it was disabled; null while enabled", nullable=True)
    previous_secret_expires_at = _timestamp(
        "until when the secret before the last rotation still signs too; null when it does not", nullable=True
    )
    created_at = _timestamp("when it was created")


class WebhookEndpointWithSecretSchema(WebhookEndpointSchema):
    secret = _text("the signing secret (`whsec_...`): shown only in this answer, store it now")


class DeletedWebhookEndpointSchema(Closed):
    id = _id("the deleted endpoint's id")
    object = _object("webhook_endpoint")
    deleted = fields.Boolean(required=True, metadata={"description": "always true"})


class EventDataSchema(Closed):
    object = fields.Dict(
        required=True,
        metadata={
            "description": "the object as the API shows it, plus its `version` (grows with every change)"
        },
    )


class EventSchema(Closed):
    id = _id("the event's id; also the `webhook-id` of its deliveries")
    object = _object("event")
    type = _text("what happened")
    created = _timestamp("when it happened")
    api_version = _text("the version of the event's shape")
    data = fields.Nested(EventDataSchema, required=True)


class WebhookAttemptSchema(Closed):
    attempted_at = _timestamp("when the attempt started")
    status_code = fields.Integer(
        required=True, allow_none=True, metadata={"description": "the endpoint's HTTP status; null: none"}
    )
    latency_ms = _integer("how long the attempt took")
    response_excerpt = _text("the start of the endpoint's answer")
    error = _text("why there was no HTTP answer (time-out, refused, ...)", nullable=True)


class WebhookDeliverySchema(Closed):
    id = _id("the delivery's id")
    object = _object("webhook_delivery")
    event_id = _id("the event delivered")
    endpoint_id = _id("where it is delivered")
    status = _text("`pending`, `succeeded` or `failed`", choices=["pending", "succeeded", "failed"])
    attempt_count = _integer("attempts so far")
    next_attempt_at = _timestamp("when the next attempt is due; null once done", nullable=True)
    created_at = _timestamp("when the delivery was scheduled")
    attempts = fields.List(fields.Nested(WebhookAttemptSchema), required=True)


class RedeliverySchema(Closed):
    object = _object("redelivery")
    event_id = _id("the event sent again")
    deliveries = _integer("how many deliveries are due again now")


TransactionListSchema = _list_of(TransactionSchema, "TransactionListSchema")
PayableListSchema = _list_of(PayableSchema, "PayableListSchema")
RefundListSchema = _list_of(RefundSchema, "RefundListSchema")
WebhookEndpointListSchema = _list_of(WebhookEndpointSchema, "WebhookEndpointListSchema")
EventListSchema = _list_of(EventSchema, "EventListSchema")
WebhookDeliveryListSchema = _list_of(WebhookDeliverySchema, "WebhookDeliveryListSchema")


class ErrorDetailSchema(Closed):
    code = _text("what went wrong with this parameter")
    message = _text("for humans")
    param = _text("the parameter", nullable=True)


class ErrorBodySchema(Closed):
    type = _text("the error's family", choices=list(ERROR_TYPES))
    code = _text("what went wrong, for programs to branch on")
    message = _text("for humans; never contains card data")
    param = _text("the offending parameter (a body field, query parameter or header)", nullable=True)
    request_id = _text("the `Request-Id` of the request that first got this answer", nullable=True)
    details = fields.List(
        fields.Nested(ErrorDetailSchema),
        metadata={"description": "every problem, when several parameters are wrong"},
    )
    transaction = fields.Nested(
        TransactionSchema, metadata={"description": "402 only: the declined transaction, as recorded"}
    )


class ErrorSchema(Closed):
    error = fields.Nested(ErrorBodySchema, required=True)


class LivenessSchema(Closed):
    status = _object("ok")


class ReadinessChecksSchema(Closed):
    database = _text("`ok` or `unavailable`", choices=["ok", "unavailable"])
    queue = _text("`ok` or `unavailable`", choices=["ok", "unavailable"])


class ReadinessSchema(Closed):
    status = _text("`ok` when every check is", choices=["ok", "unavailable"])
    checks = fields.Nested(ReadinessChecksSchema, required=True)
