"""Keyset pagination over ``(created_at DESC, id DESC)``, shared by every list query."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Select, Table, tuple_

from psp.domain.pagination import Listable, Page, PageRequest

T = TypeVar("T", bound=Listable)


def fetch_page(
    connection: Connection, query: Select[Any], table: Table, page: PageRequest, to_domain: Callable[[Any], T]
) -> Page[T]:
    """Newest first; one row more than asked tells whether there is a next page. Never OFFSET."""
    if page.starting_after is not None:
        query = query.where(
            tuple_(table.c.created_at, table.c.id)
            < tuple_(page.starting_after.created_at, page.starting_after.id)
        )
    query = query.order_by(table.c.created_at.desc(), table.c.id.desc()).limit(page.limit + 1)
    rows: Sequence[Any] = connection.execute(query).all()
    items = [to_domain(row._mapping) for row in rows[: page.limit]]
    return Page(items=items, has_more=len(rows) > page.limit)
