"""Contract fuzzing: schemathesis drives every operation of the OpenAPI document, authenticated, with
generated valid and invalid input, and checks every answer against the document.

Fails on any 5xx, any status, content type, header or body the document does not describe, and on any
full card number found in the database afterwards.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine, select

from psp.bootstrap import Container
from psp.data_sources.postgres.tables import metadata
from psp.services.merchants import Onboarded
from psp.transporters.rest.idempotency import IDEMPOTENCY_KEY_HEADER, KEY_PATTERN
from psp.transporters.rest.openapi.document import openapi_document
from tests.e2e.support import auth

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
MAX_EXAMPLES = 30
# Text the merchant chose (the idempotency key included): the fuzzer may well make it a run of digits,
# even the very digits it sent as the card number.
FREE_TEXT = {"description", "card_holder_name", "holder_name", "key", "url"}
DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z-])[0-9]{12,19}(?![0-9A-Za-z-])")


@pytest.fixture
def sent_card_numbers(container: Container) -> Iterator[set[str]]:
    """Card numbers the fuzzer sent (digits only); after the run, none may be anywhere in the database."""
    sent: set[str] = set()
    yield sent
    texts = list(database_texts(container.engine))
    for number in sent:
        assert not any(number in text for text in texts), "a posted card number was stored"
    for text in texts:
        assert not DIGIT_RUN.search(text), "a 12-19 digit run (a card number?) was stored"


# The document is built from code alone (no app, no database), so it can be loaded at collection time.
schema = schemathesis.openapi.from_dict(openapi_document())
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=MAX_EXAMPLES
)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(
    case: Case, app: Flask, merchant: Onboarded, sent_card_numbers: set[str]
) -> None:
    remember_card_number(case, sent_card_numbers)
    fresh_idempotency_key(case)
    case.call_and_validate(app=app, headers=real_key_if_asked(case, merchant), checks=CHECKS)


def real_key_if_asked(case: Case, merchant: Onboarded) -> dict[str, str]:
    """The merchant's real key in place of the generated one. A negative case may leave the header out on
    purpose (it counts that as the invalid part): it stays out then, or the request would be valid after
    all and schemathesis would report its 2xx as "invalid data accepted"."""
    return auth(merchant) if "Authorization" in (case.headers or {}) else {}


def fresh_idempotency_key(case: Case) -> None:
    """Keep a generated key valid or invalid as it was, but unique: the fuzzer draws the same short keys
    again and again, and a reused key answers 422 before the body is even looked at (replays and reuse
    have tests of their own)."""
    headers = case.headers or {}
    key = headers.get(IDEMPOTENCY_KEY_HEADER)
    if isinstance(key, str) and re.fullmatch(KEY_PATTERN, key) and len(key) <= 220:
        headers[IDEMPOTENCY_KEY_HEADER] = f"{uuid4()}-{key}"


def remember_card_number(case: Case, sent: set[str]) -> None:
    body = case.body
    if not isinstance(body, dict) or not isinstance(body.get("card_number"), str):
        return
    digits = re.sub(r"[ -]", "", body["card_number"])
    # A number the request also carries in a free-text field is not a leak when found there.
    others = json.dumps({name: value for name, value in body.items() if name != "card_number"})
    if re.fullmatch(r"[0-9]{12,19}", digits) and digits not in others:
        sent.add(digits)


def database_texts(engine: Engine) -> Iterator[str]:
    """Every text the database holds, JSON and stored response bodies decoded, free text left out."""
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)).mappings():
                for column, value in row.items():
                    if column not in FREE_TEXT:
                        yield from _texts(value)


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, bytes | memoryview):
        try:
            value = json.loads(bytes(value))
        except ValueError:
            yield bytes(value).decode("utf-8", "replace")
            return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in FREE_TEXT:
                yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def test_the_transactions_table_keeps_no_more_of_a_card_than_first_six_and_last_four() -> None:
    columns = {
        column.name for column in metadata.tables["transactions"].columns if column.name.startswith("card")
    }

    assert columns == {
        "card_brand",
        "card_first_six",
        "card_last_four",
        "card_holder_name",
        "card_expiration_month",
        "card_expiration_year",
        "card_fingerprint",
    }
    lengths = {
        column.name: getattr(column.type, "length", None)
        for column in metadata.tables["transactions"].columns
    }
    assert (lengths["card_first_six"], lengths["card_last_four"]) == (6, 4)
