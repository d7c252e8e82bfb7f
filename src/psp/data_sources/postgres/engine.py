"""Engine construction. Nothing here runs at import: bootstrap calls these factories."""

from __future__ import annotations

import structlog
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from psp.config import Settings
from psp.data_sources.postgres.embedded import embedded_database_url

PROBE_TIMEOUT = "1s"

log = structlog.get_logger(__name__)


def resolve_database_url(settings: Settings) -> str:
    """``PSP_DATABASE_URL`` if set (any postgres:// form), else the embedded server's URL."""
    if settings.database_url is None:
        return embedded_database_url(settings.data_dir)
    return sqlalchemy_url(settings.database_url)


def sqlalchemy_url(url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def build_engine(
    url: str, *, pool_size: int, statement_timeout_ms: int = 0, application_name: str = "psp"
) -> Engine:
    options = f"-c statement_timeout={statement_timeout_ms}" if statement_timeout_ms else ""
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        pool_timeout=5,  # a request waiting longer for a connection should fail fast (503), not hang
        hide_parameters=True,  # error messages must not carry bound values (holder names, descriptions)
        connect_args={"application_name": application_name, "options": options, "connect_timeout": 5},
    )


def database_answers(engine: Engine, probe_sql: str = "SELECT 1") -> bool:
    """A readiness probe: ``probe_sql`` under a one-second statement timeout; never raises."""
    try:
        with engine.begin() as connection:
            connection.execute(text(f"SET LOCAL statement_timeout = '{PROBE_TIMEOUT}'"))
            connection.execute(text(probe_sql))
    except (SQLAlchemyError, OSError) as error:
        log.warning("database.unreachable", error=type(error).__name__)
        return False
    return True
