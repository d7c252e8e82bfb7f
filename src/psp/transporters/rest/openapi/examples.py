"""Examples for the OpenAPI document: real shapes, made-up ids. A test checks each against its schema."""

from __future__ import annotations

from typing import Any, Final

REQUEST_ID: Final = "req_5f0c6e1d2a3b4c5d6e7f8091"
TRANSACTION_ID: Final = "019345ab-0000-7000-8000-000000000001"
PAYABLE_ID: Final = "019345ab-0000-7000-8000-000000000002"
REFUND_ID: Final = "019345ab-0000-7000-8000-000000000003"

CARD: Final = {
    "brand": "visa",
    "first_six": "411111",
    "last_four": "1111",
    "holder_name": "Ana Souza",
    "expiration_month": 12,
    "expiration_year": 2039,
    "fingerprint": "9b1c0e4f5a7d2c3b8e6f1a0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b",
}
TRANSACTION: Final = {
    "id": TRANSACTION_ID,
    "object": "transaction",
    "amount": 2500,
    "currency": "BRL",
    "description": "Smartband XYZ 3.0",
    "payment_method": "credit_card",
    "installments": 1,
    "status": "waiting_funds",
    "amount_refunded": 0,
    "decline_code": None,
    "card": CARD,
    "created_at": "2026-11-20T12:00:00.000Z",
    "updated_at": "2026-11-20T12:00:00.000Z",
}
PAYABLE: Final = {
    "id": PAYABLE_ID,
    "object": "payable",
    "transaction_id": TRANSACTION_ID,
    "installment": 1,
    "status": "waiting_funds",
    "amount": 2500,
    "fee": 125,
    "net_amount": 2375,
    "currency": "BRL",
    "payment_date": "2026-12-20",
    "paid_at": None,
    "created_at": "2026-11-20T12:00:00.150Z",
}
REFUND: Final = {
    "id": REFUND_ID,
    "object": "refund",
    "transaction_id": TRANSACTION_ID,
    "amount": 500,
    "currency": "BRL",
    "created_at": "2026-11-21T09:30:00.000Z",
}
BALANCE: Final = {
    "object": "balance",
    "available": [{"amount": 971, "currency": "BRL"}],
    "waiting_funds": [{"amount": 2375, "currency": "BRL"}],
}

NEW_TRANSACTION: Final = {
    "amount": 2500,
    "currency": "BRL",
    "description": "Smartband XYZ 3.0",
    "payment_method": "credit_card",
    "installments": 1,
    "card_number": "4111111111111111",
    "card_holder_name": "Ana Souza",
    "card_expiration_date": "12/39",
    "card_verification_code": "123",
}
# The simulator acquirer answers by card number, so each example shows one outcome.
CREATE_TRANSACTION_EXAMPLES: Final = {
    "approved": ("approved (201)", NEW_TRANSACTION),
    "debit": (
        "debit, approved and paid at once (201)",
        {**NEW_TRANSACTION, "payment_method": "debit_card", "amount": 1001},
    ),
    "installments": ("credit in 3 installments (201)", {**NEW_TRANSACTION, "installments": 3}),
    "declined": ("declined (402)", {**NEW_TRANSACTION, "card_number": "4000000000000002"}),
    "processing": ("the acquirer times out (202)", {**NEW_TRANSACTION, "card_number": "4000000000000119"}),
}


ENDPOINT_ID: Final = "019345ab-0000-7000-8000-000000000004"
EVENT_ID: Final = "019345ab-0000-7000-8000-000000000005"
DELIVERY_ID: Final = "019345ab-0000-7000-8000-000000000006"
WEBHOOK_ENDPOINT: Final = {
    "id": ENDPOINT_ID,
    "object": "webhook_endpoint",
    "url": "https://shop.example.com/psp/webhooks",
    "enabled_events": ["transaction.approved", "payable.paid"],
    "description": "order system",
    "mode": "live",
    "status": "enabled",
    "disabled_reason": None,
    "previous_secret_expires_at": None,  # a date field, not a secret  # nosec B105
    "created_at": "2026-11-20T11:00:00.000Z",
}
WEBHOOK_ENDPOINT_WITH_SECRET: Final = {
    **WEBHOOK_ENDPOINT,
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw/gK8Ek7bX5A=",  # the documentation's example  # nosec B105
}
EVENT: Final = {
    "id": EVENT_ID,
    "object": "event",
    "type": "transaction.approved",
    "created": "2026-11-20T12:00:00.000Z",
    "api_version": "2026-11-20",
    "data": {"object": {**TRANSACTION, "version": 1}},
}
WEBHOOK_DELIVERY: Final = {
    "id": DELIVERY_ID,
    "object": "webhook_delivery",
    "event_id": EVENT_ID,
    "endpoint_id": ENDPOINT_ID,
    "status": "succeeded",
    "attempt_count": 2,
    "next_attempt_at": None,
    "created_at": "2026-11-20T12:00:00.200Z",
    "attempts": [
        {
            "attempted_at": "2026-11-20T12:00:00.210Z",
            "status_code": 503,
            "latency_ms": 42,
            "response_excerpt": "maintenance",
            "error": None,
        },
        {
            "attempted_at": "2026-11-20T12:01:03.000Z",
            "status_code": 200,
            "latency_ms": 35,
            "response_excerpt": "",
            "error": None,
        },
    ],
}
REDELIVERY: Final = {"object": "redelivery", "event_id": EVENT_ID, "deliveries": 1}
DELETED_ENDPOINT: Final = {"id": ENDPOINT_ID, "object": "webhook_endpoint", "deleted": True}


def list_of(item: dict[str, Any]) -> dict[str, Any]:
    return {"object": "list", "data": [item], "has_more": False, "next_cursor": None}


def _error(error_type: str, code: str, message: str, param: str | None = None, **more: Any) -> dict[str, Any]:
    body = {"type": error_type, "code": code, "message": message, "param": param, "request_id": REQUEST_ID}
    return {"error": {**body, **more}}


# Per status, named examples of the error body.
ERROR_EXAMPLES: Final[dict[int, dict[str, Any]]] = {
    400: {
        "validation": _error(
            "invalid_request_error",
            "parameter_missing",
            "amount is required",
            "amount",
            details=[
                {"code": "parameter_missing", "message": "amount is required", "param": "amount"},
                {
                    "code": "parameter_invalid",
                    "message": "payment_method must be one of: debit_card, credit_card",
                    "param": "payment_method",
                },
            ],
        ),
        "card": _error(
            "invalid_request_error",
            "invalid_card_number",
            "card_number is not a valid card number",
            "card_number",
            details=[
                {
                    "code": "invalid_card_number",
                    "message": "card_number is not a valid card number",
                    "param": "card_number",
                }
            ],
        ),
        "json": _error("invalid_request_error", "invalid_json", "the request body is not valid JSON"),
        "json_depth": _error(
            "invalid_request_error",
            "json_too_deep",
            "the request body nests arrays and objects deeper than 32 levels",
        ),
    },
    401: {
        "missing": _error(
            "authentication_error",
            "missing_api_key",
            "No API key provided: send 'Authorization: Bearer sk_test_...'",
        ),
    },
    402: {
        "declined": _error(
            "card_error",
            "card_declined",
            "The card was declined",
            transaction={**TRANSACTION, "status": "declined", "decline_code": "card_declined"},
        ),
    },
    404: {
        "missing": _error(
            "invalid_request_error", "resource_missing", f"No such transaction: '{TRANSACTION_ID}'", "id"
        ),
    },
    405: {
        "method": _error("invalid_request_error", "method_not_allowed", "DELETE is not allowed on this URL"),
    },
    409: {
        "in_progress": _error(
            "idempotency_error",
            "idempotency_key_in_use",
            "A request with this Idempotency-Key is still in progress; retry shortly",
            "Idempotency-Key",
        ),
    },
    413: {
        "too_large": _error(
            "invalid_request_error", "body_too_large", "the request body must not exceed 65536 bytes"
        ),
    },
    415: {
        "media_type": _error(
            "invalid_request_error",
            "unsupported_media_type",
            "send the body as JSON with 'Content-Type: application/json'",
        ),
    },
    422: {
        "key_reused": _error(
            "idempotency_error",
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request; use a new key",
            "Idempotency-Key",
        ),
        "refund_too_large": _error(
            "invalid_request_error",
            "amount_too_large",
            "amount must not exceed what is still refundable: 2000",
            "amount",
        ),
    },
    429: {
        "rate_limited": _error(
            "rate_limit_error",
            "rate_limit_exceeded",
            "Too many requests with this API key; slow down and retry after the Retry-After seconds",
        ),
        "failed_authentications": _error(
            "rate_limit_error",
            "too_many_failed_authentications",
            "Too many failed authentications from this client; retry after the Retry-After seconds",
        ),
    },
    503: {
        "database": _error("api_error", "database_unavailable", "the database is unavailable; retry shortly"),
        "acquirer": _error(
            "api_error",
            "acquirer_unavailable",
            "the acquirer is unavailable; nothing was charged, retry shortly",
        ),
    },
}
