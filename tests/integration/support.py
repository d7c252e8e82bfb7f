"""Helpers shared by integration tests: transactions written the way the API writes them."""

from __future__ import annotations

from datetime import date

from psp.bootstrap import Container
from psp.domain.merchants import Principal
from psp.domain.transactions import PaymentMethod, Transaction
from psp.services.merchants import Onboarded
from psp.services.transactions import NewTransaction, create_transaction

APPROVED_CARD = "4111111111111111"


def pay(
    container: Container,
    onboarded: Onboarded,
    amount: int = 2500,
    method: PaymentMethod = PaymentMethod.CREDIT_CARD,
    installments: int = 1,
    card_number: str = APPROVED_CARD,
) -> Transaction:
    """A transaction through the real service: it writes the outbox event the worker consumes."""
    request = NewTransaction(
        amount=amount,
        currency="BRL",
        description="integration test",
        payment_method=method,
        installments=installments,
        card_holder_name="Ada Lovelace",
        card_expiration_date=f"12/{(date.today().year + 2) % 100:02d}",
        card_number=card_number,
        card_verification_code="123",
    )
    principal = Principal(merchant_id=onboarded.merchant.id, api_key_id=onboarded.key.api_key.id, mode="test")
    return create_transaction(
        request,
        principal,
        uow=container.uow(),
        acquirer=container.acquirer,
        clock=container.clock,
        fingerprint_key=container.settings.card_fingerprint_key,
    )
