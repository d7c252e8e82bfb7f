"""The outbox relay: events committed with their change are sent on to the queue (SQS mode)."""

from __future__ import annotations

from psp.domain.events import as_queued
from psp.repositories.ports import EventPublisher, UnitOfWork
from psp.services.clock import Clock


def relay_outbox(*, uow: UnitOfWork, publisher: EventPublisher, limit: int, clock: Clock) -> int:
    """Send up to ``limit`` unsent outbox events and mark sent those the queue accepted; return how many.

    The rows stay locked while they are sent, so concurrent relays skip them. If the queue accepts
    and the commit then fails, the events are sent again later: delivery is at least once, and
    consumers are idempotent.
    """
    with uow:
        events = uow.outbox.claim_unpublished(limit)
        if not events:
            return 0
        accepted = publisher.publish(events)
        uow.outbox.mark_published(accepted, clock())
        uow.commit()
    return len(accepted)


def outbox_backlog(*, uow: UnitOfWork) -> int:
    """How many outbox events are waiting to be relayed."""
    with uow:
        return uow.outbox.count_unpublished()


def relay_events(*, uow: UnitOfWork, publisher: EventPublisher, limit: int, clock: Clock) -> int:
    """Send up to ``limit`` unsent public events to the webhooks queue; same guarantees as the outbox."""
    with uow:
        events = uow.events.claim_unpublished(limit)
        if not events:
            return 0
        accepted = publisher.publish([as_queued(event) for event in events])
        uow.events.mark_published(accepted, clock())
        uow.commit()
    return len(accepted)


def events_backlog(*, uow: UnitOfWork) -> int:
    """How many public events are waiting to be relayed to the webhooks queue."""
    with uow:
        return uow.events.count_unpublished()
