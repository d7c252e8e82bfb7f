"""Refunds and stuck-transaction resolution over the real database: locks, concurrency and the CLI."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, insert, text

from psp.bootstrap import Container
from psp.data_sources.postgres.tables import transactions
from psp.domain.events import approved_transaction_of
from psp.domain.merchants import Principal
from psp.domain.payables import BalanceLine
from psp.domain.refunds import Refund
from psp.domain.transactions import Transaction, TransactionStatus
from psp.lib.errors import UnprocessableEntity
from psp.repositories.acquirers import SimulatorAcquirer
from psp.repositories.ports import Authorization
from psp.repositories.postgres.transactions import transaction_row
from psp.services.merchants import Onboarded
from psp.services.payables import create_payables, get_balance
from psp.services.processing import ResolutionReport, resolve_processing
from psp.services.refunds import create_refund
from psp.services.settlement import settle_due_payables
from psp.transporters.cli import main
from tests.integration.support import pay
from tests.integration.test_settlement import credit_transaction, days_ago
from tests.integration.test_worker import drain

TIMEOUT_CARD = "4000000000000119"


def principal_of(onboarded: Onboarded) -> Principal:
    return Principal(merchant_id=onboarded.merchant.id, api_key_id=onboarded.key.api_key.id, mode="test")


def refund(container: Container, onboarded: Onboarded, transaction_id: UUID, amount: int | None) -> Refund:
    return create_refund(
        principal_of(onboarded),
        transaction_id,
        amount,
        uow=container.uow(),
        clock=container.clock,
        settlement_zone=UTC,
    )


def run_at_once(workers: list[Callable[[], None]]) -> list[BaseException]:
    """Start every worker at the same instant; return what they raised."""
    start = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def run(work: Callable[[], None]) -> None:
        start.wait()
        try:
            work()
        except BaseException as error:  # collected: the test asserts on them
            errors.append(error)

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def money_of(engine: Engine, transaction_id: UUID) -> dict[str, Any]:
    with engine.connect() as connection:
        row = connection.execute(
            text(
                """
                SELECT t.amount, t.amount_refunded, t.status,
                       (SELECT coalesce(sum(amount), 0) FROM refunds WHERE transaction_id = t.id) AS refunds,
                       coalesce(sum(p.amount), 0) AS gross,
                       coalesce(sum(p.fee), 0) AS fee,
                       coalesce(sum(p.net_amount), 0) AS net,
                       count(p.id) FILTER (WHERE p.installment <= 12) AS installments
                FROM transactions t LEFT JOIN payables p ON p.transaction_id = t.id
                WHERE t.id = :id
                GROUP BY t.id
                """
            ),
            {"id": transaction_id},
        ).one()
    return dict(row._mapping)


# --- refunds -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("worker_ran", [True, False], ids=["payables_created", "payables_not_yet_created"])
def test_ten_concurrent_refunds_of_30_percent_never_exceed_the_amount(
    container: Container, merchant: Onboarded, worker_ran: bool
) -> None:
    transaction = pay(container, merchant, 10_000, installments=4)
    if worker_ran:
        drain(container)
    succeeded: list[Refund] = []

    def refund_30_percent() -> None:
        succeeded.append(refund(container, merchant, transaction.id, 3000))

    errors = run_at_once([refund_30_percent] * 10)

    assert len(succeeded) == 3
    assert len(errors) == 7
    assert all(isinstance(e, UnprocessableEntity) and e.code == "amount_too_large" for e in errors), errors
    money = money_of(container.engine, transaction.id)
    assert (money["amount_refunded"], money["refunds"], money["status"]) == (9000, 9000, "waiting_funds")
    assert (money["gross"], money["net"], money["installments"]) == (1000, 1000 - money["fee"], 4)
    drain(container)  # the worker, late: creates nothing over the refunded payables
    assert money_of(container.engine, transaction.id) == money


def test_refunds_and_settlers_running_at_once_neither_deadlock_nor_lose_money(
    container: Container, merchant: Onboarded
) -> None:
    merchant_id = merchant.merchant.id
    # due long ago: every payable is claimable by the settlers while the refunds run
    approved = [
        credit_transaction(merchant_id, days_ago(200), amount=9000, installments=3) for _ in range(12)
    ]
    with container.engine.begin() as connection:
        connection.execute(insert(transactions), [transaction_row(t) for t in approved])
    create_payables(
        [approved_transaction_of(t) for t in approved],
        uow=container.uow(),
        settlement_zone=UTC,
        clock=container.clock,
    )

    def settler() -> None:
        settle_due_payables(
            date.today(), uow_factory=container.uow_factory, chunk_size=2, clock=container.clock
        )

    def refunder(amount: int) -> Callable[[], None]:
        def work() -> None:
            for transaction in approved:
                refund(container, merchant, transaction.id, amount)

        return work

    errors = run_at_once([settler, settler, refunder(4000), refunder(5000)])

    assert errors == []  # a deadlock would surface here as a database error
    settler()  # what the settlers found zeroed after they finished
    fees_kept = 0
    for transaction in approved:
        money = money_of(container.engine, transaction.id)
        assert (money["amount_refunded"], money["refunds"], money["status"]) == (9000, 9000, "refunded")
        # everything given back; psp keeps only the fee on installments it had already paid out
        assert (money["gross"], money["net"]) == (0, -money["fee"])
        fees_kept += money["fee"]
    with container.engine.connect() as connection:
        negative = connection.execute(
            text("SELECT count(*) FROM payables WHERE installment <= 12 AND (amount < 0 OR net_amount < 0)")
        ).scalar_one()
        waiting = connection.execute(
            text("SELECT count(*) FROM payables WHERE status = 'waiting_funds'")
        ).scalar_one()
    assert (negative, waiting) == (0, 0)
    balance = get_balance(principal_of(merchant), uow=container.uow())
    assert (balance.available, balance.waiting_funds) == ([BalanceLine(-fees_kept, "BRL")], [])


def test_a_refund_waits_for_a_settler_holding_the_payables_and_then_sees_them_paid(
    container: Container, merchant: Onboarded
) -> None:
    transaction = credit_transaction(merchant.merchant.id, days_ago(40), amount=1000)
    with container.engine.begin() as connection:
        connection.execute(insert(transactions), [transaction_row(transaction)])
    create_payables(
        [approved_transaction_of(transaction)],
        uow=container.uow(),
        settlement_zone=UTC,
        clock=container.clock,
    )
    settling = container.uow()
    with settling:
        chunk = settling.payables.settle_due(date.today(), 10, container.clock())
        assert chunk.count == 1
        done = threading.Event()
        thread = threading.Thread(
            target=lambda: (refund(container, merchant, transaction.id, 400), done.set())
        )
        thread.start()
        assert not done.wait(0.5)  # blocked on the payable the settler holds, holding no transaction lock
        settling.transactions.mark_paid_when_fully_settled(chunk.transaction_ids, container.clock())
        settling.commit()
    thread.join(timeout=10)
    assert done.is_set()
    money = money_of(container.engine, transaction.id)
    # the payable was paid out by then: the refund became a negative adjustment, not a reduction
    assert (money["status"], money["gross"], money["net"]) == ("paid", 600, 550)


# --- stuck transactions --------------------------------------------------------------------------------


def timed_out(container: Container, onboarded: Onboarded, minutes_ago: float) -> Transaction:
    transaction = pay(container, onboarded, 2500, card_number=TIMEOUT_CARD)
    assert transaction.status is TransactionStatus.PROCESSING
    moment = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    with container.engine.begin() as connection:
        connection.execute(
            text("UPDATE transactions SET created_at = :at, updated_at = :at WHERE id = :id"),
            {"at": moment, "id": transaction.id},
        )
    return replace(transaction, created_at=moment, updated_at=moment)


class SlowAcquirer(SimulatorAcquirer):
    """The simulator, slow to answer: claimed rows stay locked long enough for runs to overlap."""

    def status(self, reference: str, authorized_at: datetime) -> Authorization:
        time.sleep(0.05)
        return super().status(reference, authorized_at)


def test_two_concurrent_resolution_runs_resolve_nothing_twice(
    container: Container, merchant: Onboarded
) -> None:
    stuck = [timed_out(container, merchant, minutes_ago=5) for _ in range(8)]
    reports: list[ResolutionReport] = []

    def run() -> None:
        reports.append(
            resolve_processing(
                uow_factory=container.uow_factory, acquirer=SlowAcquirer(), clock=container.clock, limit=2
            )
        )

    assert run_at_once([run, run]) == []

    assert sum(report.approved for report in reports) == 8
    assert sum(report.unresolved for report in reports) == 0
    with container.engine.connect() as connection:
        events = connection.execute(
            text("SELECT aggregate_id FROM outbox WHERE event_type = 'transaction.approved'")
        ).scalars()
        assert sorted(events) == sorted(t.id for t in stuck)
    drain(container)
    with container.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM payables")).scalar_one() == 8


@pytest.mark.usefixtures("restored_logging")
def test_the_resolve_processing_command_approves_what_the_acquirer_now_knows_and_prints_counts(
    container: Container, merchant: Onboarded, database_url: str
) -> None:
    old = timed_out(container, merchant, minutes_ago=2)
    recent = timed_out(container, merchant, minutes_ago=0)
    environment = {"PSP_ENV": "test", "PSP_DATABASE_URL": database_url}

    result = CliRunner().invoke(main, ["jobs", "resolve-processing"], env=environment)

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Examined 2 processing transaction(s): 1 approved, 0 declined, 1 still without an answer."
    ]
    with container.engine.connect() as connection:
        found = {
            row.id: row.status for row in connection.execute(text("SELECT id, status FROM transactions"))
        }
    assert found == {old.id: "waiting_funds", recent.id: "processing"}
