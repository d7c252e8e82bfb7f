"""The pool checks a connection only after it sat idle, and replaces one the server dropped meanwhile."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from psp.data_sources.postgres.engine import ping_connections_that_sat_idle

IDLE_SECONDS = 0.2


@pytest.fixture
def pinging_engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    ping_connections_that_sat_idle(engine, IDLE_SECONDS)
    yield engine
    engine.dispose()


def backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_the_server_dropped_while_idle_is_replaced_before_use(
    pinging_engine: Engine, engine: Engine
) -> None:
    dropped = backend_pid(pinging_engine)
    with engine.connect() as admin:
        assert admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped}).scalar_one()
    time.sleep(IDLE_SECONDS * 2)

    assert backend_pid(pinging_engine) != dropped  # no error: the dead connection never reached the caller


def test_a_connection_returned_moments_ago_is_used_without_a_ping(
    pinging_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[Any] = []
    original = pinging_engine.dialect.do_ping

    def counted_ping(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return original(dbapi_connection)

    monkeypatch.setattr(pinging_engine.dialect, "do_ping", counted_ping)
    first = backend_pid(pinging_engine)
    for _ in range(5):
        assert backend_pid(pinging_engine) == first
    assert pings == []

    time.sleep(IDLE_SECONDS * 2)
    assert backend_pid(pinging_engine) == first
    assert len(pings) == 1
