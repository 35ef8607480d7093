"""``credo audit`` commands against the configured (temporary SQLite) database."""

from __future__ import annotations

import json

import pytest
import typer
from sqlalchemy import text
from typer.testing import CliRunner

from credo.audit import service
from credo.audit.cli import app
from credo.db import get_engine, session_scope
from credo.migrate import ensure_schema
from credo.security import get_keyring

runner = CliRunner()
root = typer.Typer()
root.add_typer(app, name="audit")


@pytest.fixture
def engine():
    """The configured engine with a few ledger entries, the first three checkpointed."""
    eng = get_engine()
    ensure_schema(eng)
    with session_scope(eng) as session:
        for i in range(1, 5):
            action = "subject.read" if i % 2 else "account.update"
            service.append(session, actor="ops", action=action, target=f"subject:{i}")
            if i == 3:
                service.checkpoint(session, get_keyring())
    return eng


def test_verify_passes_on_a_clean_ledger(engine):
    result = runner.invoke(root, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "ledger intact" in result.output
    assert "entries:     4" in result.output and "checkpoints: 1" in result.output


def test_verify_json_reports_head_and_checkpoint(engine):
    result = runner.invoke(app, ["verify", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] is True
    assert (report["entries"], report["head_seq"], report["last_checkpoint_seq"]) == (4, 4, 3)
    assert len(report["head_hash"]) == 64 and len(report["last_checkpoint_root"]) == 64


def test_verify_fails_and_names_the_tampered_entry(engine):
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_entry SET actor='mallory' WHERE seq=2"))
    result = runner.invoke(root, ["audit", "verify"])
    assert result.exit_code == 1
    assert "entry 2: stored hash does not match its contents (edited)" in result.output


def test_verify_json_fails_with_first_bad_seq(engine):
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entry WHERE seq=3"))
    result = runner.invoke(app, ["verify", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert (report["ok"], report["first_bad_seq"]) == (False, 3)
    assert "missing (deleted)" in report["problem"]


def test_verify_on_an_empty_database_passes():
    result = runner.invoke(app, ["verify"])
    assert result.exit_code == 0, result.output
    assert "entries:     0" in result.output


def test_log_lists_recent_entries_and_filters_by_action(engine):
    result = runner.invoke(app, ["log", "--json", "--action", "subject.read"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["seq"] for r in rows] == [1, 3]
    assert rows[0]["target"] == "subject:1" and rows[0]["details"] == {}
    table = runner.invoke(app, ["log", "--limit", "2"])
    assert table.exit_code == 0 and "account.update" in table.output


def test_checkpoint_covers_new_entries_then_has_nothing_to_do(engine):
    first = runner.invoke(root, ["audit", "checkpoint"])
    assert first.exit_code == 0, first.output
    assert "entries 4–4" in first.output
    again = runner.invoke(root, ["audit", "checkpoint"])
    assert "nothing new to checkpoint" in again.output
    assert json.loads(runner.invoke(app, ["verify", "--json"]).output)["checkpoints"] == 2


def _unsealed(engine, n: int) -> None:
    from sqlalchemy.orm import Session

    with Session(engine, info={service.UNSEALED: True}) as s:
        for i in range(n):
            service.record(s, actor="api:BANK/K1", action="report.serve", target=f"subject:{i}")
        s.commit()


def test_seal_chains_what_the_api_wrote_unsealed(engine):
    _unsealed(engine, 3)
    log = json.loads(runner.invoke(app, ["log", "--json"]).output)
    assert [r["seq"] for r in log] == [1, 2, 3, 4, None, None, None]
    result = runner.invoke(root, ["audit", "seal"])
    assert result.exit_code == 0 and "sealed 3 entries" in result.output
    assert "nothing to seal" in runner.invoke(root, ["audit", "seal"]).output
    report = json.loads(runner.invoke(app, ["verify", "--json"]).output)
    assert (report["ok"], report["entries"], report["head_seq"], report["unsealed"]) == (
        True, 7, 7, 0,
    )  # fmt: skip


def test_verify_seals_pending_entries_first_then_checks_them(engine):
    _unsealed(engine, 2)
    report = json.loads(runner.invoke(app, ["verify", "--json"]).output)
    assert (report["ok"], report["entries"], report["unsealed"]) == (True, 6, 0)
    with engine.begin() as conn:  # now sealed, so an edit is caught
        conn.execute(text("UPDATE audit_entry SET target='subject:x' WHERE seq=6"))
    result = runner.invoke(root, ["audit", "verify"])
    assert result.exit_code == 1
    assert "entry 6: stored hash does not match its contents (edited)" in result.output
