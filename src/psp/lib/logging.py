"""Structured logging: one JSON object per line in production, readable lines in development.

Card data never reaches a log: nothing logs request bodies, and a last processor drops any field whose
name says it might hold a card number, a verification code or a secret, wherever it comes from.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

SENSITIVE_FIELDS = frozenset(
    {
        "card_number",
        "number",
        "pan",
        "card_verification_code",
        "cvv",
        "cvc",
        "secret_key",
        "secret",
        "previous_secret",
        "authorization",
        "password",
    }
)


# Webhook signing secrets, wherever they appear in a logged value (an error message, a repr).
_WEBHOOK_SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]+")


def drop_sensitive_fields(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for name in SENSITIVE_FIELDS.intersection(event):
        event[name] = "[redacted]"
    for name, value in event.items():
        if isinstance(value, str) and "whsec_" in value:
            event[name] = _WEBHOOK_SECRET.sub("whsec_[redacted]", value)
    return event


def configure_logging(log_format: str, level: str) -> None:
    """Route structlog and the standard library through one renderer. Safe to call more than once."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        drop_sensitive_fields,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
