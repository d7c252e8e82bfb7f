"""The outbox relay against the real database and moto's SQS: nothing lost, not even through an outage."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from uuid import UUID

import pytest
from sqlalchemy import Engine, text

from psp.bootstrap import Container, bootstrap
from psp.config import Settings
from psp.domain.events import transaction_event
from psp.lib.errors import ServiceUnavailable
from psp.repositories.sqs.queue import SqsEventPublisher, SqsEventQueue
from psp.services.relay import outbox_backlog, relay_outbox
from psp.transporters.jobs.relay import Backoff, run_relay
from psp.transporters.workers.shutdown import Shutdown
from tests.conftest import onboard
from tests.integration.sqs.conftest import StoppableEndpoint
from tests.integration.support import pay

OUTAGE_SECONDS = 10


@pytest.fixture
def sqs_container(
    clean_database: Engine, database_url: str, sqs_test_settings: Settings
) -> Iterator[Container]:
    container = bootstrap(sqs_test_settings, database_url=database_url, application_name="psp-test")
    yield container
    container.close()


def published_ids(engine: Engine) -> set[UUID]:
    with engine.connect() as connection:
        return set(connection.scalars(text("SELECT id FROM outbox WHERE published_at IS NOT NULL")))


def drain(queue: SqsEventQueue) -> list[UUID]:
    """Every event visible in the queue, acknowledged."""
    ids: list[UUID] = []
    while received := queue.receive(100, 0.5):
        ids.extend(item.event.id for item in received)
        queue.acknowledge(received)
    return ids


def wait_for(condition: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_relayed_events_arrive_intact_and_are_marked_published(sqs_container: Container) -> None:
    onboarded = onboard(sqs_container)
    transactions = [pay(sqs_container, onboarded, amount) for amount in (1000, 2000, 3000)]
    publisher = sqs_container.event_publisher()

    relayed = relay_outbox(uow=sqs_container.uow(), publisher=publisher, limit=100, clock=sqs_container.clock)
    received = SqsEventQueue.from_settings(sqs_container.settings).receive(10, 1)

    assert relayed == 3
    assert outbox_backlog(uow=sqs_container.uow()) == 0
    expected = {transaction_event(t).payload["transaction_id"] for t in transactions}
    assert {item.event.payload["transaction_id"] for item in received} == expected
    assert published_ids(sqs_container.engine) == {item.event.id for item in received}
    assert (
        relay_outbox(uow=sqs_container.uow(), publisher=publisher, limit=100, clock=sqs_container.clock) == 0
    )


def test_nothing_is_marked_published_while_sqs_is_unreachable(sqs_container: Container) -> None:
    onboarded = onboard(sqs_container)
    for amount in (1000, 2000):
        pay(sqs_container, onboarded, amount)
    unreachable = replace(sqs_container.settings, sqs_endpoint_url="http://127.0.0.1:9")
    with pytest.raises(ServiceUnavailable):
        relay_outbox(
            uow=sqs_container.uow(),
            publisher=SqsEventPublisher.from_settings(unreachable),
            limit=100,
            clock=sqs_container.clock,
        )

    assert published_ids(sqs_container.engine) == set()
    assert outbox_backlog(uow=sqs_container.uow()) == 2


def test_an_sqs_outage_loses_nothing_and_the_relay_drains_the_outbox_after(
    clean_database: Engine,
    database_url: str,
    sqs_test_settings: Settings,
    stoppable_endpoint: StoppableEndpoint,
) -> None:
    settings = replace(sqs_test_settings, sqs_endpoint_url=stoppable_endpoint.url)
    container = bootstrap(settings, database_url=database_url, application_name="psp-test")
    onboarded = onboard(container)
    shutdown = Shutdown()
    relay = threading.Thread(
        target=run_relay,
        args=(container,),
        kwargs={"shutdown": shutdown, "idle_seconds": 0.1, "backoff": Backoff(first=0.2, cap=1.0)},
    )
    relay.start()
    try:
        before = [pay(container, onboarded, amount) for amount in range(100, 105)]
        wait_for(lambda: outbox_backlog(uow=container.uow()) == 0)

        stoppable_endpoint.stop()
        during = [pay(container, onboarded, amount) for amount in range(200, 205)]
        time.sleep(OUTAGE_SECONDS)
        assert outbox_backlog(uow=container.uow()) == len(during)  # held in the outbox, none marked
        stoppable_endpoint.start()

        wait_for(lambda: outbox_backlog(uow=container.uow()) == 0)
    finally:
        shutdown.request()
        relay.join(timeout=10)
        container.close()
    assert not relay.is_alive()

    received_ids = drain(SqsEventQueue.from_settings(sqs_test_settings))
    assert len(received_ids) == len(before) + len(during)
    assert set(received_ids) == published_ids(clean_database)
