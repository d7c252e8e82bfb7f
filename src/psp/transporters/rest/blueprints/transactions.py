"""``/v1/transactions``: create one (201 approved, 402 declined, 202 processing), read, list."""

from __future__ import annotations

from typing import Final

import structlog
from flask import Blueprint, Response, request

from psp.domain.transactions import Transaction, TransactionStatus
from psp.lib.errors import CardDeclined
from psp.services import transactions as service
from psp.transporters.rest.context import current_container, current_principal, json_body, json_response
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
    transaction = service.create_transaction(
        parse_new_transaction(json_body()),
        current_principal(),
        uow=container.uow(),
        acquirer=container.acquirer,
        clock=container.clock,
        fingerprint_key=container.settings.card_fingerprint_key,
    )
    structlog.contextvars.bind_contextvars(transaction_id=str(transaction.id))
    return outcome_response(transaction)


def outcome_response(transaction: Transaction) -> Response:
    """201 approved, 202 still processing, 402 declined (the recorded transaction rides in the error)."""
    body = transaction_json(transaction)
    if transaction.status is TransactionStatus.DECLINED:
        code = transaction.decline_code or "card_declined"
        raise CardDeclined(
            DECLINE_MESSAGES.get(code, DECLINE_MESSAGES["card_declined"]),
            code=code,
            extra={"transaction": body},
        )
    if transaction.status is TransactionStatus.PROCESSING:
        return json_response(body, 202)
    return json_response(body, 201, {"Location": f"/v1/transactions/{transaction.id}"})


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
