"""Settlement: pay every waiting payable due on or before the run date, chunk by chunk."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
    settlers: int = 1,
) -> SettlementReport:
    """Pay what is due by ``run_date`` (missed days included); safe to run twice, or twice at once.

    ``settlers`` loops run side by side, each claiming its own chunks (the repository skips rows another
    settler holds), so the database works on several chunks at once. The report adds up every chunk;
    ``on_chunk`` sees it after each one, and an exception it raises stops every settler.
    """
    report = SettlementReport(run_date=run_date)
    progress = _Progress(report, on_chunk)
    if settlers == 1:
        _settle_chunks_until_none_due(run_date, uow_factory, chunk_size, clock, progress)
        return report
    with ThreadPoolExecutor(max_workers=settlers, thread_name_prefix="settler") as pool:
        futures = [
            pool.submit(_settle_chunks_until_none_due, run_date, uow_factory, chunk_size, clock, progress)
            for _ in range(settlers)
        ]
        for future in futures:
            future.exception()  # wait for every settler before raising the first failure
    for future in futures:
        future.result()
    return report


class _Progress:
    """The shared report of concurrent settlers; a failing settler (or ``on_chunk``) stops the others."""

    def __init__(self, report: SettlementReport, on_chunk: Callable[[SettlementReport], None] | None) -> None:
        self.report = report
        self._on_chunk = on_chunk
        self._lock = threading.Lock()
        self.stopped = threading.Event()

    def add(self, chunk: SettledChunk, transactions_paid: int) -> None:
        with self._lock:
            self.report.add(chunk, transactions_paid)
            if self._on_chunk is not None:
                try:
                    self._on_chunk(self.report)
                except BaseException:
                    self.stopped.set()
                    raise


def _settle_chunks_until_none_due(
    run_date: date,
    uow_factory: Callable[[], UnitOfWork],
    chunk_size: int,
    clock: Clock,
    progress: _Progress,
) -> None:
    try:
        while not progress.stopped.is_set():
            with uow_factory() as uow:
                now = clock()
                chunk = uow.payables.settle_due(run_date, chunk_size, now)
                if chunk.claimed == 0:
                    return
                transactions_paid = chunk.transactions_paid + uow.transactions.mark_paid_when_fully_settled(
                    chunk.transaction_ids, now
                )
                uow.commit()
            progress.add(chunk, transactions_paid)
    except BaseException:
        progress.stopped.set()
        raise
