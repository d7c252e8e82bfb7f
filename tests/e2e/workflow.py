"""What the payables worker and the settlement job do, run in-process for end-to-end tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from psp.bootstrap import Container
from psp.domain.events import approved_transaction_of
from psp.domain.merchants import Principal
from psp.services.merchants import Onboarded
from psp.services.payables import create_payables
from psp.services.settlement import SettlementReport, settle_due_payables
from psp.services.transactions import get_transaction


def create_payables_for(container: Container, owner: Onboarded, *transactions: dict[str, Any]) -> int:
    """Build the payables of ``owner``'s approved transactions (given as API JSON), as the worker would."""
    principal = Principal(merchant_id=owner.merchant.id, api_key_id=owner.key.api_key.id, mode="test")
    approvals = [
        approved_transaction_of(get_transaction(principal, UUID(body["id"]), uow=container.uow()))
        for body in transactions
    ]
    return create_payables(
        approvals,
        uow=container.uow(),
        settlement_zone=container.settings.settlement_timezone,
        clock=lambda: datetime.now(UTC),
    )


def settle(container: Container, run_date: date) -> SettlementReport:
    """Run the settlement job for ``run_date``."""
    return settle_due_payables(
        run_date,
        uow_factory=container.uow_factory,
        chunk_size=container.settings.settlement_chunk_size,
        clock=lambda: datetime.now(UTC),
    )
