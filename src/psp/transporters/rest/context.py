"""What a request handler may ask of the current request: the container, the principal, the body."""

from __future__ import annotations

from typing import Any, Final, cast

from flask import Response, current_app, g

from psp.bootstrap import Container
from psp.domain.merchants import Principal
from psp.transporters.rest.principal_cache import PrincipalCache

EXTENSION: Final = "psp"
PRINCIPAL_CACHE: Final = "psp.principal_cache"


def current_container() -> Container:
    return cast(Container, current_app.extensions[EXTENSION])


def current_principal_cache() -> PrincipalCache:
    return cast(PrincipalCache, current_app.extensions[PRINCIPAL_CACHE])


def current_principal() -> Principal:
    """The authenticated merchant; the auth middleware guarantees it on every ``/v1`` route."""
    return cast(Principal, g.principal)


def json_body() -> dict[str, Any]:
    """The request's JSON object, parsed (and checked to be an object) by the body middleware."""
    return cast(dict[str, Any], g.json_body)


def current_request_id() -> str | None:
    return cast(str | None, g.get("request_id"))


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(current_app.json.dumps(body), status=status, headers=headers, mimetype="application/json")
