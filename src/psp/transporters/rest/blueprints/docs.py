"""``/v1/openapi.json`` (the OpenAPI document) and ``/docs`` (it, as a page); neither needs a key."""

from __future__ import annotations

import functools

from flask import Blueprint, Response

from psp.transporters.rest.context import json_response
from psp.transporters.rest.openapi.document import openapi_document
from psp.transporters.rest.openapi.html import content_security_policy, render_reference


def docs_blueprint() -> Blueprint:
    blueprint = Blueprint("docs", __name__)
    blueprint.get("/v1/openapi.json")(openapi_json)
    blueprint.get("/docs")(reference_page)
    return blueprint


def openapi_json() -> Response:
    return json_response(openapi_document())


def reference_page() -> Response:
    policy = {"Content-Security-Policy": content_security_policy()}
    return Response(_reference_html(), mimetype="text/html", headers=policy)


@functools.cache
def _reference_html() -> str:
    return render_reference(openapi_document())
