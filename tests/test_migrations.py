"""Alembic migrations: upgrade to head matches the models, downgrade leaves nothing, and again."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, make_url, text

import credo.models  # noqa: F401  (every table registered on Base.metadata)
from credo.account.integrity import PG_SET_CHECKED_FOREIGN_KEYS
from credo.db import Base, make_engine
from credo.migrate import current_revision, downgrade, ensure_schema, head_revision, upgrade

PG_URL = os.environ.get("CREDO_TEST_DATABASE_URL")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_engine(request, tmp_path) -> Iterator[Engine]:
    """A brand-new, empty database on each backend."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
        yield eng
        eng.dispose()
        return
    if not PG_URL:
        pytest.skip("CREDO_TEST_DATABASE_URL not set")
    name = f"credo_mig_{uuid.uuid4().hex[:10]}"
    admin_url = make_url(PG_URL).set(database="postgres").render_as_string(hide_password=False)
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    eng = make_engine(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _diff(engine: Engine) -> list:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        diffs = compare_metadata(ctx, Base.metadata)
    # on PostgreSQL these references are checked per chunk and per statement instead (0007)
    return [
        d
        for d in diffs
        if not (
            engine.dialect.name == "postgresql"
            and d[0] == "add_fk"
            and d[1].name in PG_SET_CHECKED_FOREIGN_KEYS
        )
    ]


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_upgrade_matches_models_and_downgrade_is_clean(empty_engine):
    assert current_revision(empty_engine) is None
    upgrade(empty_engine)
    assert current_revision(empty_engine) == head_revision(empty_engine)
    assert _tables(empty_engine) == {t.name for t in Base.metadata.sorted_tables} | {
        "alembic_version"
    }
    assert _diff(empty_engine) == []

    downgrade(empty_engine, "base")
    assert _tables(empty_engine) == {"alembic_version"}
    assert current_revision(empty_engine) is None

    upgrade(empty_engine)
    assert _diff(empty_engine) == []
    assert current_revision(empty_engine) == head_revision(empty_engine)


def test_partial_unique_indexes_exist_after_upgrade(empty_engine):
    upgrade(empty_engine)
    names = {
        ix["name"]: ix
        for table in ("status_record", "account_version", "subject_info", "public_record")
        for ix in inspect(empty_engine).get_indexes(table)
    }
    for name in (
        "uq_status_record_current",
        "uq_account_version_current",
        "uq_subject_info_current",
        "uq_public_record_current",
    ):
        assert names[name]["unique"], name


def test_ensure_schema_is_idempotent(empty_engine):
    ensure_schema(empty_engine)
    ensure_schema(empty_engine)
    assert current_revision(empty_engine) == head_revision(empty_engine)


def test_migrated_test_database_matches_models(engine):
    assert _diff(engine) == []


def test_subject_access_migration_up_and_down(empty_engine):
    upgrade(empty_engine, "0003")
    assert "subject_access" not in _tables(empty_engine)
    upgrade(empty_engine, "0004")
    assert "subject_access" in _tables(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO institution (code, name, kind, created_at) "
                "VALUES ('CREDO', 'Credo', 'bureau', CURRENT_TIMESTAMP)"
            )
        )
    # down: the table goes, the values 0003 does not know are mapped to ones it does
    downgrade(empty_engine, "0003")
    assert "subject_access" not in _tables(empty_engine) and "api_key" in _tables(empty_engine)
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT kind FROM institution")).scalar_one() == "public_source"
    upgrade(empty_engine)
    assert _diff(empty_engine) == []


def test_0008_fixes_the_statuses_per_account_for_the_planner(empty_engine):
    """0008, on PostgreSQL: a fixed n_distinct ratio for status_record.account_id (ANALYZE
    underestimates that clustered column); down removes it. SQLite: nothing to do."""
    pg = empty_engine.dialect.name == "postgresql"
    options = text(
        "SELECT attoptions FROM pg_attribute "
        "WHERE attrelid = 'status_record'::regclass AND attname = 'account_id'"
    )

    def ratio() -> bool:
        with empty_engine.connect() as conn:
            return "n_distinct=-0.02" in (conn.execute(options).scalar() or [])

    upgrade(empty_engine, "0007")
    assert not pg or not ratio()
    upgrade(empty_engine, "0008")
    assert not pg or ratio()
    downgrade(empty_engine, "0007")
    assert not pg or not ratio()
    upgrade(empty_engine)
    assert _diff(empty_engine) == []
