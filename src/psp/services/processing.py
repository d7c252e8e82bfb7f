"""Stuck transactions: ask the acquirer again about those left ``processing`` by a time-out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from psp.domain.events import transaction_changed, transaction_event
from psp.domain.pagination import Cursor
from psp.domain.transactions import METHOD_RULES, Transaction, TransactionStatus
from psp.lib.errors import AcquirerUnavailable
from psp.repositories.ports import Acquirer, Authorization, AuthorizationOutcome, UnitOfWork
from psp.services.clock import Clock


@dataclass
class ResolutionReport:
    approved: int = 0
    declined: int = 0
    unresolved: int = 0  # still no definite answer: left ``processing`` for a later run

    @property
    def examined(self) -> int:
        return self.approved + self.declined + self.unresolved


def resolve_processing(
    *, uow_factory: Callable[[], UnitOfWork], acquirer: Acquirer, clock: Clock, limit: int
) -> ResolutionReport:
    """Settle the fate of ``processing`` transactions the acquirer now has an answer for; never guess.

    Each chunk of ``limit`` transactions is claimed with ``SKIP LOCKED`` and resolved in its own database
    transaction, so two runs at once resolve nothing twice. Rows stay locked while the acquirer is asked.
    An approval writes exactly the outbox event a direct approval writes, so the worker makes its payables.
    """
    report = ResolutionReport()
    after: Cursor | None = None
    while True:
        with uow_factory() as uow:
            claimed = uow.transactions.claim_processing(limit, after)
            if not claimed:
                return report
            for transaction in claimed:
                resolved = _resolved(transaction, acquirer, clock)
                if resolved is None:
                    report.unresolved += 1
                    continue
                uow.transactions.update(resolved)
                uow.outbox.add(transaction_event(resolved))
                uow.events.add(transaction_changed(resolved))
                if resolved.status is TransactionStatus.DECLINED:
                    report.declined += 1
                else:
                    report.approved += 1
            uow.commit()
        last = claimed[-1]
        after = Cursor(created_at=last.created_at, id=last.id)
        if len(claimed) < limit:
            return report


def _resolved(transaction: Transaction, acquirer: Acquirer, clock: Clock) -> Transaction | None:
    """The transaction as the acquirer's answer makes it, or None while there is no definite answer."""
    if transaction.acquirer_reference is None:
        return None  # nothing to ask about: an operator has to look at it
    try:
        answer: Authorization = acquirer.status(transaction.acquirer_reference, transaction.created_at)
    except AcquirerUnavailable:
        return None  # no answer this time: a later run asks again
    if answer.outcome is AuthorizationOutcome.APPROVED:
        status = METHOD_RULES[transaction.payment_method].status_when_approved
        return replace(
            transaction, status=status, decline_code=None, updated_at=clock(), version=transaction.version + 1
        )
    if answer.outcome is AuthorizationOutcome.DECLINED:
        return replace(
            transaction,
            status=TransactionStatus.DECLINED,
            decline_code=answer.decline_code or "card_declined",
            updated_at=clock(),
            version=transaction.version + 1,
        )
    return None
