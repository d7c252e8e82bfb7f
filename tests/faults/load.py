"""Load like a careful real client: one ``Idempotency-Key`` per payment, retried until a definite answer.

A definite answer is 201 (approved), 202 (processing) or 402 (declined): each names its transaction. 503,
429 (throttled), 409 (the key's first request still runs) and connection failures are retried with the
same key and body, after `Retry-After` when the answer has one; anything else is recorded as it is (and
judged by the invariants).
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

DEFINITE = frozenset({201, 202, 402})
RETRYABLE = frozenset({409, 429, 503})
REQUEST_TIMEOUT_SECONDS = 30.0
MAX_BACKOFF_SECONDS = 1.0

APPROVED_CARDS = ("4111111111111111", "5555555555554444", "4012888888881881")
DECLINED_CARDS = ("4000000000000002", "4000000000009995", "4000000000000127")
TIMEOUT_CARD = "4000000000000119"


@dataclass
class Payment:
    key: str
    secret_key: str
    body: dict[str, Any]
    started: float
    attempts: int = 0
    status: int | None = None  # the definite (or final unexpected) status
    transaction_id: str | None = None
    transaction_status: str | None = None
    finished: float | None = None


@dataclass(frozen=True)
class Observation:
    """One answer (or failure) other than a definite one, with its wall-clock time."""

    at: float
    status: int | None  # None: no HTTP answer (connection refused, reset, time-out)
    code: str | None
    retry_after: str | None


@dataclass
class LoadResult:
    payments: list[Payment] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0


def payment_body(rng: random.Random) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.05:
        card, method = TIMEOUT_CARD, "credit_card"
    elif roll < 0.15:
        card, method = rng.choice(DECLINED_CARDS), rng.choice(("credit_card", "debit_card"))
    elif roll < 0.35:
        card, method = rng.choice(APPROVED_CARDS), "debit_card"
    else:
        card, method = rng.choice(APPROVED_CARDS), "credit_card"
    installments = rng.randint(1, 12) if method == "credit_card" else 1
    return {
        "amount": rng.randint(max(installments, 1), 250_000),
        "description": f"fault order {rng.randrange(10**9)}",
        "payment_method": method,
        "installments": installments,
        "card_number": card,
        "card_holder_name": "Fault Drill",
        "card_expiration_date": "12/35",
        "card_verification_code": "123",
    }


class LoadGenerator:
    """``clients`` threads; each runs payments one after another until told to stop starting new ones."""

    def __init__(
        self, port: int, secret_keys: list[str], clients: int, seed: int, rate: float | None = None
    ) -> None:
        self._interval = clients / rate if rate else 0.0  # seconds between one client's payments
        self._port = port
        self._secret_keys = secret_keys
        self._clients = clients
        self._seed = seed
        self._stop_starting = threading.Event()
        self._abandon = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.result = LoadResult()

    @property
    def completed(self) -> int:
        with self._lock:
            return sum(1 for payment in self.result.payments if payment.status is not None)

    def start(self) -> None:
        self.result.started = time.time()
        for number in range(self._clients):
            thread = threading.Thread(
                target=self._client, args=(number,), name=f"client-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop_starting(self) -> None:
        self._stop_starting.set()

    def wait(self, timeout: float) -> bool:
        """Wait for the payments in hand to get their answers; True if every client finished in time."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        finished = not any(thread.is_alive() for thread in self._threads)
        if not finished:
            self._abandon.set()
            for thread in self._threads:
                thread.join(REQUEST_TIMEOUT_SECONDS + 5)
        self.result.finished = time.time()
        return finished

    def _client(self, number: int) -> None:
        rng = random.Random(f"{self._seed}-client-{number}")
        connection: http.client.HTTPConnection | None = None
        next_start = time.monotonic() + rng.uniform(0, self._interval)
        while not self._stop_starting.is_set():
            if self._interval:
                time.sleep(max(0.0, next_start - time.monotonic()))
                next_start = max(next_start + self._interval, time.monotonic() - self._interval)
            payment = Payment(
                key=f"fault-{uuid.UUID(int=rng.getrandbits(128))}",
                secret_key=rng.choice(self._secret_keys),
                body=payment_body(rng),
                started=time.time(),
            )
            with self._lock:
                self.result.payments.append(payment)
            connection = self._pay(payment, connection, rng)
        if connection is not None:
            connection.close()

    def _pay(
        self, payment: Payment, connection: http.client.HTTPConnection | None, rng: random.Random
    ) -> http.client.HTTPConnection | None:
        body = json.dumps(payment.body).encode()
        headers = {
            "Authorization": f"Bearer {payment.secret_key}",
            "Content-Type": "application/json",
            "Idempotency-Key": payment.key,
        }
        backoff = 0.05
        while not self._abandon.is_set():
            payment.attempts += 1
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(
                        "127.0.0.1", self._port, timeout=REQUEST_TIMEOUT_SECONDS
                    )
                connection.request("POST", "/v1/transactions", body=body, headers=headers)
                response = connection.getresponse()
                raw = response.read()
                status = response.status
                retry_after = response.getheader("Retry-After")
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException):
                if connection is not None:
                    connection.close()
                connection = None
                self._observe(Observation(time.time(), None, None, None))
                time.sleep(backoff * rng.uniform(0.5, 1.0))
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            answer = _json(raw)
            if status in DEFINITE:
                transaction = answer.get("error", {}).get("transaction") if status == 402 else answer
                payment.status = status
                payment.transaction_id = (transaction or {}).get("id")
                payment.transaction_status = (transaction or {}).get("status")
                payment.finished = time.time()
                return connection
            code = answer.get("error", {}).get("code") if isinstance(answer.get("error"), dict) else None
            self._observe(Observation(time.time(), status, code, retry_after))
            if status in RETRYABLE:
                wait = float(retry_after) if retry_after else backoff
                time.sleep(min(wait, MAX_BACKOFF_SECONDS) * rng.uniform(0.3, 1.0))
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            payment.status = status  # unexpected: kept as the answer, judged by the invariants
            payment.finished = time.time()
            return connection
        return connection

    def _observe(self, observation: Observation) -> None:
        with self._lock:
            self.result.observations.append(observation)


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
