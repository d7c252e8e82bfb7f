"""Every failure leaves as the contract's error JSON (DESIGN.md section 6), never as HTML or a traceback."""

from __future__ import annotations

import structlog
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from psp.lib.errors import (
    InvalidRequestError,
    MethodNotAllowed,
    NotFound,
    PSPError,
)
from psp.transporters.rest.context import current_container, current_request_id, json_response
from psp.transporters.rest.middlewares import body_too_large

log = structlog.get_logger("psp.http")


def install_error_handlers(app: Flask) -> None:
    app.register_error_handler(PSPError, answer_psp_error)
    app.register_error_handler(HTTPException, answer_http_exception)
    app.register_error_handler(Exception, answer_unexpected_error)


def error_response(error: PSPError) -> Response:
    return json_response(error.to_dict(current_request_id()), error.http_status, error.headers)


def answer_psp_error(error: PSPError) -> Response:
    if error.http_status >= 500:
        # Expected failures of a dependency (database down): worth a line, not a traceback.
        log.warning("http.dependency_error", code=error.code, error=error.message)
    return error_response(error)


def answer_http_exception(error: HTTPException) -> Response:
    """Werkzeug's own errors (routing, size) rewritten in our shape."""
    return error_response(psp_error_for(error))


def psp_error_for(error: HTTPException) -> PSPError:
    if error.code == 404:
        return NotFound("No route matches this URL; see the API reference", code="unknown_route")
    if error.code == 405:
        allowed = getattr(error, "valid_methods", None) or []
        return MethodNotAllowed(
            f"{request.method} is not allowed on this URL",
            code="method_not_allowed",
            headers={"Allow": ", ".join(allowed)} if allowed else {},
        )
    if error.code == 413:
        return body_too_large(current_container().settings.max_body_bytes)
    if error.code is not None and error.code < 500:
        return InvalidRequestError("The request could not be understood", code="bad_request")
    return PSPError("An unexpected error occurred", code="api_error")


def answer_unexpected_error(error: Exception) -> Response:
    # The traceback goes to the log with the request id; the body is never logged (card data).
    log.error("http.unhandled_error", exc_info=error)
    return error_response(PSPError("An unexpected error occurred; it has been logged", code="api_error"))
