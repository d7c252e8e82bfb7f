"""Bodies and query strings of the webhook routes: endpoints, secret rotation, the event list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Final

from marshmallow import ValidationError, fields, validate

from psp.domain.events import EVENT_TYPES
from psp.domain.pagination import PageRequest
from psp.domain.webhooks import DEFAULT_ROTATION_OVERLAP, MAX_ROTATION_OVERLAP, MAX_URL_LENGTH
from psp.services.webhooks import NewEndpoint
from psp.validators import (
    PARAMETER_INVALID,
    Problem,
    RequestSchema,
    choice,
    integer_field,
    length,
    load,
    string_field,
    type_messages,
)
from psp.validators.lists import ListQuerySchema, page_request_of, single_values

SUBSCRIBABLE: Final = ("*", *EVENT_TYPES)
MAX_DESCRIPTION: Final = 255


def _no_controls(param: str) -> Any:
    def check(value: str) -> None:
        if any(ord(char) < 32 or ord(char) == 127 or 0xD800 <= ord(char) <= 0xDFFF for char in value):
            raise ValidationError(Problem(PARAMETER_INVALID, f"{param} must not contain control characters"))

    return check


class NewWebhookEndpointSchema(RequestSchema):
    url = string_field("url", validators=[length("url", 1, MAX_URL_LENGTH), _no_controls("url")])
    enabled_events = fields.List(
        fields.String(
            validate=choice("enabled_events", list(SUBSCRIBABLE)),
            error_messages=type_messages("enabled_events", "a list of event types"),
        ),
        required=True,
        validate=validate.Length(
            min=1,
            max=len(SUBSCRIBABLE),
            error=Problem(
                PARAMETER_INVALID, f"enabled_events must list 1 to {len(SUBSCRIBABLE)} event types"
            ),
        ),
        error_messages=type_messages("enabled_events", "a list of event types"),
    )
    description = string_field(
        "description",
        required=False,
        validators=[length("description", 0, MAX_DESCRIPTION), _no_controls("description")],
    )


class RotateSecretSchema(RequestSchema):
    overlap_seconds = integer_field(
        "overlap_seconds",
        minimum=0,
        maximum=int(MAX_ROTATION_OVERLAP.total_seconds()),
        required=False,
        load_default=int(DEFAULT_ROTATION_OVERLAP.total_seconds()),
    )


class EmptyBodySchema(RequestSchema):
    """A POST that takes no parameters: an empty body or ``{}``; anything else is an unknown parameter."""


class EventListQuerySchema(ListQuerySchema):
    type = string_field("type", required=False, validators=[choice("type", list(EVENT_TYPES))])


_NEW_ENDPOINT: Final = NewWebhookEndpointSchema()
_ROTATE: Final = RotateSecretSchema()
_EVENT_LIST_QUERY: Final = EventListQuerySchema()
_EMPTY: Final = EmptyBodySchema()


def parse_empty_body(body: Mapping[str, Any]) -> None:
    load(_EMPTY, body)


def parse_new_endpoint(body: Mapping[str, Any]) -> NewEndpoint:
    data = load(_NEW_ENDPOINT, body)
    return NewEndpoint(
        url=data["url"],
        enabled_events=tuple(data["enabled_events"]),
        description=data.get("description") or "",
    )


def parse_rotation(body: Mapping[str, Any]) -> timedelta:
    seconds = load(_ROTATE, body).get("overlap_seconds")
    return DEFAULT_ROTATION_OVERLAP if seconds is None else timedelta(seconds=seconds)


def parse_event_query(query: Mapping[str, Sequence[str]]) -> tuple[str | None, PageRequest]:
    data = load(_EVENT_LIST_QUERY, single_values(query))
    return data.get("type"), page_request_of(data)
