"""Webhook delivery end to end: real events, the real worker, a real HTTP receiver on a loopback port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from psp.bootstrap import Container
from psp.domain.events import (
    PAYABLE_CREATED,
    PAYABLE_PAID,
    TRANSACTION_APPROVED,
    TRANSACTION_PAID,
    approved_transaction_of,
)
from psp.domain.pagination import PageRequest
from psp.domain.transactions import PaymentMethod, Transaction
from psp.repositories.postgres.queue import EVENTS, PostgresEventQueue
from psp.services import webhooks as service
from psp.services.merchants import Onboarded
from psp.services.payables import create_payables
from psp.services.settlement import settle_due_payables
from psp.transporters.rest.serializers import payable_json, transaction_json
from psp.webhooks import WebhookVerificationError, verify
from tests.integration.support import pay
from tests.integration.test_refunds_and_processing import refund
from tests.integration.test_worker_processes import worker_environment
from tests.integration.webhooks.receiver import Receiver, running
from tests.integration.webhooks.support import (
    principal_of,
    register,
    run_until_endpoint_disabled,
    worker_running,
)


def test_a_delivery_is_signed_verifiable_and_carries_the_object_with_its_version(
    container: Container, merchant: Onboarded
) -> None:
    with running(Receiver()) as receiver:
        endpoint = register(container, merchant, receiver.url)
        transaction = pay(container, merchant)
        with worker_running(container):
            [delivery] = receiver.wait_for(1)

    assert verify(delivery.body, delivery.headers, endpoint.secret) == delivery.body
    event = json.loads(delivery.body)
    assert event["type"] == TRANSACTION_APPROVED
    assert delivery.headers["webhook-id"] == event["id"]
    assert event["data"]["object"] == {**transaction_json(transaction), "version": 1}
    assert "4111111111111111" not in delivery.body.decode()
    with pytest.raises(WebhookVerificationError):
        verify(delivery.body.replace(b"2500", b"9999"), delivery.headers, endpoint.secret)


def test_a_receiver_failing_three_times_gets_the_event_exactly_on_the_fourth_attempt(
    container: Container, merchant: Onboarded
) -> None:
    with running(Receiver(statuses=[500, 500, 500])) as receiver:
        register(container, merchant, receiver.url, events=(TRANSACTION_APPROVED,))
        transaction = pay(container, merchant)
        with worker_running(container):
            requests = receiver.wait_for(4)
            time.sleep(1.0)  # nothing more may come: the fourth attempt succeeded
        assert len(receiver.requests) == 4

    assert len({request.headers["webhook-id"] for request in requests}) == 1
    assert all(json.loads(r.body)["data"]["object"]["id"] == str(transaction.id) for r in requests)
    [event] = service.list_events(principal_of(merchant), None, PageRequest(), uow=container.uow()).items
    [logged] = service.list_deliveries(
        principal_of(merchant), event.id, PageRequest(), uow=container.uow()
    ).items
    assert logged.status.value == "succeeded"
    assert logged.attempts == 4
    assert [attempt.status_code for attempt in logged.attempt_log] == [500, 500, 500, 200]
    assert all(attempt.latency_ms >= 0 and attempt.response_excerpt == "ok" for attempt in logged.attempt_log)


def test_a_receiver_that_never_answers_does_not_hold_up_other_endpoints(
    container: Container, merchant: Onboarded
) -> None:
    with running(Receiver(hang=True)) as silent, running(Receiver()) as healthy:
        register(container, merchant, silent.url)
        register(container, merchant, healthy.url)
        for _ in range(3):
            pay(container, merchant)
        with worker_running(container, timeout=3.0):
            started = time.monotonic()
            silent.wait_for(3)
            healthy.wait_for(3)
            took = time.monotonic() - started
            silent.release.set()

    assert took < 2.0  # well inside the silent endpoint's 3 s time-out


def test_an_endpoint_gets_only_the_event_types_it_asked_for(
    container: Container, merchant: Onboarded
) -> None:
    with running(Receiver()) as receiver:
        register(container, merchant, receiver.url, events=(PAYABLE_CREATED,))
        transaction = pay(container, merchant, method=PaymentMethod.CREDIT_CARD, installments=2)
        approved = container.uow()
        with approved:
            [row] = approved.transactions.list(merchant.merchant.id, PageRequest()).items
        create_payables(
            [approved_transaction_of(row)],
            uow=container.uow(),
            settlement_zone=container.settings.settlement_timezone,
            clock=container.clock,
        )
        with worker_running(container):
            requests = receiver.wait_for(2)
            time.sleep(0.5)

    assert len(receiver.requests) == 2
    assert {json.loads(r.body)["type"] for r in requests} == {PAYABLE_CREATED}
    assert {json.loads(r.body)["data"]["object"]["transaction_id"] for r in requests} == {str(transaction.id)}


def pay_then_settle(container: Container, merchant: Onboarded) -> Transaction:
    """One approved payment in one installment, its payable created by the worker's service, then paid."""
    transaction = pay(container, merchant, installments=1)
    create_payables(
        [approved_transaction_of(transaction)],
        uow=container.uow(),
        settlement_zone=container.settings.settlement_timezone,
        clock=container.clock,
    )
    settle_due_payables(
        date.today() + timedelta(days=400),
        uow_factory=container.uow_factory,
        chunk_size=10,
        clock=container.clock,
    )
    return transaction


def test_settlement_events_carry_the_objects_as_the_api_shows_them_with_growing_versions(
    container: Container, merchant: Onboarded
) -> None:
    transaction = pay_then_settle(container, merchant)

    principal = principal_of(merchant)
    events = service.list_events(principal, None, PageRequest(), uow=container.uow()).items
    by_type = {event.type: event for event in events}
    assert set(by_type) == {TRANSACTION_APPROVED, PAYABLE_CREATED, PAYABLE_PAID, TRANSACTION_PAID}
    with container.uow() as uow:
        paid_transaction = uow.transactions.get(merchant.merchant.id, transaction.id)
        [payable] = uow.payables.list_for_transaction_for_update(transaction.id)
    assert paid_transaction is not None
    assert by_type[TRANSACTION_PAID].data == {**transaction_json(paid_transaction), "version": 2}
    assert by_type[PAYABLE_PAID].data == {**payable_json(payable), "version": 2}
    assert by_type[PAYABLE_CREATED].data["version"] == 1
    assert by_type[PAYABLE_CREATED].data["status"] == "waiting_funds"


def test_a_paid_transaction_changed_later_keeps_the_object_its_paid_event_reported(
    container: Container, merchant: Onboarded
) -> None:
    """The event is rendered from the row until a refund changes it; the trigger stores it first."""
    transaction = pay_then_settle(container, merchant)
    with container.uow() as uow:
        paid = uow.transactions.get(merchant.merchant.id, transaction.id)
    assert paid is not None
    reported = {**transaction_json(paid), "version": 2}

    def paid_event_data() -> object:
        events = service.list_events(
            principal_of(merchant), TRANSACTION_PAID, PageRequest(), uow=container.uow()
        )
        [event] = events.items
        return event.data

    def stored() -> tuple[object, object]:
        with container.engine.connect() as connection:
            return tuple(
                connection.execute(
                    text(
                        "SELECT e.data, t.paid_event_id FROM events AS e JOIN transactions AS t "
                        "ON t.id = e.object_id WHERE e.event_type = 'transaction.paid'"
                    )
                ).one()
            )

    assert paid_event_data() == reported
    assert stored()[0] is None  # rendered from the row, which names its event
    assert stored()[1] is not None

    refund(container, merchant, transaction.id, 500)

    data, paid_event_id = stored()
    assert data == reported  # stored by the trigger, as the row was before the refund
    assert paid_event_id is None
    assert paid_event_data() == reported


def test_events_written_by_settlement_wait_for_delivery_only_where_a_live_endpoint_wants_them(
    container: Container, merchant: Onboarded
) -> None:
    """Set-based events no endpoint wants are written handed off; the one wanted still arrives."""
    with running(Receiver()) as receiver:
        register(container, merchant, receiver.url, events=(PAYABLE_PAID,))
        gone = register(container, merchant, receiver.url)  # every type, but deleted: wants nothing
        service.delete_endpoint(principal_of(merchant), gone.id, uow=container.uow(), clock=container.clock)
        transaction = pay_then_settle(container, merchant)
        with container.engine.connect() as connection:
            waiting = dict(
                connection.execute(
                    text("SELECT event_type, processed_at IS NULL FROM events WHERE merchant_id = :m"),
                    {"m": merchant.merchant.id},
                ).all()
            )
        with worker_running(container):
            [request] = receiver.wait_for(1)
            time.sleep(0.5)

    # The approval is written by the API, with its transaction: it always waits for the fan-out.
    assert waiting == {
        TRANSACTION_APPROVED: True,
        PAYABLE_CREATED: False,
        PAYABLE_PAID: True,
        TRANSACTION_PAID: False,
    }
    assert len(receiver.requests) == 1
    assert json.loads(request.body)["type"] == PAYABLE_PAID
    with container.uow() as uow:  # its data, rendered from the paid payable, is the API's object
        [payable] = uow.payables.list_for_transaction_for_update(transaction.id)
    assert json.loads(request.body)["data"]["object"] == {**payable_json(payable), "version": 2}


def test_the_webhooks_queue_hands_over_a_paid_payable_event_with_the_object_rendered_from_the_payable(
    container: Container, merchant: Onboarded
) -> None:
    """A ``payable.paid`` event stores no data; every reader renders it from the paid payable."""
    register(container, merchant, "http://localhost:9/hook", events=(PAYABLE_PAID,))
    transaction = pay_then_settle(container, merchant)
    queue = PostgresEventQueue(
        container.engine, visibility_timeout=30, max_receives=5, poll_interval=0.05, table=EVENTS
    )

    payloads = {item.event.type: item.event.payload for item in queue.receive(10, 0)}

    with container.uow() as uow:
        [payable] = uow.payables.list_for_transaction_for_update(transaction.id)
    assert payloads[PAYABLE_PAID] == {**payable_json(payable), "version": 2}
    with container.engine.connect() as connection:
        stored = connection.execute(
            text("SELECT data FROM events WHERE event_type = :t"), {"t": PAYABLE_PAID}
        ).scalar_one()
    assert stored is None


def test_a_redelivered_event_arrives_again_with_the_same_webhook_id(
    container: Container, merchant: Onboarded
) -> None:
    with running(Receiver()) as receiver:
        register(container, merchant, receiver.url)
        pay(container, merchant)
        with worker_running(container):
            [first] = receiver.wait_for(1)
            [event] = service.list_events(
                principal_of(merchant), None, PageRequest(), uow=container.uow()
            ).items
            scheduled = service.redeliver_event(
                principal_of(merchant), event.id, uow=container.uow(), clock=container.clock
            )
            second = receiver.wait_for(2)[1]

    assert scheduled == 1
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == str(event.id)
    assert first.body == second.body


def test_an_endpoint_failing_for_the_whole_retry_window_is_disabled_and_its_delivery_failed(
    container: Container, merchant: Onboarded
) -> None:
    with running(Receiver(default_status=503)) as receiver:
        endpoint = register(container, merchant, receiver.url)
        pay(container, merchant)
        found = run_until_endpoint_disabled(container, merchant, endpoint.id)

    assert found.disabled_reason == service.DISABLED_FAILING
    [event] = service.list_events(principal_of(merchant), None, PageRequest(), uow=container.uow()).items
    [delivery] = service.list_deliveries(
        principal_of(merchant), event.id, PageRequest(), uow=container.uow()
    ).items
    assert delivery.status.value == "failed"
    assert delivery.attempts >= 3


def test_a_worker_killed_mid_delivery_loses_nothing_and_the_retry_keeps_the_webhook_id(
    container: Container, merchant: Onboarded, database_url: str
) -> None:
    with running(Receiver(hang=True)) as receiver:
        register(container, merchant, receiver.url)
        pay(container, merchant)
        environment = worker_environment(database_url, PSP_WEBHOOK_TIMEOUT_SECONDS="1")
        command = [sys.executable, "-m", "psp.transporters.cli", "worker", "webhooks"]
        with subprocess.Popen(command, env=environment, stderr=subprocess.DEVNULL) as process:
            [first] = receiver.wait_for(1, timeout=30)
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        receiver.hang = False
        receiver.release.set()
        killed_at = datetime.now(UTC)
        with worker_running(container):
            second = receiver.wait_for(2, timeout=15)[1]
            time.sleep(0.5)

    assert len(receiver.requests) == 2  # at least once, and no more than the one the kill cost
    assert second.headers["webhook-id"] == first.headers["webhook-id"]
    assert verify(second.body, second.headers, register_secret(container, merchant)) == second.body
    [event] = service.list_events(principal_of(merchant), None, PageRequest(), uow=container.uow()).items
    [delivery] = service.list_deliveries(
        principal_of(merchant), event.id, PageRequest(), uow=container.uow()
    ).items
    assert delivery.status.value == "succeeded"
    [attempt] = delivery.attempt_log  # the killed attempt was never recorded
    assert attempt.attempted_at >= killed_at


def register_secret(container: Container, merchant: Onboarded) -> str:
    [endpoint] = service.list_endpoints(principal_of(merchant), PageRequest(), uow=container.uow()).items
    return endpoint.secret
