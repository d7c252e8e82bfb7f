"""``psp dev``: the demo merchant's key, and a smoke test of the whole system as ``make run`` starts it."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from psp.bootstrap import Container
from psp.data_sources.postgres.embedded import ATTACHMENTS_FILE, forget_dead_attachments
from psp.lib.loopback import free_port
from psp.services.merchants import authenticate, find_merchant_by_name, revoke_api_key
from psp.transporters.dev import DEMO_KEY_FILE, DEMO_MERCHANT_NAME, ensure_demo_secret_key

# --- the demo merchant, in process --------------------------------------------------------------------


@pytest.fixture
def dev_container(container: Container, tmp_path: Path) -> Container:
    """The test container with its data directory in a temporary place."""
    return replace(container, settings=replace(container.settings, data_dir=tmp_path))


def test_the_demo_key_is_created_once_kept_private_and_reused_on_every_run(dev_container: Container) -> None:
    first = ensure_demo_secret_key(dev_container)
    second = ensure_demo_secret_key(dev_container)

    key_file = dev_container.settings.data_dir / DEMO_KEY_FILE
    assert second == first
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    merchant = find_merchant_by_name(DEMO_MERCHANT_NAME, uow=dev_container.uow())
    assert merchant is not None
    assert authenticate(first, uow=dev_container.uow()).merchant_id == merchant.id


def test_a_demo_key_that_no_longer_authenticates_is_replaced_by_a_new_one(dev_container: Container) -> None:
    revoked = ensure_demo_secret_key(dev_container)
    principal = authenticate(revoked, uow=dev_container.uow())
    revoke_api_key(
        principal.merchant_id, principal.api_key_id, uow=dev_container.uow(), clock=dev_container.clock
    )

    replacement = ensure_demo_secret_key(dev_container)

    assert replacement != revoked
    assert authenticate(replacement, uow=dev_container.uow()).merchant_id == principal.merchant_id
    assert (dev_container.settings.data_dir / DEMO_KEY_FILE).read_text().strip() == replacement


# --- the whole system, as processes -------------------------------------------------------------------

BANNER_END = "Ctrl-C stops everything."


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@contextlib.contextmanager
def running_dev(
    data_dir: Path, port: int, log_dir: Path, **settings: str
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """``psp dev`` with only PSP_DATA_DIR and PSP_PORT set; always stopped, children and database too."""
    environment = psp_environment(
        data_dir, PSP_PORT=str(port), PSP_WEB_CONCURRENCY="1", PSP_WEB_THREADS="2", **settings
    )
    stdout = log_dir / "dev.out"
    with (
        stdout.open("wb") as out,
        (log_dir / "dev.err").open("wb") as err,
        subprocess.Popen(
            [sys.executable, "-m", "psp.transporters.cli", "dev"],
            env=environment,
            cwd=log_dir,
            stdout=out,
            stderr=err,
        ) as supervisor,
    ):
        try:
            yield supervisor, stdout
        finally:
            stop_everything(supervisor, data_dir)


def psp_environment(data_dir: Path, **settings: str) -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PSP_")}
    environment.update(PSP_DATA_DIR=str(data_dir), PSP_LOG_FORMAT="json", **settings)
    return environment


def stop_everything(supervisor: subprocess.Popen[bytes], data_dir: Path) -> None:
    """Only for a failed test: whatever psp dev did not stop, stop here."""
    leftovers = psutil.Process(supervisor.pid).children(recursive=True) if supervisor.poll() is None else []
    if supervisor.poll() is None:
        supervisor.send_signal(signal.SIGINT)
        try:
            supervisor.wait(timeout=20)
        except subprocess.TimeoutExpired:
            supervisor.kill()
            supervisor.wait()
    for process in leftovers:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    postmaster = postmaster_pid(data_dir)
    if postmaster is not None:
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(postmaster).terminate()


def postmaster_pid(data_dir: Path) -> int | None:
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    try:
        return int(pid_file.read_text().splitlines()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def banner_of(stdout: Path) -> dict[str, str]:
    """The key, the API address, the request body and the settlement date, as the banner shows them."""
    text = stdout.read_text()
    patterns = {
        "key": r"Demo merchant secret key: (sk_test_\S+)",
        "base": r"API on (http://\S+) ",
        "body": r"-d '(\{.*\})'",
        "settle_date": r"jobs settle --date (\S+)",
    }
    found = {name: re.search(pattern, text) for name, pattern in patterns.items()}
    assert all(found.values()), text
    return {name: match.group(1) for name, match in found.items() if match is not None}


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    return [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.slow
def test_psp_dev_runs_the_whole_flow_from_banner_to_settled_balance_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with running_dev(data_dir, free_port(), tmp_path) as (supervisor, stdout), requests.Session() as http:
        wait_for(lambda: BANNER_END in stdout.read_text() or supervisor.poll() is not None, 50, "the banner")
        assert supervisor.poll() is None, (tmp_path / "dev.err").read_text()
        banner = banner_of(stdout)
        http.headers["Authorization"] = f"Bearer {banner['key']}"

        created = http.post(
            f"{banner['base']}/v1/transactions",
            data=banner["body"],
            headers={"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        assert created.json()["status"] == "waiting_funds"
        transaction_id = created.json()["id"]
        payables = wait_for(
            lambda: http.get(f"{banner['base']}/v1/payables", timeout=5).json()["data"], 10, "the payable"
        )
        assert [(p["transaction_id"], p["net_amount"], p["status"]) for p in payables] == [
            (transaction_id, 2375, "waiting_funds")
        ]
        before = http.get(f"{banner['base']}/v1/balance", timeout=5).json()

        settled = subprocess.run(
            [sys.executable, "-m", "psp.transporters.cli", "jobs", "settle", "--date", banner["settle_date"]],
            env=psp_environment(data_dir),  # no PSP_DATABASE_URL: it attaches to the same embedded server
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert settled.returncode == 0, settled.stderr
        assert settled.stdout.startswith("Settled 1 payable(s)")
        after = http.get(f"{banner['base']}/v1/balance", timeout=5).json()

        descendants = psutil.Process(supervisor.pid).children(recursive=True)
        supervisor.send_signal(signal.SIGINT)
        exit_code = supervisor.wait(timeout=30)

    assert before["waiting_funds"] == [{"amount": 2375, "currency": "BRL"}]
    assert before["available"] == []
    assert after["available"] == [{"amount": 2375, "currency": "BRL"}]
    assert after["waiting_funds"] == []
    assert exit_code == 0
    assert len(descendants) >= 4  # api master and its worker, payables worker, scheduler
    assert alive(descendants) == []
    assert postmaster_pid(data_dir) is None  # detached last, so the embedded server stopped


def test_a_process_killed_while_attached_no_longer_keeps_the_embedded_server_alive(tmp_path: Path) -> None:
    attachments = tmp_path / ATTACHMENTS_FILE
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    attachments.write_text(json.dumps([os.getpid(), dead.pid]))
    forget_dead_attachments(attachments)
    assert json.loads(attachments.read_text()) == [os.getpid()]


@pytest.mark.slow
def test_psp_dev_with_the_sqs_backend_runs_its_own_sqs_endpoint_and_relay(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    sqs = {
        "PSP_QUEUE_BACKEND": "sqs",
        "PSP_SQS_PAYABLES_QUEUE": "dev-payables",
        "PSP_SQS_PAYABLES_DLQ": "dev-dlq",
    }
    with (
        running_dev(data_dir, free_port(), tmp_path, **sqs) as (supervisor, stdout),
        requests.Session() as http,
    ):
        wait_for(lambda: BANNER_END in stdout.read_text() or supervisor.poll() is not None, 50, "the banner")
        assert supervisor.poll() is None, (tmp_path / "dev.err").read_text()
        banner = banner_of(stdout)
        http.headers["Authorization"] = f"Bearer {banner['key']}"
        created = http.post(
            f"{banner['base']}/v1/transactions",
            data=banner["body"],
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        payables = wait_for(  # outbox -> relay -> local SQS -> worker -> payables
            lambda: http.get(f"{banner['base']}/v1/payables", timeout=5).json()["data"], 20, "the payable"
        )
        descendants = psutil.Process(supervisor.pid).children(recursive=True)
        command_lines = {part for process in descendants for part in process.cmdline()}
        supervisor.send_signal(signal.SIGINT)
        exit_code = supervisor.wait(timeout=30)

    assert [(p["transaction_id"], p["net_amount"]) for p in payables] == [(created.json()["id"], 2375)]
    assert exit_code == 0
    assert {"moto.server", "relay"} <= command_lines
    assert alive(descendants) == []
