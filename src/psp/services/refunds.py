"""Refunds: give a transaction's money back, in full or in parts, and take it out of what psp owes.

Locks, in the order settlement takes them (payables, then the transaction), so the two never deadlock:
settlement claims payables with ``SKIP LOCKED`` and then locks their transactions; a refund waits for
its transaction's payables, then locks the transaction. The transaction lock is what serialises
concurrent refunds of one transaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import tzinfo
from uuid import UUID

from psp.domain.events import approved_transaction_of, refund_created, refund_event
from psp.domain.ids import new_id
from psp.domain.merchants import Principal
from psp.domain.pagination import Page, PageRequest
from psp.domain.payables import build_payables
from psp.domain.refunds import Refund, plan_refund
from psp.domain.transactions import Transaction, TransactionStatus
from psp.lib.errors import NotFound, UnprocessableEntity, ValidationFailed
from psp.repositories.ports import UnitOfWork
from psp.services.clock import Clock
from psp.services.idempotency import OnCommit


def create_refund(
    principal: Principal,
    transaction_id: UUID,
    amount: int | None,
    *,
    uow: UnitOfWork,
    clock: Clock,
    settlement_zone: tzinfo,
    on_commit: OnCommit[Refund] | None = None,
) -> Refund:
    """Refund ``amount`` (default: all still refundable) of an approved transaction, in one DB transaction."""
    if amount is not None and amount <= 0:
        raise ValidationFailed(
            "amount must be a positive integer", code="parameter_out_of_range", param="amount"
        )
    now = clock()
    with uow:
        found = uow.transactions.get(principal.merchant_id, transaction_id)
        if found is None:
            raise transaction_missing(transaction_id)
        _check_refundable_status(found)
        if not uow.payables.list_for_transaction_for_update(transaction_id):
            # The worker has not run yet: create the payables it would (it will then find them there),
            # and lock them, whoever inserted them, before the transaction.
            uow.payables.add_all_new(build_payables(approved_transaction_of(found), settlement_zone, now))
            uow.payables.list_for_transaction_for_update(transaction_id)
        transaction = uow.transactions.get_for_update(principal.merchant_id, transaction_id)
        if transaction is None:  # pragma: no cover - transactions are never deleted
            raise transaction_missing(transaction_id)
        _check_refundable_status(transaction)
        refundable = transaction.refundable_amount
        if refundable == 0:
            raise UnprocessableEntity(
                "the transaction is already refunded in full", code="transaction_not_refundable"
            )
        value = refundable if amount is None else amount
        if value > refundable:
            raise UnprocessableEntity(
                f"amount must not exceed what is still refundable: {refundable}",
                code="amount_too_large",
                param="amount",
            )
        # Read again under the transaction's lock: this statement sees what an earlier refund committed.
        payables = uow.payables.list_for_transaction_for_update(transaction_id)
        plan = plan_refund(
            value,
            payables,
            rate_bps=transaction.fee_bps,
            refund_date=now.astimezone(settlement_zone).date(),
            now=now,
        )
        uow.payables.update_amounts(plan.reduced)
        if plan.adjustment is not None:
            uow.payables.add_all_new([plan.adjustment])
        refund = Refund(
            id=new_id(),
            merchant_id=transaction.merchant_id,
            transaction_id=transaction.id,
            amount=value,
            currency=transaction.currency,
            created_at=now,
        )
        uow.refunds.add(refund)
        refunded = transaction.amount_refunded + value
        uow.transactions.update(
            replace(
                transaction,
                amount_refunded=refunded,
                status=TransactionStatus.REFUNDED if refunded == transaction.amount else transaction.status,
                updated_at=now,
                version=transaction.version + 1,
            )
        )
        uow.outbox.add(refund_event(refund))
        uow.events.add(refund_created(refund))
        if on_commit is not None:
            on_commit(uow, refund)  # e.g. the idempotent response, kept with the refund or not at all
        uow.commit()
    return refund


def get_refund(principal: Principal, refund_id: UUID, *, uow: UnitOfWork) -> Refund:
    with uow:
        refund = uow.refunds.get(principal.merchant_id, refund_id)
    if refund is None:
        raise NotFound(f"No such refund: '{refund_id}'", code="resource_missing", param="id")
    return refund


def list_refunds(
    principal: Principal, transaction_id: UUID, page: PageRequest, *, uow: UnitOfWork
) -> Page[Refund]:
    """A transaction's refunds, newest first; another merchant's transaction is not found."""
    with uow:
        if uow.transactions.get(principal.merchant_id, transaction_id) is None:
            raise transaction_missing(transaction_id)
        return uow.refunds.list_for_transaction(principal.merchant_id, transaction_id, page)


def transaction_missing(transaction_id: UUID) -> NotFound:
    return NotFound(f"No such transaction: '{transaction_id}'", code="resource_missing", param="id")


def _check_refundable_status(transaction: Transaction) -> None:
    if not transaction.is_approved:
        raise UnprocessableEntity(
            f"a {transaction.status.value} transaction cannot be refunded: only approved ones can",
            code="transaction_not_refundable",
        )
