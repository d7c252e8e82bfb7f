"""The real ``psp worker payables`` process: killed with SIGKILL mid-work, or stopped with SIGTERM.

Delivery is at least once and payables are unique per transaction and installment, so whatever instant
the worker dies at, a restarted worker ends with every approval turned into exactly its payables.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from sqlalchemy import Engine, insert, text

from psp.bootstrap import Container
from psp.data_sources.postgres.tables import outbox, transactions
from psp.domain.cards import Card
from psp.domain.events import transaction_event
from psp.domain.ids import new_id
from psp.domain.transactions import METHOD_RULES, PaymentMethod, Transaction
from psp.repositories.postgres.outbox import outbox_row
from psp.repositories.postgres.transactions import transaction_row
from psp.services.merchants import Onboarded

CARD = Card(
    brand="visa",
    first_six="411111",
    last_four="1111",
    holder_name="Ada Lovelace",
    expiration_month=12,
    expiration_year=2035,
    fingerprint="0" * 64,
)


def approved_transaction(merchant_id: UUID, n: int, now: datetime) -> Transaction:
    """Debit, single and split credit transactions in turn, with amounts that leave remainders."""
    method = PaymentMethod.DEBIT_CARD if n % 3 == 0 else PaymentMethod.CREDIT_CARD
    installments = 1 if method is PaymentMethod.DEBIT_CARD else 1 + n % 12
    return Transaction(
        id=new_id(),
        merchant_id=merchant_id,
        amount=1000 + n,
        currency="BRL",
        description=f"order {n}",
        payment_method=method,
        installments=installments,
        status=METHOD_RULES[method].status_when_approved,
        card=CARD,
        fee_bps=500 if method is PaymentMethod.CREDIT_CARD else 300,
        decline_code=None,
        created_at=now,
        updated_at=now,
    )


def load_approved_transactions(engine: Engine, merchant_id: UUID, count: int) -> None:
    """Transactions and their outbox events, written in bulk as the API would have written them."""
    now = datetime.now(UTC)
    approved = [approved_transaction(merchant_id, n, now) for n in range(count)]
    with engine.begin() as connection:
        connection.execute(insert(transactions), [transaction_row(t) for t in approved])
        connection.execute(insert(outbox), [outbox_row(transaction_event(t)) for t in approved])


def worker_environment(database_url: str, **settings: str) -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PSP_")}
    environment.update(
        PSP_ENV="test",
        PSP_DATABASE_URL=database_url,
        PSP_LOG_FORMAT="json",
        PSP_WORKER_POLL_INTERVAL="0.05",
        **settings,
    )
    return environment


@contextmanager
def worker_process(environment: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``psp worker payables`` in the background, its logs in a file; never left running."""
    with (
        log_path.open("ab") as log,
        subprocess.Popen(
            [sys.executable, "-m", "psp.transporters.cli", "worker", "payables"],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        ) as process,
    ):
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()


def count(engine: Engine, sql: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql)).scalar_one())


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(interval)


PROCESSED = "SELECT count(*) FROM outbox WHERE processed_at IS NOT NULL"
CLAIMED_NOT_ACKNOWLEDGED = "SELECT count(*) FROM outbox WHERE receive_count > 0 AND processed_at IS NULL"

# Every approved transaction has exactly its installments as payables, amounts adding up to its own.
TRANSACTIONS_WITH_WRONG_PAYABLES = """
    SELECT count(*) FROM transactions AS t
    LEFT JOIN (
        SELECT transaction_id, count(*) AS n, sum(amount) AS gross, sum(fee + net_amount) AS parts,
               count(DISTINCT installment) AS distinct_installments
        FROM payables GROUP BY transaction_id
    ) AS p ON p.transaction_id = t.id
    WHERE p.n IS DISTINCT FROM t.installments
       OR p.distinct_installments IS DISTINCT FROM t.installments
       OR p.gross IS DISTINCT FROM t.amount
       OR p.parts IS DISTINCT FROM t.amount
"""


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing_once_restarted(
    container: Container, merchant: Onboarded, database_url: str, tmp_path: Path
) -> None:
    total = 2500
    load_approved_transactions(container.engine, merchant.merchant.id, total)
    environment = worker_environment(
        database_url, PSP_WORKER_VISIBILITY_TIMEOUT="2", PSP_WORKER_BATCH_SIZE="100"
    )

    with worker_process(environment, tmp_path / "worker.log") as doomed:
        wait_for(lambda: count(container.engine, PROCESSED) > 0, timeout=30)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
    processed_when_killed = count(container.engine, PROCESSED)
    assert 0 < processed_when_killed < total  # it died while it had work in hand

    with worker_process(environment, tmp_path / "worker.log") as successor:
        wait_for(lambda: count(container.engine, PROCESSED) == total, timeout=45, interval=0.1)
        successor.send_signal(signal.SIGTERM)
        assert successor.wait(timeout=10) == 0

    assert count(container.engine, TRANSACTIONS_WITH_WRONG_PAYABLES) == 0
    assert count(container.engine, "SELECT count(*) FROM outbox WHERE dead_at IS NOT NULL") == 0
    expected_payables = count(container.engine, "SELECT sum(installments) FROM transactions")
    assert count(container.engine, "SELECT count(*) FROM payables") == expected_payables


def test_sigterm_lets_the_worker_finish_and_acknowledge_its_batch_then_exit_zero(
    container: Container, merchant: Onboarded, database_url: str, tmp_path: Path
) -> None:
    load_approved_transactions(container.engine, merchant.merchant.id, 2000)
    environment = worker_environment(database_url, PSP_WORKER_BATCH_SIZE="200")

    with worker_process(environment, tmp_path / "worker.log") as worker:
        wait_for(lambda: count(container.engine, PROCESSED) > 0, timeout=30)
        worker.send_signal(signal.SIGTERM)
        exit_code = worker.wait(timeout=10)

    assert exit_code == 0
    # Nothing is left claimed but unacknowledged: the batch in hand was finished, not abandoned.
    assert count(container.engine, CLAIMED_NOT_ACKNOWLEDGED) == 0
    processed = count(container.engine, PROCESSED)
    with_payables = count(container.engine, "SELECT count(DISTINCT transaction_id) FROM payables")
    assert processed == with_payables
    assert "worker.stopped" in (tmp_path / "worker.log").read_text()


def test_a_second_sigterm_stops_the_worker_at_once_and_hands_its_batch_back(
    container: Container, merchant: Onboarded, database_url: str, tmp_path: Path
) -> None:
    load_approved_transactions(container.engine, merchant.merchant.id, 1500)
    # One big batch: the worker is sure to hold it when the signals arrive.
    environment = worker_environment(database_url, PSP_WORKER_BATCH_SIZE="1500")

    with worker_process(environment, tmp_path / "worker.log") as worker:
        wait_for(lambda: count(container.engine, CLAIMED_NOT_ACKNOWLEDGED) > 0, timeout=30)
        time.sleep(0.1)  # past receive(), into the batch's insert
        worker.send_signal(signal.SIGTERM)
        time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        exit_code = worker.wait(timeout=10)

    assert exit_code == 128 + signal.SIGTERM
    assert count(container.engine, PROCESSED) == 0
    # Released, not left to wait out the visibility timeout: the next worker may take it at once.
    assert count(container.engine, "SELECT count(*) FROM outbox WHERE visible_at > now()") == 0
    assert "worker.batch_released" in (tmp_path / "worker.log").read_text()
