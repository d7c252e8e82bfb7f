"""``/v1/webhook_endpoints`` and ``/v1/events``: where merchants get events, and the events themselves."""

from __future__ import annotations

from flask import Blueprint, Response, request

from psp.domain.webhooks import WebhookEndpoint
from psp.repositories.ports import StoredResponse
from psp.services import webhooks as service
from psp.transporters.rest.context import current_container, current_principal, json_body, json_response
from psp.transporters.rest.idempotency import Recording, encoded
from psp.transporters.rest.middlewares import allow_empty_body
from psp.transporters.rest.paths import id_from_path
from psp.transporters.rest.serializers import (
    event_json,
    list_json,
    webhook_delivery_json,
    webhook_endpoint_json,
)
from psp.validators.lists import parse_page_request
from psp.validators.webhooks import parse_empty_body, parse_event_query, parse_new_endpoint, parse_rotation


def webhooks_blueprint() -> Blueprint:
    blueprint = Blueprint("webhooks", __name__)
    blueprint.post("/webhook_endpoints")(create_endpoint)
    blueprint.get("/webhook_endpoints")(list_endpoints)
    blueprint.get("/webhook_endpoints/<endpoint_id>")(get_endpoint)
    blueprint.delete("/webhook_endpoints/<endpoint_id>")(delete_endpoint)
    blueprint.post("/webhook_endpoints/<endpoint_id>/rotate_secret")(allow_empty_body(rotate_secret))
    blueprint.get("/events")(list_events)
    blueprint.get("/events/<event_id>")(get_event)
    blueprint.get("/events/<event_id>/deliveries")(list_deliveries)
    blueprint.post("/events/<event_id>/redeliver")(allow_empty_body(redeliver))
    return blueprint


def _with_secret(status: int) -> Recording[WebhookEndpoint]:
    return Recording(
        lambda endpoint: StoredResponse(status, encoded(webhook_endpoint_json(endpoint, with_secret=True)))
    )


def create_endpoint() -> Response:
    """201 with the endpoint and its signing secret, shown this once."""
    container = current_container()
    recording = _with_secret(201)
    endpoint = service.create_endpoint(
        current_principal(),
        parse_new_endpoint(json_body()),
        uow=container.uow(),
        resolver=container.host_resolver(),
        clock=container.clock,
        on_commit=recording.hook(),
    )
    return recording.send(endpoint, {"Location": f"/v1/webhook_endpoints/{endpoint.id}"})


def list_endpoints() -> Response:
    page = service.list_endpoints(
        current_principal(),
        parse_page_request(request.args.to_dict(flat=False)),
        uow=current_container().uow(),
    )
    return json_response(list_json(page, webhook_endpoint_json))


def get_endpoint(endpoint_id: str) -> Response:
    endpoint = service.get_endpoint(
        current_principal(), id_from_path(endpoint_id, "webhook endpoint"), uow=current_container().uow()
    )
    return json_response(webhook_endpoint_json(endpoint))


def delete_endpoint(endpoint_id: str) -> Response:
    container = current_container()
    identifier = id_from_path(endpoint_id, "webhook endpoint")
    service.delete_endpoint(current_principal(), identifier, uow=container.uow(), clock=container.clock)
    return json_response({"id": str(identifier), "object": "webhook_endpoint", "deleted": True})


def rotate_secret(endpoint_id: str) -> Response:
    """200 with the new secret (shown once); the old one keeps signing for ``overlap_seconds``."""
    container = current_container()
    identifier = id_from_path(endpoint_id, "webhook endpoint")
    recording = _with_secret(200)
    rotated = service.rotate_secret(
        current_principal(),
        identifier,
        parse_rotation(json_body()),
        uow=container.uow(),
        clock=container.clock,
        on_commit=recording.hook(),
    )
    return recording.send(rotated)


def list_events() -> Response:
    event_type, page = parse_event_query(request.args.to_dict(flat=False))
    events = service.list_events(current_principal(), event_type, page, uow=current_container().uow())
    return json_response(list_json(events, event_json))


def get_event(event_id: str) -> Response:
    event = service.get_event(
        current_principal(), id_from_path(event_id, "event"), uow=current_container().uow()
    )
    return json_response(event_json(event))


def list_deliveries(event_id: str) -> Response:
    page = service.list_deliveries(
        current_principal(),
        id_from_path(event_id, "event"),
        parse_page_request(request.args.to_dict(flat=False)),
        uow=current_container().uow(),
    )
    return json_response(list_json(page, webhook_delivery_json))


def redeliver(event_id: str) -> Response:
    """202: the event is due again now at every endpoint that wants it; the worker sends it."""
    container = current_container()
    identifier = id_from_path(event_id, "event")
    parse_empty_body(json_body())
    recording: Recording[int] = Recording(
        lambda count: StoredResponse(202, encoded(redelivery_json(str(identifier), count)))
    )
    scheduled = service.redeliver_event(
        current_principal(),
        identifier,
        uow=container.uow(),
        clock=container.clock,
        on_commit=recording.hook(),
    )
    return recording.send(scheduled)


def redelivery_json(event_id: str, deliveries: int) -> dict[str, object]:
    return {"object": "redelivery", "event_id": event_id, "deliveries": deliveries}
