"""Whatever is thrown at ``POST /v1/transactions``, the answer is never a 5xx and always our JSON."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from psp.domain.transactions import MAX_AMOUNT
from psp.services.merchants import Onboarded
from tests.e2e.support import (
    APPROVED_CARD,
    DECLINED_CARD,
    TIMEOUT_CARD,
    assert_error_shape,
    auth,
    transaction_body,
)

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Any text, lone surrogates and control characters included.
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_text
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4),
    max_leaves=10,
)
# Plausible values per field, so that generated bodies often get past the schema into card validation,
# the currency rules, the acquirer and the database.
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "amount": st.integers(min_value=-2, max_value=MAX_AMOUNT + 2),
    "currency": st.sampled_from(["BRL", "USD", "JPY", "KWD", "XXX", "brl", ""]),
    "description": any_text,
    "payment_method": st.sampled_from(["credit_card", "debit_card"]),
    "installments": st.integers(min_value=-1, max_value=14),
    "card_number": st.sampled_from([APPROVED_CARD, DECLINED_CARD, TIMEOUT_CARD, "378282246310005"])
    | st.from_regex(r"[0-9 -]{0,24}", fullmatch=True),
    "card_holder_name": any_text,
    "card_expiration_date": st.from_regex(r"[0-9]{1,2}/[0-9]{2,4}", fullmatch=True),
    "card_verification_code": st.from_regex(r"[0-9]{2,5}", fullmatch=True),
}


@st.composite
def nearly_valid_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A valid body with up to three fields dropped, made plausible, or made anything at all."""
    body = transaction_body()
    for name in draw(st.lists(st.sampled_from(sorted(PLAUSIBLE)), max_size=3, unique=True)):
        action = draw(st.sampled_from(["drop", "plausible", "anything"]))
        if action == "drop":
            del body[name]
        else:
            body[name] = draw(PLAUSIBLE[name] if action == "plausible" else json_values)
    return body


content_types = st.one_of(
    st.none(),
    st.sampled_from(
        ["application/json", "text/plain", "application/json; charset=utf-16", "multipart/form-data"]
    ),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30),
)


def assert_well_answered(response: TestResponse) -> None:
    event(f"HTTP {response.status_code}")  # shown by --hypothesis-show-statistics
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.headers.get("Request-Id")
    if response.status_code >= 400:
        assert_error_shape(response)
    else:
        assert response.status_code in {201, 202}
        assert response.get_json()["object"] == "transaction"


@FUZZ
@given(body=st.dictionaries(any_text, json_values, max_size=8))
def test_random_json_objects_never_cause_a_server_error(
    client: FlaskClient, merchant: Onboarded, body: dict[str, Any]
) -> None:
    assert_well_answered(client.post("/v1/transactions", json=body, headers=auth(merchant)))


@FUZZ
@given(body=nearly_valid_bodies())
def test_random_values_in_the_real_fields_never_cause_a_server_error(
    client: FlaskClient, merchant: Onboarded, body: dict[str, Any]
) -> None:
    assert_well_answered(client.post("/v1/transactions", json=body, headers=auth(merchant)))


@FUZZ
@given(
    raw=st.binary(max_size=300) | json_values.map(lambda value: repr(value).encode()),
    content_type=content_types,
)
def test_random_bytes_and_content_types_never_cause_a_server_error(
    client: FlaskClient, merchant: Onboarded, raw: bytes, content_type: str | None
) -> None:
    headers = auth(merchant)
    if content_type is not None:
        headers["Content-Type"] = content_type

    assert_well_answered(client.post("/v1/transactions", data=raw, headers=headers))
