"""The one error hierarchy of psp.

Every failure a client can see is one of these. Each class maps to exactly one HTTP status and one
error ``type`` of the contract (DESIGN.md section 6); the ``code`` says what went wrong in a way a
program can branch on, ``param`` names the offending field. Messages never contain card data.

This module imports nothing of ours, so every layer (domain included) may raise these errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class ErrorDetail:
    """One problem with one parameter, listed under ``error.details``."""

    code: str
    message: str
    param: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "param": self.param}


@dataclass
class PSPError(Exception):
    """Base of every error psp raises on purpose."""

    message: str
    code: str = "api_error"
    param: str | None = None
    details: list[ErrorDetail] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # more fields for the error body

    http_status: ClassVar[int] = 500
    error_type: ClassVar[str] = "api_error"

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def to_dict(self, request_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.error_type,
            "code": self.code,
            "message": self.message,
            "param": self.param,
            "request_id": request_id,
        }
        body.update(self.extra)
        if self.details:
            body["details"] = [detail.to_dict() for detail in self.details]
        return {"error": body}


class InvalidRequestError(PSPError):
    """The request is malformed or its parameters are invalid (400)."""

    http_status = 400
    error_type = "invalid_request_error"


class ValidationFailed(InvalidRequestError):
    """One or more parameters failed validation; each problem is listed in ``details``."""

    @classmethod
    def from_details(cls, details: list[ErrorDetail]) -> ValidationFailed:
        first = details[0]
        return cls(message=first.message, code=first.code, param=first.param, details=details)


class NotFound(InvalidRequestError):
    """The object does not exist, or belongs to another merchant (404, never 403)."""

    http_status = 404


class MethodNotAllowed(InvalidRequestError):
    http_status = 405


class Conflict(InvalidRequestError):
    http_status = 409


class PayloadTooLarge(InvalidRequestError):
    http_status = 413


class UnsupportedMediaType(InvalidRequestError):
    http_status = 415


class UnprocessableEntity(InvalidRequestError):
    """The request is well formed but cannot be carried out in the object's current state (422)."""

    http_status = 422


class AuthenticationFailed(PSPError):
    http_status = 401
    error_type = "authentication_error"


class CardDeclined(PSPError):
    """The acquirer declined the card (402); the transaction is recorded as ``declined``."""

    http_status = 402
    error_type = "card_error"


class IdempotencyConflict(PSPError):
    http_status = 409
    error_type = "idempotency_error"


class IdempotencyMismatch(PSPError):
    http_status = 422
    error_type = "idempotency_error"


class RateLimited(PSPError):
    """Too many requests from one API key, or too many failed authentications from one client (429).

    Always carries ``Retry-After`` (whole seconds): the request did nothing and may be retried then.
    """

    http_status = 429
    error_type = "rate_limit_error"


class ServiceUnavailable(PSPError):
    """A dependency (database, queue) is unreachable; safe to retry (503)."""

    http_status = 503


RETRY_AFTER_SECONDS = "1"


class AcquirerUnavailable(ServiceUnavailable):
    """The acquirer failed before it processed the request: nothing was authorised, so retrying is safe.

    Only for failures that are known not to have reached the card network; an answer that may have been
    lost (a time-out) is an ``unknown`` outcome instead, and the transaction stays ``processing``.
    """

    def __init__(
        self, message: str = "the acquirer is unavailable; nothing was charged, retry shortly"
    ) -> None:
        super().__init__(message, code="acquirer_unavailable", headers={"Retry-After": RETRY_AFTER_SECONDS})


class ConfigurationError(PSPError):
    """Settings are missing or malformed; raised at start-up, never while serving."""


class AlreadyExists(PSPError):
    """An adapter found the row already there (a unique violation translated at the edge)."""

    http_status = 409
    error_type = "invalid_request_error"
