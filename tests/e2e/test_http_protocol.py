"""The HTTP envelope: auth, routing, sizes, media types, malformed JSON, request ids, crashes, probes."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from psp.bootstrap import Container, bootstrap
from psp.services import merchants as merchant_service
from psp.services.merchants import Onboarded
from psp.transporters.rest.app import create_app
from psp.transporters.rest.context import PRINCIPAL_CACHE
from psp.transporters.rest.principal_cache import PrincipalCache
from tests.conftest import settings_for_tests
from tests.e2e.support import assert_error, assert_error_shape, auth, transaction_body

GENERATED_REQUEST_ID = re.compile(r"req_[0-9a-f]{24}")


# --- authentication -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/transactions", "/v1/payables", "/v1/balance"])
def test_a_request_without_authorization_answers_401(client: FlaskClient, path: str) -> None:
    response = client.get(path)

    assert_error(response, 401, "authentication_error", "missing_api_key")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_post_without_authorization_answers_401_before_looking_at_the_body(client: FlaskClient) -> None:
    response = client.post("/v1/transactions", data="not json", content_type="text/plain")

    assert_error(response, 401, "authentication_error", "missing_api_key")


@pytest.mark.parametrize(
    "header",
    [
        "Basic c2tfdGVzdF94eXo6",
        "Bearer",
        "Bearer ",
        "Token sk_test_abc",
        "Bearer sk_test_unknownkeyunknownkeyunknownkey",
        "Bearer pk_test_notasecretkey",
        "Bearer " + "x" * 5000,
    ],
)
def test_a_wrong_scheme_or_unknown_key_answers_401(client: FlaskClient, header: str) -> None:
    response = client.get("/v1/transactions", headers={"Authorization": header})

    assert_error(response, 401, "authentication_error", "invalid_api_key")


def test_the_bearer_scheme_is_case_insensitive(client: FlaskClient, merchant: Onboarded) -> None:
    response = client.get("/v1/transactions", headers={"Authorization": f"bearer {merchant.key.secret_key}"})

    assert response.status_code == 200


def revoke(container: Container, merchant: Onboarded) -> None:
    merchant_service.revoke_api_key(
        merchant.merchant.id, merchant.key.api_key.id, uow=container.uow(), clock=lambda: datetime.now(UTC)
    )


def test_a_revoked_key_answers_401_once_the_processes_cache_of_it_lapses(
    app: Flask, client: FlaskClient, container: Container, merchant: Onboarded
) -> None:
    now = [1000.0]
    app.extensions[PRINCIPAL_CACHE] = PrincipalCache(10, clock=lambda: now[0])
    assert client.get("/v1/balance", headers=auth(merchant)).status_code == 200
    revoke(container, merchant)

    still_trusted = client.get("/v1/balance", headers=auth(merchant))
    now[0] += 10
    lapsed = client.get("/v1/balance", headers=auth(merchant))

    assert still_trusted.status_code == 200  # the documented price of PSP_AUTH_CACHE_SECONDS
    assert_error(lapsed, 401, "authentication_error", "invalid_api_key")


def test_with_the_key_cache_off_a_revoked_key_answers_401_at_once(
    container: Container, merchant: Onboarded
) -> None:
    uncached = bootstrap(settings_for_tests(PSP_AUTH_CACHE_SECONDS="0"), database_url=container.database_url)
    try:
        client = create_app(uncached).test_client()
        assert client.get("/v1/balance", headers=auth(merchant)).status_code == 200
        revoke(container, merchant)

        response = client.get("/v1/balance", headers=auth(merchant))
    finally:
        uncached.close()

    assert_error(response, 401, "authentication_error", "invalid_api_key")


def test_health_probes_need_no_key(client: FlaskClient) -> None:
    assert client.get("/healthz").status_code == 200


# --- routing --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/v1", "/v1/nothing", "/v2/transactions", "/v1/transactions/a/b"])
def test_an_unknown_route_answers_404_json(client: FlaskClient, merchant: Onboarded, path: str) -> None:
    response = client.get(path, headers=auth(merchant))

    assert_error(response, 404, "invalid_request_error", "unknown_route")


@pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", "/v1/transactions"), ("PUT", "/v1/balance"), ("POST", "/v1/payables"), ("POST", "/healthz")],
)
def test_a_wrong_method_answers_405_json_with_allow(
    client: FlaskClient, merchant: Onboarded, method: str, path: str
) -> None:
    response = client.open(path, method=method, headers=auth(merchant))

    assert_error(response, 405, "invalid_request_error", "method_not_allowed")
    assert "GET" in response.headers["Allow"]


# --- bodies ---------------------------------------------------------------------------------------


def test_a_body_over_64_kib_answers_413(client: FlaskClient, merchant: Onboarded) -> None:
    body = transaction_body(description="x" * (64 * 1024))

    response = client.post("/v1/transactions", json=body, headers=auth(merchant))

    assert_error(response, 413, "invalid_request_error", "body_too_large")


def test_a_chunked_body_over_the_limit_answers_413(client: FlaskClient, merchant: Onboarded) -> None:
    payload = json.dumps(transaction_body(description="x" * (64 * 1024))).encode()

    # A chunked upload has no Content-Length; the server (gunicorn) marks its input as terminated.
    response = client.post(
        "/v1/transactions",
        input_stream=io.BytesIO(payload),
        headers={**auth(merchant), "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert_error(response, 413, "invalid_request_error", "body_too_large")


def body_of_exactly(size: int) -> bytes:
    body = json.dumps(transaction_body(description="")).encode()
    padded = json.dumps(transaction_body(description="x" * (size - len(body)))).encode()
    assert len(padded) == size
    return padded


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_of_exactly_the_limit_is_read_and_one_byte_more_is_not(
    client: FlaskClient, merchant: Onboarded, chunked: bool
) -> None:
    limit = 64 * 1024

    def send(payload: bytes) -> int:
        if not chunked:
            return client.post(
                "/v1/transactions", data=payload, content_type="application/json", headers=auth(merchant)
            ).status_code
        return client.post(
            "/v1/transactions",
            input_stream=io.BytesIO(payload),
            headers={**auth(merchant), "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
        ).status_code

    assert send(body_of_exactly(limit)) == 400  # read, parsed, and refused for its too-long description
    assert send(body_of_exactly(limit + 1)) == 413


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
def test_a_post_that_is_not_json_answers_415(
    client: FlaskClient, merchant: Onboarded, content_type: str | None
) -> None:
    headers = auth(merchant)
    if content_type is not None:
        headers["Content-Type"] = content_type

    response = client.post("/v1/transactions", data=json.dumps(transaction_body()), headers=headers)

    assert_error(response, 415, "invalid_request_error", "unsupported_media_type")


def test_json_with_an_explicit_utf8_charset_is_accepted(client: FlaskClient, merchant: Onboarded) -> None:
    response = client.post(
        "/v1/transactions",
        data=json.dumps(transaction_body()),
        headers={**auth(merchant), "Content-Type": "application/json; charset=UTF-8"},
    )

    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"{'amount': 1}",
        b'{"amount": NaN}',
        b'{"amount": Infinity}',
        b'{"amount": 1, "amount": 2}',
        b"\xff\xfe{}",
        b"[]",
        b'"a string"',
        b"42",
        b"null",
    ],
)
def test_malformed_or_non_object_json_answers_400_invalid_json(
    client: FlaskClient, merchant: Onboarded, raw: bytes
) -> None:
    response = client.post(
        "/v1/transactions", data=raw, content_type="application/json", headers=auth(merchant)
    )

    assert_error(response, 400, "invalid_request_error", "invalid_json")


def nested(depth: int) -> bytes:
    """A transaction body whose ``metadata`` nests arrays so the whole body is ``depth`` levels deep."""
    inner = "[" * (depth - 1) + "]" * (depth - 1)
    return json.dumps(transaction_body()).replace("{", '{"metadata": ' + inner + ", ", 1).encode()


def send_json(client: FlaskClient, merchant: Onboarded, raw: bytes, *, chunked: bool) -> TestResponse:
    if not chunked:
        return client.post(
            "/v1/transactions", data=raw, content_type="application/json", headers=auth(merchant)
        )
    return client.post(
        "/v1/transactions",
        input_stream=io.BytesIO(raw),
        headers={**auth(merchant), "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


@pytest.mark.parametrize("chunked", [False, True])
def test_json_nested_deeper_than_the_limit_answers_400_json_too_deep(
    client: FlaskClient, merchant: Onboarded, chunked: bool
) -> None:
    at_limit = send_json(client, merchant, nested(32), chunked=chunked)
    over = send_json(client, merchant, nested(33), chunked=chunked)
    absurd = send_json(client, merchant, b"[" * 30_000 + b"]" * 30_000, chunked=chunked)

    # At the limit the body is parsed, and refused for what it says (no metadata field), not its shape.
    assert assert_error(at_limit, 400, "invalid_request_error", "parameter_unknown", "metadata")
    for response in (over, absurd):
        error = assert_error(response, 400, "invalid_request_error", "json_too_deep")
        assert "32" in error["message"]


def test_brackets_inside_strings_do_not_count_as_nesting(client: FlaskClient, merchant: Onboarded) -> None:
    response = client.post(
        "/v1/transactions",
        json=transaction_body(description='[{"' * 40 + "\\" + '"}]' * 40),
        headers=auth(merchant),
    )

    assert response.status_code == 201, response.get_json()


def test_the_json_depth_limit_follows_its_setting(container: Container, merchant: Onboarded) -> None:
    settings = settings_for_tests(PSP_MAX_JSON_DEPTH="3")
    shallow = bootstrap(settings, database_url=container.database_url, application_name="psp-test")
    try:
        client = create_app(shallow).test_client()
        response = send_json(client, merchant, nested(4), chunked=False)
    finally:
        shallow.close()

    assert_error(response, 400, "invalid_request_error", "json_too_deep")


# --- request ids ----------------------------------------------------------------------------------


def test_every_response_carries_a_generated_request_id(client: FlaskClient, merchant: Onboarded) -> None:
    responses = [
        client.get("/healthz"),
        client.get("/v1/transactions", headers=auth(merchant)),
        client.get("/v1/transactions"),
        client.get("/nowhere"),
        client.delete("/v1/balance"),
        client.post("/v1/transactions", json={}, headers=auth(merchant)),
        client.post("/v1/transactions", data="x", content_type="text/plain", headers=auth(merchant)),
    ]

    ids = [response.headers["Request-Id"] for response in responses]
    assert all(GENERATED_REQUEST_ID.fullmatch(request_id) for request_id in ids)
    assert len(set(ids)) == len(ids)


def test_a_sane_client_request_id_is_echoed(client: FlaskClient, merchant: Onboarded) -> None:
    response = client.post("/v1/transactions", json={}, headers={**auth(merchant), "Request-Id": "abc-123_X"})

    assert response.headers["Request-Id"] == "abc-123_X"
    assert assert_error_shape(response)["request_id"] == "abc-123_X"


@pytest.mark.parametrize("sent", ["", "a" * 65, "has space", "semi;colon", "ünï"])
def test_an_odd_client_request_id_is_replaced(client: FlaskClient, sent: str) -> None:
    response = client.get("/healthz", headers={"Request-Id": sent})

    assert GENERATED_REQUEST_ID.fullmatch(response.headers["Request-Id"])


# --- crashes --------------------------------------------------------------------------------------


class ExplodingAcquirer:
    def authorize(self, *_: object) -> object:
        raise RuntimeError("the acquirer adapter has a bug")


def test_an_unexpected_exception_answers_500_api_error_json(
    container: Container, merchant: Onboarded
) -> None:
    container.acquirer = ExplodingAcquirer()  # type: ignore[assignment]
    client = create_app(container).test_client()

    response = client.post("/v1/transactions", json=transaction_body(), headers=auth(merchant))

    error = assert_error(response, 500, "api_error", "api_error")
    assert "bug" not in error["message"]


# --- probes ---------------------------------------------------------------------------------------


def test_liveness_answers_ok(client: FlaskClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readiness_answers_ok_when_database_and_queue_answer(client: FlaskClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok", "queue": "ok"}}


def test_readiness_answers_503_when_the_database_is_unreachable() -> None:
    unreachable = bootstrap(
        settings_for_tests(),
        database_url="postgresql+psycopg://psp@127.0.0.1:9/psp",
        application_name="psp-test",
    )
    try:
        response = create_app(unreachable).test_client().get("/readyz")
    finally:
        unreachable.close()

    assert response.status_code == 503
    assert response.get_json() == {
        "status": "unavailable",
        "checks": {"database": "unavailable", "queue": "unavailable"},
    }
    assert GENERATED_REQUEST_ID.fullmatch(response.headers["Request-Id"])


def test_readiness_answers_503_when_sqs_is_unreachable(database_url: str, clean_database: object) -> None:
    settings = settings_for_tests(
        PSP_QUEUE_BACKEND="sqs", PSP_SQS_ENDPOINT_URL="http://127.0.0.1:9", PSP_AWS_REGION="us-east-1"
    )
    sqs_container = bootstrap(settings, database_url=database_url, application_name="psp-test")
    try:
        response = create_app(sqs_container).test_client().get("/readyz")
    finally:
        sqs_container.close()

    assert response.status_code == 503
    assert response.get_json()["checks"] == {"database": "ok", "queue": "unavailable"}
