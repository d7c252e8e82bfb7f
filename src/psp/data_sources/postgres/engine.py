"""Engine construction. Nothing here runs at import: bootstrap calls these factories."""

from __future__ import annotations

import time
from typing import Any

import structlog
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from psp.config import Settings
from psp.data_sources.postgres.embedded import embedded_database_url

PROBE_TIMEOUT = "1s"
PING_AFTER_IDLE_SECONDS = 5.0
_RETURNED_AT = "psp_returned_at"

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
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        pool_timeout=5,  # a request waiting longer for a connection should fail fast (503), not hang
        hide_parameters=True,  # error messages must not carry bound values (holder names, descriptions)
        connect_args={"application_name": application_name, "options": options, "connect_timeout": 5},
    )
    ping_connections_that_sat_idle(engine, PING_AFTER_IDLE_SECONDS)
    return engine


def ping_connections_that_sat_idle(engine: Engine, idle_seconds: float) -> None:
    """Check a pooled connection before use only when it sat idle for ``idle_seconds`` or more.

    ``pool_pre_ping`` pays a round trip on every checkout, that is on every API request (PostgreSQL CPU
    and latency); a connection returned moments ago is as alive as the server. One idle long enough to
    have missed a restart or a failover is pinged, and a dead one is replaced before use. A connection
    that breaks in between fails its request with a 503 and makes the pool replace every connection
    older than the failure (SQLAlchemy's disconnect handling), so a restart costs at most a request.
    """

    @event.listens_for(engine, "checkin")
    def remember_when_returned(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_when_idle(dbapi_connection: Any, record: ConnectionPoolEntry, _: PoolProxiedConnection) -> None:
        returned_at = record.info.get(_RETURNED_AT)
        if returned_at is None or time.monotonic() - returned_at < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # any failure means this connection is unusable
            raise DisconnectionError("idle connection failed its ping") from error  # the pool replaces it


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
