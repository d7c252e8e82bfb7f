"""Domain objects to the JSON shapes of DESIGN.md section 6. Card data here is only what psp keeps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from psp.domain.objects import card_object, payable_object, refund_object, transaction_object
from psp.domain.pagination import Listable, Page
from psp.domain.payables import Balance, BalanceLine

T = TypeVar("T", bound=Listable)


# One shape for the API and for webhook events: ``psp.domain.objects``.
transaction_json = transaction_object
card_json = card_object
payable_json = payable_object
refund_json = refund_object


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
