"""The outbox relay service over the in-memory fakes: only what the queue accepted is marked sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
import structlog

from psp.domain.events import TRANSACTION_APPROVED, OutboxEvent
from psp.domain.ids import new_id
from psp.lib.errors import ServiceUnavailable
from psp.repositories.memory import InMemoryStore
from psp.services.relay import outbox_backlog, relay_outbox
from psp.transporters.jobs.relay import BACKLOG_EVENT, BacklogReport, Backoff
from tests.unit.fakes import FrozenClock


class RecordingPublisher:
    """Accepts every event except those it is told to refuse; can be made unreachable."""

    def __init__(self, refuse: set[UUID] | None = None, unreachable: bool = False) -> None:
        self.refuse = refuse or set()
        self.unreachable = unreachable
        self.sent: list[UUID] = []

    def publish(self, events: Sequence[OutboxEvent]) -> list[UUID]:
        if self.unreachable:
            raise ServiceUnavailable("down", code="queue_unavailable")
        accepted = [event.id for event in events if event.id not in self.refuse]
        self.sent.extend(accepted)
        return accepted


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


def with_events(store: InMemoryStore, clock: FrozenClock, count: int) -> list[OutboxEvent]:
    events = [
        OutboxEvent(new_id(), TRANSACTION_APPROVED, new_id(), new_id(), {}, clock.now + timedelta(seconds=i))
        for i in range(count)
    ]
    with store.uow() as uow:
        for event in events:
            uow.outbox.add(event)
        uow.commit()
    return events


def relay(store: InMemoryStore, publisher: RecordingPublisher, clock: FrozenClock, limit: int = 10) -> int:
    return relay_outbox(uow=store.uow(), publisher=publisher, limit=limit, clock=clock)


def test_relaying_sends_the_oldest_events_first_and_marks_them_sent(clock: FrozenClock) -> None:
    store = InMemoryStore()
    events = with_events(store, clock, 3)
    publisher = RecordingPublisher()

    assert relay(store, publisher, clock, limit=2) == 2
    assert publisher.sent == [events[0].id, events[1].id]
    assert outbox_backlog(uow=store.uow()) == 1
    assert store.published == {events[0].id: clock.now, events[1].id: clock.now}


def test_relaying_twice_sends_nothing_twice(clock: FrozenClock) -> None:
    store = InMemoryStore()
    with_events(store, clock, 3)
    publisher = RecordingPublisher()

    relay(store, publisher, clock)

    assert relay(store, publisher, clock) == 0
    assert len(publisher.sent) == 3


def test_events_the_queue_refuses_stay_unsent_and_go_out_on_a_later_run(clock: FrozenClock) -> None:
    store = InMemoryStore()
    events = with_events(store, clock, 3)
    publisher = RecordingPublisher(refuse={events[1].id})

    assert relay(store, publisher, clock) == 2
    assert outbox_backlog(uow=store.uow()) == 1

    publisher.refuse.clear()
    assert relay(store, publisher, clock) == 1
    assert publisher.sent == [events[0].id, events[2].id, events[1].id]


def test_nothing_is_marked_sent_while_the_queue_is_unreachable(clock: FrozenClock) -> None:
    store = InMemoryStore()
    with_events(store, clock, 2)

    with pytest.raises(ServiceUnavailable):
        relay(store, RecordingPublisher(unreachable=True), clock)

    assert store.published == {}
    assert outbox_backlog(uow=store.uow()) == 2


def test_backoff_grows_to_its_cap_with_jitter_and_starts_over_after_a_success() -> None:
    backoff = Backoff(first=1.0, cap=8.0)

    delays = [backoff.next_delay() for _ in range(6)]

    for delay, ceiling in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert ceiling / 2 <= delay <= ceiling
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_the_relay_logs_its_backlog_at_once_then_once_a_minute_busy_or_idle() -> None:
    now = [0.0]
    report = BacklogReport(monotonic=lambda: now[0])
    with structlog.testing.capture_logs() as logged:
        for second, backlog in [(0, 7), (30, 5), (59.9, 0), (60, 0), (119, 3), (120, 3)]:
            now[0] = second
            report.observe(backlog)

    assert [(line["event"], line["outbox_backlog"]) for line in logged] == [
        (BACKLOG_EVENT, 7),
        (BACKLOG_EVENT, 0),
        (BACKLOG_EVENT, 3),
    ]


def test_the_metric_filter_reads_the_backlog_lines_the_relay_writes() -> None:
    monitoring = (Path(__file__).resolve().parents[2] / "infrastructure" / "monitoring.tf").read_text()

    assert f'pattern        = "{{ $.event = \\"{BACKLOG_EVENT}\\" }}"' in monitoring
    assert 'value     = "$.outbox_backlog"' in monitoring
