"""The payables worker, in process, over the real database and the real Postgres queue."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
import structlog
from sqlalchemy import Engine, insert, text

from psp.bootstrap import Container
from psp.data_sources.postgres.tables import outbox
from psp.domain.events import TRANSACTION_DECLINED, OutboxEvent, transaction_event
from psp.domain.ids import new_id
from psp.domain.transactions import PaymentMethod, TransactionStatus
from psp.lib.errors import ServiceUnavailable
from psp.repositories.memory.queue import InMemoryEventQueue
from psp.repositories.ports import ReceivedEvent
from psp.repositories.postgres.outbox import outbox_row
from psp.repositories.postgres.queue import PostgresEventQueue
from psp.services.merchants import Onboarded
from psp.transporters.workers import payables as payables_worker
from psp.transporters.workers.payables import run_payables_worker
from psp.transporters.workers.shutdown import Shutdown
from tests.integration.support import pay

DECLINED_CARD = "4000000000000002"


def drain(container: Container, queue: PostgresEventQueue | None = None) -> None:
    run_payables_worker(container, shutdown=Shutdown(), once=True, queue=queue)


def payables_of(engine: Engine, transaction_id: UUID) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT id, installment, status, amount, fee, net_amount, payment_date, paid_at "
                "FROM payables WHERE transaction_id = :id ORDER BY installment"
            ),
            {"id": transaction_id},
        )
        return [dict(row._mapping) for row in rows]


def outbox_rows(engine: Engine) -> dict[UUID, dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, receive_count, processed_at, dead_at FROM outbox"))
        return {row.id: dict(row._mapping) for row in rows}


def make_every_event_visible(engine: Engine) -> None:
    """Stand-in for waiting out the visibility timeout."""
    with engine.begin() as connection:
        connection.execute(text("UPDATE outbox SET visible_at = now()"))


def test_a_batch_of_approved_events_becomes_payables_by_the_money_rules(
    container: Container, merchant: Onboarded
) -> None:
    credit = pay(container, merchant, 2500)
    debit = pay(container, merchant, 1001, PaymentMethod.DEBIT_CARD)
    installments = pay(container, merchant, 1000, installments=3)
    day = credit.created_at.astimezone(UTC).date()

    drain(container)

    [credit_payable] = payables_of(container.engine, credit.id)
    assert credit_payable["status"] == "waiting_funds"
    assert (credit_payable["amount"], credit_payable["fee"], credit_payable["net_amount"]) == (
        2500,
        125,
        2375,
    )
    assert credit_payable["payment_date"] == day + timedelta(days=30)
    assert credit_payable["paid_at"] is None
    [debit_payable] = payables_of(container.engine, debit.id)
    assert debit_payable["status"] == "paid"
    assert (debit_payable["amount"], debit_payable["fee"], debit_payable["net_amount"]) == (1001, 30, 971)
    assert debit_payable["payment_date"] == day
    assert debit_payable["paid_at"] is not None
    split = payables_of(container.engine, installments.id)
    assert [(p["installment"], p["amount"], p["fee"], p["net_amount"]) for p in split] == [
        (1, 334, 16, 318),
        (2, 333, 16, 317),
        (3, 333, 16, 317),
    ]
    assert [p["payment_date"] for p in split] == [day + timedelta(days=30 * i) for i in (1, 2, 3)]
    assert all(row["processed_at"] is not None for row in outbox_rows(container.engine).values())


def test_declined_events_are_acknowledged_and_create_no_payables(
    container: Container, merchant: Onboarded
) -> None:
    declined = pay(container, merchant, 2500, card_number=DECLINED_CARD)
    assert declined.status is TransactionStatus.DECLINED

    drain(container)

    assert payables_of(container.engine, declined.id) == []
    [event] = outbox_rows(container.engine).values()
    assert event["processed_at"] is not None


def test_processing_the_same_events_twice_creates_no_duplicate_payables(
    container: Container, merchant: Onboarded
) -> None:
    transactions = [pay(container, merchant, 1000 + n, installments=1 + n % 4) for n in range(6)]
    drain(container)
    first = {t.id: payables_of(container.engine, t.id) for t in transactions}
    with container.engine.begin() as connection:  # redelivery: as if the acknowledgement was lost
        connection.execute(text("UPDATE outbox SET processed_at = NULL, visible_at = now()"))

    drain(container)

    assert {t.id: payables_of(container.engine, t.id) for t in transactions} == first
    assert sum(len(rows) for rows in first.values()) == sum(t.installments for t in transactions)
    assert all(row["processed_at"] is not None for row in outbox_rows(container.engine).values())


def poison_events(container: Container, merchant: Onboarded) -> list[UUID]:
    """An approval of a transaction that does not exist (the insert fails) and a malformed payload."""
    template = transaction_event(pay(container, merchant, 700))
    ghost = replace(template, id=new_id(), payload={**template.payload, "transaction_id": str(new_id())})
    malformed = replace(template, id=new_id(), payload={**template.payload, "amount": "seven hundred"})
    with container.engine.begin() as connection:
        connection.execute(insert(outbox), [outbox_row(ghost), outbox_row(malformed)])
    return [ghost.id, malformed.id]


def test_a_poison_event_does_not_block_the_rest_of_its_batch_and_is_dead_lettered_in_the_end(
    container: Container, merchant: Onboarded
) -> None:
    good = [pay(container, merchant, 2500) for _ in range(3)]
    poison = poison_events(container, merchant)
    queue = PostgresEventQueue(container.engine, visibility_timeout=30, max_receives=2, poll_interval=0.02)

    drain(container, queue)

    events = outbox_rows(container.engine)
    assert all(len(payables_of(container.engine, t.id)) == 1 for t in good)
    assert all(events[event_id]["processed_at"] is None for event_id in poison)
    assert sum(row["processed_at"] is not None for row in events.values()) == len(events) - len(poison)
    for _ in range(2):  # the poison keeps failing on every delivery ...
        make_every_event_visible(container.engine)
        drain(container, queue)
    events = outbox_rows(container.engine)
    assert all(events[event_id]["dead_at"] is not None for event_id in poison)  # ... until dead-lettered
    assert all(events[event_id]["processed_at"] is None for event_id in poison)


def test_a_database_outage_is_not_taken_for_poison_events(
    container: Container, merchant: Onboarded, monkeypatch: pytest.MonkeyPatch
) -> None:
    paid = [pay(container, merchant, 2500) for _ in range(3)]

    def database_down(*_args: object, **_kwargs: object) -> int:
        raise ServiceUnavailable("the database is unavailable; retry shortly", code="database_unavailable")

    monkeypatch.setattr(payables_worker, "create_payables", database_down)
    with structlog.testing.capture_logs() as logged:
        drain(container)

    events = outbox_rows(container.engine)
    assert all(row["processed_at"] is None and row["dead_at"] is None for row in events.values())
    assert all(row["receive_count"] == 1 for row in events.values())  # not one extra receive per event
    assert not [line for line in logged if line["event"] == "payables.poison_event"]
    assert all(payables_of(container.engine, t.id) == [] for t in paid)


def test_a_stop_request_lets_the_worker_return_without_taking_a_new_batch(
    container: Container, merchant: Onboarded
) -> None:
    pay(container, merchant, 2500)
    shutdown = Shutdown()
    shutdown.request()

    run_payables_worker(container, shutdown=shutdown)

    [event] = outbox_rows(container.engine).values()
    assert event["receive_count"] == 0


def test_an_idle_worker_notices_a_stop_request_within_its_poll_wait(container: Container) -> None:
    shutdown = Shutdown()
    stopper = threading.Timer(0.2, shutdown.request)
    started = datetime.now(UTC)
    stopper.start()
    try:
        run_payables_worker(container, shutdown=shutdown)
    finally:
        stopper.join()

    assert datetime.now(UTC) - started < timedelta(seconds=3)


class ClaimClock(InMemoryEventQueue):
    """An in-memory queue that notes when each claim was made and stops the worker after ``claims``."""

    def __init__(self, shutdown: Shutdown, claims: int) -> None:
        super().__init__()
        self.claimed_at: list[float] = []
        self._shutdown, self._claims = shutdown, claims

    def receive(self, max_events: int, wait_seconds: float) -> list[ReceivedEvent]:
        self.claimed_at.append(time.monotonic())
        if len(self.claimed_at) == self._claims:
            self._shutdown.request()
        return super().receive(max_events, 0.0)

    def gaps(self) -> list[float]:
        return [later - earlier for earlier, later in itertools.pairwise(self.claimed_at)]


def declined_events(count: int) -> list[OutboxEvent]:
    """Events the payables worker acknowledges without writing anything."""
    return [
        OutboxEvent(new_id(), TRANSACTION_DECLINED, new_id(), new_id(), {}, datetime.now(UTC))
        for _ in range(count)
    ]


def lingering(container: Container, linger_ms: int, batch_size: int) -> Container:
    settings = replace(container.settings, worker_linger_ms=linger_ms, worker_batch_size=batch_size)
    return replace(container, settings=settings)


def test_after_a_short_batch_the_worker_claims_again_only_when_its_linger_window_ends(
    container: Container,
) -> None:
    shutdown = Shutdown()
    queue = ClaimClock(shutdown, claims=3)
    for event in declined_events(2):  # 2 of a batch of 10: the queue ran short
        queue.publish(event)

    run_payables_worker(lingering(container, 300, 10), shutdown=shutdown, queue=queue)

    assert queue.gaps()[0] >= 0.29  # the short batch: wait out the window
    assert queue.gaps()[1] < 0.2  # an empty claim waits nothing more (the queue's own poll wait)


def test_a_full_batch_is_followed_by_the_next_claim_at_once(container: Container) -> None:
    shutdown = Shutdown()
    queue = ClaimClock(shutdown, claims=3)
    for event in declined_events(20):  # two full batches of 10
        queue.publish(event)

    run_payables_worker(lingering(container, 5_000, 10), shutdown=shutdown, queue=queue)

    assert max(queue.gaps()) < 1.0
