"""The live stack under test, supervised the way ECS would run it: whatever dies is started again.

One restartable PostgreSQL, the API (gunicorn, ``psp serve``), payables workers, and for the SQS backend
moto's server behind a :class:`FaultProxy` plus ``psp relay``; the settlement and stuck-transaction jobs
run over and over (``psp jobs settle --date <far future>`` pays every payable as soon as it exists).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psp.lib.loopback import free_port, wait_for_port
from tests.faults.postgres import ControlledPostgres
from tests.faults.proxy import FaultProxy

PSP = str(Path(sys.executable).parent / "psp")
FAR_FUTURE = "2100-01-01"  # settles every payable as soon as the worker has made it
RESTART_DELAY_SECONDS = 0.5
STOP_TIMEOUT_SECONDS = 25.0
JOB_PAUSE_SECONDS = 1.5
# Paid-state audit: every time a payable becomes paid (inserted paid, or updated to paid) is logged, so
# a payable paid twice cannot hide behind a final state that looks right.
PAID_AUDIT_SQL = """
CREATE TABLE fault_paid_log (
    payable_id uuid NOT NULL, paid_at timestamptz, operation text NOT NULL,
    logged_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION fault_log_paid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'paid' AND (TG_OP = 'INSERT' OR OLD.status <> 'paid' OR OLD.paid_at IS DISTINCT FROM
                                NEW.paid_at) THEN
        INSERT INTO fault_paid_log (payable_id, paid_at, operation) VALUES (NEW.id, NEW.paid_at, TG_OP);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER fault_paid_audit AFTER INSERT OR UPDATE ON payables
    FOR EACH ROW EXECUTE FUNCTION fault_log_paid();
"""


@dataclass(frozen=True)
class StackConfig:
    backend: str  # "postgres" or "sqs"
    workers: int = 2
    web_concurrency: int = 2
    web_threads: int = 8
    merchants: int = 2
    acquirer_failure_rate: float = 0.02
    acquirer_timeout_rate: float = 0.02
    acquirer_latency_ms: int = 20
    resolution_seconds: int = 2
    visibility_timeout: int = 10


class Supervised:
    """One long-running child in its own session, restarted by the stack's supervisor when it dies."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None
        self.exits: list[int] = []  # exit codes seen, SIGKILLs (-9) included
        self.enabled = True
        self.lock = threading.Lock()

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> bool:
        """SIGKILL the whole process group (a gunicorn master and its workers die together)."""
        with self.lock:
            if not self.running() or self.popen is None:
                return False
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            return True

    def stop(self) -> None:
        with self.lock:
            self.enabled = False
            if self.popen is None:
                return
            if self.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(STOP_TIMEOUT_SECONDS)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(5)

    def reap_and_restart(self) -> None:
        with self.lock:
            if not self.enabled or self.popen is None or self.popen.poll() is None:
                return
            self.exits.append(self.popen.returncode)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)  # orphans of the group, if any
            time.sleep(RESTART_DELAY_SECONDS)
            self.start()


@dataclass
class JobRunner:
    """Runs one ``psp jobs ...`` command again and again; the current run can be SIGKILLed."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    runs: int = 0
    exits: dict[int, int] = field(default_factory=dict)  # exit code -> how many runs ended with it
    current: subprocess.Popen[bytes] | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(JOB_PAUSE_SECONDS)

    def run_once(self, timeout: float = 300.0) -> int:
        with self.log_path.open("ab") as log, self.lock:
            self.current = subprocess.Popen(
                self.argv, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            code = self.current.wait(timeout)
        except subprocess.TimeoutExpired:
            self.current.kill()
            code = self.current.wait()
        with self.lock:
            self.current = None
            self.runs += 1
            self.exits[code] = self.exits.get(code, 0) + 1
        return code

    def kill_running(self, rng: random.Random, wait: float = 10.0) -> bool:
        """Wait for a run to be under way, let it work a random moment, then SIGKILL it."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with self.lock:
                process = self.current
            if process is not None and process.poll() is None:
                time.sleep(rng.uniform(0.0, 0.4))
                if process.poll() is None:
                    process.send_signal(signal.SIGKILL)
                    return True
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_SECONDS)


class Stack:
    def __init__(self, config: StackConfig, base: Path | None = None) -> None:
        self.config = config
        self.base = base or Path(tempfile.mkdtemp(prefix=f"psp-faults-{config.backend}-"))
        self.log_dir = self.base / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.postgres = ControlledPostgres(self.base / "pg", free_port())
        self.api_port = free_port()
        self.proxy: FaultProxy | None = None
        self.moto: subprocess.Popen[bytes] | None = None
        self.services: dict[str, Supervised] = {}
        self.jobs: dict[str, JobRunner] = {}
        self.secret_keys: list[str] = []
        self._supervising = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._sqs_client: Any = None
        self.env = self._environment()

    # --- life cycle -------------------------------------------------------------------------------

    def start(self) -> None:
        self.postgres.init()
        self.postgres.start()
        self.postgres.wait_ready()
        self.run_psp("db", "upgrade")
        with self.postgres.connect() as connection:
            connection.execute(PAID_AUDIT_SQL)
        for number in range(self.config.merchants):
            created = json.loads(self.run_psp("merchants", "create", "--name", f"Fault {number}", "--json"))
            self.secret_keys.append(created["secret_key"])
        if self.config.backend == "sqs":
            self._start_sqs()
        self._add_service("api", [PSP, "serve"], PSP_LOG_LEVEL="WARNING")  # not a line per request
        for number in range(self.config.workers):
            self._add_service(f"worker-{number}", [PSP, "worker", "payables"])
        if self.config.backend == "sqs":
            self._add_service("relay", [PSP, "relay"])
        self.jobs["settle"] = JobRunner(
            "settle", [PSP, "jobs", "settle", "--date", FAR_FUTURE], self.env, self.log_dir / "settle.log"
        )
        self.jobs["resolve"] = JobRunner(
            "resolve", [PSP, "jobs", "resolve-processing"], self.env, self.log_dir / "resolve.log"
        )
        for job in self.jobs.values():
            job.start()
        self._supervisor = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        self._supervisor.start()
        self.wait_api_ready()

    def stop(self) -> None:
        self._supervising.set()
        if self._supervisor is not None:
            self._supervisor.join(5)
        for job in self.jobs.values():
            job.stop()
        for service in self.services.values():
            service.stop()
        if self.moto is not None:
            self.moto.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.moto.wait(10)
        if self.proxy is not None:
            self.proxy.close()
        if self._sqs_client is not None:
            self._sqs_client.close()

    def destroy(self) -> None:
        self.postgres.destroy()
        shutil.rmtree(self.base, ignore_errors=True)

    def stop_background(self) -> None:
        """Stop everything but the database (and SQS, for the final look at the queues)."""
        self._supervising.set()
        if self._supervisor is not None:
            self._supervisor.join(5)
        for job in self.jobs.values():
            job.stop()
        for service in self.services.values():
            service.stop()

    # --- helpers ----------------------------------------------------------------------------------

    def run_psp(self, *args: str, timeout: float = 120.0) -> str:
        result = subprocess.run(
            [PSP, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"psp {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
        return result.stdout

    def wait_api_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, http.client.HTTPException):
                connection = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=2)
                connection.request("GET", "/readyz")
                status = connection.getresponse().status
                connection.close()
                if status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"the API was not ready within {timeout:.0f} s; see {self.log_dir}")

    def sqs_client(self) -> object:
        """A boto3 client straight to moto (around the proxy), for the final look at the queues."""
        import boto3

        if self._sqs_client is None:
            self._sqs_client = boto3.session.Session().client(
                "sqs",
                endpoint_url=f"http://127.0.0.1:{self.moto_port}",
                region_name="us-east-1",
                aws_access_key_id="psp-faults",
                aws_secret_access_key="psp-faults",
            )
        return self._sqs_client

    def _environment(self) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items() if not name.startswith("PSP_")}
        metrics_dir = self.base / "metrics"
        metrics_dir.mkdir(parents=True, exist_ok=True)
        self.moto_port = free_port()
        self.proxy_port = free_port()
        env.update(
            PSP_ENV="test",
            PSP_DATABASE_URL=self.postgres.url,
            PSP_LOG_FORMAT="json",
            PSP_LOG_LEVEL="INFO",
            PSP_HOST="127.0.0.1",
            PSP_PORT=str(self.api_port),
            PSP_WEB_CONCURRENCY=str(self.config.web_concurrency),
            PSP_WEB_THREADS=str(self.config.web_threads),
            PSP_DB_POOL_SIZE="8",
            PSP_QUEUE_BACKEND=self.config.backend,
            PSP_SQS_ENDPOINT_URL=f"http://127.0.0.1:{self.proxy_port}",
            PSP_SQS_PAYABLES_QUEUE="psp-faults",
            PSP_SQS_PAYABLES_DLQ="psp-faults-dlq",
            PSP_WORKER_VISIBILITY_TIMEOUT=str(self.config.visibility_timeout),
            PSP_WORKER_POLL_INTERVAL="0.1",
            PSP_SETTLEMENT_CHUNK_SIZE="200",
            PSP_CARD_FINGERPRINT_KEY="fault-suite-fingerprint-key",
            # One merchant key sends the whole load: the limiter stays on, with room for it.
            PSP_RATE_LIMIT_PER_KEY="100000",
            PSP_RATE_LIMIT_BURST="100000",
            PSP_SIMULATOR_FAILURE_RATE=str(self.config.acquirer_failure_rate),
            PSP_SIMULATOR_TIMEOUT_RATE=str(self.config.acquirer_timeout_rate),
            PSP_SIMULATOR_LATENCY_MS=str(self.config.acquirer_latency_ms),
            PSP_SIMULATOR_RESOLUTION_SECONDS=str(self.config.resolution_seconds),
            AWS_ACCESS_KEY_ID="psp-faults",
            AWS_SECRET_ACCESS_KEY="psp-faults",
            PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        )
        return env

    def _start_sqs(self) -> None:
        with (self.log_dir / "moto.log").open("ab") as log:
            self.moto = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.moto_port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_port(self.moto_port, 30, name="moto")
        self.proxy = FaultProxy(self.proxy_port, "127.0.0.1", self.moto_port)
        self.proxy.up()
        self.run_psp("queues", "create")

    def _add_service(self, name: str, argv: list[str], **env: str) -> None:
        service = Supervised(name, argv, {**self.env, **env}, self.log_dir)
        service.start()
        self.services[name] = service

    def _supervise(self) -> None:
        while not self._supervising.wait(0.2):
            for service in list(self.services.values()):
                service.reap_and_restart()

    def kill(self, name: str) -> bool:
        return self.services[name].kill()

    def service_names(self, prefix: str) -> list[str]:
        return [name for name in self.services if name.startswith(prefix)]

    def on_each_job(self, action: Callable[[JobRunner], None]) -> None:
        for job in self.jobs.values():
            action(job)
