"""Authentication of ``/v1`` requests by ``Authorization: Bearer sk_...``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from psp.domain.merchants import Principal
from psp.lib.errors import AuthenticationFailed
from psp.repositories.ports import UnitOfWork
from psp.services.merchants import authenticate, invalid_key
from psp.transporters.rest.principal_cache import PrincipalCache

# Tells clients (and generic HTTP tooling) which scheme a 401 wants.
CHALLENGE: Final = {"WWW-Authenticate": 'Bearer realm="psp"'}


def principal_from_header(
    header: str | None, *, uow_factory: Callable[[], UnitOfWork], cache: PrincipalCache
) -> Principal:
    """Who the request acts for; 401 (with a Bearer challenge) for a missing, unknown or revoked key."""
    try:
        secret_key = bearer_token(header)
        principal = cache.get(secret_key)
        if principal is None:
            principal = authenticate(secret_key, uow=uow_factory())
            cache.remember(secret_key, principal)
        return principal
    except AuthenticationFailed as error:
        error.headers.update(CHALLENGE)
        raise


def bearer_token(header: str | None) -> str:
    """The key of a Bearer ``Authorization`` header; 401 when it is missing or another scheme."""
    if header is None or not header.strip():
        raise AuthenticationFailed(
            "No API key provided: send 'Authorization: Bearer sk_test_...'", code="missing_api_key"
        )
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise invalid_key()
    return token.strip()
