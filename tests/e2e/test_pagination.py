"""Lists: newest first, keyset pages that neither skip nor repeat rows, even while rows are added."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from flask.testing import FlaskClient

from psp.services.merchants import Onboarded
from tests.e2e.support import assert_error, assert_invalid, auth, create_transaction


def page(client: FlaskClient, merchant: Onboarded, query: str) -> dict[str, Any]:
    response = client.get(f"/v1/transactions{query}", headers=auth(merchant))
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def walk(client: FlaskClient, merchant: Onboarded, limit: int, between_pages: Any = None) -> list[list[str]]:
    """Every page's ids, following ``next_cursor`` until ``has_more`` is false."""
    pages: list[list[str]] = []
    query = f"?limit={limit}"
    while True:
        body = page(client, merchant, query)
        pages.append([item["id"] for item in body["data"]])
        if not body["has_more"]:
            assert body["next_cursor"] is None
            return pages
        if between_pages is not None:
            between_pages()
        query = f"?limit={limit}&starting_after={body['next_cursor']}"


def test_an_empty_list_has_the_list_shape(client: FlaskClient, merchant: Onboarded) -> None:
    assert page(client, merchant, "") == {
        "object": "list",
        "data": [],
        "has_more": False,
        "next_cursor": None,
    }


def test_pages_of_10_cover_25_transactions_newest_first_without_overlap_or_gap(
    client: FlaskClient, merchant: Onboarded
) -> None:
    created = [create_transaction(client, merchant, amount=100 + n)["id"] for n in range(25)]

    pages = walk(client, merchant, limit=10)

    assert [len(ids) for ids in pages] == [10, 10, 5]
    assert [item for ids in pages for item in ids] == list(reversed(created))


def test_the_default_page_holds_20(client: FlaskClient, merchant: Onboarded) -> None:
    for n in range(21):
        create_transaction(client, merchant, amount=100 + n)

    body = page(client, merchant, "")

    assert len(body["data"]) == 20
    assert body["has_more"] is True
    assert body["next_cursor"]


def test_rows_added_during_a_walk_neither_repeat_nor_hide_the_rows_that_existed(
    client: FlaskClient, merchant: Onboarded
) -> None:
    existing = [create_transaction(client, merchant, amount=100 + n)["id"] for n in range(25)]
    added: list[str] = []

    def add_two() -> None:
        added.extend(create_transaction(client, merchant, amount=900)["id"] for _ in range(2))

    walked = [item for ids in walk(client, merchant, limit=10, between_pages=add_two) for item in ids]

    assert len(walked) == len(set(walked))
    assert [item for item in walked if item in existing] == list(reversed(existing))
    assert added  # the walk really did run concurrently with inserts
    assert set(walked) - set(existing) <= set(added)


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "",
        "%%%",
        base64.urlsafe_b64encode(b"2026-01-01T00:00:00|not-a-uuid").decode(),
        base64.urlsafe_b64encode(b"2026-01-01T00:00:00|0190f2a4-0000-7000-8000-000000000000").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_an_invalid_cursor_answers_400_naming_starting_after(
    client: FlaskClient, merchant: Onboarded, cursor: str
) -> None:
    response = client.get(f"/v1/transactions?starting_after={cursor}", headers=auth(merchant))

    assert_error(response, 400, "invalid_request_error", "invalid_cursor", "starting_after")


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59.999999-14:00", "2026-01-01T00:00:00+00:00"]
)
def test_a_forged_cursor_with_an_extreme_date_reads_an_empty_or_valid_page(
    client: FlaskClient, merchant: Onboarded, moment: str
) -> None:
    create_transaction(client, merchant)
    token = base64.urlsafe_b64encode(f"{moment}|0190f2a4-0000-7000-8000-000000000000".encode()).decode()

    response = client.get(f"/v1/transactions?starting_after={token.rstrip('=')}", headers=auth(merchant))

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("?limit=0", "parameter_out_of_range"),
        ("?limit=101", "parameter_out_of_range"),
        ("?limit=-5", "parameter_out_of_range"),
        ("?limit=ten", "parameter_invalid_type"),
        ("?limit=1.5", "parameter_invalid_type"),
        ("?limit=", "parameter_invalid_type"),
        ("?limit=" + "9" * 5000, "parameter_invalid_type"),
    ],
)
def test_limit_must_be_from_1_to_100(client: FlaskClient, merchant: Onboarded, query: str, code: str) -> None:
    assert_invalid(client.get(f"/v1/transactions{query}", headers=auth(merchant)), code, "limit")


def test_limit_100_is_accepted(client: FlaskClient, merchant: Onboarded) -> None:
    assert page(client, merchant, "?limit=100")["data"] == []


@pytest.mark.parametrize("query", ["?status=paid", "?offset=10", "?page=2", "?limit=5&foo=bar"])
def test_an_unknown_query_parameter_answers_400(client: FlaskClient, merchant: Onboarded, query: str) -> None:
    response = client.get(f"/v1/transactions{query}", headers=auth(merchant))

    error = assert_invalid(response, "parameter_unknown", query.rsplit("&", 1)[-1].lstrip("?").split("=")[0])
    assert error["type"] == "invalid_request_error"
