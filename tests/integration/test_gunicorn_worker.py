"""psp's gunicorn worker in a real gunicorn: a new connection goes to the least busy worker, connections
opened together spread over the workers, and a connection is still served when every worker stays busy."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from psp.lib.loopback import free_port
from psp.transporters.gunicorn_worker import MAX_ACCEPT_DELAY

ROOT = Path(__file__).resolve().parents[2]
WORKER_CLASS = "psp.transporters.gunicorn_worker.LeastBusyThreadWorker"


@contextlib.contextmanager
def gunicorn(tmp_path: Path, *, workers: int, threads: int) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--worker-class", WORKER_CLASS]
    command += ["--workers", str(workers), "--threads", str(threads), "--bind", f"127.0.0.1:{port}"]
    command += ["--keep-alive", "30", "tests.integration.gunicorn_probe_app:app"]
    log = tmp_path / "gunicorn.log"
    with (
        log.open("wb") as output,
        subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=output) as server,
    ):
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_every_worker_answers(url, workers, server, log)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


def wait_until_every_worker_answers(
    url: str, workers: int, server: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + 30
    seen: set[str] = set()
    while len(seen) < workers and time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()
        with contextlib.suppress(requests.RequestException):
            seen.add(requests.get(url, timeout=5).text)
        time.sleep(0.05)
    assert len(seen) == workers, log.read_text()


def answer_on_a_new_connection(url: str) -> tuple[str, float]:
    started = time.monotonic()
    response = requests.get(url, headers={"Connection": "close"}, timeout=10)
    return response.text, time.monotonic() - started


def answer_slowly(url: str, pids: list[str]) -> None:
    pids.append(requests.get(f"{url}/?seconds=0.6", timeout=10).text)


def test_a_new_connection_goes_to_the_idle_worker(tmp_path: Path) -> None:
    # A stock gthread worker busy with the slow request would take about half of these connections and
    # answer them only after it: the chance that 6 rounds all go elsewhere is 1 in 64.
    with gunicorn(tmp_path, workers=2, threads=1) as url:
        for _ in range(6):
            busy: list[str] = []
            slow = threading.Thread(target=answer_slowly, args=(url, busy))
            slow.start()
            time.sleep(0.2)  # the slow request holds its worker's only thread

            pid, seconds = answer_on_a_new_connection(url)

            slow.join()
            assert pid != busy[0]
            assert seconds < 0.3


def test_a_new_connection_is_served_while_every_thread_stays_busy(tmp_path: Path) -> None:
    # Six kept-alive clients keep the worker's two threads taken the whole time; the new connection is
    # accepted after waiting MAX_ACCEPT_DELAY at most and queues behind at most six 50 ms requests.
    stop = threading.Event()

    def keep_busy(url: str) -> None:
        with requests.Session() as session:
            while not stop.is_set():
                session.get(f"{url}/?seconds=0.05", timeout=10)

    with gunicorn(tmp_path, workers=1, threads=2) as url:
        clients = [threading.Thread(target=keep_busy, args=(url,)) for _ in range(6)]
        for client in clients:
            client.start()
        try:
            time.sleep(0.3)
            waits = [answer_on_a_new_connection(url)[1] for _ in range(5)]
        finally:
            stop.set()
            for client in clients:
                client.join()
    assert max(waits) < 0.2 + 3 * 0.05 + MAX_ACCEPT_DELAY, waits


def test_connections_opened_together_spread_over_the_workers(tmp_path: Path) -> None:
    # Eight connections opened at once, as a load balancer or the benchmark opens them, to two workers of
    # four threads: a stock gthread worker lets whichever worker wakes first take most of them.
    with gunicorn(tmp_path, workers=2, threads=4) as url:
        port = int(url.rsplit(":", 1)[1])
        connections = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(8)]
        try:
            time.sleep(0.2)  # every connection accepted before the first request
            for connection in connections:
                connection.sendall(b"GET /?seconds=0.05 HTTP/1.1\r\nHost: probe\r\n\r\n")
            pids = Counter(read_body(connection) for connection in connections)
        finally:
            for connection in connections:
                connection.close()
    assert sum(pids.values()) == 8
    assert max(pids.values()) <= 5, pids


def read_body(connection: socket.socket) -> str:
    """The body of one HTTP/1.1 response with a Content-Length (the probe app's)."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += connection.recv(4096)
    head, body = received.split(b"\r\n\r\n", 1)
    headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:])
    length = int(headers[b"Content-Length"])
    while len(body) < length:
        body += connection.recv(4096)
    return body.decode()


@pytest.mark.parametrize("threads", [1, 4])
def test_an_idle_worker_answers_at_once(tmp_path: Path, threads: int) -> None:
    with gunicorn(tmp_path, workers=1, threads=threads) as url:
        waits = [answer_on_a_new_connection(url)[1] for _ in range(20)]
    assert max(waits) < 0.1, waits
