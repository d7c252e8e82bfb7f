"""Throw-away databases on the test session's server."""

from __future__ import annotations

from sqlalchemy import text

from psp.data_sources.postgres.engine import build_engine


def create_database(server_url: str, name: str) -> str:
    """A new, empty database ``name`` beside the one ``server_url`` names (an old one is dropped); its URL."""
    admin = build_engine(server_url, pool_size=1)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    base, _, query = server_url.partition("?")
    return base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")
