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

Round trips cost more than statements here (each one wakes the server and this thread), so
writes that return nothing can be *deferred* (`defer`): they go out with the transaction's next
statement, or with its COMMIT, in one pipeline. A score query then costs four round trips (the
BEGIN; the consent; the other reads with the inquiry written before them; the score and the
ledger entries with the COMMIT) where it cost nine. A deferred write is part of its
transaction like any other: committed with it, dropped by its rollback, seen by every read
after it (the listeners `install` puts on the engine send it before any statement SQLAlchemy
runs), and its error, if any, fails that next statement or the commit (and is reported with
that statement's SQL).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary, WeakSet

from sqlalchemy import Engine, event
from sqlalchemy.dialects.postgresql import psycopg as _psycopg_dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement

log = logging.getLogger(__name__)

_DIALECT = _psycopg_dialect.dialect()
# an expanding IN (...) parameter, compiled before its values are known
_EXPANDING = re.compile(r"IN \(__\[POSTCOMPILE_(\w+)\]\)")


#: dialects of the engines whose connections may hold deferred writes (`install`); the dialect,
#: because an engine's connections and its `execution_options` copies share it
_DIALECTS: WeakSet[Any] = WeakSet()
#: per psycopg connection, the writes its open transaction deferred, in order
_DEFERRED: WeakKeyDictionary[Any, list[tuple[RawStatement, Any]]] = WeakKeyDictionary()


def driver(session: Session) -> Any | None:
    """The psycopg connection under `session`'s transaction on PostgreSQL (beginning the
    transaction if needed); None on any other database."""
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        return None
    if dialect not in _DIALECTS:
        raise RuntimeError("a PostgreSQL engine not made by credo.db.make_engine (see install)")
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
        """Every row, as tuples (or as `row_factory` makes them); the writes deferred before
        it go in the same round trip."""
        return pipelined(conn, [(self, params, row_factory)])[0]

    def _send(self, cur: Any, params: dict[str, Any] | Sequence[dict[str, Any]]) -> None:
        if isinstance(params, dict):
            cur.execute(self.sql, self._params(params), prepare=True)
        else:
            cur.executemany(self.sql, [self._params(p) for p in params])


def defer(conn: Any, stmt: RawStatement, params: dict[str, Any] | Sequence[dict[str, Any]]) -> None:
    """Write `stmt` (no rows back; once, or once per set of parameters) in the transaction
    open on psycopg connection `conn` (from `driver`), with the transaction's next statement
    or its COMMIT, whichever comes first, in the same round trip. See the module's text."""
    _DEFERRED.setdefault(conn, []).append((stmt, params))


def flush(conn: Any, *, commit: bool = False) -> None:
    """Send the writes deferred on `conn` now, in one round trip; with `commit`, the COMMIT
    too (when there were writes to send)."""
    writes = _DEFERRED.pop(conn, None)
    if writes:
        with conn.cursor() as cur, conn.pipeline():
            _send_writes(cur, writes)
            if commit:
                # a statement, not `conn.commit()`, which syncs once more than the pipeline's
                # own end does: one round trip, not two
                cur.execute(b"COMMIT", prepare=False)


def _send_writes(cur: Any, writes: list[tuple[RawStatement, Any]]) -> None:
    for stmt, params in writes:
        stmt._send(cur, params)


def install(engine: Engine) -> Engine:
    """Let `engine`'s connections defer writes: send them before any other statement and with
    the COMMIT, drop them on a rollback. `credo.db.make_engine` calls it for PostgreSQL."""
    if engine.dialect not in _DIALECTS:
        event.listen(engine, "before_cursor_execute", _before_statement)
        event.listen(engine, "commit", _with_commit)
        event.listen(engine, "rollback", _on_rollback)
        event.listen(engine, "checkin", _on_checkin)
        _DIALECTS.add(engine.dialect)
    return engine


def _before_statement(conn, *_args) -> None:
    # a statement SQLAlchemy runs comes after the writes deferred before it (SAVEPOINT and
    # ROLLBACK TO SAVEPOINT too: a savepoint keeps what was deferred before it)
    if _DEFERRED and (pg := conn.connection.driver_connection) is not None:
        flush(pg)


def _with_commit(conn) -> None:
    # the deferred writes and the COMMIT in one round trip; SQLAlchemy's own commit that
    # follows finds the transaction ended and sends nothing
    pg = conn.connection.driver_connection
    try:
        flush(pg, commit=True)
    except Exception as exc:
        # A failed write skipped the COMMIT and left the server's transaction aborted;
        # SQLAlchemy counts the transaction as ended once its commit raised and would send no
        # ROLLBACK, so end it here (a lost connection cannot, and needs none).
        with contextlib.suppress(Exception):
            pg.rollback()
        # then fail as SQLAlchemy's own commit would: wrapped (IntegrityError, ...), and a
        # lost connection invalidated
        conn._handle_dbapi_exception(exc, "COMMIT", None, None, None)


def _on_rollback(conn) -> None:
    # never sent, so there is nothing to undo: they end with their transaction. An invalidated
    # connection (lost) has no psycopg connection left to ask for, and its writes went with it
    # (`conn.connection` would raise there, failing the rollback itself).
    if conn.invalidated:
        return
    pg = conn.connection.driver_connection
    if pg is not None:
        _DEFERRED.pop(pg, None)


def _on_checkin(dbapi_connection, _record) -> None:
    # only a transaction ended behind SQLAlchemy's back gets here with writes left; the pool's
    # reset rolls that transaction back, and the writes, unsent, go with it. (None: the
    # connection was invalidated and closed; its writes went with the WeakKeyDictionary entry)
    if dbapi_connection is not None and _DEFERRED.pop(dbapi_connection, None):
        log.error("a connection went back to the pool with deferred writes; rolled back")


def pipelined(conn: Any, work: Iterable[tuple]) -> list[list]:
    """Run several selects in one round trip (psycopg's pipeline mode), after the writes
    deferred on `conn`; their rows, in order. Each piece of work is ``(statement, params)``
    (rows as tuples) or ``(statement, params, row_factory)`` (None: tuples)."""
    writes = _DEFERRED.pop(conn, None)
    work = list(work)
    if not writes and len(work) == 1:
        # one read and nothing before it: a pipeline saves no round trip (the BEGIN that opens
        # a transaction is a round trip of its own either way: psycopg syncs after it)
        stmt, params, *factory = work[0]
        with _cursor(conn, factory) as cur:
            cur.execute(stmt.sql, stmt._params(params), prepare=True)
            return [cur.fetchall()]
    with contextlib.ExitStack() as cursors:  # closed once the pipeline has synced
        reads = []
        with conn.pipeline():
            if writes:
                _send_writes(cursors.enter_context(conn.cursor()), writes)
            for stmt, params, *factory in work:
                cur = cursors.enter_context(_cursor(conn, factory))
                cur.execute(stmt.sql, stmt._params(params), prepare=True)
                reads.append(cur)
        return [cur.fetchall() for cur in reads]


def _cursor(conn: Any, factory: list) -> Any:
    return conn.cursor(row_factory=factory[0]) if factory and factory[0] else conn.cursor()


def utc(value: datetime | None) -> datetime | None:
    """An aware timestamp from psycopg in UTC, as SQLAlchemy's `UTCDateTime` gives it."""
    return None if value is None else value.astimezone(UTC)
