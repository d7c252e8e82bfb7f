"""One access log line per request, with its request id and merchant, and never the body."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from psp.services.merchants import Onboarded
from psp.transporters.rest.app import create_app
from tests.e2e.support import auth, transaction_body


def access_lines(captured_log: io.StringIO) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in captured_log.getvalue().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == "http.request"]


def test_each_request_logs_one_line_with_its_id_and_merchant(
    captured_log: io.StringIO, client: FlaskClient, merchant: Onboarded
) -> None:
    created = client.post(
        "/v1/transactions", json=transaction_body(description="secret-ish"), headers=auth(merchant)
    )
    listed = client.get("/v1/transactions?limit=5", headers=auth(merchant))
    anonymous = client.get("/healthz")

    post_line, get_line, health_line = access_lines(captured_log)
    assert post_line["method"] == "POST"
    assert post_line["path"] == "/v1/transactions"
    assert post_line["status"] == 201
    assert post_line["request_id"] == created.headers["Request-Id"]
    assert post_line["merchant_id"] == str(merchant.merchant.id)
    assert post_line["transaction_id"] == created.get_json()["id"]
    assert isinstance(post_line["duration_ms"], float)
    assert "query" not in post_line
    assert get_line["query"] == "limit=5"
    assert get_line["request_id"] == listed.headers["Request-Id"]
    assert health_line["request_id"] == anonymous.headers["Request-Id"]
    assert "merchant_id" not in health_line  # nothing leaks from one request's context to the next
    assert all("secret-ish" not in json.dumps(line) for line in (post_line, get_line, health_line))


def test_an_error_response_is_logged_with_its_status(
    captured_log: io.StringIO, client: FlaskClient, merchant: Onboarded
) -> None:
    client.post("/v1/transactions", json={"amount": "x"}, headers=auth(merchant))
    client.get("/v1/transactions")

    statuses = [line["status"] for line in access_lines(captured_log)]

    assert statuses == [400, 401]


def test_create_app_without_a_container_wires_itself_from_psp_settings(
    logging_restored: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    clean_database: object,
) -> None:
    monkeypatch.setenv("PSP_ENV", "test")
    monkeypatch.setenv("PSP_DATABASE_URL", database_url)
    monkeypatch.setenv("PSP_LOG_FORMAT", "json")
    monkeypatch.setenv("PSP_LOG_LEVEL", "INFO")
    monkeypatch.setenv("PSP_MAX_BODY_BYTES", "2048")

    app = create_app()
    try:
        ready = app.test_client().get("/readyz")
        too_large = app.test_client().post("/v1/transactions", data=b"x" * 4096)
    finally:
        app.extensions["psp"].close()

    assert ready.status_code == 200
    assert too_large.status_code == 413
    logged = capsys.readouterr().err.splitlines()
    assert any(json.loads(line)["event"] == "http.request" for line in logged)  # JSON logging configured
