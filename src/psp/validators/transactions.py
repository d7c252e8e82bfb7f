"""The body of ``POST /v1/transactions``: shapes and types here; card and currency rules in the service."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any, Final

from marshmallow import ValidationError

from psp.domain.pricing import MAX_INSTALLMENTS
from psp.domain.transactions import MAX_AMOUNT, MAX_DESCRIPTION_LENGTH, PaymentMethod
from psp.services.transactions import NewTransaction
from psp.validators import (
    PARAMETER_INVALID,
    Problem,
    RequestSchema,
    choice,
    integer_field,
    length,
    load,
    string_field,
)

# Tab and line breaks are fine in a description; other controls and lone surrogates are not text, and
# PostgreSQL cannot store NUL or unpaired surrogates at all.
_ALLOWED_CONTROLS: Final = frozenset("\t\n\r")


def _printable_description(value: str) -> None:
    for char in value:
        category = unicodedata.category(char)
        if (category == "Cc" and char not in _ALLOWED_CONTROLS) or category == "Cs":
            raise ValidationError(
                Problem(PARAMETER_INVALID, "description must not contain control characters")
            )
    if value and not value.strip():
        raise ValidationError(Problem(PARAMETER_INVALID, "description must not be blank"))


class NewTransactionSchema(RequestSchema):
    amount = integer_field("amount", minimum=1, maximum=MAX_AMOUNT)
    # ISO 4217 is the service's rule; here only "a non-empty string, or absent for the default".
    currency = string_field("currency", required=False, validators=[length("currency", 1, 3)])
    description = string_field(
        "description",
        validators=[length("description", 1, MAX_DESCRIPTION_LENGTH), _printable_description],
    )
    payment_method = string_field(
        "payment_method", validators=[choice("payment_method", [method.value for method in PaymentMethod])]
    )
    installments = integer_field(
        "installments", minimum=1, maximum=MAX_INSTALLMENTS, required=False, load_default=1
    )
    card_number = string_field("card_number")
    card_holder_name = string_field("card_holder_name")
    card_expiration_date = string_field("card_expiration_date")
    card_verification_code = string_field("card_verification_code")


_SCHEMA: Final = NewTransactionSchema()


def parse_new_transaction(body: Mapping[str, Any]) -> NewTransaction:
    """Check the body's shape and types; raise ValidationFailed naming every bad parameter."""
    data = load(_SCHEMA, body)
    return NewTransaction(
        amount=data["amount"],
        currency=data.get("currency"),
        description=data["description"],
        payment_method=PaymentMethod(data["payment_method"]),
        # An explicit null means "the default", like leaving the field out.
        installments=data.get("installments") or 1,
        card_holder_name=data["card_holder_name"],
        card_expiration_date=data["card_expiration_date"],
        card_number=data["card_number"],
        card_verification_code=data["card_verification_code"],
    )
