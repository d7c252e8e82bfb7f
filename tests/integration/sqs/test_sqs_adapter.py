"""What only the SQS adapter does: batches of ten, visibility extension, queue creation, error translation."""

from __future__ import annotations

import json
import time

import pytest

from psp.config import Settings
from psp.data_sources.sqs.client import QueueAddress, build_sqs_client, create_queues
from psp.domain.ids import new_id
from psp.lib.errors import ServiceUnavailable
from psp.repositories.sqs.queue import SqsEventPublisher, SqsEventQueue
from tests.integration.conftest import sqs_settings
from tests.integration.test_queue_contract import an_event


def test_more_than_ten_events_are_sent_received_and_deleted_in_batches_of_ten(
    sqs_test_settings: Settings,
) -> None:
    events = [an_event(new_id(), amount) for amount in range(1, 26)]
    assert SqsEventPublisher.from_settings(sqs_test_settings).publish(events) == [e.id for e in events]
    queue = SqsEventQueue.from_settings(sqs_test_settings)

    received = queue.receive(25, 1)
    queue.acknowledge(received)

    assert sorted(item.event.id for item in received) == sorted(e.id for e in events)
    time.sleep(1.5)
    assert queue.receive(25, 0) == []


def test_a_receive_returns_as_soon_as_the_queue_runs_short(sqs_test_settings: Settings) -> None:
    SqsEventPublisher.from_settings(sqs_test_settings).publish([an_event(new_id())])
    queue = SqsEventQueue.from_settings(sqs_test_settings)

    started = time.monotonic()
    received = queue.receive(500, 5)

    assert len(received) == 1
    assert time.monotonic() - started < 2


def test_extending_visibility_keeps_a_slow_batch_hidden_past_the_queue_timeout(
    sqs_test_settings: Settings,
) -> None:
    SqsEventPublisher.from_settings(sqs_test_settings).publish([an_event(new_id())])
    queue = SqsEventQueue.from_settings(sqs_test_settings)
    received = queue.receive(10, 1)

    queue.extend_visibility(received, 5)
    time.sleep(1.5)  # past the 1 s visibility timeout the message was received with

    assert queue.receive(10, 0) == []


def test_an_unreadable_message_is_skipped_and_ends_in_the_dead_letter_queue(
    sqs_test_settings: Settings,
) -> None:
    client = build_sqs_client(sqs_test_settings)
    queue_url = QueueAddress(client, sqs_test_settings.sqs_payables_queue).url
    client.send_message(QueueUrl=queue_url, MessageBody="not json")
    queue = SqsEventQueue.from_settings(sqs_test_settings)

    for _ in range(sqs_test_settings.worker_max_receives):
        assert queue.receive(10, 0) == []
        time.sleep(1.1)
    queue.receive(10, 0)  # the receive past maxReceiveCount is the one that moves it

    assert queue.redrive_dead() == 1


def test_creating_the_queues_sets_the_dead_letter_policy_and_can_run_again(moto_endpoint: str) -> None:
    settings = sqs_settings(moto_endpoint)
    client = build_sqs_client(settings)

    def create(visibility_timeout: int) -> str:
        return create_queues(
            client,
            queue=settings.sqs_payables_queue,
            dlq=settings.sqs_payables_dlq,
            visibility_timeout=visibility_timeout,
            max_receives=5,
        ).queue_url

    first = create(visibility_timeout=10)
    assert create(visibility_timeout=30) == first  # a second run updates the attributes in place
    attributes = client.get_queue_attributes(QueueUrl=first, AttributeNames=["All"])["Attributes"]
    redrive_policy = json.loads(attributes["RedrivePolicy"])

    assert int(redrive_policy["maxReceiveCount"]) == 5
    assert redrive_policy["deadLetterTargetArn"].endswith(f":{settings.sqs_payables_dlq}")
    assert attributes["VisibilityTimeout"] == "30"
    assert attributes["ReceiveMessageWaitTimeSeconds"] == "20"
    assert attributes["SqsManagedSseEnabled"] == "true"


def test_an_unreachable_endpoint_is_reported_as_service_unavailable(moto_endpoint: str) -> None:
    settings = sqs_settings("http://127.0.0.1:9")  # the discard port: nothing listens there

    with pytest.raises(ServiceUnavailable):
        SqsEventPublisher.from_settings(settings).publish([an_event(new_id())])
    with pytest.raises(ServiceUnavailable):
        SqsEventQueue.from_settings(settings).receive(10, 0)
