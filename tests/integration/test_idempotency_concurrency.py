"""One POST, one Idempotency-Key, fired from many threads at the real server (several gunicorn workers).

Exactly one transaction and one set of payables come of it; every success is the first answer, byte for
byte; a 409 is answered only while the first request is still running.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import text

from psp.bootstrap import Container
from psp.lib.loopback import free_port
from psp.services.merchants import Onboarded
from psp.transporters.workers.payables import run_payables_worker
from psp.transporters.workers.shutdown import Shutdown
from tests.e2e.support import transaction_body

THREADS = 20
ROUNDS = 5  # 5 x 20 = 100 concurrent requests, then 100 sequential replays
SEQUENTIAL = 100

pytestmark = pytest.mark.slow


@pytest.fixture
def api_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """``psp serve`` over the test database: 3 gunicorn workers of 4 threads each."""
    port = free_port()
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PSP_")}
    environment.update(
        PSP_ENV="test",
        PSP_DATABASE_URL=database_url,
        PSP_PORT=str(port),
        PSP_WEB_CONCURRENCY="3",
        PSP_WEB_THREADS="4",
        PSP_LOG_FORMAT="json",
        PSP_LOG_LEVEL="WARNING",
    )
    log = tmp_path / "serve.log"
    with (
        log.open("wb") as output,
        subprocess.Popen(
            [sys.executable, "-m", "psp.transporters.cli", "serve"],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        ) as server,
    ):
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_ready(url, server, log)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def wait_until_ready(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()
        with contextlib.suppress(requests.RequestException):  # not listening yet, or workers still booting
            if requests.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        time.sleep(0.1)
    pytest.fail(f"psp serve did not become ready:\n{log.read_text()}")


def post(url: str, headers: dict[str, str], body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{url}/v1/transactions", json=body, headers=headers, timeout=30)


def fire_at_once(url: str, headers: dict[str, str], body: dict[str, Any]) -> list[requests.Response]:
    """THREADS identical requests released by one barrier, so they reach the server together."""
    barrier = threading.Barrier(THREADS)
    responses: list[requests.Response | BaseException] = [RuntimeError("not run")] * THREADS

    def run(slot: int) -> None:
        barrier.wait()
        try:
            responses[slot] = post(url, headers, body)
        except BaseException as error:
            responses[slot] = error

    threads = [threading.Thread(target=run, args=(slot,)) for slot in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(isinstance(response, requests.Response) for response in responses), responses
    return [response for response in responses if isinstance(response, requests.Response)]


@pytest.mark.parametrize(("card", "status"), [("4242424242424242", 201), ("4000000000000002", 402)])
def test_one_key_fired_from_many_threads_creates_one_transaction_and_one_set_of_payables(
    api_url: str, container: Container, merchant: Onboarded, card: str, status: int
) -> None:
    headers = {"Authorization": f"Bearer {merchant.key.secret_key}", "Idempotency-Key": f"order-{card}"}
    body = transaction_body(card_number=card, installments=3)

    rounds = [fire_at_once(api_url, headers, body) for _ in range(ROUNDS)]
    sequential = [post(api_url, headers, body) for _ in range(SEQUENTIAL)]

    everything = [response for responses in rounds for response in responses] + sequential
    originals = [r for r in everything if r.status_code == status and "Idempotent-Replayed" not in r.headers]
    assert len(originals) == 1, [(r.status_code, r.headers.get("Idempotent-Replayed")) for r in everything]
    first = originals[0]
    for response in everything:
        if response is first:
            continue
        if response.status_code == 409:
            assert response.json()["error"]["code"] == "idempotency_key_in_use"
            continue
        assert response.status_code == status, response.text
        assert response.headers["Idempotent-Replayed"] == "true"
        assert response.content == first.content
    # A 409 only while the first request ran: every round after the first (and every sequential
    # request) finds the key completed.
    assert all(r.status_code == status for responses in rounds[1:] for r in responses)
    assert all(r.status_code == status for r in sequential)

    run_payables_worker(container, shutdown=Shutdown(), once=True)
    run_payables_worker(container, shutdown=Shutdown(), once=True)
    with container.engine.connect() as connection:
        merchant_id = {"merchant": merchant.merchant.id}
        transactions = connection.execute(
            text("SELECT count(*) FROM transactions WHERE merchant_id = :merchant"), merchant_id
        ).scalar_one()
        payables = connection.execute(
            text("SELECT count(*) FROM payables WHERE merchant_id = :merchant"), merchant_id
        ).scalar_one()
    assert transactions == 1
    assert payables == (3 if status == 201 else 0)
