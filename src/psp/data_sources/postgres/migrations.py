"""Run Alembic from code: ``psp db upgrade`` and the migration-drift test use these."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

import psp


def migrations_directory() -> Path:
    """``migrations/`` beside the working directory (a deployed image) or the source tree (a checkout)."""
    candidates = [Path.cwd() / "migrations", Path(psp.__file__).resolve().parents[2] / "migrations"]
    for candidate in candidates:
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("cannot find the migrations/ directory; run psp from the project or image root")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_directory()))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


def check_no_drift(database_url: str) -> None:
    """Raise if the tables in code differ from what the migrations build (``alembic check``)."""
    command.check(alembic_config(database_url))
