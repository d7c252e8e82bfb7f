"""``/v1/transactions``: create one (201 approved, 402 declined, 202 processing), read, list."""

from __future__ import annotations

from typing import Final

import structlog
from flask import Blueprint, Response, request

from psp.domain.transactions import Transaction, TransactionStatus
from psp.lib.errors import CardDeclined
from psp.repositories.ports import StoredResponse
from psp.services import transactions as service
from psp.transporters.rest.context import (
    current_container,
    current_principal,
    current_request_id,
    json_body,
    json_response,
)
from psp.transporters.rest.idempotency import Recording, encoded
from psp.transporters.rest.paths import id_from_path
from psp.transporters.rest.serializers import list_json, transaction_json
from psp.validators.lists import parse_page_request
from psp.validators.transactions import parse_new_transaction

DECLINE_MESSAGES: Final = {
    "card_declined": "The card was declined",
    "insufficient_funds": "The card has insufficient funds",
    "incorrect_cvc": "The card's security code is incorrect",
}


def transactions_blueprint() -> Blueprint:
    blueprint = Blueprint("transactions", __name__)
    blueprint.post("/transactions")(create_transaction)
    blueprint.get("/transactions")(list_transactions)
    blueprint.get("/transactions/<transaction_id>")(get_transaction)
    return blueprint


def create_transaction() -> Response:
    container = current_container()
    recording = Recording(outcome_response)
    transaction = service.create_transaction(
        parse_new_transaction(json_body()),
        current_principal(),
        uow=container.uow(),
        acquirer=container.acquirer,
        clock=container.clock,
        fingerprint_key=container.settings.card_fingerprint_key,
        on_commit=recording.hook(),
    )
    structlog.contextvars.bind_contextvars(transaction_id=str(transaction.id))
    headers = {"Location": f"/v1/transactions/{transaction.id}"} if transaction.is_approved else None
    return recording.send(transaction, headers)


def outcome_response(transaction: Transaction) -> StoredResponse:
    """201 approved, 202 still processing, 402 declined (the recorded transaction rides in the error)."""
    body = transaction_json(transaction)
    if transaction.status is TransactionStatus.DECLINED:
        code = transaction.decline_code or "card_declined"
        error = CardDeclined(
            DECLINE_MESSAGES.get(code, DECLINE_MESSAGES["card_declined"]),
            code=code,
            extra={"transaction": body},
        )
        return StoredResponse(error.http_status, encoded(error.to_dict(current_request_id())))
    if transaction.status is TransactionStatus.PROCESSING:
        return StoredResponse(202, encoded(body))
    return StoredResponse(201, encoded(body))


def list_transactions() -> Response:
    page = service.list_transactions(
        current_principal(),
        parse_page_request(request.args.to_dict(flat=False)),
        uow=current_container().uow(),
    )
    return json_response(list_json(page, transaction_json))


def get_transaction(transaction_id: str) -> Response:
    transaction = service.get_transaction(
        current_principal(), id_from_path(transaction_id, "transaction"), uow=current_container().uow()
    )
    return json_response(transaction_json(transaction))
