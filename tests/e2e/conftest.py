"""End-to-end fixtures: the real Flask app over the real (test) database, and captured logs."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest
import structlog
from flask import Flask
from flask.testing import FlaskClient

from psp.bootstrap import Container
from psp.lib.logging import configure_logging
from psp.transporters.rest.app import create_app


@pytest.fixture
def app(container: Container) -> Flask:
    return create_app(container)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """Undo ``configure_logging`` after the test: its handlers hold streams that are about to close."""
    root, sql = logging.getLogger(), logging.getLogger("sqlalchemy.engine")
    saved_handlers, saved_level, saved_sql_level = root.handlers[:], root.level, sql.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    sql.setLevel(saved_sql_level)


@pytest.fixture
def captured_log(logging_restored: None, monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """Everything logged during the test, as JSON lines, at DEBUG (SQLAlchemy's statements included)."""
    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buffer)
    configure_logging("json", "DEBUG")  # binds ``buffer`` now, whatever sys.stderr is later
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)  # SQLAlchemy mutes itself unless asked
    return buffer
