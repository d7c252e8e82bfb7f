"""Payables: created from approvals by the worker, read by merchants, summed into a balance."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo
from uuid import UUID

from psp.domain.merchants import Principal
from psp.domain.pagination import Page, PageRequest
from psp.domain.payables import ApprovedTransaction, Balance, Payable, build_payables
from psp.lib.errors import NotFound
from psp.repositories.ports import PayableFilters, UnitOfWork
from psp.services.clock import Clock


def create_payables(
    approvals: Sequence[ApprovedTransaction], *, uow: UnitOfWork, settlement_zone: tzinfo, clock: Clock
) -> int:
    """Create the payables of many approvals in one insert; those already there are left as they are."""
    now = clock()
    new_payables = [
        payable for approved in approvals for payable in build_payables(approved, settlement_zone, now)
    ]
    with uow:
        created = uow.payables.add_all_new(new_payables)
        uow.commit()
    return created


def get_payable(principal: Principal, payable_id: UUID, *, uow: UnitOfWork) -> Payable:
    with uow:
        payable = uow.payables.get(principal.merchant_id, payable_id)
    if payable is None:
        raise NotFound(f"No such payable: '{payable_id}'", code="resource_missing", param="id")
    return payable


def list_payables(
    principal: Principal, filters: PayableFilters, page: PageRequest, *, uow: UnitOfWork
) -> Page[Payable]:
    with uow:
        return uow.payables.list(principal.merchant_id, filters, page)


def get_balance(principal: Principal, *, uow: UnitOfWork) -> Balance:
    """Per currency: net of paid payables (available) and of waiting ones (waiting_funds)."""
    with uow:
        return uow.payables.balance(principal.merchant_id)
