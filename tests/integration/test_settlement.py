"""Settlement over the real database: catch-up, installments, idempotence and concurrent settlers."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, insert, text
from sqlalchemy.exc import IntegrityError

from psp.bootstrap import Container
from psp.data_sources.postgres.tables import transactions
from psp.domain.cards import Card
from psp.domain.events import TRANSACTION_PAID, approved_transaction_of
from psp.domain.ids import new_id
from psp.domain.objects import transaction_object
from psp.domain.pagination import PageRequest
from psp.domain.transactions import METHOD_RULES, PaymentMethod, Transaction, TransactionStatus
from psp.repositories.postgres.appends import PendingAppends
from psp.repositories.postgres.payables import PostgresPayableRepository
from psp.repositories.postgres.transactions import PostgresTransactionRepository, transaction_row
from psp.services.merchants import Onboarded
from psp.services.payables import create_payables
from psp.services.settlement import SettlementReport, settle_due_payables
from psp.transporters.cli import main
from psp.transporters.jobs.settle import settle

CARD = Card(
    brand="visa",
    first_six="411111",
    last_four="1111",
    holder_name="Ada Lovelace",
    expiration_month=12,
    expiration_year=2035,
    fingerprint="0" * 64,
)


def credit_transaction(
    merchant_id: UUID,
    created_at: datetime,
    *,
    amount: int = 2500,
    installments: int = 1,
    currency: str = "BRL",
) -> Transaction:
    return Transaction(
        id=new_id(),
        merchant_id=merchant_id,
        amount=amount,
        currency=currency,
        description="settlement test",
        payment_method=PaymentMethod.CREDIT_CARD,
        installments=installments,
        status=METHOD_RULES[PaymentMethod.CREDIT_CARD].status_when_approved,
        card=CARD,
        fee_bps=500,
        decline_code=None,
        created_at=created_at,
        updated_at=created_at,
    )


def record_with_payables(container: Container, approved: list[Transaction]) -> None:
    """Approved transactions with the payables the worker would have created for them."""
    with container.engine.begin() as connection:
        connection.execute(insert(transactions), [transaction_row(t) for t in approved])
    create_payables(
        [approved_transaction_of(t) for t in approved],
        uow=container.uow(),
        settlement_zone=UTC,
        clock=container.clock,
    )


def days_ago(days: int) -> datetime:
    return datetime.combine(date.today() - timedelta(days=days), time(12, 0), tzinfo=UTC)


def statuses(engine: Engine, transaction_id: UUID) -> tuple[str, list[str]]:
    with engine.connect() as connection:
        transaction = connection.execute(
            text("SELECT status FROM transactions WHERE id = :id"), {"id": transaction_id}
        ).scalar_one()
        payables = connection.execute(
            text("SELECT status FROM payables WHERE transaction_id = :id ORDER BY installment"),
            {"id": transaction_id},
        ).scalars()
        return transaction, list(payables)


def test_settlement_catches_up_payables_due_on_missed_days(container: Container, merchant: Onboarded) -> None:
    merchant_id = merchant.merchant.id
    due_ten_days_ago = credit_transaction(merchant_id, days_ago(40))
    due_yesterday = credit_transaction(merchant_id, days_ago(31))
    due_in_twenty_days = credit_transaction(merchant_id, days_ago(10))
    record_with_payables(container, [due_ten_days_ago, due_yesterday, due_in_twenty_days])

    report = settle(container)  # today, in the settlement time zone

    assert report.run_date == date.today()
    assert (report.payables_paid, report.transactions_paid) == (2, 2)
    assert statuses(container.engine, due_ten_days_ago.id) == ("paid", ["paid"])
    assert statuses(container.engine, due_yesterday.id) == ("paid", ["paid"])
    assert statuses(container.engine, due_in_twenty_days.id) == ("waiting_funds", ["waiting_funds"])


def test_a_credit_transaction_in_three_installments_is_paid_only_when_all_three_are(
    container: Container, merchant: Onboarded
) -> None:
    split = credit_transaction(merchant.merchant.id, days_ago(0), amount=1000, installments=3)
    record_with_payables(container, [split])
    day = date.today()

    settle(container, day + timedelta(days=30))
    after_first = statuses(container.engine, split.id)
    settle(container, day + timedelta(days=60))
    after_second = statuses(container.engine, split.id)
    last = settle(container, day + timedelta(days=90))

    assert after_first == ("waiting_funds", ["paid", "waiting_funds", "waiting_funds"])
    assert after_second == ("waiting_funds", ["paid", "paid", "waiting_funds"])
    assert statuses(container.engine, split.id) == ("paid", ["paid", "paid", "paid"])
    assert (last.payables_paid, last.transactions_paid) == (1, 1)
    with container.uow() as uow:  # its transaction.paid event is rendered from the row, as GET shows it
        paid = uow.transactions.get(merchant.merchant.id, split.id)
        [event] = uow.events.list(merchant.merchant.id, TRANSACTION_PAID, PageRequest()).items
    assert paid is not None
    assert event.data == {**transaction_object(paid), "version": paid.version}


def test_settling_twice_pays_nothing_twice(container: Container, merchant: Onboarded) -> None:
    record_with_payables(
        container, [credit_transaction(merchant.merchant.id, days_ago(31)) for _ in range(5)]
    )

    first = settle(container)
    paid_at_after_first = paid_at_by_payable(container.engine)
    second = settle(container)

    assert (first.payables_paid, first.transactions_paid) == (5, 5)
    assert first.totals["BRL"].gross == 5 * 2500
    assert (second.payables_paid, second.transactions_paid, second.totals) == (0, 0, {})
    assert paid_at_by_payable(container.engine) == paid_at_after_first


def paid_at_by_payable(engine: Engine) -> dict[UUID, datetime]:
    with engine.connect() as connection:
        return {row.id: row.paid_at for row in connection.execute(text("SELECT id, paid_at FROM payables"))}


def test_four_concurrent_settlers_pay_each_payable_exactly_once(
    container: Container, merchant: Onboarded
) -> None:
    # Installments of one transaction land in different chunks, hence in different settlers: the last
    # settler to pay one of them must see the others' commits and mark the transaction paid.
    approved = [
        credit_transaction(merchant.merchant.id, days_ago(200), amount=1000 + n, installments=1 + n % 6)
        for n in range(1200)
    ]
    record_with_payables(container, approved)
    expected = payable_sums(container.engine)
    reports: list[SettlementReport] = []
    start = threading.Barrier(4)

    def settler() -> None:
        start.wait()
        reports.append(
            settle_due_payables(
                date.today(), uow_factory=container.uow_factory, chunk_size=50, clock=container.clock
            )
        )

    threads = [threading.Thread(target=settler) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    reported = [report.totals["BRL"] for report in reports if report.totals]
    assert sum(total.count for total in reported) == expected["count"]  # a double payment counts twice
    assert sum(total.gross for total in reported) == expected["gross"]
    assert sum(total.fee for total in reported) == expected["fee"]
    assert sum(total.net for total in reported) == expected["net"]
    assert sum(report.transactions_paid for report in reports) == len(approved)
    assert sum(1 for report in reports if report.payables_paid) > 1  # they really shared the work
    with container.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM payables WHERE status <> 'paid'")).scalar() == 0
        assert (
            connection.execute(text("SELECT count(*) FROM transactions WHERE status <> 'paid'")).scalar() == 0
        )


def test_one_run_with_four_settlers_pays_everything_once_and_reports_the_whole_run(
    container: Container, merchant: Onboarded
) -> None:
    approved = [
        credit_transaction(merchant.merchant.id, days_ago(200), amount=1000 + n, installments=1 + n % 6)
        for n in range(600)
    ]
    record_with_payables(container, approved)
    expected = payable_sums(container.engine)
    threads_seen: set[str] = set()

    def note_thread(_report: SettlementReport) -> None:
        threads_seen.add(threading.current_thread().name)

    report = settle_due_payables(
        date.today(),
        uow_factory=container.uow_factory,
        chunk_size=40,
        clock=container.clock,
        on_chunk=note_thread,
        settlers=4,
    )

    total = report.totals["BRL"]
    assert (total.count, total.gross, total.fee, total.net) == (
        expected["count"],
        expected["gross"],
        expected["fee"],
        expected["net"],
    )
    assert report.transactions_paid == len(approved)
    assert len(threads_seen) > 1  # the chunks really were settled side by side
    with container.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM payables WHERE status <> 'paid'")).scalar() == 0


def test_a_failing_progress_callback_stops_every_settler_and_surfaces_its_error(
    container: Container, merchant: Onboarded
) -> None:
    approved = [credit_transaction(merchant.merchant.id, days_ago(200), amount=1000 + n) for n in range(200)]
    record_with_payables(container, approved)

    class Stop(Exception):
        pass

    def stop_after_first_chunk(_report: SettlementReport) -> None:
        raise Stop

    with pytest.raises(Stop):
        settle_due_payables(
            date.today(),
            uow_factory=container.uow_factory,
            chunk_size=10,
            clock=container.clock,
            on_chunk=stop_after_first_chunk,
            settlers=2,
        )
    with container.engine.connect() as connection:
        paid = connection.execute(text("SELECT count(*) FROM payables WHERE status = 'paid'")).scalar_one()
    assert 0 < paid <= 40  # each settler finished at most the chunk in hand (and maybe one more)


def payable_sums(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT count(*) AS count, sum(amount) AS gross, sum(fee) AS fee, sum(net_amount) AS net "
                "FROM payables"
            )
        ).one()
    return {key: int(value) for key, value in row._mapping.items()}


@pytest.mark.usefixtures("restored_logging")
def test_the_settle_command_prints_counts_and_sums_per_currency(
    container: Container, merchant: Onboarded, database_url: str
) -> None:
    merchant_id = merchant.merchant.id
    record_with_payables(
        container,
        [
            credit_transaction(merchant_id, days_ago(40), amount=2500),
            credit_transaction(merchant_id, days_ago(40), amount=1001),
            credit_transaction(merchant_id, days_ago(40), amount=10000, currency="USD"),
        ],
    )
    # One settler: with two, either may finish its chunk first and the progress lines change order.
    environment = {
        "PSP_ENV": "test",
        "PSP_DATABASE_URL": database_url,
        "PSP_SETTLEMENT_CHUNK_SIZE": "2",
        "PSP_SETTLEMENT_SETTLERS": "1",
    }

    result = CliRunner().invoke(main, ["jobs", "settle", "--date", date.today().isoformat()], env=environment)

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"Settled 3 payable(s) due on or before {date.today().isoformat()}; 3 transaction(s) moved to paid.",
        "  BRL: 2 payable(s), gross 3501, fee 175, net 3326 (minor units)",
        "  USD: 1 payable(s), gross 10000, fee 500, net 9500 (minor units)",
    ]
    assert "chunk 1: 2 payable(s) paid so far" in result.stderr
    assert "chunk 2: 3 payable(s) paid so far" in result.stderr


def test_settling_rewrites_each_payable_and_transaction_in_place_without_new_index_entries(
    container: Container, merchant: Onboarded
) -> None:
    """A HOT update: no index names a column settlement changes, and the page has room for the row."""
    merchant_id = merchant.merchant.id
    single = [credit_transaction(merchant_id, days_ago(31)) for _ in range(40)]
    split = [credit_transaction(merchant_id, days_ago(91), installments=3) for _ in range(10)]
    record_with_payables(container, single + split)

    with container.engine.begin() as connection:
        now = datetime.now(UTC)
        chunk = PostgresPayableRepository(connection).settle_due(date.today(), 1000, now)
        completed = PostgresTransactionRepository(connection, PendingAppends()).mark_paid_when_fully_settled(
            chunk.transaction_ids, now
        )
        updates = {
            table: tuple(
                connection.execute(
                    text(
                        "SELECT pg_stat_get_xact_tuples_updated(c), pg_stat_get_xact_tuples_hot_updated(c) "
                        "FROM CAST(CAST(:table AS text) AS regclass) AS c"
                    ),
                    {"table": table},
                ).one()
            )
            for table in ("payables", "transactions")
        }

    assert (chunk.count, chunk.transactions_paid, completed) == (70, 40, 10)
    assert updates == {"payables": (70, 70), "transactions": (50, 50)}


def test_a_listed_payable_no_longer_waiting_is_taken_off_the_list_and_never_paid_twice(
    container: Container, merchant: Onboarded
) -> None:
    """Only settlement moves a payable out of waiting_funds, so this is defence: the run goes on past it."""
    merchant_id = merchant.merchant.id
    record_with_payables(container, [credit_transaction(merchant_id, days_ago(40)) for _ in range(2)])
    settle_due_payables(date.today(), uow_factory=container.uow_factory, chunk_size=1, clock=container.clock)
    first_paid = paid_at_by_payable(container.engine)
    record_with_payables(container, [credit_transaction(merchant_id, days_ago(40))])
    with container.engine.begin() as connection:  # list the paid ones again, ahead of the waiting one
        connection.execute(
            text(
                "INSERT INTO waiting_payables (payment_date, payable_id) "
                "SELECT current_date - 30, id FROM payables WHERE status = 'paid'"
            )
        )

    report = settle_due_payables(
        date.today(), uow_factory=container.uow_factory, chunk_size=2, clock=container.clock
    )

    assert (report.payables_paid, report.chunks) == (1, 2)
    paid_at = paid_at_by_payable(container.engine)
    assert {k: v for k, v in paid_at.items() if k in first_paid} == first_paid  # not paid again
    assert len(paid_at) == 3
    assert None not in paid_at.values()
    with container.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM waiting_payables")).scalar_one() == 0


def test_a_transaction_awaits_the_acquirer_exactly_while_it_is_processing(
    container: Container, merchant: Onboarded
) -> None:
    """The column the resolver's index reads follows the status; the database refuses it out of step."""
    processing = replace(
        credit_transaction(merchant.merchant.id, days_ago(0)), status=TransactionStatus.PROCESSING
    )
    with container.engine.begin() as connection:
        connection.execute(insert(transactions), [transaction_row(processing)])
    with container.engine.begin() as connection:
        repository = PostgresTransactionRepository(connection, PendingAppends())
        assert [t.id for t in repository.claim_processing(10)] == [processing.id]
        repository.update(replace(processing, status=TransactionStatus.WAITING_FUNDS, version=2))
        assert repository.claim_processing(10) == []
    out_of_step = text("UPDATE transactions SET awaiting_acquirer = true WHERE id = :id")
    with (
        pytest.raises(IntegrityError, match="awaiting_acquirer_iff_processing"),
        container.engine.begin() as connection,
    ):
        connection.execute(out_of_step, {"id": processing.id})


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE payables SET amount = amount WHERE status = 'paid'",
        "DELETE FROM payables WHERE status = 'paid'",
    ],
)
def test_a_paid_payable_never_changes_so_its_paid_event_can_be_rendered_from_it(
    container: Container, merchant: Onboarded, statement: str
) -> None:
    record_with_payables(container, [credit_transaction(merchant.merchant.id, days_ago(40))])
    settle_due_payables(date.today(), uow_factory=container.uow_factory, chunk_size=10, clock=container.clock)

    with pytest.raises(IntegrityError, match="a paid payable never changes"), container.engine.begin() as c:
        c.execute(text(statement))
