"""The Postgres queue (the outbox table claimed with SKIP LOCKED) behaves like SQS."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import Engine, insert, text

from psp.bootstrap import Container
from psp.data_sources.postgres.tables import outbox
from psp.domain.events import OutboxEvent
from psp.domain.ids import new_id
from psp.repositories.postgres.outbox import outbox_row
from psp.repositories.postgres.queue import PostgresEventQueue
from psp.services.merchants import Onboarded


def queue_over(engine: Engine, *, visibility_timeout: int = 30, max_receives: int = 5) -> PostgresEventQueue:
    return PostgresEventQueue(
        engine, visibility_timeout=visibility_timeout, max_receives=max_receives, poll_interval=0.02
    )


def publish(engine: Engine, merchant_id: UUID, count: int = 1) -> list[UUID]:
    now = datetime.now(UTC)
    events = [
        OutboxEvent(
            id=new_id(),
            type="transaction.approved",
            merchant_id=merchant_id,
            aggregate_id=new_id(),
            payload={"n": n},
            created_at=now,
        )
        for n in range(count)
    ]
    with engine.begin() as connection:
        connection.execute(insert(outbox), [outbox_row(event) for event in events])
    return [event.id for event in events]


def outbox_state(engine: Engine, event_id: UUID) -> dict[str, object]:
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT receive_count, processed_at, dead_at FROM outbox WHERE id = :id"), {"id": event_id}
        ).one()
    return dict(row._mapping)


def test_a_received_event_is_invisible_to_other_consumers_until_its_timeout(
    container: Container, merchant: Onboarded
) -> None:
    [event_id] = publish(container.engine, merchant.merchant.id)
    queue = queue_over(container.engine)

    first = queue.receive(10, 0)
    second = queue.receive(10, 0)

    assert [item.event.id for item in first] == [event_id]
    assert first[0].receive_count == 1
    assert first[0].event.payload == {"n": 0}
    assert second == []


def test_an_acknowledged_event_is_never_delivered_again(container: Container, merchant: Onboarded) -> None:
    [event_id] = publish(container.engine, merchant.merchant.id)
    queue = queue_over(container.engine, visibility_timeout=1)

    queue.acknowledge(queue.receive(10, 0))
    time.sleep(1.1)

    assert queue.receive(10, 0) == []
    assert outbox_state(container.engine, event_id)["processed_at"] is not None


def test_a_released_event_is_delivered_again_at_once(container: Container, merchant: Onboarded) -> None:
    [event_id] = publish(container.engine, merchant.merchant.id)
    queue = queue_over(container.engine)

    queue.release(queue.receive(10, 0))
    again = queue.receive(10, 0)

    assert [(item.event.id, item.receive_count) for item in again] == [(event_id, 2)]


def test_an_unacknowledged_event_comes_back_when_its_visibility_timeout_lapses(
    container: Container, merchant: Onboarded
) -> None:
    [event_id] = publish(container.engine, merchant.merchant.id)
    queue = queue_over(container.engine, visibility_timeout=1)

    queue.receive(10, 0)  # a consumer that crashes: it never acknowledges
    redelivered = queue.receive(10, wait_seconds=3)

    assert [(item.event.id, item.receive_count) for item in redelivered] == [(event_id, 2)]


def test_an_event_received_max_receives_times_is_dead_lettered_and_redrive_revives_it(
    container: Container, merchant: Onboarded
) -> None:
    [event_id] = publish(container.engine, merchant.merchant.id)
    queue = queue_over(container.engine, max_receives=2)

    for _ in range(2):
        queue.release(queue.receive(10, 0))
    assert queue.receive(10, 0) == []
    dead = outbox_state(container.engine, event_id)

    redriven = queue.redrive_dead()
    revived = queue.receive(10, 0)

    assert dead["dead_at"] is not None
    assert dead["processed_at"] is None
    assert redriven == 1
    assert [(item.event.id, item.receive_count) for item in revived] == [(event_id, 1)]
    assert queue.redrive_dead() == 0


def test_receive_waits_for_an_event_published_while_it_polls(
    container: Container, merchant: Onboarded
) -> None:
    queue = queue_over(container.engine)
    publisher = threading.Timer(0.2, publish, args=(container.engine, merchant.merchant.id))
    publisher.start()
    try:
        received = queue.receive(10, wait_seconds=5)
    finally:
        publisher.join()

    assert len(received) == 1


def test_two_consumers_polling_concurrently_never_receive_the_same_visible_event(
    container: Container, merchant: Onboarded
) -> None:
    published = set(publish(container.engine, merchant.merchant.id, count=600))
    received: dict[str, list[UUID]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def consume(name: str) -> None:
        queue = queue_over(container.engine)  # each consumer its own adapter, as in two processes
        start.wait()
        while batch := queue.receive(7, 0):
            received[name].extend(item.event.id for item in batch)

    consumers = [threading.Thread(target=consume, args=(name,)) for name in received]
    for consumer in consumers:
        consumer.start()
    for consumer in consumers:
        consumer.join()

    assert set(received["a"]).isdisjoint(received["b"])
    assert sorted(received["a"] + received["b"]) == sorted(published)
    assert received["a"], "both consumers took part"
    assert received["b"], "both consumers took part"
