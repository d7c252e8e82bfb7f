"""Alembic environment: migrations run with lock and statement time-outs so they never stall traffic."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from psp.config import Settings
from psp.data_sources.postgres.engine import resolve_database_url
from psp.data_sources.postgres.tables import metadata

config = context.config


def database_url() -> str:
    configured = config.get_main_option("sqlalchemy.url")
    return configured or resolve_database_url(Settings.from_env())


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=metadata, literal_binds=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(database_url())
    with engine.connect() as connection:
        connection.execute(text("SET lock_timeout = '5s'"))
        connection.execute(text("SET statement_timeout = '10min'"))
        connection.commit()
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
