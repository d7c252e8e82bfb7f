"""Brute force and floods: 429 with ``Retry-After`` and the error JSON, then recovery after the wait.

Each test builds the app with low limits (the suite's default settings are generous). The waits are real
(one-second refills), so recovery is proven against the clock the server uses.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import event
from werkzeug.test import TestResponse

from psp.bootstrap import Container, bootstrap
from psp.services.merchants import Onboarded
from psp.transporters.rest.app import create_app
from tests.conftest import settings_for_tests
from tests.e2e.support import assert_error, auth

WRONG_KEY = {"Authorization": "Bearer sk_test_wrongwrongwrongwrongwrongwrongwrongwrong"}


@contextmanager
def app_with(database_url: str, **limits: str) -> Iterator[Flask]:
    container = bootstrap(
        settings_for_tests(**limits), database_url=database_url, application_name="psp-test"
    )
    try:
        yield create_app(container)
    finally:
        container.close()


def from_address(address: str) -> dict[str, Any]:
    return {"environ_overrides": {"REMOTE_ADDR": address}}


def wait_out(response: TestResponse) -> None:
    time.sleep(int(response.headers["Retry-After"]) + 0.05)


def assert_throttled(response: TestResponse, code: str) -> None:
    assert_error(response, 429, "rate_limit_error", code)
    assert int(response.headers["Retry-After"]) >= 1


# --- requests per API key -------------------------------------------------------------------------


def test_a_key_past_its_burst_answers_429_with_retry_after_then_recovers(
    database_url: str, merchant: Onboarded
) -> None:
    with app_with(database_url, PSP_RATE_LIMIT_PER_KEY="1", PSP_RATE_LIMIT_BURST="3") as app:
        client = app.test_client()
        burst = [client.get("/v1/balance", headers=auth(merchant)).status_code for _ in range(3)]
        throttled = client.get("/v1/balance", headers=auth(merchant))
        assert burst == [200, 200, 200]
        assert_throttled(throttled, "rate_limit_exceeded")
        assert throttled.headers["Retry-After"] == "1"

        wait_out(throttled)

        assert client.get("/v1/balance", headers=auth(merchant)).status_code == 200


def test_one_keys_flood_does_not_throttle_another_merchant(
    database_url: str, merchant: Onboarded, other_merchant: Onboarded
) -> None:
    with app_with(database_url, PSP_RATE_LIMIT_PER_KEY="1", PSP_RATE_LIMIT_BURST="2") as app:
        client = app.test_client()
        statuses = [client.get("/v1/transactions", headers=auth(merchant)).status_code for _ in range(5)]

        assert statuses == [200, 200, 429, 429, 429]
        assert client.get("/v1/transactions", headers=auth(other_merchant)).status_code == 200


def test_a_throttled_post_does_nothing(database_url: str, container: Container, merchant: Onboarded) -> None:
    with app_with(database_url, PSP_RATE_LIMIT_PER_KEY="1", PSP_RATE_LIMIT_BURST="1") as app:
        client = app.test_client()
        client.get("/v1/balance", headers=auth(merchant))
        response = client.post(
            "/v1/transactions", json={"amount": 100}, headers={**auth(merchant), "Idempotency-Key": "k-1"}
        )

    assert_throttled(response, "rate_limit_exceeded")
    with container.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM transactions").scalar() == 0
        assert connection.exec_driver_sql("SELECT count(*) FROM idempotency_keys").scalar() == 0


def test_zero_disables_the_per_key_limit(database_url: str, merchant: Onboarded) -> None:
    with app_with(database_url, PSP_RATE_LIMIT_PER_KEY="0", PSP_RATE_LIMIT_BURST="1") as app:
        client = app.test_client()
        statuses = {client.get("/v1/balance", headers=auth(merchant)).status_code for _ in range(30)}

    assert statuses == {200}


# --- failed authentications -----------------------------------------------------------------------


def test_repeated_failed_authentications_lock_the_address_out_even_with_a_valid_key_then_recover(
    database_url: str, merchant: Onboarded
) -> None:
    limits = {"PSP_AUTH_FAILURE_LIMIT": "3", "PSP_AUTH_FAILURE_REFILL_SECONDS": "1"}
    with app_with(database_url, **limits) as app:
        client = app.test_client()
        guesses = [
            client.get("/v1/balance", headers={"Authorization": f"Bearer sk_test_guess{n:040d}"}).status_code
            for n in range(3)
        ]
        locked = client.get("/v1/balance", headers=WRONG_KEY)
        # A valid key from a locked-out address is refused too: answering it would confirm a guess.
        valid_but_locked = client.get("/v1/balance", headers=auth(merchant))
        elsewhere = client.get("/v1/balance", headers=auth(merchant), **from_address("192.0.2.10"))

        assert guesses == [401, 401, 401]
        assert_throttled(locked, "too_many_failed_authentications")
        assert_throttled(valid_but_locked, "too_many_failed_authentications")
        assert elsewhere.status_code == 200

        wait_out(valid_but_locked)

        assert client.get("/v1/balance", headers=auth(merchant)).status_code == 200


def test_one_wrong_key_tried_from_many_addresses_is_throttled_but_valid_keys_are_not(
    database_url: str, merchant: Onboarded
) -> None:
    limits = {"PSP_AUTH_FAILURE_LIMIT": "3", "PSP_AUTH_FAILURE_REFILL_SECONDS": "60"}
    with app_with(database_url, **limits) as app:
        client = app.test_client()
        statuses = [
            client.get("/v1/balance", headers=WRONG_KEY, **from_address(f"198.51.100.{n}")).status_code
            for n in range(1, 6)
        ]
        valid = client.get("/v1/balance", headers=auth(merchant), **from_address("198.51.100.99"))

    assert statuses == [401, 401, 401, 429, 429]
    assert valid.status_code == 200


def test_a_missing_key_is_not_a_guess_and_is_never_throttled(database_url: str) -> None:
    with app_with(database_url, PSP_AUTH_FAILURE_LIMIT="2") as app:
        client = app.test_client()
        statuses = {client.get("/v1/transactions").status_code for _ in range(10)}

    assert statuses == {401}


def test_a_locked_out_client_costs_no_database_query(database_url: str, merchant: Onboarded) -> None:
    with app_with(database_url, PSP_AUTH_FAILURE_LIMIT="1", PSP_AUTH_FAILURE_REFILL_SECONDS="60") as app:
        client = app.test_client()
        client.get("/v1/balance", headers=WRONG_KEY)
        with counted_statements(app) as statements:
            response = client.get("/v1/balance", headers=auth(merchant))

    assert response.status_code == 429
    assert statements == []


def test_the_limiter_adds_no_database_query_to_a_successful_request(
    database_url: str, merchant: Onboarded
) -> None:
    def statements_of_one_request(**limits: str) -> list[str]:
        with app_with(database_url, **limits) as app:
            client = app.test_client()
            client.get("/v1/balance", headers=auth(merchant))  # warm the pool
            with counted_statements(app) as statements:
                assert client.get("/v1/balance", headers=auth(merchant)).status_code == 200
        return statements

    limited = statements_of_one_request(PSP_RATE_LIMIT_PER_KEY="5", PSP_AUTH_FAILURE_LIMIT="5")
    unlimited = statements_of_one_request(PSP_RATE_LIMIT_PER_KEY="0", PSP_AUTH_FAILURE_LIMIT="0")

    assert limited == unlimited
    assert limited  # the request itself did query: the listener saw it


@contextmanager
def counted_statements(app: Flask) -> Iterator[list[str]]:
    engine = app.extensions["psp"].engine
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


# --- the client's address ---------------------------------------------------------------------------


def test_x_forwarded_for_is_ignored_unless_proxies_are_trusted(database_url: str) -> None:
    limits = {"PSP_AUTH_FAILURE_LIMIT": "2", "PSP_AUTH_FAILURE_REFILL_SECONDS": "60"}
    with app_with(database_url, **limits) as app:
        client = app.test_client()
        statuses = [
            client.get(
                "/v1/balance",
                headers={"Authorization": f"Bearer sk_test_{n:0>40}", "X-Forwarded-For": f"203.0.113.{n}"},
            ).status_code
            for n in range(4)
        ]

    # A new key and a new X-Forwarded-For per guess change nothing: the peer address is what counts.
    assert statuses == [401, 401, 429, 429]


def test_behind_one_trusted_proxy_the_address_it_appended_is_the_client(database_url: str) -> None:
    limits = {
        "PSP_TRUSTED_PROXY_HOPS": "1",
        "PSP_AUTH_FAILURE_LIMIT": "2",
        "PSP_AUTH_FAILURE_REFILL_SECONDS": "60",
    }
    with app_with(database_url, **limits) as app:
        client = app.test_client()

        def guess(forwarded_for: str, key: str) -> int:
            headers = {"Authorization": f"Bearer sk_test_{key:0>40}", "X-Forwarded-For": forwarded_for}
            return client.get("/v1/balance", headers=headers).status_code

        # The client forges a first entry; the proxy appends the real address, and only that counts.
        attacker = [guess(f"10.9.9.{n}, 203.0.113.7", f"a{n}") for n in range(3)]
        someone_else = guess("203.0.113.8", "b")

    assert attacker == [401, 401, 429]
    assert someone_else == 401
