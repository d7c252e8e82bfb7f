"""``/v1/balance``: net amounts available and still waiting for funds, per currency."""

from __future__ import annotations

from flask import Blueprint, Response

from psp.services import payables as service
from psp.transporters.rest.context import current_container, current_principal, json_response
from psp.transporters.rest.serializers import balance_json


def balance_blueprint() -> Blueprint:
    blueprint = Blueprint("balance", __name__)
    blueprint.get("/balance")(get_balance)
    return blueprint


def get_balance() -> Response:
    balance = service.get_balance(current_principal(), uow=current_container().uow())
    return json_response(balance_json(balance))
