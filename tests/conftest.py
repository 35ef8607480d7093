"""Shared fixtures: a fresh migrated database per test on SQLite, and on PostgreSQL when
``CREDO_TEST_DATABASE_URL`` is set; a fixed test key ring; both jurisdiction profiles."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session

import credo.models  # noqa: F401
from credo.config import get_profile
from credo.db import Base, make_engine
from credo.migrate import upgrade
from credo.security.keys import KeyRing

PG_URL = os.environ.get("CREDO_TEST_DATABASE_URL")
TEST_SECRET = bytes(range(32))


def _pg_admin_url(url: str) -> str:
    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file migrated once per session; each test gets a copy."""
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database created and migrated for this test session, dropped after."""
    if not PG_URL:
        pytest.skip("CREDO_TEST_DATABASE_URL not set")
    name = f"credo_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(_pg_admin_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_all(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request, tmp_path) -> Iterator[Engine]:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        tpl = request.getfixturevalue("sqlite_template")
        path = tmp_path / "credo.db"
        shutil.copy(tpl, path)
        eng = make_engine(f"sqlite:///{path}")
        yield eng
        eng.dispose()
    else:
        url = request.getfixturevalue("pg_database")
        eng = make_engine(url)
        _truncate_all(eng)
        yield eng
        eng.dispose()


@pytest.fixture
def session(engine) -> Iterator[Session]:
    """A session on the test database; the test decides when to commit."""
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def keyring() -> KeyRing:
    return KeyRing.from_secrets(TEST_SECRET)


@pytest.fixture
def cn():
    return get_profile("cn")


@pytest.fixture
def us():
    return get_profile("us")


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch) -> Iterator[None]:
    """Every test runs with its own data directory and no inherited CREDO_* configuration."""
    for key in list(os.environ):
        if key.startswith("CREDO_") and key != "CREDO_TEST_DATABASE_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("CREDO_DATA_DIR", str(tmp_path / "data"))
    from credo.config import get_settings
    from credo.db import get_engine
    from credo.security import get_keyring

    for cached in (get_settings, get_engine, get_keyring):
        cached.cache_clear()
    yield
    for cached in (get_settings, get_engine, get_keyring):
        cached.cache_clear()
