"""The OpenAPI 3.1 document of the API (served at ``/v1/openapi.json``, rendered at ``/docs``).

Request bodies and query strings are described by the very marshmallow schemas that validate them
(``psp.validators``); responses by ``openapi.schemas``. Every route of the Flask app must appear here: a
test compares the app's URL rules with this document, and the contract fuzzing test drives every operation
and checks every answer against it.
"""

from __future__ import annotations

import copy
import functools
from typing import Any, Final

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from psp import __version__
from psp.transporters.rest.idempotency import IDEMPOTENCY_KEY_HEADER, REPLAYED_HEADER
from psp.transporters.rest.openapi import schemas
from psp.transporters.rest.openapi.examples import (
    BALANCE,
    CREATE_TRANSACTION_EXAMPLES,
    DELETED_ENDPOINT,
    ENDPOINT_ID,
    ERROR_EXAMPLES,
    EVENT,
    EVENT_ID,
    PAYABLE,
    PAYABLE_ID,
    REDELIVERY,
    REFUND,
    REFUND_ID,
    REQUEST_ID,
    TRANSACTION,
    TRANSACTION_ID,
    WEBHOOK_DELIVERY,
    WEBHOOK_ENDPOINT,
    WEBHOOK_ENDPOINT_WITH_SECRET,
    list_of,
)
from psp.validators.lists import ListQuerySchema, PayableListQuerySchema
from psp.validators.refunds import NewRefundSchema
from psp.validators.transactions import NewTransactionSchema
from psp.validators.webhooks import (
    EmptyBodySchema,
    EventListQuerySchema,
    NewWebhookEndpointSchema,
    RotateSecretSchema,
)

OPENAPI_VERSION: Final = "3.1.0"
JSON: Final = "application/json"

DESCRIPTION: Final = """\
A payment service provider core: post card transactions, then follow the payables (what psp owes you,
net of fees, by payment date), your balance and refunds.

* **Authentication**: every `/v1` route wants `Authorization: Bearer <secret key>` (`sk_test_...` or
  `sk_live_...`); a missing, unknown or revoked key answers 401. You see only your own objects: another
  merchant's id answers 404, like one that does not exist.
* **JSON** in and out (`Content-Type: application/json`, UTF-8); bodies over 64 KiB answer 413, bodies
  nested deeper than 32 levels 400 (`json_too_deep`).
* **Rate limits**: each key may send a burst of requests, then a steady rate; beyond it 429
  (`rate_limit_exceeded`) with `Retry-After` (seconds). Repeated failed authentications from one client
  answer 429 (`too_many_failed_authentications`) for a while, whatever key it sends.
* **Idempotency**: send `Idempotency-Key` on every POST. The first answer to a key (status and body) is
  stored with the request's effect and replayed byte for byte to every retry, with
  `Idempotent-Replayed: true`. The same key with another body answers 422; while the first request with
  the key still runs, 409 (retry shortly). Keys are kept 30 days. A request that fails validation stores
  nothing.
* **Errors** are `{"error": {"type", "code", "message", "param", "request_id"}}` (plus `details` when
  several parameters are wrong). Every response carries `Request-Id`.
* **Lists** are newest first, keyset-paginated: `limit` (1-100, default 20) and
  `starting_after=<next_cursor>`.
* **Amounts** are integers in minor units (cents); timestamps RFC 3339 UTC; dates `YYYY-MM-DD`.
"""

# What the request schemas' fields mean, for the reader (the schemas themselves say what is valid).
FIELD_DESCRIPTIONS: Final = {
    "NewTransaction": {
        "amount": "in minor units of the currency (cents): 2500 is BRL 25.00",
        "currency": "ISO 4217 code; default: the merchant's currency",
        "description": "what was sold; shown back on the transaction",
        "payment_method": "`debit_card` (3%, paid at once) or `credit_card` (5%, paid D+30 per installment)",
        "installments": "credit only, 1 to 12 (default 1); installment i is due D+30*i",
        "card_number": "12 to 19 digits (spaces and dashes ignored), Luhn-valid; never stored or echoed",
        "card_holder_name": "the name on the card",
        "card_expiration_date": "`MM/YY` or `MM/YYYY`, not in the past",
        "card_verification_code": "3 digits (4 for amex); never stored or echoed",
    },
    "NewRefund": {"amount": "in minor units; default: everything still refundable"},
    "NewWebhookEndpoint": {
        "url": "https in live mode, to public addresses only; http is allowed for localhost with a test key",
        "enabled_events": "event types to deliver here; `*` for all, present and future",
        "description": "a note for yourself",
    },
    "RotateSecret": {
        "overlap_seconds": "how long the old secret keeps signing too (0 to 604800, default 86400)",
    },
}
QUERY_EXAMPLES: Final = {
    "limit": 20,
    "starting_after": "MjAyNi0xMS0yMFQxMjowMDowMCswMDowMHwwMTkzNDVhYi0wMDAwLTcwMDAtODAwMC0wMDAwMDAwMDAwMDE",
    "status": "waiting_funds",
    "payment_date[gte]": "2026-12-01",
    "payment_date[lte]": "2026-12-31",
    "transaction_id": TRANSACTION_ID,
    "type": "transaction.approved",
}
QUERY_DESCRIPTIONS: Final = {
    "limit": "how many objects per page, 1 to 100 (default 20)",
    "starting_after": "the `next_cursor` of the previous page",
    "status": "only payables in this status",
    "payment_date[gte]": "only payables due on or after this date",
    "payment_date[lte]": "only payables due on or before this date",
    "transaction_id": "only the payables of this transaction",
    "type": "only events of this type",
}

# Error responses, by status: (component name, description, extra headers).
ERRORS: Final = {
    400: (
        "BadRequest",
        "invalid parameters, query or JSON; `param` names the first, `details` lists all",
        (),
    ),
    401: ("Unauthorized", "missing, unknown or revoked secret key", ("WWW-Authenticate",)),
    404: ("NotFound", "no such object for this merchant (another merchant's id reads the same)", ()),
    405: ("MethodNotAllowed", "this method is not allowed on this path", ("Allow",)),
    409: (
        "IdempotencyKeyInUse",
        "a request with this `Idempotency-Key` is still in progress; safe to retry shortly",
        ("Retry-After",),
    ),
    413: ("PayloadTooLarge", "the body is over the size limit (64 KiB by default)", ()),
    415: ("UnsupportedMediaType", "the body is not `application/json` in UTF-8", ()),
    429: (
        "TooManyRequests",
        "too many requests with this key (`rate_limit_exceeded`), or too many failed authentications from "
        "this client (`too_many_failed_authentications`); nothing was done, retry after `Retry-After`",
        ("Retry-After",),
    ),
    422: (
        "Unprocessable",
        "the `Idempotency-Key` was used with another request, or the request cannot be carried out now",
        (),
    ),
    503: (
        "ServiceUnavailable",
        "a dependency (the database, or the acquirer before it charged anything) is unavailable; nothing "
        "was done, safe to retry with the same `Idempotency-Key`",
        ("Retry-After",),
    ),
}
HEADERS: Final[dict[str, dict[str, Any]]] = {
    "Request-Id": {
        "description": "this request's id (the client's own `Request-Id`, if sane); quote it to support",
        "required": True,
        "schema": {"type": "string"},
        "example": REQUEST_ID,
    },
    REPLAYED_HEADER: {
        "description": "`true` when this is the stored answer to an earlier request with the same key",
        "schema": {"type": "string", "enum": ["true"]},
        "example": "true",
    },
    "Location": {
        "description": "the URL of the created object",
        "schema": {"type": "string"},
        "example": f"/v1/transactions/{TRANSACTION_ID}",
    },
    "Retry-After": {"description": "seconds to wait", "schema": {"type": "string"}, "example": "1"},
    "WWW-Authenticate": {
        "description": "the authentication scheme wanted",
        "schema": {"type": "string"},
        "example": 'Bearer realm="psp"',
    },
    "Allow": {"description": "the methods this path allows", "schema": {"type": "string"}, "example": "GET"},
}
IDEMPOTENCY_KEY_PARAMETER: Final = {
    "name": IDEMPOTENCY_KEY_HEADER,
    "in": "header",
    "required": False,
    "description": (
        "a unique key per intended operation (a UUID is a good choice), 1 to 255 printable ASCII "
        "characters; retries with the same key and body get the first answer back"
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
    "example": "order-1234-attempt",
}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _headers(*names: str) -> dict[str, Any]:
    return {name: _ref("headers", name) for name in ("Request-Id", *names)}


def _json_response(description: str, schema: str, example: Any, *headers: str) -> dict[str, Any]:
    media = {"schema": _ref("schemas", schema), "example": example}
    return {"description": description, "headers": _headers(*headers), "content": {JSON: media}}


def _error_response(status: int) -> dict[str, Any]:
    _, description, headers = ERRORS[status]
    examples = {name: {"value": value} for name, value in ERROR_EXAMPLES[status].items()}
    media = {"schema": _ref("schemas", "Error"), "examples": examples}
    return {"description": description, "headers": _headers(*headers), "content": {JSON: media}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): _ref("responses", ERRORS[status][0]) for status in statuses}


def _path_parameter(name: str, kind: str, example: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": f"the {kind}'s id (a malformed id answers 404, like a missing one)",
        "schema": {"type": "string"},
        "example": example,
    }


API_ERRORS: Final = (401, 405, 429, 503)  # any authenticated route
POST_ERRORS: Final = (400, 409, 413, 415, 422)


def _operations() -> dict[str, dict[str, dict[str, Any]]]:
    """Every route, by OpenAPI path and method. A route the app serves but this misses fails a test."""
    transaction_id = _path_parameter("transaction_id", "transaction", TRANSACTION_ID)
    endpoint_id = _path_parameter("endpoint_id", "webhook endpoint", ENDPOINT_ID)
    event_id = _path_parameter("event_id", "event", EVENT_ID)
    return {
        "/healthz": {
            "get": {
                "tags": ["operations"],
                "summary": "Liveness",
                "description": "The process is up; touches nothing outside it.",
                "operationId": "liveness",
                "security": [],
                "responses": {
                    "200": _json_response("alive", "Liveness", {"status": "ok"}),
                    **_errors(405),
                },
            }
        },
        "/readyz": {
            "get": {
                "tags": ["operations"],
                "summary": "Readiness",
                "description": "Whether the database and the queue answer now (bounded probes).",
                "operationId": "readiness",
                "security": [],
                "responses": {
                    "200": _json_response(
                        "ready", "Readiness", {"status": "ok", "checks": {"database": "ok", "queue": "ok"}}
                    ),
                    "503": _json_response(
                        "a dependency does not answer",
                        "Readiness",
                        {"status": "unavailable", "checks": {"database": "unavailable", "queue": "ok"}},
                    ),
                    **_errors(405),
                },
            }
        },
        "/metrics": {
            "get": {
                "tags": ["operations"],
                "summary": "Prometheus metrics",
                "description": "HTTP traffic of every worker process, queue lag, outbox backlog, settlement.",
                "operationId": "metrics",
                "security": [],
                "responses": {
                    "200": {
                        "description": "Prometheus text exposition format",
                        "headers": _headers(),
                        "content": {
                            "text/plain": {
                                "schema": {"type": "string"},
                                "example": 'psp_http_requests_total{method="GET",route="/v1/balance",'
                                'status="200"} 3.0\n',
                            }
                        },
                    },
                    **_errors(405),
                },
            }
        },
        "/v1/openapi.json": {
            "get": {
                "tags": ["operations"],
                "summary": "This document",
                "description": "The OpenAPI 3.1 document of the API; no key needed.",
                "operationId": "openapi",
                "security": [],
                "responses": {
                    "200": {
                        "description": "the OpenAPI document",
                        "headers": _headers(),
                        "content": {
                            JSON: {"schema": {"type": "object"}, "example": {"openapi": OPENAPI_VERSION}}
                        },
                    },
                    **_errors(405),
                },
            }
        },
        "/docs": {
            "get": {
                "tags": ["operations"],
                "summary": "API reference (HTML)",
                "description": "This document as a page, rendered by the server (no external assets).",
                "operationId": "docs",
                "security": [],
                "responses": {
                    "200": {
                        "description": "the API reference",
                        "headers": _headers(),
                        "content": {
                            "text/html": {"schema": {"type": "string"}, "example": "<!doctype html>..."}
                        },
                    },
                    **_errors(405),
                },
            }
        },
        "/v1/transactions": {
            "post": {
                "tags": ["transactions"],
                "summary": "Create a card transaction",
                "description": (
                    "Validates the card, asks the acquirer and records the outcome: 201 approved, 402 "
                    "declined (the declined transaction is recorded and returned inside the error), 202 "
                    "processing (the acquirer gave no answer in time; a job resolves it later). The card "
                    "number and verification code are never stored, logged or echoed."
                ),
                "operationId": "createTransaction",
                "parameters": ["IdempotencyKey"],
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": _ref("schemas", "NewTransaction"),
                            "examples": {
                                name: {"summary": summary, "value": value}
                                for name, (summary, value) in CREATE_TRANSACTION_EXAMPLES.items()
                            },
                        }
                    },
                },
                "responses": {
                    "201": _json_response(
                        "approved", "Transaction", TRANSACTION, "Location", REPLAYED_HEADER
                    ),
                    "202": _json_response(
                        "processing: the acquirer did not answer in time",
                        "Transaction",
                        {**TRANSACTION, "status": "processing"},
                        REPLAYED_HEADER,
                    ),
                    "402": _json_response(
                        "declined: the transaction is recorded as `declined` and returned in the error",
                        "Error",
                        ERROR_EXAMPLES[402]["declined"],
                        REPLAYED_HEADER,
                    ),
                    **_errors(*POST_ERRORS, *API_ERRORS),
                },
            },
            "get": {
                "tags": ["transactions"],
                "summary": "List transactions",
                "description": "Newest first.",
                "operationId": "listTransactions",
                "parameters": [{"in": "query", "schema": ListQuerySchema}],
                "responses": {
                    "200": _json_response("a page of transactions", "TransactionList", list_of(TRANSACTION)),
                    **_errors(400, *API_ERRORS),
                },
            },
        },
        "/v1/transactions/{transaction_id}": {
            "get": {
                "tags": ["transactions"],
                "summary": "Retrieve a transaction",
                "operationId": "getTransaction",
                "parameters": [transaction_id],
                "responses": {
                    "200": _json_response("the transaction", "Transaction", TRANSACTION),
                    **_errors(404, *API_ERRORS),
                },
            }
        },
        "/v1/transactions/{transaction_id}/refunds": {
            "post": {
                "tags": ["refunds"],
                "summary": "Refund a transaction",
                "description": (
                    "Refunds `amount` (default: everything still refundable) of an approved transaction; "
                    "several partial refunds may follow each other up to its amount. An empty body is "
                    "taken as `{}`. Unpaid payables shrink first (latest installment first); money "
                    "already paid out is taken back as a negative adjustment payable."
                ),
                "operationId": "createRefund",
                "parameters": [transaction_id, "IdempotencyKey"],
                "requestBody": {
                    "required": False,
                    "content": {
                        JSON: {
                            "schema": _ref("schemas", "NewRefund"),
                            "examples": {
                                "partial": {"summary": "refund 5.00", "value": {"amount": 500}},
                                "full": {"summary": "refund everything left", "value": {}},
                            },
                        }
                    },
                },
                "responses": {
                    "201": _json_response("the refund", "Refund", REFUND, "Location", REPLAYED_HEADER),
                    **_errors(*POST_ERRORS, 404, *API_ERRORS),
                },
            },
            "get": {
                "tags": ["refunds"],
                "summary": "List a transaction's refunds",
                "description": "Newest first.",
                "operationId": "listRefunds",
                "parameters": [transaction_id, {"in": "query", "schema": ListQuerySchema}],
                "responses": {
                    "200": _json_response("a page of refunds", "RefundList", list_of(REFUND)),
                    **_errors(400, 404, *API_ERRORS),
                },
            },
        },
        "/v1/refunds/{refund_id}": {
            "get": {
                "tags": ["refunds"],
                "summary": "Retrieve a refund",
                "operationId": "getRefund",
                "parameters": [_path_parameter("refund_id", "refund", REFUND_ID)],
                "responses": {
                    "200": _json_response("the refund", "Refund", REFUND),
                    **_errors(404, *API_ERRORS),
                },
            }
        },
        "/v1/payables": {
            "get": {
                "tags": ["payables"],
                "summary": "List payables",
                "description": "What psp owes you, newest first; filter by status, due date, transaction.",
                "operationId": "listPayables",
                "parameters": [{"in": "query", "schema": PayableListQuerySchema}],
                "responses": {
                    "200": _json_response("a page of payables", "PayableList", list_of(PAYABLE)),
                    **_errors(400, *API_ERRORS),
                },
            }
        },
        "/v1/payables/{payable_id}": {
            "get": {
                "tags": ["payables"],
                "summary": "Retrieve a payable",
                "operationId": "getPayable",
                "parameters": [_path_parameter("payable_id", "payable", PAYABLE_ID)],
                "responses": {
                    "200": _json_response("the payable", "Payable", PAYABLE),
                    **_errors(404, *API_ERRORS),
                },
            }
        },
        "/v1/webhook_endpoints": {
            "post": {
                "tags": ["webhooks"],
                "summary": "Create a webhook endpoint",
                "description": (
                    "Registers a URL to receive events, signed with the endpoint's own secret (returned "
                    "in this answer only). Deliveries carry the Standard Webhooks headers `webhook-id`, "
                    "`webhook-timestamp` and `webhook-signature`; see the README for verifying them."
                ),
                "operationId": "createWebhookEndpoint",
                "parameters": ["IdempotencyKey"],
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": _ref("schemas", "NewWebhookEndpoint"),
                            "example": {
                                "url": "https://shop.example.com/psp/webhooks",
                                "enabled_events": ["transaction.approved", "payable.paid"],
                                "description": "order system",
                            },
                        }
                    },
                },
                "responses": {
                    "201": _json_response(
                        "the endpoint, with its secret",
                        "WebhookEndpointWithSecret",
                        WEBHOOK_ENDPOINT_WITH_SECRET,
                        "Location",
                        REPLAYED_HEADER,
                    ),
                    **_errors(*POST_ERRORS, *API_ERRORS),
                },
            },
            "get": {
                "tags": ["webhooks"],
                "summary": "List webhook endpoints",
                "description": "Newest first; secrets are never listed.",
                "operationId": "listWebhookEndpoints",
                "parameters": [{"in": "query", "schema": ListQuerySchema}],
                "responses": {
                    "200": _json_response(
                        "a page of endpoints", "WebhookEndpointList", list_of(WEBHOOK_ENDPOINT)
                    ),
                    **_errors(400, *API_ERRORS),
                },
            },
        },
        "/v1/webhook_endpoints/{endpoint_id}": {
            "get": {
                "tags": ["webhooks"],
                "summary": "Retrieve a webhook endpoint",
                "operationId": "getWebhookEndpoint",
                "parameters": [endpoint_id],
                "responses": {
                    "200": _json_response("the endpoint", "WebhookEndpoint", WEBHOOK_ENDPOINT),
                    **_errors(404, *API_ERRORS),
                },
            },
            "delete": {
                "tags": ["webhooks"],
                "summary": "Delete a webhook endpoint",
                "description": "Deliveries still pending for it fail; its delivery history stays readable.",
                "operationId": "deleteWebhookEndpoint",
                "parameters": [endpoint_id],
                "responses": {
                    "200": _json_response("deleted", "DeletedWebhookEndpoint", DELETED_ENDPOINT),
                    **_errors(404, *API_ERRORS),
                },
            },
        },
        "/v1/webhook_endpoints/{endpoint_id}/rotate_secret": {
            "post": {
                "tags": ["webhooks"],
                "summary": "Rotate an endpoint's signing secret",
                "description": (
                    "A new secret, returned in this answer only. For `overlap_seconds` (default a day) "
                    "deliveries carry two signatures, one per secret, so receivers can switch at leisure."
                ),
                "operationId": "rotateWebhookSecret",
                "parameters": [endpoint_id, "IdempotencyKey"],
                "requestBody": {
                    "required": False,
                    "content": {
                        JSON: {
                            "schema": _ref("schemas", "RotateSecret"),
                            "example": {"overlap_seconds": 3600},
                        }
                    },
                },
                "responses": {
                    "200": _json_response(
                        "the endpoint, with its new secret",
                        "WebhookEndpointWithSecret",
                        {
                            **WEBHOOK_ENDPOINT_WITH_SECRET,
                            "previous_secret_expires_at": "2026-11-21T11:00:00.000Z",  # a date  # nosec B105
                        },
                        REPLAYED_HEADER,
                    ),
                    **_errors(*POST_ERRORS, 404, *API_ERRORS),
                },
            }
        },
        "/v1/events": {
            "get": {
                "tags": ["webhooks"],
                "summary": "List events",
                "description": "Newest first; filter by `type`.",
                "operationId": "listEvents",
                "parameters": [{"in": "query", "schema": EventListQuerySchema}],
                "responses": {
                    "200": _json_response("a page of events", "EventList", list_of(EVENT)),
                    **_errors(400, *API_ERRORS),
                },
            }
        },
        "/v1/events/{event_id}": {
            "get": {
                "tags": ["webhooks"],
                "summary": "Retrieve an event",
                "operationId": "getEvent",
                "parameters": [event_id],
                "responses": {
                    "200": _json_response("the event", "Event", EVENT),
                    **_errors(404, *API_ERRORS),
                },
            }
        },
        "/v1/events/{event_id}/deliveries": {
            "get": {
                "tags": ["webhooks"],
                "summary": "List an event's deliveries",
                "description": "One per endpoint, each with its attempts: status, latency, response excerpt.",
                "operationId": "listEventDeliveries",
                "parameters": [event_id, {"in": "query", "schema": ListQuerySchema}],
                "responses": {
                    "200": _json_response(
                        "a page of deliveries", "WebhookDeliveryList", list_of(WEBHOOK_DELIVERY)
                    ),
                    **_errors(400, 404, *API_ERRORS),
                },
            }
        },
        "/v1/events/{event_id}/redeliver": {
            "post": {
                "tags": ["webhooks"],
                "summary": "Send an event again",
                "description": (
                    "The event becomes due now at every endpoint that wants it, with the same "
                    "`webhook-id` (receivers dedupe on it). An empty body, or `{}`."
                ),
                "operationId": "redeliverEvent",
                "parameters": [event_id, "IdempotencyKey"],
                "requestBody": {
                    "required": False,
                    "content": {JSON: {"schema": _ref("schemas", "EmptyBody"), "example": {}}},
                },
                "responses": {
                    "202": _json_response("scheduled", "Redelivery", REDELIVERY, REPLAYED_HEADER),
                    **_errors(*POST_ERRORS, 404, *API_ERRORS),
                },
            }
        },
        "/v1/balance": {
            "get": {
                "tags": ["balance"],
                "summary": "Retrieve the balance",
                "description": "Per currency: `available` (net of paid payables) and `waiting_funds`.",
                "operationId": "getBalance",
                "responses": {
                    "200": _json_response("the balance", "Balance", BALANCE),
                    **_errors(*API_ERRORS),
                },
            }
        },
    }


# Nested schemas before those that nest them, so each is registered once under its own name.
_SCHEMAS: Final = {
    "NewTransaction": NewTransactionSchema,
    "NewRefund": NewRefundSchema,
    "NewWebhookEndpoint": NewWebhookEndpointSchema,
    "RotateSecret": RotateSecretSchema,
    "EmptyBody": EmptyBodySchema,
    "Card": schemas.CardSchema,
    "Transaction": schemas.TransactionSchema,
    "TransactionList": schemas.TransactionListSchema,
    "Payable": schemas.PayableSchema,
    "PayableList": schemas.PayableListSchema,
    "Refund": schemas.RefundSchema,
    "RefundList": schemas.RefundListSchema,
    "WebhookEndpoint": schemas.WebhookEndpointSchema,
    "WebhookEndpointWithSecret": schemas.WebhookEndpointWithSecretSchema,
    "WebhookEndpointList": schemas.WebhookEndpointListSchema,
    "DeletedWebhookEndpoint": schemas.DeletedWebhookEndpointSchema,
    "EventData": schemas.EventDataSchema,
    "Event": schemas.EventSchema,
    "EventList": schemas.EventListSchema,
    "WebhookAttempt": schemas.WebhookAttemptSchema,
    "WebhookDelivery": schemas.WebhookDeliverySchema,
    "WebhookDeliveryList": schemas.WebhookDeliveryListSchema,
    "Redelivery": schemas.RedeliverySchema,
    "BalanceLine": schemas.BalanceLineSchema,
    "Balance": schemas.BalanceSchema,
    "ErrorDetail": schemas.ErrorDetailSchema,
    "ErrorBody": schemas.ErrorBodySchema,
    "Error": schemas.ErrorSchema,
    "Liveness": schemas.LivenessSchema,
    "ReadinessChecks": schemas.ReadinessChecksSchema,
    "Readiness": schemas.ReadinessSchema,
}


@functools.cache
def _document() -> dict[str, Any]:
    spec = APISpec(
        title="psp API",
        version=__version__,
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin()],
        info={"description": DESCRIPTION},
        tags=[
            {"name": "transactions", "description": "card transactions"},
            {"name": "refunds", "description": "giving money back"},
            {"name": "payables", "description": "what psp owes the merchant, by payment date"},
            {"name": "balance", "description": "available and waiting funds"},
            {"name": "webhooks", "description": "events, and their signed delivery to your endpoints"},
            {"name": "operations", "description": "health, metrics and this document"},
        ],
        security=[{"bearerAuth": []}],
    )
    spec.components.security_scheme(
        "bearerAuth",
        {"type": "http", "scheme": "bearer", "description": "a secret key: `sk_test_...` or `sk_live_...`"},
    )
    for name, schema in _SCHEMAS.items():
        spec.components.schema(name, schema=schema)
    for name, header in HEADERS.items():
        spec.components.header(name, header)
    spec.components.parameter("IdempotencyKey", "header", IDEMPOTENCY_KEY_PARAMETER)
    for status, (name, _, _) in ERRORS.items():
        spec.components.response(name, _error_response(status))
    for path, operations in _operations().items():
        spec.path(path=path, operations=operations)
    return _finish(spec.to_dict())


def _finish(document: dict[str, Any]) -> dict[str, Any]:
    """What the marshmallow plugin cannot know: field descriptions, examples, query strings as text."""
    for name, descriptions in FIELD_DESCRIPTIONS.items():
        for field, description in descriptions.items():
            document["components"]["schemas"][name]["properties"][field]["description"] = description
    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query":
                    _finish_query_parameter(parameter)
    return document


def _finish_query_parameter(parameter: dict[str, Any]) -> None:
    # A query string has no null: an absent parameter is the default.
    schema = parameter["schema"]
    if isinstance(schema.get("type"), list):
        schema["type"] = next(kind for kind in schema["type"] if kind != "null")
    if "enum" in schema:
        schema["enum"] = [value for value in schema["enum"] if value is not None]
    parameter["description"] = QUERY_DESCRIPTIONS[parameter["name"]]
    parameter["example"] = QUERY_EXAMPLES[parameter["name"]]


def openapi_document() -> dict[str, Any]:
    """The document, built once per process; a copy, so callers may not change the cached one."""
    return copy.deepcopy(_document())
