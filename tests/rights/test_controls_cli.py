"""``credo rights`` against the configured (temporary SQLite) database: an operator at the
counter acting for a subject, every change ledgered under ``--actor``."""

from __future__ import annotations

import json

import pytest
import typer
from sqlalchemy import select

from cli_support import fails, furnished_refs, ok
from credo.audit.models import AuditEntry
from credo.db import get_engine, session_scope
from credo.rights.controls_cli import app
from credo.rights.models import FileFlag, OptOut, PersonalStatement
from furnishing.bureau import (
    LI_ID,
    ZHANG_NAME,
)

root = typer.Typer()
root.add_typer(app, name="rights")
THEFT_REPORT = "ab" * 32


@pytest.fixture
def refs(tmp_path) -> dict[str, str]:
    return furnished_refs(tmp_path)


def _ok(*args: str) -> str:
    return " ".join(ok(root, ["rights", *args]).output.split())


def _fails(*args: str, message: str) -> None:
    fails(root, ["rights", *args], message)


def _rows(model) -> list:
    with session_scope(get_engine()) as s:
        return list(s.scalars(select(model)))


def _actors(action: str) -> list[str]:
    with session_scope(get_engine()) as s:
        return list(s.scalars(select(AuditEntry.actor).where(AuditEntry.action == action)))


def test_statement_set_show_remove(refs):
    z = refs["zhang"]
    assert "statement of" in _ok("statement", z, "--text", "已全部结清。", "--actor", "ops:wang")
    assert "已全部结清。" in _ok("statement", z)
    assert _actors("statement.set") == ["ops:wang"]
    _fails("statement", z, "--text", "x" * 501, message="a statement has at most 500")
    _fails("statement", z, "--text", "a", "--remove", message="give --text or --remove")
    assert "removed the personal statement" in _ok("statement", z, "--remove")
    _fails("statement", z, "--remove", message="there is no personal statement")
    _fails("statement", z, message=f"subject {z} has no personal statement")
    assert len(_rows(PersonalStatement)) == 1


def test_freeze_and_lift(refs):
    z = refs["zhang"]
    assert "file frozen since" in _ok("freeze", z, "--actor", "ops:wang")
    assert "already frozen" in _ok("freeze", z)
    assert "lifted" in _ok("lift-freeze", z)
    _fails("lift-freeze", z, message="this file is not frozen")
    _fails("freeze", "SNOPE", message="subject 'SNOPE' does not exist")
    # an identifier number typed where the ref goes is not echoed
    _fails("freeze", "11010519491231002X", message="subject 1101**********002X does not exist")
    assert _actors("freeze.place") == ["ops:wang"] and len(_rows(FileFlag)) == 1


def test_fraud_alert(refs):
    z = refs["zhang"]
    assert "1-year fraud alert" in _ok("fraud-alert", z)
    out = _ok("fraud-alert", z, "--identity-theft-report-sha256", THEFT_REPORT)
    assert "extended (7-year) fraud alert" in out and "placed" in out
    _fails("fraud-alert", z, "--identity-theft-report-sha256", "nope",
           message="must be the hex SHA-256")  # fmt: skip
    assert "removed" in _ok("fraud-alert", z, "--remove")
    _fails("fraud-alert", z, "--remove", message="there is no fraud alert")


def test_opt_out_and_in(refs):
    z = refs["zhang"]
    assert "opted out of prescreen" in _ok("opt-out", z, "prescreen")
    assert "already opted out" in _ok("opt-out", z, "prescreen")
    _fails("opt-out", z, "email", message="unknown opt-out use; expected one of prescreen")
    assert "revoked" in _ok("opt-in", z, "prescreen")
    _fails("opt-in", z, "prescreen", message="not opted out of prescreen")
    assert len(_rows(OptOut)) == 1


def test_export_writes_the_file_and_one_ledger_entry(refs, tmp_path):
    out = tmp_path / "zhang.json"
    assert "credo-subject-export/1" in _ok("export", refs["zhang"], "--out", str(out),
                                           "--actor", "ops:counter-3")  # fmt: skip
    doc = json.loads(out.read_text())
    assert doc["subject"]["name"] == ZHANG_NAME and doc["subject"]["ref"] == refs["zhang"]
    assert out.stat().st_mode & 0o777 == 0o600  # decrypted personal data: the owner's only
    assert LI_ID not in out.read_text()
    assert _actors("subject.export") == ["ops:counter-3"]
    _fails("export", refs["zhang"], "--out", str(tmp_path / "no" / "dir" / "x.json"),
           message="cannot write")  # fmt: skip
    assert _actors("subject.export") == ["ops:counter-3"]
