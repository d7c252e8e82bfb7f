"""Security headers on every response: every route of the app, errors, probes and the docs page alike."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from psp.bootstrap import Container
from psp.services.merchants import Onboarded
from psp.transporters.rest.app import create_app
from tests.e2e.support import auth, transaction_body

EXPECTED = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
JSON_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def assert_secure(response: TestResponse) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (name, response.status_code, response.request.path)
    policy = response.headers["Content-Security-Policy"]
    assert policy.startswith("default-src 'none';"), policy
    assert "frame-ancestors 'none'" in policy
    assert "Server" not in response.headers  # the app adds none; gunicorn's carries no version


def concrete_paths(app: Flask) -> list[tuple[str, str]]:
    """Every route and method of the app, with a fresh id wherever the rule takes one."""
    return [
        (method, re.sub(r"<[^>]+>", str(uuid.uuid4()), rule.rule))
        for rule in app.url_map.iter_rules()
        for method in sorted(rule.methods or ())
        if method not in {"HEAD", "OPTIONS"}
    ]


def test_every_route_answers_with_the_security_headers(
    app: Flask, client: FlaskClient, merchant: Onboarded
) -> None:
    checked = 0
    for method, path in concrete_paths(app):
        for headers in (auth(merchant), {}):  # authenticated, and refused for want of a key
            body = {} if method == "POST" else None
            response = client.open(path, method=method, json=body, headers=headers)
            assert_secure(response)
            checked += 1
    assert checked >= 2 * 12


def test_the_json_responses_allow_no_content_at_all(client: FlaskClient, merchant: Onboarded) -> None:
    responses = [
        client.get("/v1/balance", headers=auth(merchant)),
        client.get("/v1/openapi.json"),
        client.get("/healthz"),
        client.get("/nowhere"),
    ]

    assert {response.headers["Content-Security-Policy"] for response in responses} == {JSON_POLICY}


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/v1/nothing", {}, 404),
        ("DELETE", "/v1/balance", {}, 405),
        ("POST", "/v1/transactions", {"data": "x" * 70_000, "content_type": "application/json"}, 413),
        ("POST", "/v1/transactions", {"data": "x", "content_type": "text/plain"}, 415),
        ("POST", "/v1/transactions", {"data": "{", "content_type": "application/json"}, 400),
    ],
)
def test_error_responses_carry_the_security_headers(
    client: FlaskClient, merchant: Onboarded, method: str, path: str, kwargs: dict[str, str], status: int
) -> None:
    response = client.open(path, method=method, headers=auth(merchant), **kwargs)  # type: ignore[arg-type]

    assert response.status_code == status
    assert_secure(response)


class ExplodingAcquirer:
    def authorize(self, *_: object) -> object:
        raise RuntimeError("bug")


def test_a_crash_answers_500_with_the_security_headers(container: Container, merchant: Onboarded) -> None:
    container.acquirer = ExplodingAcquirer()  # type: ignore[assignment]
    client = create_app(container).test_client()

    response = client.post("/v1/transactions", json=transaction_body(), headers=auth(merchant))

    assert response.status_code == 500
    assert_secure(response)


def test_the_docs_page_may_apply_its_own_style_and_nothing_else(client: FlaskClient) -> None:
    response = client.get("/docs")
    page = response.get_data(as_text=True)
    directives = response.headers["Content-Security-Policy"].split(";")
    policy = dict(directive.strip().split(" ", 1) for directive in directives)

    styles = re.findall(r"<style>(.*?)</style>", page, flags=re.DOTALL)
    hashes = {f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in styles}
    assert response.status_code == 200
    assert_secure(response)
    assert policy["default-src"] == "'none'"
    assert set(policy["style-src"].split()) == hashes != set()
    assert "script-src" not in policy
    # What the policy forbids must not be needed: no scripts, inline styles, event handlers or remote assets.
    assert "<script" not in page
    assert not re.search(r"\s(style|on[a-z]+)=", page)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
