"""Core statements run straight on psycopg, for the API's hot queries on PostgreSQL.

A statement through the ORM session costs ~110 µs of client CPU, most of it SQLAlchemy's
generic machinery (execution context, result processing); the same statement on the psycopg
connection under the session costs ~45 µs, and several of them can share one round trip
(pipeline mode). `RawStatement` compiles a Core statement once, with SQLAlchemy's PostgreSQL
compiler (so the SQL is exactly what the session would send), and runs it prepared on the
session's own connection, inside the session's transaction.

What callers must know: rows come back as psycopg makes them, without SQLAlchemy's type
processing. A ``str_enum`` column is its value (a ``str``, not the enum member); a timestamp
with time zone is aware but in the connection's time zone (`utc` converts). Parameters go in
as psycopg adapts them: enum values as ``.value``, aware datetimes. Everything here is for
PostgreSQL only; on SQLite `driver` is None and callers take the session path, which tests run
on both backends and compare.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects.postgresql import psycopg as _psycopg_dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement

_DIALECT = _psycopg_dialect.dialect()
# an expanding IN (...) parameter, compiled before its values are known
_EXPANDING = re.compile(r"IN \(__\[POSTCOMPILE_(\w+)\]\)")


def driver(session: Session) -> Any | None:
    """The psycopg connection under `session`'s transaction on PostgreSQL (beginning the
    transaction if needed); None on any other database."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return session.connection().connection.driver_connection


class RawStatement:
    """A Core statement compiled once for psycopg; an expanding ``IN`` parameter becomes
    ``= ANY(%(name)s)`` and takes a list. Literal values bound in the statement keep their
    bound values (after SQLAlchemy's bind processing)."""

    __slots__ = ("defaults", "sql")

    def __init__(self, stmt: ClauseElement) -> None:
        compiled = stmt.compile(dialect=_DIALECT)
        self.sql = _EXPANDING.sub(r"= ANY(%(\1)s)", str(compiled))
        processors = compiled._bind_processors
        self.defaults = {}
        for name, value in compiled.params.items():
            if value is None:
                continue  # a parameter the caller gives
            proc = processors.get(name)
            self.defaults[name] = proc(value) if proc is not None else value

    def _params(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**self.defaults, **params} if self.defaults else params

    def all(self, conn: Any, params: dict[str, Any], *, row_factory: Any = None) -> list:
        """Every row, as tuples (or as `row_factory` makes them)."""
        cur = conn.cursor(row_factory=row_factory) if row_factory else conn.cursor()
        with cur:
            cur.execute(self.sql, self._params(params), prepare=True)
            return cur.fetchall()

    def run(self, conn: Any, params: dict[str, Any] | Sequence[dict[str, Any]]) -> None:
        """Execute a statement that returns no rows, once or for each set of parameters."""
        with conn.cursor() as cur:
            if isinstance(params, dict):
                cur.execute(self.sql, self._params(params), prepare=True)
            else:
                cur.executemany(self.sql, [self._params(p) for p in params])


def pipelined(conn: Any, work: Iterable[tuple]) -> list[list]:
    """Run several selects in one round trip (psycopg's pipeline mode); their rows, in order.
    Each piece of work is ``(statement, params)`` (rows as tuples) or ``(statement, params,
    row_factory)``."""
    cursors = []
    with conn.pipeline():
        for stmt, params, *factory in work:
            cur = conn.cursor(row_factory=factory[0]) if factory else conn.cursor()
            cur.execute(stmt.sql, stmt._params(params), prepare=True)
            cursors.append(cur)
    out = []
    for cur in cursors:
        with cur:
            out.append(cur.fetchall())
    return out


def utc(value: datetime | None) -> datetime | None:
    """An aware timestamp from psycopg in UTC, as SQLAlchemy's `UTCDateTime` gives it."""
    return None if value is None else value.astimezone(UTC)
