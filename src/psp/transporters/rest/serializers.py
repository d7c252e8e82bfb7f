"""Domain objects to the JSON shapes of DESIGN.md section 6. Card data here is only what psp keeps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from psp.domain.events import event_object
from psp.domain.objects import (
    card_object,
    optional_timestamp,
    payable_object,
    refund_object,
    timestamp,
    transaction_object,
)
from psp.domain.pagination import Listable, Page
from psp.domain.payables import Balance, BalanceLine
from psp.domain.webhooks import WebhookDelivery, WebhookEndpoint

T = TypeVar("T", bound=Listable)


# One shape for the API and for webhook events: ``psp.domain.objects``.
transaction_json = transaction_object
card_json = card_object
payable_json = payable_object
refund_json = refund_object
event_json = event_object


def balance_json(balance: Balance) -> dict[str, Any]:
    return {
        "object": "balance",
        "available": [_balance_line(line) for line in balance.available],
        "waiting_funds": [_balance_line(line) for line in balance.waiting_funds],
    }


def list_json(page: Page[T], item_json: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    cursor = page.next_cursor
    return {
        "object": "list",
        "data": [item_json(item) for item in page.items],
        "has_more": page.has_more,
        "next_cursor": None if cursor is None else cursor.encode(),
    }


def _balance_line(line: BalanceLine) -> dict[str, Any]:
    return {"amount": line.amount, "currency": line.currency}


def webhook_endpoint_json(endpoint: WebhookEndpoint, *, with_secret: bool = False) -> dict[str, Any]:
    """The endpoint; its secret only in the answer that creates or rotates it (shown once)."""
    body: dict[str, Any] = {
        "id": str(endpoint.id),
        "object": "webhook_endpoint",
        "url": endpoint.url,
        "enabled_events": list(endpoint.enabled_events),
        "description": endpoint.description,
        "mode": endpoint.mode,
        "status": endpoint.status.value,
        "disabled_reason": endpoint.disabled_reason,
        "previous_secret_expires_at": optional_timestamp(endpoint.previous_secret_expires_at),
        "created_at": timestamp(endpoint.created_at),
    }
    if with_secret:
        body["secret"] = endpoint.secret
    return body


def webhook_delivery_json(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": str(delivery.id),
        "object": "webhook_delivery",
        "event_id": str(delivery.event_id),
        "endpoint_id": str(delivery.endpoint_id),
        "status": delivery.status.value,
        "attempt_count": delivery.attempts,
        "next_attempt_at": optional_timestamp(delivery.next_attempt_at),
        "created_at": timestamp(delivery.created_at),
        "attempts": [
            {
                "attempted_at": timestamp(attempt.attempted_at),
                "status_code": attempt.status_code,
                "latency_ms": attempt.latency_ms,
                "response_excerpt": attempt.response_excerpt,
                "error": attempt.error,
            }
            for attempt in delivery.attempt_log
        ],
    }
