"""Keyset pagination: newest first by ``(created_at, id)``; cursors are opaque to clients."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar
from uuid import UUID

from psp.lib.errors import ValidationFailed

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass(frozen=True, order=True)
class Cursor:
    created_at: datetime
    id: UUID

    def encode(self) -> str:
        raw = f"{self.created_at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, param: str = "starting_after") -> Cursor:
        try:
            padded = token + "=" * (-len(token) % 4)
            created_at, _, identifier = base64.urlsafe_b64decode(padded.encode()).decode().partition("|")
            cursor = cls(created_at=datetime.fromisoformat(created_at), id=UUID(identifier))
        except (ValueError, binascii.Error, UnicodeError):
            raise ValidationFailed(
                f"{param} is not a cursor returned by this API", code="invalid_cursor", param=param
            ) from None
        if cursor.created_at.tzinfo is None:
            raise ValidationFailed(
                f"{param} is not a cursor returned by this API", code="invalid_cursor", param=param
            )
        return cursor


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    starting_after: Cursor | None = None


class Listable(Protocol):
    @property
    def id(self) -> UUID: ...

    @property
    def created_at(self) -> datetime: ...


T = TypeVar("T", bound=Listable)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_more: bool

    @property
    def next_cursor(self) -> Cursor | None:
        if not self.has_more or not self.items:
            return None
        last = self.items[-1]
        return Cursor(created_at=last.created_at, id=last.id)
