"""Card transactions: authorise with the acquirer, record the outcome and its event atomically."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from psp.domain.cards import CardForAuthorization, validate_card
from psp.domain.currencies import is_known_currency
from psp.domain.events import transaction_changed, transaction_event
from psp.domain.ids import new_id
from psp.domain.merchants import Merchant, Principal
from psp.domain.pagination import Page, PageRequest
from psp.domain.transactions import METHOD_RULES, PaymentMethod, Transaction, TransactionStatus
from psp.lib.errors import ErrorDetail, NotFound, ServiceUnavailable, ValidationFailed
from psp.repositories.ports import Acquirer, Authorization, AuthorizationOutcome, UnitOfWork
from psp.services.clock import Clock
from psp.services.idempotency import OnCommit


@dataclass(frozen=True)
class NewTransaction:
    """A transaction as the merchant asked for it. The card fields never leave this request's memory."""

    amount: int
    currency: str | None
    description: str
    payment_method: PaymentMethod
    installments: int
    card_holder_name: str
    card_expiration_date: str
    card_number: str = field(repr=False)
    card_verification_code: str = field(repr=False)


def create_transaction(
    request: NewTransaction,
    principal: Principal,
    *,
    uow: UnitOfWork,
    acquirer: Acquirer,
    clock: Clock,
    fingerprint_key: bytes,
    on_commit: OnCommit[Transaction] | None = None,
) -> Transaction:
    """Validate, authorise and record a card transaction with its outbox event in one DB transaction."""
    now = clock()
    card = validate_card(
        request.card_number,
        request.card_verification_code,
        request.card_holder_name,
        request.card_expiration_date,
        today=now.date(),
        fingerprint_key=fingerprint_key,
    )
    merchant = principal.merchant or _load_merchant(principal, uow)
    if merchant is None:
        raise ServiceUnavailable("the merchant of this key is gone", code="merchant_missing")
    currency = request.currency or merchant.default_currency
    _check_amounts(request, currency)
    authorization = acquirer.authorize(card, request.amount, currency)
    transaction = _transaction_from(
        request, card=card, merchant=merchant, currency=currency, authorization=authorization, now=now
    )
    with uow:
        uow.transactions.add(transaction)
        if transaction.status is not TransactionStatus.PROCESSING:
            uow.outbox.add(transaction_event(transaction))
            uow.events.add(transaction_changed(transaction))
        if on_commit is not None:
            on_commit(uow, transaction)  # e.g. the idempotent response, kept with the effect or not at all
        uow.commit()
    return transaction


def get_transaction(principal: Principal, transaction_id: UUID, *, uow: UnitOfWork) -> Transaction:
    with uow:
        transaction = uow.transactions.get(principal.merchant_id, transaction_id)
    if transaction is None:
        raise NotFound(f"No such transaction: '{transaction_id}'", code="resource_missing", param="id")
    return transaction


def list_transactions(principal: Principal, page: PageRequest, *, uow: UnitOfWork) -> Page[Transaction]:
    with uow:
        return uow.transactions.list(principal.merchant_id, page)


def _check_amounts(request: NewTransaction, currency: str) -> None:
    problems = []
    if not is_known_currency(currency):
        problems.append(
            ErrorDetail("invalid_currency", "currency must be an ISO 4217 code such as BRL", "currency")
        )
    rules = METHOD_RULES[request.payment_method]
    if request.installments > 1 and not rules.allows_installments:
        problems.append(
            ErrorDetail(
                "installments_not_allowed",
                f"{request.payment_method.value} transactions are paid in one installment",
                "installments",
            )
        )
    elif request.amount < request.installments:
        problems.append(
            ErrorDetail(
                "amount_too_small",
                "amount must be at least one minor unit per installment",
                "amount",
            )
        )
    if problems:
        raise ValidationFailed.from_details(problems)


def _transaction_from(
    request: NewTransaction,
    *,
    card: CardForAuthorization,
    merchant: Merchant,
    currency: str,
    authorization: Authorization,
    now: datetime,
) -> Transaction:
    rules = METHOD_RULES[request.payment_method]
    status = {
        AuthorizationOutcome.APPROVED: rules.status_when_approved,
        AuthorizationOutcome.DECLINED: TransactionStatus.DECLINED,
        AuthorizationOutcome.UNKNOWN: TransactionStatus.PROCESSING,
    }[authorization.outcome]
    return Transaction(
        id=new_id(),
        merchant_id=merchant.id,
        amount=request.amount,
        currency=currency,
        description=request.description,
        payment_method=request.payment_method,
        installments=request.installments,
        status=status,
        card=card.card,
        fee_bps=merchant.fee_bps_for(request.payment_method.value),
        decline_code=authorization.decline_code if status is TransactionStatus.DECLINED else None,
        created_at=now,
        updated_at=now,
        acquirer_reference=authorization.reference,
    )


def _load_merchant(principal: Principal, uow: UnitOfWork) -> Merchant | None:
    with uow:
        return uow.merchants.get(principal.merchant_id)
