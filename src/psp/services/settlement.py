"""Settlement: pay every waiting payable due on or before the run date, chunk by chunk."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from psp.repositories.ports import CurrencyTotals, SettledChunk, UnitOfWork
from psp.services.clock import Clock


@dataclass
class SettlementReport:
    run_date: date
    totals: dict[str, CurrencyTotals] = field(default_factory=dict)
    transactions_paid: int = 0
    chunks: int = 0

    @property
    def payables_paid(self) -> int:
        return sum(total.count for total in self.totals.values())

    def add(self, chunk: SettledChunk, transactions_paid: int) -> None:
        self.chunks += 1
        self.transactions_paid += transactions_paid
        for currency, chunk_total in chunk.totals.items():
            total = self.totals.get(currency, CurrencyTotals())
            self.totals[currency] = CurrencyTotals(
                count=total.count + chunk_total.count,
                gross=total.gross + chunk_total.gross,
                fee=total.fee + chunk_total.fee,
                net=total.net + chunk_total.net,
            )


def settle_due_payables(
    run_date: date,
    *,
    uow_factory: Callable[[], UnitOfWork],
    chunk_size: int,
    clock: Clock,
    on_chunk: Callable[[SettlementReport], None] | None = None,
) -> SettlementReport:
    """Pay what is due by ``run_date`` (missed days included); safe to run twice, or twice at once."""
    report = SettlementReport(run_date=run_date)
    while True:
        with uow_factory() as uow:
            now = clock()
            chunk = uow.payables.settle_due(run_date, chunk_size, now)
            if chunk.count == 0:
                return report
            transactions_paid = uow.transactions.mark_paid_when_fully_settled(chunk.transaction_ids, now)
            uow.commit()
        report.add(chunk, transactions_paid)
        if on_chunk is not None:
            on_chunk(report)
