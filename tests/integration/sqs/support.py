"""Helpers shared by the SQS tests: approved transactions through the real service."""

from __future__ import annotations

from datetime import date

from psp.bootstrap import Container
from psp.domain.merchants import Principal
from psp.domain.transactions import PaymentMethod, Transaction
from psp.services.merchants import Onboarded
from psp.services.transactions import NewTransaction, create_transaction


def pay(
    container: Container,
    onboarded: Onboarded,
    amount: int = 2500,
    method: PaymentMethod = PaymentMethod.CREDIT_CARD,
    installments: int = 1,
) -> Transaction:
    """An approved transaction with its outbox event, written the way the API writes them."""
    request = NewTransaction(
        amount=amount,
        currency="BRL",
        description="sqs test",
        payment_method=method,
        installments=installments,
        card_holder_name="Ada Lovelace",
        card_expiration_date=f"12/{(date.today().year + 2) % 100:02d}",
        card_number="4111111111111111",
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
