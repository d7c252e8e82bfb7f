"""Ids in URLs."""

from __future__ import annotations

from uuid import UUID

from psp.lib.errors import NotFound


def id_from_path(raw: str, kind: str) -> UUID:
    """A malformed id names no object, so it answers 404 like a missing or foreign one, never 400."""
    try:
        return UUID(raw)
    except ValueError:
        raise NotFound(f"No such {kind}", code="resource_missing", param="id") from None
