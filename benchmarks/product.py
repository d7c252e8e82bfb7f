"""psp as production runs it: ``psp db upgrade``, ``psp serve`` (gunicorn + its config), ``psp worker``."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

from benchmarks.database import Database
from benchmarks.processes import PSP, ManagedProcess, run_command, wait_http_ready
from psp.lib.loopback import free_port

DATA_ENCRYPTION_KEY = base64.b64encode(b"benchmark-data-key-32-bytes-long").decode()
FINGERPRINT_KEY = "benchmark-fingerprint-key-0123456789"


@dataclass(frozen=True)
class ServerSettings:
    web_concurrency: int
    web_threads: int
    db_pool_size: int | None  # None: the product's default


@dataclass(frozen=True)
class Merchant:
    id: str
    secret_key: str


class Product:
    """Environment and processes of one psp deployment against ``database``."""

    def __init__(self, database: Database, settings: ServerSettings, work_dir: Path) -> None:
        self.database = database
        self.settings = settings
        self.work_dir = work_dir
        self.port = free_port()
        metrics_dir = work_dir / "prometheus"
        metrics_dir.mkdir(exist_ok=True)
        self.env = {
            **os.environ,
            "PSP_ENV": "production",
            "PSP_DATABASE_URL": database.url,
            "PSP_CARD_FINGERPRINT_KEY": FINGERPRINT_KEY,
            "PSP_DATA_ENCRYPTION_KEY": DATA_ENCRYPTION_KEY,
            "PSP_HOST": "127.0.0.1",
            "PSP_PORT": str(self.port),
            "PSP_WEB_CONCURRENCY": str(settings.web_concurrency),
            "PSP_WEB_THREADS": str(settings.web_threads),
            "PSP_LOG_FORMAT": "json",
            # One key sends the whole load: the per-key limiter stays on (its cost is measured) but with
            # room for it; production's default (100/s per key, per process) would answer 429s.
            "PSP_RATE_LIMIT_PER_KEY": "1000000",
            "PSP_RATE_LIMIT_BURST": "1000000",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        }
        if settings.db_pool_size is not None:
            self.env["PSP_DB_POOL_SIZE"] = str(settings.db_pool_size)

    def migrate(self) -> None:
        run_command([PSP, "db", "upgrade"], self.env)

    def create_merchant(self, name: str) -> Merchant:
        output = run_command([PSP, "merchants", "create", "--name", name, "--json"], self.env)
        for line in reversed(output.splitlines()):
            if line.startswith("{") and "secret_key" in line:
                created = json.loads(line)
                return Merchant(id=created["id"], secret_key=created["secret_key"])
        raise RuntimeError(f"psp merchants create printed no key: {output[-500:]}")

    def start_api(self) -> ManagedProcess:
        """``psp serve``: with PSP_DATABASE_URL set it execs gunicorn, so this pid is gunicorn's master."""
        process = ManagedProcess("psp-serve", [PSP, "serve"], self.env, self.work_dir)
        try:
            wait_http_ready(process, self.port)
        except BaseException:
            process.stop()
            raise
        return process

    def start_worker(self) -> ManagedProcess:
        return ManagedProcess("psp-worker", [PSP, "worker", "payables"], self.env, self.work_dir)

    def settle(self, run_date: str | None = None) -> ManagedProcess:
        argv = [PSP, "jobs", "settle"] + ([] if run_date is None else ["--date", run_date])
        return ManagedProcess("psp-settle", argv, self.env, self.work_dir)
