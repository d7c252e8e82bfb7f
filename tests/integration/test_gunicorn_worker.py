"""psp's gunicorn worker in a real gunicorn: a new connection goes to a worker with a free thread, and is
still served when every worker stays busy."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from psp.transporters.gunicorn_worker import ACCEPT_PAUSE_SECONDS

ROOT = Path(__file__).resolve().parents[2]
WORKER_CLASS = "psp.transporters.gunicorn_worker.ThreadWorkerAcceptingWhenFree"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


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


def test_a_new_connection_goes_to_the_worker_with_a_free_thread(tmp_path: Path) -> None:
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
    # accepted after waiting ACCEPT_PAUSE_SECONDS and queues behind at most six 50 ms requests.
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
    assert max(waits) < 0.2 + 3 * 0.05 + ACCEPT_PAUSE_SECONDS, waits


@pytest.mark.parametrize("threads", [1, 4])
def test_an_idle_worker_answers_at_once(tmp_path: Path, threads: int) -> None:
    with gunicorn(tmp_path, workers=1, threads=threads) as url:
        waits = [answer_on_a_new_connection(url)[1] for _ in range(20)]
    assert max(waits) < 0.1, waits
