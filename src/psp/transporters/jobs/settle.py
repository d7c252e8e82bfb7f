"""The settlement job: a thin wrapper over ``settle_due_payables`` for the CLI and the scheduler."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date

import structlog

from psp.bootstrap import Container
from psp.services.settlement import SettlementReport, settle_due_payables

log = structlog.get_logger(__name__)


def settlement_date_today(container: Container) -> date:
    """Today's date in the settlement time zone: the date D+N payment dates are counted in."""
    return container.clock().astimezone(container.settings.settlement_timezone).date()


def settle(
    container: Container,
    run_date: date | None = None,
    *,
    on_chunk: Callable[[SettlementReport], None] | None = None,
) -> SettlementReport:
    """Pay every payable due by ``run_date`` (default: today), missed days included."""
    run_date = run_date or settlement_date_today(container)
    started = time.perf_counter()
    log.info("settlement.started", run_date=run_date.isoformat())
    report = settle_due_payables(
        run_date,
        uow_factory=container.uow_factory,
        chunk_size=container.settings.settlement_chunk_size,
        clock=container.clock,
        on_chunk=on_chunk,
        settlers=container.settings.settlement_settlers,
    )
    log.info(
        "settlement.finished",
        run_date=run_date.isoformat(),
        payables_paid=report.payables_paid,
        transactions_paid=report.transactions_paid,
        chunks=report.chunks,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    return report


def describe_report(report: SettlementReport) -> list[str]:
    """The report as lines for a person: counts, then gross/fee/net per currency in minor units."""
    lines = [
        f"Settled {report.payables_paid} payable(s) due on or before {report.run_date.isoformat()}; "
        f"{report.transactions_paid} transaction(s) moved to paid."
    ]
    for currency, total in sorted(report.totals.items()):
        lines.append(
            f"  {currency}: {total.count} payable(s), gross {total.gross}, fee {total.fee}, "
            f"net {total.net} (minor units)"
        )
    return lines
