"""``credo retention run`` against the committed SQLite bureau."""

from __future__ import annotations

import base64

import pytest
from typer.testing import CliRunner

from credo.cli import app
from furnishing.bureau import table_counts

runner = CliRunner()


@pytest.fixture
def cli_bureau(engine, bureau, session, monkeypatch):
    """The bureau committed and configured as the CLI's database, in either profile."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the CLI runs on the SQLite file")
    session.commit()
    monkeypatch.setenv("CREDO_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CREDO_SECRET_KEY", base64.b64encode(bytes(range(32))).decode())
    from credo.config import get_settings
    from credo.db import get_engine
    from credo.security import get_keyring

    for cached in (get_settings, get_engine, get_keyring):
        cached.cache_clear()
    return bureau


def test_dry_run_counts_and_changes_nothing(cli_bureau, session):
    before = table_counts(session)
    result = runner.invoke(app, ["retention", "run", "--dry-run", "--today", "2026-01-01"])
    assert result.exit_code == 0, result.output
    assert "would erase" in result.output and "dry run: nothing was changed" in result.output
    assert "delinquent_month" in result.output
    session.expire_all()
    assert table_counts(session) == before


@pytest.mark.parametrize(
    ("today", "message"), [("2030-13-01", "YYYY-MM-DD"), ("2999-01-01", "must not be after")]
)
def test_a_bad_day_is_refused_and_changes_nothing(cli_bureau, session, today, message):
    before = table_counts(session)
    result = runner.invoke(app, ["retention", "run", "--today", today])
    assert result.exit_code == 2 and "--today" in result.output and message in result.output
    session.expire_all()
    assert table_counts(session) == before


def test_a_run_erases_and_is_ledgered(cli_bureau, session):
    result = runner.invoke(app, ["retention", "run", "--today", "2026-01-01", "--actor", "ops:job"])
    assert result.exit_code == 0, result.output
    assert "erased" in result.output and "status_record" in result.output
    again = runner.invoke(app, ["retention", "run", "--today", "2026-01-01"])
    assert "erased 0" in " ".join(again.output.split())
    session.expire_all()
    assert table_counts(session)["audit_entry"] >= 2
