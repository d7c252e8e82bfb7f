"""Structured logging: one JSON object per line in production, readable lines in development.

Card data and secrets never reach a log: nothing logs request bodies or headers; a processor drops any
field whose name says it might hold a card number, a verification code or a secret, wherever it comes
from; and the last processor before rendering masks, in every string value (tracebacks included), what
looks like a secret key (``sk_live_...``), a webhook signing secret (``whsec_...``) or a card number (12
to 19 digits passing the Luhn check), however it got there (a query string, an exception message).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from psp.domain.cards import luhn_is_valid

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
        "api_key",
        "webhook_secret",
        "signing_secret",
        "authorization",
        "password",
    }
)
REDACTED = "[redacted]"
_WRITTEN_BY_US = frozenset({"timestamp", "level", "method"})  # no client text: not worth scanning
# A secret key or webhook secret: its kind stays readable, the secret part goes.
SECRET_VALUE = re.compile(r"\b(sk_(?:test|live)|whsec)_[A-Za-z0-9_\-+/=]+")  # whsec_ is base64: + / =
# A run of 12 to 19 digits, possibly grouped by single spaces or dashes, not inside a longer number/word.
CARD_NUMBER_CANDIDATE = re.compile(r"(?<![0-9A-Za-z])[0-9](?:[ -]?[0-9]){11,18}(?![0-9A-Za-z])")


def drop_sensitive_fields(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for name in SENSITIVE_FIELDS.intersection(event):
        event[name] = "[redacted]"
    return event


def redact_secret_values(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for name, value in event.items():
        if isinstance(value, str) and name not in _WRITTEN_BY_US:
            event[name] = redact_text(value)
    return event


def redact_text(text: str) -> str:
    """``text`` with secret keys, webhook secrets and Luhn-valid card numbers masked."""
    if "sk_" in text or "whsec_" in text:  # a substring test first: far cheaper than the expression
        text = SECRET_VALUE.sub(_mask_secret, text)
    return CARD_NUMBER_CANDIDATE.sub(_mask_card_number, text)


def _mask_secret(match: re.Match[str]) -> str:
    return f"{match.group(1)}_{REDACTED}"


def _mask_card_number(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    return REDACTED if luhn_is_valid(digits) else match.group(0)


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
        processors=[*shared, structlog.processors.format_exc_info, redact_secret_values, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact_secret_values,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
