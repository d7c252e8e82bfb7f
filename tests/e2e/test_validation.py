"""Every rule of the transaction body answers 400 naming its parameter, and never echoes card data."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from psp.domain.transactions import MAX_AMOUNT
from psp.services.merchants import Onboarded
from tests.e2e.support import assert_error_shape, assert_invalid, auth, transaction_body, without

REQUIRED = [
    "amount",
    "description",
    "payment_method",
    "card_number",
    "card_holder_name",
    "card_expiration_date",
    "card_verification_code",
]


def post(client: FlaskClient, merchant: Onboarded, body: Any) -> Any:
    return client.post("/v1/transactions", json=body, headers=auth(merchant))


@pytest.mark.parametrize("field", REQUIRED)
def test_a_missing_required_field_is_named(client: FlaskClient, merchant: Onboarded, field: str) -> None:
    response = post(client, merchant, without(field))

    assert_invalid(response, "parameter_missing", field)


def test_an_empty_body_lists_every_missing_field_in_details(client: FlaskClient, merchant: Onboarded) -> None:
    error = assert_invalid(post(client, merchant, {}), "parameter_missing", "amount")

    assert [detail["param"] for detail in error["details"]] == REQUIRED
    assert {detail["code"] for detail in error["details"]} == {"parameter_missing"}


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("2500", "parameter_invalid_type"),
        (2500.0, "parameter_invalid_type"),
        (10.5, "parameter_invalid_type"),
        (True, "parameter_invalid_type"),
        (False, "parameter_invalid_type"),
        (None, "parameter_invalid_type"),
        ([2500], "parameter_invalid_type"),
        ({"value": 2500}, "parameter_invalid_type"),
        (1e300, "parameter_invalid_type"),
        (0, "parameter_out_of_range"),
        (-1, "parameter_out_of_range"),
        (MAX_AMOUNT + 1, "parameter_out_of_range"),
        (10**30, "parameter_out_of_range"),
        (-(10**30), "parameter_out_of_range"),
    ],
)
def test_amount_must_be_a_json_integer_within_range(
    client: FlaskClient, merchant: Onboarded, amount: Any, code: str
) -> None:
    assert_invalid(post(client, merchant, transaction_body(amount=amount)), code, "amount")


def test_the_largest_amount_is_accepted(client: FlaskClient, merchant: Onboarded) -> None:
    response = post(client, merchant, transaction_body(amount=MAX_AMOUNT))

    assert response.status_code == 201
    assert response.get_json()["amount"] == MAX_AMOUNT


def test_an_integer_of_thousands_of_digits_is_refused_without_a_crash(
    client: FlaskClient, merchant: Onboarded
) -> None:
    raw = '{"amount": ' + "9" * 5000 + "}"
    response = client.post(
        "/v1/transactions", data=raw, content_type="application/json", headers=auth(merchant)
    )

    assert response.status_code == 400
    assert_error_shape(response)


@pytest.mark.parametrize(
    ("installments", "code"),
    [
        (0, "parameter_out_of_range"),
        (13, "parameter_out_of_range"),
        (-3, "parameter_out_of_range"),
        ("2", "parameter_invalid_type"),
        (2.0, "parameter_invalid_type"),
        (True, "parameter_invalid_type"),
    ],
)
def test_installments_must_be_an_integer_from_1_to_12(
    client: FlaskClient, merchant: Onboarded, installments: Any, code: str
) -> None:
    assert_invalid(post(client, merchant, transaction_body(installments=installments)), code, "installments")


def test_a_debit_card_cannot_be_paid_in_installments(client: FlaskClient, merchant: Onboarded) -> None:
    body = transaction_body(payment_method="debit_card", installments=2)

    assert_invalid(post(client, merchant, body), "installments_not_allowed", "installments")


def test_an_amount_smaller_than_its_installments_is_refused(client: FlaskClient, merchant: Onboarded) -> None:
    assert_invalid(
        post(client, merchant, transaction_body(amount=5, installments=6)), "amount_too_small", "amount"
    )


@pytest.mark.parametrize("payment_method", ["pix", "CREDIT_CARD", "", 1, None])
def test_payment_method_must_be_debit_or_credit_card(
    client: FlaskClient, merchant: Onboarded, payment_method: Any
) -> None:
    response = post(client, merchant, transaction_body(payment_method=payment_method))

    error = assert_error_shape(response)
    assert response.status_code == 400
    assert error["param"] == "payment_method"
    assert error["code"] in {"parameter_invalid", "parameter_invalid_type"}


@pytest.mark.parametrize(
    ("description", "code"),
    [
        ("x" * 256, "parameter_invalid"),
        ("", "parameter_invalid"),
        ("   ", "parameter_invalid"),
        ("nul\x00byte", "parameter_invalid"),
        ("lone \ud800 surrogate", "parameter_invalid"),
        (42, "parameter_invalid_type"),
        (None, "parameter_invalid_type"),
    ],
)
def test_description_must_be_printable_text_of_1_to_255_characters(
    client: FlaskClient, merchant: Onboarded, description: Any, code: str
) -> None:
    assert_invalid(post(client, merchant, transaction_body(description=description)), code, "description")


def test_a_description_of_255_characters_is_accepted(client: FlaskClient, merchant: Onboarded) -> None:
    response = post(client, merchant, transaction_body(description="é" * 255))

    assert response.status_code == 201
    assert response.get_json()["description"] == "é" * 255


@pytest.mark.parametrize("currency", ["XYZ", "brl", "", "REAL", "XXX", 986])
def test_currency_must_be_an_iso_4217_code(client: FlaskClient, merchant: Onboarded, currency: Any) -> None:
    response = post(client, merchant, transaction_body(currency=currency))

    assert response.status_code == 400
    assert assert_error_shape(response)["param"] == "currency"


def test_a_known_currency_with_other_minor_units_is_accepted(
    client: FlaskClient, merchant: Onboarded
) -> None:
    response = post(client, merchant, transaction_body(currency="JPY", amount=500))

    assert response.status_code == 201
    assert response.get_json()["currency"] == "JPY"


def test_an_unknown_field_is_named(client: FlaskClient, merchant: Onboarded) -> None:
    error = assert_invalid(
        post(client, merchant, transaction_body(card_cvv="123")), "parameter_unknown", "card_cvv"
    )

    assert "card_cvv" in error["message"]


@pytest.mark.parametrize(
    "field", ["card_number", "card_holder_name", "card_expiration_date", "card_verification_code"]
)
@pytest.mark.parametrize("value", [4242424242424242, None, ["4242"], {"n": 1}])
def test_card_fields_must_be_strings(
    client: FlaskClient, merchant: Onboarded, field: str, value: Any
) -> None:
    error = assert_invalid(
        post(client, merchant, transaction_body(**{field: value})), "parameter_invalid_type", field
    )

    assert "4242424242424242" not in str(error)


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("card_number", "4242424242424241", "invalid_number"),
        ("card_number", "4242 4242 abcd 4242", "invalid_number"),
        ("card_number", "42424242", "invalid_number"),
        ("card_number", "", "invalid_number"),
        ("card_expiration_date", "01/20", "expired_card"),
        ("card_expiration_date", "13/30", "invalid_expiry_date"),
        ("card_expiration_date", "2030-12", "invalid_expiry_date"),
        ("card_verification_code", "12", "invalid_cvc"),
        ("card_verification_code", "12a", "invalid_cvc"),
        ("card_verification_code", "1234", "invalid_cvc"),
        ("card_holder_name", "A", "invalid_holder_name"),
        ("card_holder_name", "Ana\x00Souza", "invalid_holder_name"),
        ("card_holder_name", "x" * 101, "invalid_holder_name"),
    ],
)
def test_card_rules_are_checked_and_named(
    client: FlaskClient, merchant: Onboarded, field: str, value: str, code: str
) -> None:
    assert_invalid(post(client, merchant, transaction_body(**{field: value})), code, field)


def test_several_problems_are_all_listed(client: FlaskClient, merchant: Onboarded) -> None:
    body = transaction_body(amount="1", installments=13, payment_method="pix", extra=True)

    error = assert_error_shape(post(client, merchant, body))

    assert {(detail["code"], detail["param"]) for detail in error["details"]} == {
        ("parameter_invalid_type", "amount"),
        ("parameter_invalid", "payment_method"),
        ("parameter_out_of_range", "installments"),
        ("parameter_unknown", "extra"),
    }


def test_an_invalid_transaction_is_not_recorded(client: FlaskClient, merchant: Onboarded) -> None:
    post(client, merchant, transaction_body(card_number="4242424242424241"))

    listed = client.get("/v1/transactions", headers=auth(merchant)).get_json()
    assert listed["data"] == []
