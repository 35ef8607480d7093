"""`audit.record`: entries deferred to the commit, in call order, gone with a rollback."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from credo.audit import service as audit
from credo.audit.models import AuditEntry


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry))


def test_recorded_entries_are_written_at_commit_in_call_order_after_direct_ones(engine, keyring):
    with Session(engine) as s:
        audit.record(s, actor="t", action="a.first", target="x:1")
        audit.append(s, actor="t", action="a.direct", target="x:2")
        audit.record(s, actor="t", action="a.second", target="x:3")
        assert [e.action for e in s.scalars(select(AuditEntry))] == ["a.direct"]
        s.commit()
    with Session(engine) as s:
        actions = list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))
        assert actions == ["a.direct", "a.first", "a.second"]
        assert audit.verify(s, keyring).ok


@pytest.mark.parametrize("end", ["rollback", "close"])
def test_a_transaction_that_does_not_commit_takes_its_recorded_entries_with_it(engine, end):
    s = Session(engine)
    audit.record(s, actor="t", action="a.lost", target="x:1")
    getattr(s, end)()
    # the same session, reused: the lost entry must not ride along with the next commit
    audit.record(s, actor="t", action="a.kept", target="x:2")
    s.commit()
    s.close()
    with Session(engine) as s2:
        assert list(s2.scalars(select(AuditEntry.action))) == ["a.kept"]


def test_a_savepoint_ending_keeps_the_outer_transactions_entries(engine):
    with Session(engine) as s:
        audit.record(s, actor="t", action="a.outer", target="x:1")
        with s.begin_nested():
            audit.record(s, actor="t", action="a.inner", target="x:2")
        s.commit()
        assert list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.seq))) == [
            "a.outer", "a.inner",
        ]  # fmt: skip


def test_raw_identifiers_are_refused_when_recorded_not_at_commit(engine):
    with Session(engine) as s:
        with pytest.raises(ValueError, match="raw PRC resident id"):
            audit.record(s, actor="t", action="a", target="x", details={"id": "11010519491231002X"})
        s.commit()
        assert _count(s) == 0
