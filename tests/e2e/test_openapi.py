"""The OpenAPI document: valid OpenAPI 3, complete (every route of the app), examples true to the schemas."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from psp.transporters.rest.openapi.document import openapi_document

IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/v1/openapi.json")  # no key: the description of the API is public
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    return body


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_the_served_document_is_valid_openapi_3(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.")
    assert document == openapi_document()


def test_every_route_of_the_app_is_documented_and_nothing_else(app: Flask, document: dict[str, Any]) -> None:
    served = {
        (re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in IGNORED_METHODS
    }
    documented = {(path, method) for path, method, _ in operations(document)}

    assert served == documented


def test_every_post_takes_an_idempotency_key_and_every_v1_operation_documents_its_errors(
    document: dict[str, Any],
) -> None:
    for path, method, operation in operations(document):
        statuses = set(operation["responses"])
        assert "405" in statuses, (path, method)
        if method == "post":
            assert {"$ref": "#/components/parameters/IdempotencyKey"} in operation["parameters"]
            assert {"400", "409", "413", "415", "422"} <= statuses, (path, method)
        if path.startswith("/v1/") and path != "/v1/openapi.json":
            assert {"401", "429", "503"} <= statuses, (path, method)
            assert operation.get("security", document["security"]) == [{"bearerAuth": []}]
        else:
            assert operation["security"] == []
        if "{" in path:
            assert "404" in statuses, (path, method)


def test_every_response_and_parameter_has_an_example_that_matches_its_schema(
    document: dict[str, Any],
) -> None:
    components = document["components"]
    checked = 0

    def check(schema: dict[str, Any], example: Any, where: str) -> None:
        nonlocal checked
        validator = Draft202012Validator({**schema, "components": components})
        errors = [error.message for error in validator.iter_errors(example)]
        assert errors == [], where
        checked += 1

    def check_media(media: dict[str, Any], where: str) -> None:
        examples = (
            [media["example"]] if "example" in media else [e["value"] for e in media["examples"].values()]
        )
        for example in examples:
            check(media["schema"], example, where)

    for name, response in components["responses"].items():
        for media in response["content"].values():
            check_media(media, f"response {name}")
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            for media in response.get("content", {}).values():
                check_media(media, f"{method} {path} {status}")
        for media in operation.get("requestBody", {}).get("content", {}).values():
            check_media(media, f"{method} {path} body")
        for raw in operation.get("parameters", []):
            parameter = components["parameters"][raw["$ref"].rsplit("/", 1)[-1]] if "$ref" in raw else raw
            check(parameter["schema"], parameter["example"], f"{method} {path} {parameter['name']}")

    assert checked > 50


def test_the_request_schemas_are_the_validators_own(document: dict[str, Any]) -> None:
    new_transaction = document["components"]["schemas"]["NewTransaction"]

    assert new_transaction["additionalProperties"] is False  # unknown parameters are refused
    assert new_transaction["properties"]["amount"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 99_999_999_999,
        "description": new_transaction["properties"]["amount"]["description"],
    }
    assert set(new_transaction["required"]) == {
        "amount",
        "description",
        "payment_method",
        "card_number",
        "card_holder_name",
        "card_expiration_date",
        "card_verification_code",
    }


def test_the_reference_page_lists_every_operation_and_schema_with_no_outside_assets(
    client: FlaskClient, document: dict[str, Any]
) -> None:
    response = client.get("/docs")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for path, _, operation in operations(document):
        assert f'id="op-{operation["operationId"]}"' in page
        assert f"<code>{path}</code>" in page
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name}"' in page
    assert "Idempotency-Key" in page
    assert "4111111111111111" in page  # the request examples are shown
    assert not re.search(r"<(script|link|img|iframe)\b", page)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
