"""Appended rows written together: a unit of work's new rows go to PostgreSQL in one statement.

Approving a card writes three rows (the transaction, its outbox event, its public event). Sent as three
Core statements they cost three round trips and three passes through SQLAlchemy's execution machinery,
about a third of the API's CPU per request (``python -m benchmarks profile-ingest``). Held here instead,
they go out as one multi-table ``INSERT`` (a data-modifying CTE per table), with the driver's own
parameters, when the unit of work commits — or earlier, just before any other statement on its
connection, so every statement sees the rows added before it, in the order the calls were made.

Only append-only rows are held (nothing in the unit of work updates them before they are written), in
tables whose foreign keys point at rows already written (merchants), so the order of the CTEs does not
matter. A constraint a held row breaks fails that statement, inside the same database transaction.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, Final

from psycopg.types.json import Json, Jsonb
from sqlalchemy import JSON, Connection, Engine, Table, event
from sqlalchemy.dialects.postgresql import JSONB

PENDING_OPTION: Final = "psp_pending_appends"
_INSTRUMENTED: weakref.WeakSet[Engine] = weakref.WeakSet()


class PendingAppends:
    """The rows a unit of work appended and has not written yet."""

    def __init__(self) -> None:
        self._rows: list[tuple[Table, Mapping[str, object]]] = []

    def add(self, table: Table, row: Mapping[str, object]) -> None:
        self._rows.append((table, row))

    def discard(self) -> None:
        self._rows = []

    def __bool__(self) -> bool:
        return bool(self._rows)

    def write(self, connection: Connection) -> None:
        """Write every held row in one statement (nothing when none is held)."""
        if not self._rows:
            return
        rows, self._rows = self._rows, []  # taken first: the statement below passes the hook again
        statement, parameters = combined_insert(rows)
        connection.exec_driver_sql(statement, parameters)


def hold_appends_until_needed(engine: Engine) -> None:
    """Make every statement on ``engine`` write its connection's held rows first (installed once)."""
    if engine in _INSTRUMENTED:
        return
    event.listen(engine, "before_execute", _write_held_rows_first)
    _INSTRUMENTED.add(engine)


def _write_held_rows_first(
    connection: Connection, _clause: Any, _multiparams: Any, _params: Any, execution_options: Any
) -> None:
    pending: PendingAppends | None = execution_options.get(PENDING_OPTION)
    if pending is not None:
        pending.write(connection)


def combined_insert(rows: Sequence[tuple[Table, Mapping[str, object]]]) -> tuple[str, dict[str, object]]:
    """One statement inserting ``rows`` (grouped by table, each table's rows with the same columns)."""
    by_table: dict[Table, list[Mapping[str, object]]] = {}
    for table, row in rows:
        by_table.setdefault(table, []).append(row)
    shape = tuple((table, tuple(table_rows[0]), len(table_rows)) for table, table_rows in by_table.items())
    parameters: dict[str, object] = {}
    for table, table_rows in by_table.items():
        wrap = _json_wrappers(table)
        for row in table_rows:
            for column, value in row.items():
                adapter = wrap.get(column)
                parameters[f"p{len(parameters)}"] = (
                    value if adapter is None or value is None else adapter(value)
                )
    return _statement_for(shape), parameters


@lru_cache(maxsize=64)
def _statement_for(shape: tuple[tuple[Table, tuple[str, ...], int], ...]) -> str:
    inserts = []
    position = 0
    for table, columns, count in shape:
        values = []
        for _ in range(count):
            values.append("(" + ", ".join(f"%(p{position + i})s" for i in range(len(columns))) + ")")
            position += len(columns)
        # Constant SQL: table and column names come from our Table objects, values are parameters.
        insert = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES {', '.join(values)}"  # noqa: S608  # nosec B608
        inserts.append(insert)
    *first, last = inserts
    if not first:
        return last
    ctes = ", ".join(f"w{index} AS ({insert})" for index, insert in enumerate(first))
    return f"WITH {ctes} {last}"


@lru_cache(maxsize=16)
def _json_wrappers(table: Table) -> dict[str, type[Json] | type[Jsonb]]:
    """JSON columns get psycopg's wrappers (``json.dumps``, as SQLAlchemy's JSON types send them)."""
    wrappers: dict[str, type[Json] | type[Jsonb]] = {}
    for column in table.columns:
        if isinstance(column.type, JSONB):
            wrappers[column.name] = Jsonb
        elif isinstance(column.type, JSON):
            wrappers[column.name] = Json
    return wrappers
