"""One queue contract, every adapter: the in-memory fake, the Postgres queues (the outbox, for payables;
the events table, for webhooks) and SQS on moto (the webhooks queue is the same adapter on other queues).

Every adapter runs with a 1 s visibility timeout and 5 receives before dead-lettering.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import pytest

from psp.bootstrap import Container
from psp.config import Settings
from psp.domain.events import TRANSACTION_APPROVED, Event, OutboxEvent
from psp.domain.ids import new_id
from psp.repositories.memory import InMemoryEventQueue
from psp.repositories.ports import EventQueue, ReceivedEvent
from psp.repositories.postgres.queue import EVENTS, PostgresEventQueue
from psp.repositories.sqs.queue import SqsEventPublisher, SqsEventQueue
from psp.services.merchants import Onboarded

VISIBILITY_TIMEOUT = 1
MAX_RECEIVES = 5


@dataclass
class QueueUnderTest:
    publish: Callable[[Sequence[OutboxEvent]], None]
    new_consumer: Callable[[], EventQueue]
    redrive: Callable[[], int] | None
    merchant_id: UUID


@pytest.fixture(params=["memory", "postgres", "postgres-events", "sqs"])
def adapter(request: pytest.FixtureRequest) -> QueueUnderTest:
    return {
        "memory": memory_queue,
        "postgres": postgres_queue,
        "postgres-events": postgres_events_queue,
        "sqs": sqs_queue,
    }[request.param](request)


def memory_queue(_request: pytest.FixtureRequest) -> QueueUnderTest:
    queue = InMemoryEventQueue(visibility_timeout=VISIBILITY_TIMEOUT, max_receives=MAX_RECEIVES)

    def publish(events: Sequence[OutboxEvent]) -> None:
        for event in events:
            queue.publish(event)

    # The fake has no redrive yet: dead-lettering is checked, bringing back is not.
    return QueueUnderTest(publish=publish, new_consumer=lambda: queue, redrive=None, merchant_id=new_id())


def postgres_queue(request: pytest.FixtureRequest) -> QueueUnderTest:
    container: Container = request.getfixturevalue("container")
    merchant: Onboarded = request.getfixturevalue("merchant")

    def publish(events: Sequence[OutboxEvent]) -> None:
        with container.uow() as uow:
            for event in events:
                uow.outbox.add(event)
            uow.commit()

    def new_consumer() -> PostgresEventQueue:
        return PostgresEventQueue(
            container.engine,
            visibility_timeout=VISIBILITY_TIMEOUT,
            max_receives=MAX_RECEIVES,
            poll_interval=0.05,
        )

    return QueueUnderTest(
        publish=publish,
        new_consumer=new_consumer,
        redrive=lambda: new_consumer().redrive_dead(),
        merchant_id=merchant.merchant.id,
    )


def postgres_events_queue(request: pytest.FixtureRequest) -> QueueUnderTest:
    """The webhooks worker's queue with the Postgres backend: the public events table."""
    container: Container = request.getfixturevalue("container")
    merchant: Onboarded = request.getfixturevalue("merchant")

    def publish(events: Sequence[OutboxEvent]) -> None:
        with container.uow() as uow:
            for event in events:
                uow.events.add(
                    Event(
                        id=event.id,
                        merchant_id=event.merchant_id,
                        type=event.type,
                        object_id=event.aggregate_id,
                        object_version=1,
                        data=event.payload,
                        created_at=event.created_at,
                    )
                )
            uow.commit()

    def new_consumer() -> PostgresEventQueue:
        return PostgresEventQueue(
            container.engine,
            visibility_timeout=VISIBILITY_TIMEOUT,
            max_receives=MAX_RECEIVES,
            poll_interval=0.05,
            table=EVENTS,
        )

    return QueueUnderTest(
        publish=publish,
        new_consumer=new_consumer,
        redrive=lambda: new_consumer().redrive_dead(),
        merchant_id=merchant.merchant.id,
    )


def sqs_queue(request: pytest.FixtureRequest) -> QueueUnderTest:
    settings: Settings = request.getfixturevalue("sqs_test_settings")
    publisher = SqsEventPublisher.from_settings(settings)

    def publish(events: Sequence[OutboxEvent]) -> None:
        assert publisher.publish(events) == [event.id for event in events]

    return QueueUnderTest(
        publish=publish,
        new_consumer=lambda: SqsEventQueue.from_settings(settings),
        redrive=lambda: SqsEventQueue.from_settings(settings).redrive_dead(),
        merchant_id=new_id(),
    )


def an_event(merchant_id: UUID, amount: int = 2500) -> OutboxEvent:
    created_at = datetime.now(UTC)
    return OutboxEvent(
        id=new_id(),
        type=TRANSACTION_APPROVED,
        merchant_id=merchant_id,
        aggregate_id=new_id(),
        payload={"amount": amount, "currency": "BRL", "installments": 1, "note": "ação"},
        created_at=created_at,
    )


def ids_of(received: Sequence[ReceivedEvent]) -> list[UUID]:
    return [item.event.id for item in received]


def test_a_published_event_is_received_intact_once_counted(adapter: QueueUnderTest) -> None:
    event = an_event(adapter.merchant_id)
    adapter.publish([event])

    [received] = adapter.new_consumer().receive(10, 1)

    assert received.event == event
    assert received.receive_count == 1


def test_an_acknowledged_event_is_never_delivered_again(adapter: QueueUnderTest) -> None:
    adapter.publish([an_event(adapter.merchant_id)])
    queue = adapter.new_consumer()
    received = queue.receive(10, 1)

    queue.acknowledge(received)
    time.sleep(VISIBILITY_TIMEOUT + 0.5)

    assert queue.receive(10, 0) == []


def test_an_unacknowledged_event_comes_back_after_the_visibility_timeout(adapter: QueueUnderTest) -> None:
    event = an_event(adapter.merchant_id)
    adapter.publish([event])
    queue = adapter.new_consumer()
    assert ids_of(queue.receive(10, 1)) == [event.id]
    assert queue.receive(10, 0) == []

    time.sleep(VISIBILITY_TIMEOUT + 0.5)
    [again] = queue.receive(10, 1)

    assert again.event.id == event.id
    assert again.receive_count == 2


def test_a_released_event_is_visible_again_at_once(adapter: QueueUnderTest) -> None:
    event = an_event(adapter.merchant_id)
    adapter.publish([event])
    queue = adapter.new_consumer()

    queue.release(queue.receive(10, 1))

    assert ids_of(queue.receive(10, 0)) == [event.id]


def test_an_event_received_too_often_is_dead_lettered_and_redrive_brings_it_back(
    adapter: QueueUnderTest,
) -> None:
    event = an_event(adapter.merchant_id)
    adapter.publish([event])
    queue = adapter.new_consumer()
    for attempt in range(1, MAX_RECEIVES + 1):
        [received] = queue.receive(10, 1)
        assert received.receive_count == attempt
        queue.release([received])  # a consumer that fails on it every time

    assert queue.receive(10, 0) == []
    if adapter.redrive is None:
        return
    assert adapter.redrive() == 1
    [redriven] = queue.receive(10, 1)
    assert redriven.event == event
    assert redriven.receive_count == 1


def test_two_consumers_never_hold_the_same_visible_event(adapter: QueueUnderTest) -> None:
    events = [an_event(adapter.merchant_id, amount) for amount in range(1, 9)]
    adapter.publish(events)
    consumers = [adapter.new_consumer(), adapter.new_consumer()]
    held: list[list[UUID]] = [[], []]

    def consume(index: int) -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and sum(map(len, held)) < len(events):
            held[index].extend(ids_of(consumers[index].receive(3, 0.5)))

    threads = [threading.Thread(target=consume, args=(index,)) for index in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert set(held[0]).isdisjoint(held[1])
    assert sorted(held[0] + held[1]) == sorted(event.id for event in events)
