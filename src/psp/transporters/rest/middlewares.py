"""What every request goes through, in order: request id, routing, size, throttling and auth, body; then
security headers and the access log.

The order is deliberate: nothing reads the body before its size is known, nothing about the body is
reported to a client that has not authenticated, and a client throttled for failing authentication is
refused before its key costs a database look-up.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from typing import Any, Final, NoReturn, TypeVar

import structlog
from flask import Flask, Response, current_app, g, request

from psp.lib.errors import AuthenticationFailed, InvalidRequestError, PayloadTooLarge, UnsupportedMediaType
from psp.lib.metrics import HTTP_LATENCY, HTTP_REQUESTS
from psp.transporters.rest.auth import principal_from_header
from psp.transporters.rest.context import EXTENSION as CONTAINER
from psp.transporters.rest.context import current_container, current_principal_cache
from psp.transporters.rest.security_headers import add_security_headers
from psp.transporters.rest.throttling import EXTENSION as THROTTLE
from psp.transporters.rest.throttling import Throttle

REQUEST_ID_HEADER: Final = "Request-Id"
API_PREFIX: Final = "/v1/"
PUBLIC_API_PATHS: Final = frozenset({"/v1/openapi.json"})  # the API's description needs no key
BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
_CLIENT_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_UTF8: Final = frozenset({"utf-8", "utf8"})

log = structlog.get_logger("psp.http")


def install_middlewares(app: Flask) -> None:
    """Register the request pipeline; Flask runs ``before_request`` hooks in registration order."""
    app.extensions[THROTTLE] = Throttle.from_settings(app.extensions[CONTAINER].settings)
    app.before_request(start_request)
    app.before_request(reject_unroutable_request)
    app.before_request(limit_body_size)
    app.before_request(authenticate_api_request)
    app.before_request(parse_json_body)
    app.after_request(finish_request)
    app.teardown_request(forget_request_context)


def start_request() -> None:
    """Stamp the request with an id (the client's, if sane) and bind it to every log line."""
    g.started_at = time.perf_counter()
    g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=g.request_id)


def request_id_from(client_value: str | None) -> str:
    """Keep a client's id so it can correlate; anything odd is replaced, never logged as sent."""
    if client_value is not None and _CLIENT_REQUEST_ID.fullmatch(client_value):
        return client_value
    return f"req_{secrets.token_hex(12)}"


def reject_unroutable_request() -> None:
    # Unknown routes and methods answer 404/405 before auth or body checks, whoever asks.
    if request.routing_exception is not None:
        raise request.routing_exception


def limit_body_size() -> None:
    limit = current_container().settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise body_too_large(limit)


def body_too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the request body must not exceed {limit} bytes", code="body_too_large")


def authenticate_api_request() -> None:
    """Every ``/v1`` route needs ``Authorization: Bearer sk_...``; the principal goes to ``g``.

    Throttled on both sides of the key look-up (see ``throttling``): a client that failed too often is
    refused before it, and an authenticated key takes a token from its bucket after it.
    """
    if not request.path.startswith(API_PREFIX) or request.path in PUBLIC_API_PATHS:
        return
    throttle: Throttle = current_app.extensions[THROTTLE]
    authorization = request.headers.get("Authorization")
    address = client_address()
    throttle.refuse_locked_out_client(address, authorization)
    try:
        principal = principal_from_header(
            authorization, uow_factory=current_container().uow_factory, cache=current_principal_cache()
        )
    except AuthenticationFailed as error:
        if error.code != "missing_api_key":  # a key was presented, and it was wrong: a guess
            throttle.record_failed_authentication(address, authorization)
        raise
    g.principal = principal
    structlog.contextvars.bind_contextvars(merchant_id=str(principal.merchant_id))
    throttle.admit(principal.api_key_id)


def client_address() -> str:
    """The client's address: the socket's peer, or what trusted proxies said (``PSP_TRUSTED_PROXY_HOPS``,
    applied by ``ProxyFix`` in ``create_app``); never a client's own ``X-Forwarded-For``."""
    return request.remote_addr or "unknown"


def parse_json_body() -> None:
    """Bodies are JSON objects in UTF-8; anything else is refused before a handler sees it."""
    if request.method not in BODY_METHODS:
        return
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if request.mimetype != "application/json" or charset not in _UTF8:
        raise UnsupportedMediaType(
            "send the body as JSON with 'Content-Type: application/json'", code="unsupported_media_type"
        )
    raw = read_body()
    # A route may take an empty body as ``{}`` (a refund of everything); the content type still applies.
    g.json_body = {} if not raw and _empty_body_allowed() else parse_json_object(raw)


def read_body() -> bytes:
    """The body, refusing one over the limit even when it came chunked, without a Content-Length."""
    limit = current_container().settings.max_body_bytes
    raw = request.get_data(cache=False)
    if len(raw) > limit:
        raise body_too_large(limit)
    return raw


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Parse strictly: UTF-8, not nested too deep, no NaN/Infinity, no duplicate keys, an object on top."""
    max_depth = current_container().settings.max_json_depth
    if json_nesting_exceeds(raw, max_depth):
        raise InvalidRequestError(
            f"the request body nests arrays and objects deeper than {max_depth} levels",
            code="json_too_deep",
        )
    try:
        value = json.loads(
            raw.decode("utf-8"), parse_constant=_refuse_constant, object_pairs_hook=_object_without_duplicates
        )
    except (ValueError, RecursionError):
        # ValueError also covers integers of over 4300 digits; RecursionError cannot happen below the
        # depth limit, but a parser must never turn input into a 500.
        raise invalid_json("the request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise invalid_json("the request body must be a JSON object")
    return value


_OPENERS: Final = frozenset(b"[{")
_CLOSERS: Final = frozenset(b"]}")
_QUOTE: Final = ord('"')
_BACKSLASH: Final = ord("\\")


def json_nesting_exceeds(raw: bytes, max_depth: int) -> bool:
    """Whether ``raw`` nests arrays and objects deeper than ``max_depth``, decided before parsing.

    Fast path: a body with no more brackets than the limit cannot be nested deeper (two ``bytes.count``
    calls, microseconds). Only a body with more brackets than that is walked byte by byte, skipping
    strings, and the walk stops at the first level over the limit.
    """
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return False
    depth, in_string, escaped = 0, False, False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == _BACKSLASH:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPENERS:
            depth += 1
            if depth > max_depth:
                return True
        elif byte in _CLOSERS:
            depth -= 1
    return False


def invalid_json(message: str) -> InvalidRequestError:
    return InvalidRequestError(message, code="invalid_json")


def finish_request(response: Response) -> Response:
    """Every response carries ``Request-Id`` and gets one access log line (never the body)."""
    request_id = g.get("request_id") or request_id_from(None)
    response.headers[REQUEST_ID_HEADER] = request_id
    add_security_headers(response)
    fields = _access_fields(response)
    log.info("http.request", **fields)
    _record_metrics(response, fields["duration_ms"])
    return response


def _record_metrics(response: Response, duration_ms: float | None) -> None:
    # Label by route template (/v1/transactions/<id>), never the raw path: ids would explode cardinality.
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
    if duration_ms is not None:
        HTTP_LATENCY.labels(request.method, route).observe(duration_ms / 1000)


def forget_request_context(_error: BaseException | None) -> None:
    structlog.contextvars.clear_contextvars()


def _access_fields(response: Response) -> dict[str, Any]:
    started = g.get("started_at")
    fields: dict[str, Any] = {
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "client": client_address(),
        "duration_ms": None if started is None else round((time.perf_counter() - started) * 1000, 2),
    }
    if request.method == "GET" and request.query_string:
        fields["query"] = request.query_string.decode("utf-8", "replace")
    return fields


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")  # which value would win is parser-specific: refuse
    return result


EMPTY_BODY_ALLOWED: Final = "psp_empty_body_allowed"
View = TypeVar("View", bound=Callable[..., Any])


def allow_empty_body(view: View) -> View:
    """Mark a view whose JSON body is optional: an empty body reaches it as ``{}``."""
    setattr(view, EMPTY_BODY_ALLOWED, True)
    return view


def _empty_body_allowed() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, EMPTY_BODY_ALLOWED, False))
