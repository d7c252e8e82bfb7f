"""With the SQS backend, public events travel relay -> SQS webhooks queue -> webhooks worker -> receiver."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from psp.bootstrap import Container, bootstrap
from psp.config import Settings
from psp.domain.events import TRANSACTION_APPROVED
from psp.services.merchants import Onboarded
from psp.services.relay import events_backlog, relay_events
from psp.webhooks import verify
from tests.conftest import onboard
from tests.integration.support import pay
from tests.integration.webhooks.receiver import Receiver, running
from tests.integration.webhooks.support import register, worker_running


@pytest.fixture
def sqs_container(
    clean_database: Engine, database_url: str, sqs_test_settings: Settings
) -> Iterator[Container]:
    container = bootstrap(sqs_test_settings, database_url=database_url, application_name="psp-test")
    yield container
    container.close()


def test_an_event_relayed_to_the_sqs_webhooks_queue_is_delivered_signed(sqs_container: Container) -> None:
    merchant: Onboarded = onboard(sqs_container)
    with running(Receiver()) as receiver:
        endpoint = register(sqs_container, merchant, receiver.url)
        transaction = pay(sqs_container, merchant)
        relayed = relay_events(
            uow=sqs_container.uow(),
            publisher=sqs_container.webhook_event_publisher(),
            limit=100,
            clock=sqs_container.clock,
        )
        with worker_running(sqs_container, queue=sqs_container.webhook_event_queue()):
            [delivery] = receiver.wait_for(1)

    assert relayed == 1
    assert events_backlog(uow=sqs_container.uow()) == 0
    assert verify(delivery.body, delivery.headers, endpoint.secret) == delivery.body
    event = json.loads(delivery.body)
    assert (event["type"], event["data"]["object"]["id"]) == (TRANSACTION_APPROVED, str(transaction.id))
