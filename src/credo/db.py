"""Engine, sessions, declarative base and portable column types.

The transaction boundary is the command, request or job: `session_scope()` commits once at the
end or rolls back on error. Services only ``flush()``.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Engine,
    Enum,
    MetaData,
    any_,
    bindparam,
    create_engine,
    event,
    text,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from credo import dbraw
from credo.config import get_settings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: BIGINT on PostgreSQL, INTEGER on SQLite (where only INTEGER PRIMARY KEY autoincrements)
BigId = (
    BigInteger()
    .with_variant(sqlite.INTEGER(), "sqlite")
    .with_variant(postgresql.BIGINT(), "postgresql")
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which has no tz) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine for `url`, preparing the SQLite directory and pragmas."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, **kwargs)
    if "pool_pre_ping" not in kwargs:  # a caller's own choice stands
        _ping_when_idle(engine)
    return dbraw.install(engine)


#: a pooled PostgreSQL connection returned less than this long ago goes out without a ping
PING_AFTER_IDLE_SECONDS = 1.0
_RETURNED_AT = "credo.returned_at"


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection at checkout only when it sat unused for
    `PING_AFTER_IDLE_SECONDS` (HikariCP's rule, with its 0.5 s). SQLAlchemy's ``pool_pre_ping``
    pings at every checkout: one round trip more for every request of a busy server, on
    connections used milliseconds before. A failed ping invalidates every connection of the
    pool and a new one is made (the pool's own handling of `DisconnectionError`), so after a
    database restart only a request on a connection used within the last second can fail."""

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn, record) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn, record, _proxy) -> None:
        returned = record.info.get(_RETURNED_AT)  # None: connected just now
        if returned is None or time.monotonic() - returned < PING_AFTER_IDLE_SECONDS:
            return
        dialect = engine.dialect
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_conn, None):
                raise sa_exc.InvalidatePoolError(str(exc)) from exc
            raise


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine for the configured database."""
    return make_engine(get_settings().resolved_database_url)


def get_sessionmaker(engine: Engine | None = None) -> sessionmaker[Session]:
    """A session factory bound to `engine` (default: the configured one)."""
    return sessionmaker(bind=engine or get_engine(), expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    with transaction(get_sessionmaker(engine)) as session:
        yield session


@contextmanager
def pg_setting(session: Session, name: str, value: str) -> Iterator[None]:
    """PostgreSQL setting `name` at `value` for the statements of the block, in `session`'s
    transaction only; the transaction's own value is put back after it (``SET LOCAL ... TO
    DEFAULT`` would reset it instead). A block that fails aborts the transaction, and the
    setting with it. On any other database it changes nothing."""
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    before = session.execute(
        text(f"SELECT current_setting('{name}'), set_config('{name}', '{value}', true)")
    ).scalar()
    yield
    session.execute(text(f"SELECT set_config('{name}', :v, true)"), {"v": before})


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session from `sessions` for one transaction: committed when the block ends, rolled
    back on any error, closed either way."""
    session = sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def in_values(session: Session, column, values) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL as ``column = ANY(array)``, one parameter.

    The same rows either way. With hundreds of values, the array spares psycopg parsing a
    placeholder per value in every statement (a statement text that differs with each
    length is never cached), which cost more client CPU than the query itself.
    """
    if session.get_bind().dialect.name == "postgresql":
        array = bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
        return column == any_(array)
    return column.in_(values)


def str_enum(cls: type[enum.Enum], length: int = 32) -> Enum:
    """A Python enum stored as its value in a VARCHAR(`length`), checked on write, with no
    database enum type: adding a value needs no migration on either backend."""
    return Enum(cls, native_enum=False, length=length, validate_strings=True)
