"""Refunds: ``POST``/``GET /v1/transactions/<id>/refunds`` and ``GET /v1/refunds/<id>``."""

from __future__ import annotations

import structlog
from flask import Blueprint, Response, request

from psp.domain.refunds import Refund
from psp.repositories.ports import StoredResponse
from psp.services import refunds as service
from psp.transporters.rest.context import current_container, current_principal, json_body, json_response
from psp.transporters.rest.idempotency import Recording, encoded
from psp.transporters.rest.middlewares import allow_empty_body
from psp.transporters.rest.paths import id_from_path
from psp.transporters.rest.serializers import list_json, refund_json
from psp.validators.lists import parse_page_request
from psp.validators.refunds import parse_new_refund


def refunds_blueprint() -> Blueprint:
    blueprint = Blueprint("refunds", __name__)
    blueprint.post("/transactions/<transaction_id>/refunds")(allow_empty_body(create_refund))
    blueprint.get("/transactions/<transaction_id>/refunds")(list_refunds)
    blueprint.get("/refunds/<refund_id>")(get_refund)
    return blueprint


def create_refund(transaction_id: str) -> Response:
    """201 with the refund; an empty body (or ``{}``) refunds everything still refundable."""
    container = current_container()
    transaction = id_from_path(transaction_id, "transaction")
    structlog.contextvars.bind_contextvars(transaction_id=str(transaction))
    recording = Recording(created_response)
    refund = service.create_refund(
        current_principal(),
        transaction,
        parse_new_refund(json_body()),
        uow=container.uow(),
        clock=container.clock,
        settlement_zone=container.settings.settlement_timezone,
        on_commit=recording.hook(),
    )
    return recording.send(refund, {"Location": f"/v1/refunds/{refund.id}"})


def created_response(refund: Refund) -> StoredResponse:
    return StoredResponse(201, encoded(refund_json(refund)))


def list_refunds(transaction_id: str) -> Response:
    page = service.list_refunds(
        current_principal(),
        id_from_path(transaction_id, "transaction"),
        parse_page_request(request.args.to_dict(flat=False)),
        uow=current_container().uow(),
    )
    return json_response(list_json(page, refund_json))


def get_refund(refund_id: str) -> Response:
    refund = service.get_refund(
        current_principal(), id_from_path(refund_id, "refund"), uow=current_container().uow()
    )
    return json_response(refund_json(refund))
