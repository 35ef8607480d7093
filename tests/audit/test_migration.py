"""Migration 0006 (unsealed entries) on a ledger that already has entries, both ways."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from credo.audit import service
from credo.audit.chain import GENESIS, canonical_json, entry_hash
from credo.migrate import current_revision, downgrade, upgrade


def _old_entries(engine, n: int) -> list[tuple]:
    """Entries as revision 0005 stored them (seq the primary key), written with plain SQL."""
    prev, rows = GENESIS, []
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    for seq in range(1, n + 1):
        details = canonical_json({"i": seq})
        h = entry_hash(seq=seq, at=at, actor="ops", action="x", target=f"t:{seq}",
                       details=details, prev_hash=prev)  # fmt: skip
        stored_at = at if engine.dialect.name == "postgresql" else at.replace(tzinfo=None)
        rows.append({"seq": seq, "at": stored_at, "details": details, "prev": prev, "h": h})
        prev = h
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO audit_entry (seq, at, actor, action, target, details, prev_hash, "
                 "hash) VALUES (:seq, :at, 'ops', 'x', 't:' || :seq, :details, :prev, :h)"),
            rows,
        )  # fmt: skip
    return [(r["seq"], r["h"]) for r in rows]


def _stored(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(r) for r in conn.execute(text("SELECT seq, hash FROM audit_entry ORDER BY seq"))
        ]


def test_existing_entries_keep_their_chain_through_upgrade_and_downgrade(engine, keyring):
    downgrade(engine, "0005")
    try:
        old = _old_entries(engine, 5)
        upgrade(engine, "0006")
        with engine.connect() as conn:
            ids = conn.execute(text("SELECT id, seq FROM audit_entry ORDER BY id")).all()
        assert [tuple(r) for r in ids] == [(i, i) for i in range(1, 6)]
        with Session(engine, info={service.UNSEALED: True}) as s:
            report = service.verify(s, keyring)
            assert (report.ok, report.entries, report.head_seq) == (True, 5, 5)
            service.record(s, actor="api:B/K", action="report.serve", target="subject:S1")
            s.commit()
        with engine.connect() as conn:  # the id sequence continues after the old entries
            assert conn.execute(text("SELECT MAX(id) FROM audit_entry")).scalar() == 6
        with pytest.raises(RuntimeError, match="1 audit entries are not sealed yet"):
            downgrade(engine, "0005")
        assert current_revision(engine) == "0006"
        with Session(engine) as s:
            assert service.seal(s) == 1
            s.commit()
        downgrade(engine, "0005")
        assert _stored(engine)[:5] == old and _stored(engine)[5][0] == 6
    finally:
        upgrade(engine)
    with Session(engine) as s:
        report = service.verify(s, keyring)
        assert (report.ok, report.entries) == (True, 6), report.problem
