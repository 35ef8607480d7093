"""``credo dispute`` against the configured (temporary SQLite) database."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
import typer
from sqlalchemy import select

from cli_support import fails, furnished_refs, ok
from credo.audit.models import AuditEntry
from credo.config import get_profile
from credo.db import get_engine, session_scope
from credo.rights import disputes as service
from credo.rights.dispute_cli import app
from credo.rights.models import Dispute, DisputeOutcome, DisputeStatus
from credo.security import get_keyring
from furnishing.bureau import BANK, ZHANG_ID, subject_of

root = typer.Typer()
root.add_typer(app, name="dispute")
T0 = datetime(2024, 7, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def ref(tmp_path, monkeypatch) -> str:
    """A dispute of 张三's May status filed on T0; the CLI's clock reads T0 + 30 days."""
    furnished_refs(tmp_path)
    with session_scope(get_engine()) as session:
        zhang = subject_of(session, get_keyring(), ZHANG_ID)
        d = service.file(
            session, keyring=get_keyring(), subject_id=zhang.id,
            name=service.RecordName("status", institution=BANK, account_ref="CC-1",
                                    period="2024-05"),
            reason="paid on time", profile=get_profile("cn"), actor="subject:x", now=T0,
        )  # fmt: skip
        ref = d.ref
    monkeypatch.setattr("credo.rights.dispute_cli.utcnow", lambda: datetime(2024, 8, 1, tzinfo=UTC))
    return ref


def _ok(args: list[str]) -> str:
    return ok(root, args).output


def _fails(args: list[str], message: str) -> None:
    fails(root, args, message)


def _dispute(ref: str) -> Dispute:
    with session_scope() as session:
        return session.scalar(select(Dispute).where(Dispute.ref == ref))


def test_queue_overdue_escalate_show(ref):
    out = _ok(["dispute", "queue"])
    assert ref in out and "BANK_A" in out
    [item] = orjson.loads(_ok(["dispute", "overdue", "--json"]))
    assert (item["ref"], item["overdue"], item["due_on"]) == (ref, True, "2024-07-22")
    assert orjson.loads(_ok(["dispute", "escalate", "--json", "--actor", "ops:amy"])) == {
        "escalated": [ref]
    }
    assert "no dispute to escalate" in _ok(["dispute", "escalate"])
    shown = orjson.loads(_ok(["dispute", "show", ref.lower(), "--json", "--actor", "ops:amy"]))
    assert shown["reason"] == "paid on time"
    assert [e["kind"] for e in shown["history"]] == ["filed", "escalated"]
    assert shown["record_now"]["balance"] == "1500.00"
    with session_scope() as session:
        reads = session.scalars(select(AuditEntry).where(AuditEntry.action == "dispute.read"))
        assert [(e.actor, e.target) for e in reads] == [("ops:amy", ref)]
    assert "paid on time" in _ok(["dispute", "show", ref])
    assert orjson.loads(_ok(["dispute", "queue", "--status", "closed", "--json"])) == []


def test_answer_and_decide(ref):
    _fails(["dispute", "answer", ref, "--answer", "confirm"], "--institution is required")
    _fails(["dispute", "answer", ref, "--answer", "confirm", "--institution", "BANK_B"],
           f"dispute {ref} is not answered by BANK_B")  # fmt: skip
    _fails(["dispute", "answer", ref, "--answer", "correct", "--institution", BANK,
            "--correction", "{oops"], "--correction is not valid JSON")  # fmt: skip
    _fails(["dispute", "answer", ref, "--answer", "correct", "--institution", BANK,
            "--correction", '{"colour": 1}'], "colour")  # fmt: skip
    assert _dispute(ref).status is DisputeStatus.open
    _ok(["dispute", "answer", ref, "--answer", "correct", "--institution", BANK,
         "--correction", '{"days_past_due": 0}', "--note", "by letter"])  # fmt: skip
    _fails(["dispute", "decide", ref, "--outcome", "forgiven"], "outcome must be one of")
    _fails(["dispute", "decide", ref, "--outcome", "unresolved"], "note is required")
    out = _ok(["dispute", "decide", ref, "--outcome", "unresolved", "--note", "no agreement"])
    assert f"closed dispute {ref}: unresolved" in out
    d = _dispute(ref)
    assert (d.outcome, d.decision_note) == (DisputeOutcome.unresolved, "no agreement")
    _fails(["dispute", "decide", ref, "--outcome", "confirmed"], "was closed on")
    _fails(["dispute", "show", "D000000000000"], "no dispute D000000000000")
    _fails(["dispute", "queue", "--status", "lost"], "--status must be one of")


def test_show_prints_notes_and_reasons_as_written(ref):
    """A furnisher's note or a subject's reason in square brackets is text, not Rich markup: it
    is printed as written, and neither crashes the operator's `dispute show`."""
    with session_scope(get_engine()) as session:
        d = session.scalar(select(Dispute).where(Dispute.ref == ref))
        service.answer(
            session, dispute=d, answer="confirm", note="see [/bold] our file [red]x",
            evidence_sha256=None, correction=None, actor="furnisher:BANK_A", now=T0,
        )  # fmt: skip
    out = _ok(["dispute", "show", ref])
    assert "[/bold]" in out and "[red]x" in out  # the note's column wraps
    assert "reason: paid on time" in out and "[bold]" not in out
