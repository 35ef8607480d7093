"""`credo.dbraw`'s deferred writes and `credo.db`'s ping of idle pooled connections, on a real
PostgreSQL server: what a deferred write must keep of an ordinary one (its place, its
transaction, its errors) and how many round trips it saves, counted in libpq's protocol trace
(one ReadyForQuery per round trip)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from credo import db, dbraw
from credo.db import make_engine

pytestmark = pytest.mark.postgres

_META = MetaData()
PROBE = Table("dbraw_probe", _META, Column("id", Integer, primary_key=True), Column("note", String))
INSERT = dbraw.RawStatement(insert(PROBE).values(id=None, note=None))
READ = dbraw.RawStatement(select(PROBE.c.id, PROBE.c.note).order_by(PROBE.c.id))


@pytest.fixture
def pg(pg_database) -> Iterator:
    engine = make_engine(pg_database)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS dbraw_probe"))
        _META.create_all(conn)
    yield engine
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE dbraw_probe"))
    engine.dispose()


def _rows(engine) -> list[tuple]:
    with engine.connect() as conn:  # another transaction: sees committed rows only
        return [tuple(r) for r in conn.execute(select(PROBE).order_by(PROBE.c.id))]


class Trips:
    """Round trips on a psycopg connection while the block runs (libpq's trace)."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.file = Path(tempfile.mkstemp(suffix=".trace")[1])

    def __enter__(self) -> Trips:
        self._fh = self.file.open("w")
        self.conn.pgconn.trace(self._fh.fileno())
        self.conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        return self

    def __exit__(self, *exc) -> None:
        self.conn.pgconn.untrace()
        self._fh.close()
        self.text = self.file.read_text()
        self.file.unlink()
        self.count = self.text.count("ReadyForQuery")


def test_a_deferred_write_commits_with_the_commit_in_one_round_trip(pg):
    with Session(pg) as session:
        conn = dbraw.driver(session)
        READ.all(conn, {})  # the transaction is open
        with Trips(conn) as trips:
            dbraw.defer(conn, INSERT, {"id": 1, "note": "a"})
            dbraw.defer(conn, INSERT, [{"id": 2, "note": "b"}, {"id": 3, "note": "c"}])
            assert _rows(pg) == []  # nothing sent yet
            session.commit()
    assert trips.count == 1 and "COMMIT" in trips.text
    assert _rows(pg) == [(1, "a"), (2, "b"), (3, "c")]


def test_reads_after_a_deferred_write_see_it_in_the_same_round_trip(pg):
    with Session(pg) as session:
        conn = dbraw.driver(session)
        READ.all(conn, {})
        dbraw.defer(conn, INSERT, {"id": 1, "note": "a"})
        with Trips(conn) as trips:
            assert READ.all(conn, {}) == [(1, "a")]
        assert trips.count == 1
        dbraw.defer(conn, INSERT, {"id": 2, "note": "b"})
        [first, second] = dbraw.pipelined(conn, [(READ, {}), (READ, {})])
        assert first == second == [(1, "a"), (2, "b")]
        # a statement through SQLAlchemy comes after them too
        dbraw.defer(conn, INSERT, {"id": 3, "note": "c"})
        assert session.scalar(select(PROBE.c.note).where(PROBE.c.id == 3)) == "c"
        session.commit()
    assert [r[0] for r in _rows(pg)] == [1, 2, 3]


def test_a_rollback_drops_deferred_writes_and_the_next_transaction_does_not_send_them(pg):
    with Session(pg) as session:
        conn = dbraw.driver(session)
        dbraw.defer(conn, INSERT, {"id": 1, "note": "gone"})
        session.rollback()
        conn = dbraw.driver(session)  # the same pooled connection, a new transaction
        dbraw.defer(conn, INSERT, {"id": 2, "note": "kept"})
        session.commit()
    with Session(pg) as session:  # closed without commit
        dbraw.defer(dbraw.driver(session), INSERT, {"id": 3, "note": "gone"})
    with Session(pg) as session:
        session.execute(select(1))
        session.commit()
    assert _rows(pg) == [(2, "kept")]


def test_a_failing_deferred_write_fails_the_commit_as_sqlalchemy_would_and_keeps_nothing(pg):
    with Session(pg) as session:
        dbraw.defer(dbraw.driver(session), INSERT, {"id": 1, "note": "first"})
        session.commit()
    with Session(pg) as session:
        conn = dbraw.driver(session)
        dbraw.defer(conn, INSERT, {"id": 5, "note": "in the same transaction"})
        dbraw.defer(conn, INSERT, {"id": 1, "note": "duplicate key"})
        with pytest.raises(sa_exc.IntegrityError, match="dbraw_probe_pkey"):
            session.commit()
        session.rollback()
        # the session and its connection work on
        session.execute(insert(PROBE).values(id=6, note="after"))
        session.commit()
    assert _rows(pg) == [(1, "first"), (6, "after")]


def test_a_failing_deferred_write_fails_the_next_read(pg):
    with Session(pg) as session:
        conn = dbraw.driver(session)
        dbraw.defer(conn, INSERT, [{"id": 1, "note": "x"}, {"id": 1, "note": "x again"}])
        with pytest.raises(psycopg.errors.UniqueViolation):
            READ.all(conn, {})
        session.rollback()
    assert _rows(pg) == []


def test_a_savepoint_keeps_the_writes_deferred_before_it(pg):
    with Session(pg) as session:
        conn = dbraw.driver(session)
        dbraw.defer(conn, INSERT, {"id": 1, "note": "before the savepoint"})
        nested = session.begin_nested()
        conn = dbraw.driver(session)  # the session's savepoint begins when it is used
        dbraw.defer(conn, INSERT, {"id": 2, "note": "inside"})
        nested.rollback()
        session.commit()
    assert _rows(pg) == [(1, "before the savepoint")]


def test_flush_writes_at_once(pg):
    with Session(pg) as session:
        conn = dbraw.driver(session)
        dbraw.defer(conn, INSERT, {"id": 1, "note": "now"})
        dbraw.flush(conn)
        assert session.scalar(select(PROBE.c.note)) == "now"
        session.commit()
    assert _rows(pg) == [(1, "now")]


def test_an_engine_not_made_by_make_engine_is_refused(pg_database):
    engine = create_engine(pg_database.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with Session(engine) as session, pytest.raises(RuntimeError, match="make_engine"):
            dbraw.driver(session)
    finally:
        engine.dispose()


# -- the ping of idle pooled connections ------------------------------------------------------
def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar()


def test_a_connection_used_just_before_goes_out_without_a_ping(pg, monkeypatch):
    pings = []
    real = pg.dialect.do_ping
    monkeypatch.setattr(pg.dialect, "do_ping", lambda c: pings.append(c) or real(c))
    pid = _backend_pid(pg)
    for _ in range(5):
        assert _backend_pid(pg) == pid
    assert pings == []
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert _backend_pid(pg) == pid
    assert len(pings) == 1


def _terminate(engine, pid: int) -> None:
    admin = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            conn.commit()
    finally:
        admin.dispose()


def test_an_idle_connection_the_server_closed_is_replaced_at_checkout(pg, monkeypatch):
    dead = _backend_pid(pg)
    _terminate(pg, dead)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # it has been idle "long enough"
    assert _backend_pid(pg) != dead  # the ping found it dead; a new connection answered


def test_a_rollback_drops_deferred_writes_on_a_connection_kept_checked_out(pg):
    with pg.connect() as conn:
        raw = conn.connection.driver_connection
        conn.execute(select(1))
        dbraw.defer(raw, INSERT, {"id": 1, "note": "gone"})
        conn.rollback()  # no checkin in between: the rollback itself drops them
        conn.execute(insert(PROBE).values(id=2, note="kept"))
        conn.commit()
    assert _rows(pg) == [(2, "kept")]


def test_after_a_deferred_write_fails_the_commit_the_connection_works_on(pg):
    with pg.connect() as conn:
        raw = conn.connection.driver_connection
        conn.execute(insert(PROBE).values(id=1, note="first"))
        conn.commit()
        conn.execute(select(1))
        dbraw.defer(raw, INSERT, {"id": 1, "note": "duplicate key"})
        with pytest.raises(sa_exc.IntegrityError):
            conn.commit()
        conn.rollback()
        # the server's transaction was ended too, not left aborted
        assert conn.execute(select(PROBE.c.note)).scalars().all() == ["first"]
        conn.commit()


def test_a_connection_lost_under_a_session_fails_with_the_drivers_error_and_closes(pg):
    pid = _backend_pid(pg)
    _terminate(pg, pid)
    sessions = sessionmaker(bind=pg)
    with pytest.raises(sa_exc.OperationalError) as caught, db.transaction(sessions) as session:
        # SQLAlchemy's own statement finds the connection dead and invalidates it; the
        # rollback that follows must not fail in its turn (PendingRollbackError)
        session.execute(select(1))
    assert caught.value.connection_invalidated
    assert _backend_pid(pg) != pid


def test_driver_accepts_the_engines_connections_and_option_copies(pg):
    with pg.connect() as conn, Session(bind=conn) as session:
        assert dbraw.driver(session) is not None
    with Session(pg.execution_options(isolation_level="REPEATABLE READ")) as session:
        assert dbraw.driver(session) is not None
