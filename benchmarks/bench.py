"""The state one benchmark run shares between scenarios: database, psp processes, merchants, monitor."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.ceilings import PgbenchOutcome, run_framework_ceiling, run_pgbench
from benchmarks.database import Database
from benchmarks.load import LoadOutcome, PidHolder, http_request
from benchmarks.loadgen import LoadSpec
from benchmarks.monitor import ResourceMonitor
from benchmarks.processes import ManagedProcess
from benchmarks.product import Merchant, Product, ServerSettings
from benchmarks.seed import SeedReport, seed_history

DRAIN_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Sizes:
    """How big and how long; ``--quick`` shrinks everything for a smoke run."""

    duration: float
    warmup: float
    connections: int
    read_connections: int
    read_duration: float
    pipeline_events: int
    lag_rate: float
    lag_duration: float
    history_rows: int

    @classmethod
    def chosen(cls, *, quick: bool, duration: float | None, connections: int, read_connections: int) -> Sizes:
        if quick:
            return cls(
                duration=duration or 3.0,
                warmup=0.5,
                connections=connections,
                read_connections=read_connections,
                read_duration=1.5,
                pipeline_events=5_000,
                lag_rate=200.0,
                lag_duration=3.0,
                history_rows=20_000,
            )
        return cls(
            duration=duration or 30.0,
            warmup=3.0,
            connections=connections,
            read_connections=read_connections,
            read_duration=10.0,
            pipeline_events=100_000,
            lag_rate=1_000.0,
            lag_duration=duration or 30.0,
            history_rows=1_000_000,
        )


@dataclass
class Ceilings:
    postgres: PgbenchOutcome | None
    framework: LoadOutcome


def ingest_body() -> dict[str, Any]:
    """One valid credit card transaction; the same card every time (approved by the simulator)."""
    expiry_year = (datetime.now(UTC).year + 4) % 100
    return {
        "amount": 2500,
        "description": "Benchmark order",
        "payment_method": "credit_card",
        "card_number": "4111111111111111",
        "card_holder_name": "Ana Souza",
        "card_expiration_date": f"12/{expiry_year:02d}",
        "card_verification_code": "123",
    }


class Bench:
    """Starts psp's processes on demand and keeps them for the scenarios that follow."""

    def __init__(
        self,
        database: Database,
        settings: ServerSettings,
        sizes: Sizes,
        work_dir: Path,
        *,
        idempotency_keys: bool = False,
        skip_ceilings: bool = False,
    ) -> None:
        self.database = database
        self.settings = settings
        self.sizes = sizes
        self.work_dir = work_dir
        self.idempotency_keys = idempotency_keys
        self.skip_ceilings = skip_ceilings
        self.product = Product(database, settings, work_dir)
        self.api_pids, self.worker_pids, self.loadgen_pids = PidHolder(), PidHolder(), PidHolder()
        self.job_pids = PidHolder()
        self.monitor = ResourceMonitor(
            {
                "api (gunicorn)": self.api_pids,
                "worker": self.worker_pids,
                "job": self.job_pids,
                "postgres": database.pids,
                "load generator": self.loadgen_pids,
            }
        )
        self._api: ManagedProcess | None = None
        self._worker: ManagedProcess | None = None
        self._probe: psycopg.Connection[Any] | None = None
        self.ceilings: Ceilings | None = None
        self.history: SeedReport | None = None
        self.merchant: Merchant
        self.history_merchant: Merchant
        self.ceiling_merchant: Merchant

    # --- lifecycle -------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def running(self) -> Iterator[Bench]:
        self.product.migrate()
        self.merchant = self.product.create_merchant("Bench Ingest")
        self.history_merchant = self.product.create_merchant("Bench History")
        self.ceiling_merchant = self.product.create_merchant("Bench Ceilings")
        with self.monitor:
            try:
                yield self
            finally:
                self.stop_worker()
                self.stop_api()
                if self._probe is not None:
                    self._probe.close()

    def start_api(self) -> None:
        if self._api is None:
            self._api = self.product.start_api()
            self.api_pids.values[:] = [self._api.pid]

    def stop_api(self) -> None:
        if self._api is not None:
            self._api.stop()
            self._api = None
            self.api_pids.values.clear()

    def start_worker(self) -> None:
        if self._worker is None:
            self._worker = self.product.start_worker()
            self.worker_pids.values[:] = [self._worker.pid]

    def stop_worker(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
            self.worker_pids.values.clear()

    def worker_alive(self) -> bool:
        return self._worker is not None and self._worker.running()

    def worker_log_tail(self) -> str:
        return "" if self._worker is None else self._worker.tail()

    # --- load ----------------------------------------------------------------------------------------

    @property
    def api_port(self) -> int:
        return self.product.port

    def ingest_spec(
        self, port: int, *, mode: str = "closed", rate: float = 0.0, duration: float = 0.0
    ) -> LoadSpec:
        headers = {"Idempotency-Key": "bench-@SEQ@"} if self.idempotency_keys else None
        request = http_request(
            "POST",
            "/v1/transactions",
            port,
            token=self.merchant.secret_key,
            body=ingest_body(),
            headers=headers,
        )
        return LoadSpec(
            host="127.0.0.1",
            port=port,
            requests=[request],
            connections=self.sizes.connections,
            duration=duration or self.sizes.duration,
            warmup=self.sizes.warmup,
            mode=mode,
            rate=rate,
            expected_statuses=[201],
        )

    def read_spec(self, path: str, token: str) -> LoadSpec:
        return LoadSpec(
            host="127.0.0.1",
            port=self.api_port,
            requests=[http_request("GET", path, self.api_port, token=token)],
            connections=self.sizes.read_connections,
            duration=self.sizes.read_duration,
            warmup=min(self.sizes.warmup, 1.0),
            expected_statuses=[200],
        )

    # --- shared preparations ---------------------------------------------------------------------------

    def measure_ceilings(self) -> Ceilings:
        """pgbench and the bare app, once per run, with psp's worker stopped (their rows are not its work)."""
        if self.ceilings is None:
            self.stop_worker()
            self.database.checkpoint()
            postgres = run_pgbench(
                self.database,
                self.ceiling_merchant.id,
                connections=self.sizes.connections,
                duration=self.sizes.duration,
                warmup=self.sizes.warmup,
                monitor=self.monitor,
                client_pids=self.loadgen_pids,
                work_dir=self.work_dir,
            )
            self.database.checkpoint()
            framework = run_framework_ceiling(
                self.database,
                self.ceiling_merchant.id,
                self.ingest_spec,
                web_concurrency=self.settings.web_concurrency,
                web_threads=self.settings.web_threads,
                monitor=self.monitor,
                server_pids=self.api_pids,
                loadgen_pids=self.loadgen_pids,
                work_dir=self.work_dir,
            )
            self._retire_ceiling_events()
            self.ceilings = Ceilings(postgres, framework)
        return self.ceilings

    def _retire_ceiling_events(self) -> None:
        self.database.execute(
            "UPDATE outbox SET processed_at = now() WHERE merchant_id = %s AND processed_at IS NULL",
            (self.ceiling_merchant.id,),
        )

    def ensure_history(self) -> SeedReport:
        if self.history is None:
            print(f"seeding {self.sizes.history_rows:,} transactions and payables ...", flush=True)
            self.history = seed_history(self.database, self.history_merchant.id, self.sizes.history_rows)
        return self.history

    def outbox_backlog(self) -> int:
        """Events not yet processed, over one kept connection (a new one per poll would fork a backend)."""
        if self._probe is None or self._probe.closed:
            self._probe = self.database.connect()
        row = self._probe.execute(
            "SELECT count(*) FROM outbox WHERE processed_at IS NULL AND dead_at IS NULL"
        ).fetchone()
        return 0 if row is None else int(row[0])

    def wait_for_drain(self, timeout: float) -> float | None:
        """Seconds until the outbox backlog is empty (the worker must run), or None at the timeout."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.outbox_backlog() == 0:
                return time.monotonic() - started
            if not self.worker_alive():
                raise RuntimeError(f"the payables worker died:\n{self.worker_log_tail()}")
            time.sleep(DRAIN_POLL_SECONDS * 4)
        return None
