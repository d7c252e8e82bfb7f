"""Webhooks: merchants' endpoints, their events, and the delivery of each event to each endpoint.

Events are written with the change they describe (see the repositories); the webhooks worker fans each
one out into deliveries (one per endpoint that wants it) and attempts those that are due. A failed
attempt is retried on the ``RetrySchedule`` for three days, then the delivery fails; an endpoint that
fails without a break for as long is disabled and flagged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

from psp.domain.events import Event
from psp.domain.ids import new_id
from psp.domain.merchants import Principal
from psp.domain.pagination import Page, PageRequest
from psp.domain.webhooks import (
    DeliveryAttempt,
    DueDelivery,
    RetrySchedule,
    WebhookDelivery,
    WebhookEndpoint,
    all_public,
    forbidden_address,
    generate_secret,
    parse_endpoint_url,
    signature_headers,
)
from psp.lib.errors import NotFound, ValidationFailed
from psp.repositories.ports import HostResolver, SendResult, UnitOfWork, WebhookSender
from psp.services.clock import Clock
from psp.services.idempotency import OnCommit

DISABLED_FAILING = "failing_for_3_days"
REDELIVERY_CHUNK = 1000
USER_AGENT = "psp-webhooks/1"


@dataclass(frozen=True)
class AttemptOutcome:
    """What an attempt came to: for the worker's log line and metrics."""

    attempt: DeliveryAttempt
    outcome: str  # "succeeded", "failed_retrying" (another attempt is scheduled) or "failed_final"
    error_kind: str | None  # the sender's label when there was no HTTP answer
    endpoint_disabled: bool  # this failure disabled the endpoint (failing for the whole retry window)


@dataclass(frozen=True)
class NewEndpoint:
    url: str
    enabled_events: tuple[str, ...]
    description: str = ""


# --- endpoints (the merchant's API) ------------------------------------------------------------------


def create_endpoint(
    principal: Principal,
    request: NewEndpoint,
    *,
    uow: UnitOfWork,
    resolver: HostResolver,
    clock: Clock,
    on_commit: OnCommit[WebhookEndpoint] | None = None,
) -> WebhookEndpoint:
    """Register an endpoint with a fresh signing secret (returned once, with the endpoint)."""
    check_endpoint_url(request.url, principal.mode, resolver)
    endpoint = WebhookEndpoint(
        id=new_id(),
        merchant_id=principal.merchant_id,
        url=request.url,
        enabled_events=tuple(dict.fromkeys(request.enabled_events)),
        description=request.description,
        mode=principal.mode,
        secret=generate_secret(),
        created_at=clock(),
    )
    with uow:
        uow.webhook_endpoints.add(endpoint)
        if on_commit is not None:
            on_commit(uow, endpoint)
        uow.commit()
    return endpoint


def check_endpoint_url(url: str, mode: str, resolver: HostResolver) -> None:
    """The URL rules; in live mode the host must resolve (in bounded time) to public addresses only."""
    parsed = parse_endpoint_url(url, mode)
    if mode != "live" or parsed.literal_address is not None:
        return
    addresses = resolver.resolve(parsed.host, parsed.port)
    if addresses is None:
        raise ValidationFailed("url's host does not resolve", code="url_unresolvable", param="url")
    if not all_public(addresses):
        raise forbidden_address()


def get_endpoint(principal: Principal, endpoint_id: UUID, *, uow: UnitOfWork) -> WebhookEndpoint:
    with uow:
        endpoint = uow.webhook_endpoints.get(principal.merchant_id, endpoint_id)
    if endpoint is None:
        raise endpoint_missing(endpoint_id)
    return endpoint


def list_endpoints(principal: Principal, page: PageRequest, *, uow: UnitOfWork) -> Page[WebhookEndpoint]:
    with uow:
        return uow.webhook_endpoints.list(principal.merchant_id, page)


def delete_endpoint(principal: Principal, endpoint_id: UUID, *, uow: UnitOfWork, clock: Clock) -> None:
    """Stop delivering to the endpoint; what was pending for it fails. Its history stays readable."""
    with uow:
        if not uow.webhook_endpoints.delete(principal.merchant_id, endpoint_id, clock()):
            raise endpoint_missing(endpoint_id)
        uow.commit()


def rotate_secret(
    principal: Principal,
    endpoint_id: UUID,
    overlap: timedelta,
    *,
    uow: UnitOfWork,
    clock: Clock,
    on_commit: OnCommit[WebhookEndpoint] | None = None,
) -> WebhookEndpoint:
    """A new secret (returned once); the old one keeps signing too for ``overlap``, then stops."""
    now = clock()
    with uow:
        endpoint = uow.webhook_endpoints.get(principal.merchant_id, endpoint_id)
        if endpoint is None:
            raise endpoint_missing(endpoint_id)
        rotated = replace(
            endpoint,
            secret=generate_secret(),
            previous_secret=endpoint.secret if overlap > timedelta(0) else None,
            previous_secret_expires_at=now + overlap if overlap > timedelta(0) else None,
        )
        uow.webhook_endpoints.update(rotated)
        if on_commit is not None:
            on_commit(uow, rotated)
        uow.commit()
    return rotated


def endpoint_owner(endpoint_id: UUID, *, uow: UnitOfWork) -> UUID | None:
    """The merchant an endpoint belongs to (operators' commands name endpoints by id alone)."""
    with uow:
        return uow.webhook_endpoints.owner(endpoint_id)


def endpoint_missing(endpoint_id: UUID) -> NotFound:
    return NotFound(f"No such webhook endpoint: '{endpoint_id}'", code="resource_missing", param="id")


# --- events ------------------------------------------------------------------------------------------


def get_event(principal: Principal, event_id: UUID, *, uow: UnitOfWork) -> Event:
    with uow:
        event = uow.events.get(principal.merchant_id, event_id)
    if event is None:
        raise event_missing(event_id)
    return event


def list_events(
    principal: Principal, event_type: str | None, page: PageRequest, *, uow: UnitOfWork
) -> Page[Event]:
    with uow:
        return uow.events.list(principal.merchant_id, event_type, page)


def list_deliveries(
    principal: Principal, event_id: UUID, page: PageRequest, *, uow: UnitOfWork
) -> Page[WebhookDelivery]:
    """An event's deliveries, each with its attempts (status, latency, response excerpt)."""
    with uow:
        if uow.events.get(principal.merchant_id, event_id) is None:
            raise event_missing(event_id)
        return uow.webhook_deliveries.list_for_event(principal.merchant_id, event_id, page)


def redeliver_event(
    principal: Principal,
    event_id: UUID,
    *,
    uow: UnitOfWork,
    clock: Clock,
    on_commit: OnCommit[int] | None = None,
) -> int:
    """Send the event again, now, to every endpoint that wants it; return how many deliveries that is."""
    with uow:
        if uow.events.get(principal.merchant_id, event_id) is None:
            raise event_missing(event_id)
        scheduled = uow.webhook_deliveries.redeliver([event_id], None, clock())
        if on_commit is not None:
            on_commit(uow, scheduled)
        uow.commit()
    return scheduled


def redeliver_since(
    since: datetime,
    *,
    endpoint: tuple[UUID, UUID] | None,
    uow_factory: Callable[[], UnitOfWork],
    clock: Clock,
) -> int:
    """Replay every event since ``since`` (to one ``(merchant_id, endpoint_id)`` or to all), in chunks."""
    merchant_id = None if endpoint is None else endpoint[0]
    endpoint_id = None if endpoint is None else endpoint[1]
    scheduled, after = 0, None
    while True:
        with uow_factory() as uow:
            ids = uow.events.ids_since(since, merchant_id, REDELIVERY_CHUNK, after)
            if not ids:
                return scheduled
            scheduled += uow.webhook_deliveries.redeliver(ids, endpoint_id, clock())
            uow.commit()
        after = ids[-1]


def event_missing(event_id: UUID) -> NotFound:
    return NotFound(f"No such event: '{event_id}'", code="resource_missing", param="id")


# --- delivery (the worker's) ---------------------------------------------------------------------------


def fan_out(event_ids: Sequence[UUID], *, uow: UnitOfWork, clock: Clock) -> int:
    """One pending delivery per event and endpoint that wants it; idempotent for redelivered messages."""
    with uow:
        created = uow.webhook_deliveries.fan_out(event_ids, clock())
        uow.commit()
    return created


def claim_due(limit: int, lease_seconds: float, *, uow: UnitOfWork, clock: Clock) -> list[DueDelivery]:
    """Deliveries due now, hidden for ``lease_seconds``: a worker killed mid-attempt loses none."""
    with uow:
        claimed = uow.webhook_deliveries.claim_due(limit, clock(), lease_seconds)
        uow.commit()
    return claimed


def attempt_delivery(
    due: DueDelivery,
    *,
    sender: WebhookSender,
    uow_factory: Callable[[], UnitOfWork],
    clock: Clock,
    schedule: RetrySchedule,
) -> AttemptOutcome:
    """POST the event once, signed; log the attempt and schedule the next one, or give up.

    ``webhook-id`` is the event's id on every attempt and every endpoint, so receivers dedupe on it.
    """
    started = clock()
    endpoint = due.endpoint
    headers = signature_headers(
        str(due.event_id), int(started.timestamp()), due.body, endpoint.signing_secrets(started)
    )
    headers.update({"content-type": "application/json", "user-agent": USER_AGENT})
    result: SendResult = sender.send(endpoint, headers, due.body)
    attempt = DeliveryAttempt(
        id=new_id(),
        delivery_id=due.id,
        attempted_at=started,
        status_code=result.status_code,
        latency_ms=result.latency_ms,
        response_excerpt=result.response_excerpt,
        error=result.error,
    )
    finished = clock()
    # Retries stop three days after the first attempt (or the last manual redelivery).
    window_start = started if due.attempts == 0 else due.retrying_since
    outcome, disabled = "succeeded", False
    with uow_factory() as uow:
        if result.succeeded:
            uow.webhook_deliveries.record_attempt(attempt, succeeded=True, next_attempt_at=None)
            uow.webhook_endpoints.note_success(endpoint.id)
        else:
            next_at = schedule.next_attempt(window_start, due.attempts + 1, finished)
            outcome = "failed_final" if next_at is None else "failed_retrying"
            uow.webhook_deliveries.record_attempt(attempt, succeeded=False, next_attempt_at=next_at)
            failing_since = uow.webhook_endpoints.note_failure(endpoint.id, started)
            if failing_since is not None and (
                finished - failing_since >= schedule.give_up_after
                # This delivery's whole retry window failed, and the endpoint with it: three days.
                or (next_at is None and failing_since <= window_start)
            ):
                uow.webhook_endpoints.disable(endpoint.id, DISABLED_FAILING, finished)
                outcome, disabled = "failed_final", True  # its pending deliveries, this one too, fail
        uow.commit()
    error_kind = None if result.status_code is not None else result.error_kind
    return AttemptOutcome(attempt, outcome, error_kind, disabled)
