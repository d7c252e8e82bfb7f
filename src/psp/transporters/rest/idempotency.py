"""``Idempotency-Key`` on ``POST /v1/...``: claim the key before the handler runs, replay or refuse.

After authentication and JSON parsing, a POST that carries the header claims the key (scoped to the
merchant). A completed key replays its stored status and body byte for byte with ``Idempotent-Replayed:
true``; a key whose request still runs answers 409 (safe to retry); a key used for another request answers
422. A handler that creates something passes ``on_commit=recording.hook()`` to its service, which stores
the rendered response in the same database transaction as the effect, and answers with ``send``: the same
bytes. A request that ends without storing a response (it failed validation) releases its claim.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar
from uuid import UUID

import structlog
from flask import Flask, Response, current_app, g, request

from psp.lib.errors import IdempotencyConflict, IdempotencyMismatch, InvalidRequestError, PSPError
from psp.repositories.ports import IdempotencyClaimOutcome, StoredResponse
from psp.services import idempotency as service
from psp.services.idempotency import OnCommit
from psp.transporters.rest.context import current_container, current_principal, json_body
from psp.transporters.rest.middlewares import API_PREFIX

IDEMPOTENCY_KEY_HEADER: Final = "Idempotency-Key"
REPLAYED_HEADER: Final = "Idempotent-Replayed"
KEY_PATTERN: Final = r"^[\x20-\x7E]{1,255}$"
_VALID_KEY: Final = re.compile(KEY_PATTERN)

T = TypeVar("T")
log = structlog.get_logger("psp.http")


@dataclass
class PendingClaim:
    merchant_id: UUID
    key: str
    finished: bool = False  # the handler answered with the response its unit of work stored


def install_idempotency(app: Flask) -> None:
    """Register after the middlewares: the claim needs the principal and the parsed body."""
    app.before_request(claim_idempotency_key)
    app.after_request(release_unfinished_claim)


def claim_idempotency_key() -> Response | None:
    if request.method != "POST" or not request.path.startswith(API_PREFIX):
        return None
    raw = request.headers.get(IDEMPOTENCY_KEY_HEADER)
    if raw is None:
        return None
    key = valid_key(raw)
    container, principal = current_container(), current_principal()
    fingerprint = service.request_fingerprint(
        request.method, request.path, json_body(), secret=container.settings.card_fingerprint_key
    )
    claim = service.claim_key(
        principal.merchant_id, key, fingerprint, uow=container.uow(), clock=container.clock
    )
    if claim.outcome is IdempotencyClaimOutcome.COMPLETED:
        if claim.response is None:
            raise RuntimeError("a completed idempotency key without its response")
        return replay(claim.response)
    if claim.outcome is IdempotencyClaimOutcome.IN_PROGRESS:
        raise IdempotencyConflict(
            "A request with this Idempotency-Key is still in progress; retry shortly",
            code="idempotency_key_in_use",
            param=IDEMPOTENCY_KEY_HEADER,
            headers={"Retry-After": "1"},
        )
    if claim.outcome is IdempotencyClaimOutcome.MISMATCH:
        raise IdempotencyMismatch(
            "This Idempotency-Key was already used with a different request; use a new key",
            code="idempotency_key_reused",
            param=IDEMPOTENCY_KEY_HEADER,
        )
    g.idempotency_claim = PendingClaim(principal.merchant_id, key)
    return None


def valid_key(raw: str) -> str:
    if not _VALID_KEY.fullmatch(raw):
        raise InvalidRequestError(
            f"{IDEMPOTENCY_KEY_HEADER} must be 1 to 255 printable ASCII characters",
            code="parameter_invalid",
            param=IDEMPOTENCY_KEY_HEADER,
        )
    return raw


def replay(stored: StoredResponse) -> Response:
    return Response(
        stored.body, status=stored.status, headers={REPLAYED_HEADER: "true"}, mimetype="application/json"
    )


def release_unfinished_claim(response: Response) -> Response:
    """Nothing was stored (the request failed before its effect): free the key for a corrected retry."""
    claim: PendingClaim | None = g.pop("idempotency_claim", None)
    if claim is not None and not claim.finished:
        try:
            service.release_key(claim.merchant_id, claim.key, uow=current_container().uow())
        except PSPError as error:
            # The database is down: the claim lapses after LOCK_SECONDS and a retry takes it over.
            log.warning("idempotency.release_failed", code=error.code)
    return response


class Recording(Generic[T]):
    """Renders a handler's result once: the bytes stored for replays are the bytes sent now."""

    def __init__(self, render: Callable[[T], StoredResponse]) -> None:
        self._render = render
        self._rendered: tuple[T, StoredResponse] | None = None

    def render(self, result: T) -> StoredResponse:
        if self._rendered is None or self._rendered[0] is not result:
            self._rendered = (result, self._render(result))
        return self._rendered[1]

    def hook(self) -> OnCommit[T] | None:
        """The service's ``on_commit``: stores the response when the request holds a key, else nothing."""
        claim: PendingClaim | None = g.get("idempotency_claim")
        if claim is None:
            return None
        return service.recorder(claim.merchant_id, claim.key, self.render, clock=current_container().clock)

    def send(self, result: T, headers: dict[str, str] | None = None) -> Response:
        stored = self.render(result)
        claim: PendingClaim | None = g.get("idempotency_claim")
        if claim is not None:
            claim.finished = True
        return Response(stored.body, status=stored.status, headers=headers, mimetype="application/json")


def encoded(body: object) -> bytes:
    """JSON bytes exactly as ``json_response`` would send them."""
    return current_app.json.dumps(body).encode("utf-8")
