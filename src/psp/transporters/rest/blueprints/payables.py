"""``/v1/payables``: what the merchant is owed, filterable by status, payment date and transaction."""

from __future__ import annotations

from flask import Blueprint, Response, request

from psp.services import payables as service
from psp.transporters.rest.context import current_container, current_principal, json_response
from psp.transporters.rest.paths import id_from_path
from psp.transporters.rest.serializers import list_json, payable_json
from psp.validators.lists import parse_payable_query


def payables_blueprint() -> Blueprint:
    blueprint = Blueprint("payables", __name__)
    blueprint.get("/payables")(list_payables)
    blueprint.get("/payables/<payable_id>")(get_payable)
    return blueprint


def list_payables() -> Response:
    filters, page = parse_payable_query(request.args.to_dict(flat=False))
    payables = service.list_payables(current_principal(), filters, page, uow=current_container().uow())
    return json_response(list_json(payables, payable_json))


def get_payable(payable_id: str) -> Response:
    payable = service.get_payable(
        current_principal(), id_from_path(payable_id, "payable"), uow=current_container().uow()
    )
    return json_response(payable_json(payable))
