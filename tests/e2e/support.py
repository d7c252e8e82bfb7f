"""Helpers shared by the end-to-end tests: bodies, headers and the error-shape assertion."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from psp.services.merchants import Onboarded

APPROVED_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
INSUFFICIENT_FUNDS_CARD = "4000000000009995"
INCORRECT_CVC_CARD = "4000000000000127"
TIMEOUT_CARD = "4000000000000119"

ERROR_KEYS = {"type", "code", "message", "param", "request_id"}


def future_expiry(years: int = 3) -> str:
    return f"12/{(date.today().year + years) % 100:02d}"


def transaction_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": 2500,
        "currency": "BRL",
        "description": "Smartband XYZ 3.0",
        "payment_method": "credit_card",
        "installments": 1,
        "card_number": APPROVED_CARD,
        "card_holder_name": "Ana Souza",
        "card_expiration_date": future_expiry(),
        "card_verification_code": "123",
    }
    body.update(overrides)
    return body


def without(field: str) -> dict[str, Any]:
    body = transaction_body()
    del body[field]
    return body


def auth(onboarded: Onboarded) -> dict[str, str]:
    return {"Authorization": f"Bearer {onboarded.key.secret_key}"}


def post_transaction(client: FlaskClient, onboarded: Onboarded, **overrides: Any) -> TestResponse:
    return client.post("/v1/transactions", json=transaction_body(**overrides), headers=auth(onboarded))


def create_transaction(client: FlaskClient, onboarded: Onboarded, **overrides: Any) -> dict[str, Any]:
    response = post_transaction(client, onboarded, **overrides)
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def assert_error_shape(response: TestResponse) -> dict[str, Any]:
    """The body is exactly the contract's error JSON; return its ``error`` object."""
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body, dict)
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert ERROR_KEYS <= set(error) <= ERROR_KEYS | {"details", "transaction"}
    assert isinstance(error["type"], str)
    assert isinstance(error["code"], str)
    assert isinstance(error["message"], str)
    assert error["param"] is None or isinstance(error["param"], str)
    assert error["request_id"] == response.headers["Request-Id"]
    for detail in error.get("details", []):
        assert set(detail) == {"code", "message", "param"}
    return error


def assert_error(
    response: TestResponse, status: int, error_type: str, code: str, param: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    error = assert_error_shape(response)
    assert (error["type"], error["code"], error["param"]) == (error_type, code, param)
    return error


def assert_invalid(response: TestResponse, code: str, param: str) -> dict[str, Any]:
    """A 400 validation error whose details list ``(code, param)`` (first or among several)."""
    assert response.status_code == 400, response.get_data(as_text=True)
    error = assert_error_shape(response)
    assert error["type"] == "invalid_request_error"
    problems = {(detail["code"], detail["param"]) for detail in error.get("details", [])}
    problems.add((error["code"], error["param"]))
    assert (code, param) in problems, problems
    return error


def today() -> date:
    """Today in UTC, read when asked: a module-level constant goes stale in a run that crosses midnight."""
    return datetime.now(UTC).date()
