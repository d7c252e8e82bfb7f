"""Request validation with marshmallow, answering in the contract's error codes (DESIGN.md section 6).

marshmallow reports plain messages. Every message our schemas can produce is a ``Problem``: a string that
also carries the contract's code, so a marshmallow error converts to ``ValidationFailed`` without
guessing. Messages are written here, name their parameter and never interpolate the input, so no card
number or verification code can be echoed back or logged through an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from marshmallow import RAISE, Schema, ValidationError, fields, missing, validate
from marshmallow.types import Validator

from psp.lib.errors import ErrorDetail, ValidationFailed

PARAMETER_MISSING: Final = "parameter_missing"
PARAMETER_INVALID_TYPE: Final = "parameter_invalid_type"
PARAMETER_OUT_OF_RANGE: Final = "parameter_out_of_range"
PARAMETER_INVALID: Final = "parameter_invalid"
PARAMETER_UNKNOWN: Final = "parameter_unknown"

ErrorMessages = dict[str, str | list[Any] | dict[Any, Any]]  # marshmallow's type for error_messages

# A client may send any key; echoing a 60 KiB one back would be silly.
MAX_ECHOED_PARAM_LENGTH: Final = 64


class Problem(str):
    """A validation message that knows its error code."""

    code: str

    def __new__(cls, code: str, message: str) -> Problem:
        problem = super().__new__(cls, message)
        problem.code = code
        return problem

    def format(self, *args: object, **kwargs: object) -> Problem:
        # marshmallow formats messages with the offending input; ours deliberately never show it.
        return self


class RequestSchema(Schema):
    """Base of every request schema: unknown parameters are errors, not silently dropped."""

    class Meta:
        unknown = RAISE

    error_messages = {  # marshmallow merges these with its defaults
        "unknown": Problem(PARAMETER_UNKNOWN, "unknown parameter"),
        "type": Problem(PARAMETER_INVALID_TYPE, "the request must be a JSON object"),
    }


def load(schema: Schema, data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``data``; raise ValidationFailed listing every problem, in the schema's field order."""
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as error:
        # ``from None``: the marshmallow error holds the raw input (card data included).
        messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        raise validation_failed(messages, _field_order(schema)) from None
    return loaded


def validation_failed(messages: Mapping[str, Any], order: Sequence[str] = ()) -> ValidationFailed:
    """Turn marshmallow's ``{param: [messages]}`` into the contract's error with ``details``."""
    rank = {param: position for position, param in enumerate(order)}
    ordered = sorted(messages.items(), key=lambda item: rank.get(item[0], len(rank)))
    details = [_detail(param, problem) for param, problems in ordered for problem in _as_list(problems)]
    return ValidationFailed.from_details(details)


def type_messages(param: str, kind: str) -> ErrorMessages:
    """The messages of every type-level failure a field can report, all naming ``param``."""
    wrong_type = Problem(PARAMETER_INVALID_TYPE, f"{param} must be {kind}")
    return {
        "required": Problem(PARAMETER_MISSING, f"{param} is required"),
        "null": Problem(PARAMETER_INVALID_TYPE, f"{param} must be {kind}, not null"),
        "invalid": wrong_type,
        "invalid_utf8": wrong_type,
        "invalid_uuid": wrong_type,
        "format": wrong_type,
        "too_large": Problem(PARAMETER_OUT_OF_RANGE, f"{param} is too large"),
    }


def integer_field(
    param: str,
    *,
    minimum: int,
    maximum: int,
    required: bool = True,
    strict: bool = True,
    load_default: int | Any = missing,  # ``missing``: no default
) -> fields.Integer:
    """An integer within ``minimum..maximum``; ``strict`` refuses strings, floats (even 10.0) and bools."""
    return fields.Integer(
        strict=strict,
        required=required,
        load_default=load_default,
        allow_none=not required,
        validate=validate.Range(
            min=minimum,
            max=maximum,
            error=Problem(PARAMETER_OUT_OF_RANGE, f"{param} must be between {minimum} and {maximum}"),
        ),
        error_messages=type_messages(param, "an integer"),
    )


def string_field(
    param: str,
    *,
    required: bool = True,
    validators: Sequence[Validator] = (),
    data_key: str | None = None,
) -> fields.String:
    """A JSON string; ``validators`` must raise Problems (see ``choice`` and ``length``)."""
    return fields.String(
        required=required,
        allow_none=not required,
        validate=list(validators),
        data_key=data_key,
        error_messages=type_messages(param, "a string"),
    )


def choice(param: str, choices: Sequence[str]) -> validate.OneOf:
    return validate.OneOf(
        choices, error=Problem(PARAMETER_INVALID, f"{param} must be one of: {', '.join(choices)}")
    )


def length(param: str, minimum: int, maximum: int) -> validate.Length:
    return validate.Length(
        min=minimum,
        max=maximum,
        error=Problem(PARAMETER_INVALID, f"{param} must be {minimum} to {maximum} characters long"),
    )


def _detail(param: str, problem: object) -> ErrorDetail:
    shown = param if len(param) <= MAX_ECHOED_PARAM_LENGTH else param[:MAX_ECHOED_PARAM_LENGTH] + "…"
    if param == "_schema":
        return ErrorDetail(getattr(problem, "code", PARAMETER_INVALID), str(problem), None)
    if not isinstance(problem, Problem):
        # A message we did not write may quote the input: say only which parameter failed.
        return ErrorDetail(PARAMETER_INVALID, f"{shown} is invalid", shown)
    if problem.code == PARAMETER_UNKNOWN:
        return ErrorDetail(PARAMETER_UNKNOWN, f"Received unknown parameter: {shown}", shown)
    return ErrorDetail(problem.code, str(problem), shown)


def _as_list(problems: object) -> list[object]:
    return list(problems) if isinstance(problems, list) else [problems]


def _field_order(schema: Schema) -> list[str]:
    return [field.data_key or name for name, field in schema.load_fields.items()]
