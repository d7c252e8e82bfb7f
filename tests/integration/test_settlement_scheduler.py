"""The built-in scheduler: settles at start-up, then daily at PSP_SETTLEMENT_TIME, stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from datetime import time as time_of_day
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text

from psp.bootstrap import Container
from psp.services.merchants import Onboarded
from psp.transporters.jobs.scheduler import next_run_at, run_scheduler
from psp.transporters.workers.shutdown import Shutdown
from tests.integration.test_refunds_and_processing import timed_out
from tests.integration.test_settlement import credit_transaction, days_ago, record_with_payables

SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def test_the_next_run_is_today_when_the_time_is_still_ahead() -> None:
    now = datetime(2026, 3, 10, 0, 1, tzinfo=UTC)

    assert next_run_at(now, time_of_day(0, 5), UTC) == datetime(2026, 3, 10, 0, 5, tzinfo=UTC)


def test_the_next_run_is_tomorrow_once_the_time_has_passed() -> None:
    now = datetime(2026, 3, 10, 0, 5, tzinfo=UTC)

    assert next_run_at(now, time_of_day(0, 5), UTC) == datetime(2026, 3, 11, 0, 5, tzinfo=UTC)


def test_the_next_run_follows_the_wall_clock_of_the_settlement_time_zone() -> None:
    late_evening_in_sao_paulo = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 23:00 on the 9th, UTC-3

    due = next_run_at(late_evening_in_sao_paulo, time_of_day(0, 5), SAO_PAULO)

    assert due.astimezone(UTC) == datetime(2026, 3, 10, 3, 5, tzinfo=UTC)


def unpaid(engine: Engine, ids: list[UUID]) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text("SELECT count(*) FROM transactions WHERE id = ANY(:ids) AND status <> 'paid'"),
                {"ids": ids},
            ).scalar_one()
        )


def wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def due_transactions(container: Container, merchant: Onboarded, count: int) -> list[UUID]:
    approved = [credit_transaction(merchant.merchant.id, days_ago(31)) for _ in range(count)]
    record_with_payables(container, approved)
    return [t.id for t in approved]


def test_the_scheduler_settles_at_start_up_and_again_at_the_daily_time(
    container: Container, merchant: Onboarded
) -> None:
    # A clock two seconds short of 00:05 today, so the daily run comes without waiting a day.
    two_seconds_early = datetime.combine(date.today(), time_of_day(0, 4, 58), tzinfo=UTC)
    offset = two_seconds_early - datetime.now(UTC)
    clocked = replace(container, clock=lambda: datetime.now(UTC) + offset)
    missed = due_transactions(container, merchant, 3)
    shutdown = Shutdown()
    scheduler = threading.Thread(target=run_scheduler, args=(clocked,), kwargs={"shutdown": shutdown})

    scheduler.start()
    try:
        wait_for(lambda: unpaid(container.engine, missed) == 0, timeout=2)  # the start-up catch-up
        later = due_transactions(container, merchant, 2)
        wait_for(lambda: unpaid(container.engine, later) == 0, timeout=5)  # the 00:05 run
    finally:
        shutdown.request()
        scheduler.join(timeout=5)
    assert not scheduler.is_alive()


def test_the_scheduler_process_settles_what_is_due_and_exits_zero_on_sigterm(
    container: Container, merchant: Onboarded, database_url: str, tmp_path: Path
) -> None:
    missed = due_transactions(container, merchant, 3)
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PSP_")}
    environment.update(PSP_ENV="test", PSP_DATABASE_URL=database_url, PSP_LOG_FORMAT="json")

    with (
        (tmp_path / "scheduler.log").open("wb") as log,
        subprocess.Popen(
            [sys.executable, "-m", "psp.transporters.cli", "scheduler"],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        ) as scheduler,
    ):
        try:
            wait_for(lambda: unpaid(container.engine, missed) == 0, timeout=20)
            time.sleep(0.2)
            scheduler.send_signal(signal.SIGTERM)
            exit_code = scheduler.wait(timeout=10)
        finally:
            if scheduler.poll() is None:
                scheduler.kill()
                scheduler.wait()

    assert exit_code == 0
    assert "scheduler.stopped" in (tmp_path / "scheduler.log").read_text()


def test_the_scheduler_asks_about_stuck_transactions_on_its_minutely_turn(
    container: Container, merchant: Onboarded
) -> None:
    stuck = timed_out(container, merchant, minutes_ago=5)  # past the simulator's resolution delay
    shutdown = Shutdown()
    scheduler = threading.Thread(target=run_scheduler, args=(container,), kwargs={"shutdown": shutdown})

    scheduler.start()
    try:
        wait_for(lambda: status_of(container.engine, stuck.id) == "waiting_funds", timeout=5)
    finally:
        shutdown.request()
        scheduler.join(timeout=5)
    assert not scheduler.is_alive()


def status_of(engine: Engine, transaction_id: UUID) -> str:
    with engine.connect() as connection:
        return str(
            connection.execute(
                text("SELECT status FROM transactions WHERE id = :id"), {"id": transaction_id}
            ).scalar_one()
        )
