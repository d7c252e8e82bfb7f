"""``psp_uuid_v7(at)``: ids made by SQL have the layout of ``psp.domain.ids.new_id``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import Engine, text

from psp.domain.ids import new_id

AT = datetime(2026, 11, 21, 4, 20, 30, 123456, tzinfo=UTC)


def ids_made_in_sql(engine: Engine, at: datetime, count: int) -> list[UUID]:
    with engine.connect() as connection:
        query = text("SELECT psp_uuid_v7(:at) FROM generate_series(1, :count)")
        return list(connection.execute(query, {"at": at, "count": count}).scalars())


def millis_of(identifier: UUID) -> int:
    return identifier.int >> 80


def test_ids_made_in_sql_are_version_7_with_the_rfc_9562_variant(engine: Engine) -> None:
    for identifier in ids_made_in_sql(engine, AT, 1000):
        assert identifier.version == 7
        assert identifier.variant == "specified in RFC 4122"


def test_their_first_48_bits_are_the_unix_milliseconds_of_the_time_given(engine: Engine) -> None:
    (identifier,) = ids_made_in_sql(engine, AT, 1)
    assert millis_of(identifier) == int(AT.timestamp() * 1000)


def test_74_random_bits_keep_a_million_ids_of_one_millisecond_distinct(engine: Engine) -> None:
    identifiers = ids_made_in_sql(engine, AT, 1_000_000)
    assert len(set(identifiers)) == len(identifiers)
    rand_b = {identifier.int & ((1 << 62) - 1) for identifier in identifiers[:1000]}
    assert len(rand_b) == 1000


def test_they_sort_with_ids_made_in_python_by_time(engine: Engine) -> None:
    (earlier,) = ids_made_in_sql(engine, datetime.now(UTC) - timedelta(milliseconds=5), 1)
    made_in_python = new_id()
    (later,) = ids_made_in_sql(engine, datetime.now(UTC) + timedelta(milliseconds=5), 1)
    assert earlier < made_in_python < later
