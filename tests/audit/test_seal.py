"""Unsealed entries and the sequencer: written without the lock, chained later, checked then."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from credo.audit import service
from credo.audit.models import AuditCheckpoint, AuditEntry
from credo.audit.sealer import Sealer


def _unsealed_session(engine) -> Session:
    return Session(engine, expire_on_commit=False, info={service.UNSEALED: True})


def _record(s: Session, n: int, action: str = "report.serve", start: int = 0) -> None:
    for i in range(start, start + n):
        service.record(s, actor="api:BANK/K1", action=action, target=f"subject:S{i}",
                       details={"i": i})  # fmt: skip


def _chain(engine) -> list[tuple[int | None, str]]:
    with Session(engine) as s:
        return [tuple(r) for r in s.execute(select(AuditEntry.seq, AuditEntry.target)
                                            .order_by(AuditEntry.id))]  # fmt: skip


def test_an_unsealed_session_writes_entries_outside_the_chain_until_sealed(engine, keyring):
    with Session(engine) as s:
        service.append(s, actor="ops", action="consent.grant", target="consent:C1")
        s.commit()
    with _unsealed_session(engine) as s:
        _record(s, 3)
        s.commit()
    assert _chain(engine) == [(1, "consent:C1"), (None, "subject:S0"), (None, "subject:S1"),
                              (None, "subject:S2")]  # fmt: skip
    with Session(engine) as s:
        report = service.verify(s, keyring)
        assert (report.ok, report.entries, report.unsealed) == (True, 1, 3)
        assert service.seal(s) == 3
        s.commit()
    assert [seq for seq, _ in _chain(engine)] == [1, 2, 3, 4]
    with Session(engine) as s:
        report = service.verify(s, keyring)
        assert (report.ok, report.entries, report.unsealed, report.head_seq) == (True, 4, 0, 4)
        assert service.seal(s) == 0


def test_a_rolled_back_request_leaves_no_unsealed_entry(engine):
    with _unsealed_session(engine) as s:
        _record(s, 2)
        s.rollback()
        _record(s, 1, start=7)
        s.commit()
    assert _chain(engine) == [(None, "subject:S7")]


def test_append_seals_the_committed_entries_first(engine, keyring):
    with _unsealed_session(engine) as s:
        _record(s, 2)
        s.commit()
    with Session(engine) as s:
        entry = service.append(s, actor="ops", action="api_key.revoke", target="api_key:K1")
        assert entry.seq == 3
        s.commit()
    assert _chain(engine) == [(1, "subject:S0"), (2, "subject:S1"), (3, "api_key:K1")]
    with Session(engine) as s:
        assert service.verify(s, keyring).ok


def test_entries_uncommitted_at_sealing_time_are_sealed_later_after_the_others(engine, keyring):
    if engine.dialect.name != "postgresql":
        pytest.skip("two open write transactions: PostgreSQL (SQLite has one writer at a time)")
    late = _unsealed_session(engine)
    _record(late, 1, start=100)
    late.flush()  # written first (lower id), committed last
    service.write_pending(late)
    with _unsealed_session(engine) as s:
        _record(s, 1, start=200)
        s.commit()
    with Session(engine) as s:
        assert service.seal(s) == 1
        s.commit()
    late.commit()
    late.close()
    with Session(engine) as s:
        assert service.seal(s) == 1
        s.commit()
        rows = {t: q for q, t in s.execute(select(AuditEntry.seq, AuditEntry.target))}
        assert rows == {"subject:S200": 1, "subject:S100": 2}
        assert service.verify(s, keyring).ok


@pytest.mark.parametrize(
    ("sql", "seq", "phrase"),
    [
        ("UPDATE audit_entry SET details='{}' WHERE seq=2", 2, "edited"),
        ("DELETE FROM audit_entry WHERE seq=2", 2, "missing (deleted)"),
        ("UPDATE audit_entry SET seq=NULL, prev_hash=NULL, hash=NULL WHERE seq=3", 3, "missing"),
    ],
)
def test_tampering_with_entries_sealed_from_unsealed_ones_is_caught(engine, keyring, sql, seq,
                                                                    phrase):  # fmt: skip
    with _unsealed_session(engine) as s:
        _record(s, 5)
        s.commit()
    with Session(engine) as s:
        service.seal(s)
        s.commit()
        s.execute(text(sql))
        report = service.verify(s, keyring)
    assert not report.ok and report.first_bad_seq == seq and phrase in report.problem


def test_a_checkpoint_seals_first_and_covers_the_sealed_entries(engine, keyring):
    with _unsealed_session(engine) as s:
        _record(s, 4)
        s.commit()
    with Session(engine) as s:
        cp = service.checkpoint(s, keyring)
        s.commit()
        assert (cp.upto_seq, cp.entry_count) == (4, 4)
        assert service.verify(s, keyring).checkpoints == 1


def test_list_entries_shows_unsealed_entries_last(engine):
    with Session(engine) as s:
        service.append(s, actor="ops", action="x.sealed", target="t:1")
        s.commit()
    with _unsealed_session(engine) as s:
        _record(s, 2, action="x.unsealed")
        s.commit()
    with Session(engine) as s:
        entries = service.list_entries(s, limit=10)
        assert [(e.action, e.sealed) for e in entries] == [
            ("x.sealed", True), ("x.unsealed", False), ("x.unsealed", False),
        ]  # fmt: skip
        assert [e.seq for e in service.list_entries(s, after_seq=0)] == [1]


def test_the_sealer_thread_seals_and_checkpoints_and_seals_the_rest_on_stop(engine, keyring):
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    sealer = Sealer(sessions, keyring, interval=0.05, checkpoint_every=3).start()
    try:
        with _unsealed_session(engine) as s:
            _record(s, 4)
            s.commit()
        deadline = time.monotonic() + 10
        while None in [q for q, _ in _chain(engine)] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [q for q, _ in _chain(engine)] == [1, 2, 3, 4]
    finally:
        sealer.stop()
    with _unsealed_session(engine) as s:
        _record(s, 1, start=9)
        s.commit()
    sealer.stop()  # stopped already: seals what came since, once
    with Session(engine) as s:
        assert [q for q, _ in _chain(engine)] == [1, 2, 3, 4, 5]
        assert s.scalar(select(AuditCheckpoint.upto_seq)) == 4
        report = service.verify(s, keyring)
        assert (report.ok, report.entries, report.checkpoints) == (True, 5, 1)
    assert sealer.sealed == 5


def test_the_sealer_refuses_a_bad_interval(engine):
    with pytest.raises(ValueError, match="interval must be positive; got 0"):
        Sealer(sessionmaker(bind=engine), interval=0)


def test_a_sealer_that_finds_the_lock_taken_skips_its_turn(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's; SQLite's writers wait for each other")
    with _unsealed_session(engine) as s:
        _record(s, 2)
        s.commit()
    with Session(engine) as holder:
        service.append(holder, actor="ops", action="long.job", target="t:1")  # holds the lock
        with Session(engine) as s:
            assert service.seal(s, wait=False) == 0
        holder.commit()
    assert [q for q, _ in _chain(engine)] == [1, 2, 3]


def test_concurrent_unsealed_writers_and_sealers_give_one_chain(engine, keyring):
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers: PostgreSQL")
    errors: list[Exception] = []

    def writer(n: int) -> None:
        try:
            for i in range(15):
                with _unsealed_session(engine) as s:
                    _record(s, 1, start=100 * n + i)
                    s.commit()
                if i % 5 == 0:
                    with Session(engine) as s:
                        service.append(s, actor=f"w{n}", action="direct", target=f"t{i}")
                        s.commit()
        except Exception as exc:  # pragma: no cover - surfaced by the assertion below
            errors.append(exc)

    sealer = Sealer(sessionmaker(bind=engine), keyring, interval=0.01, checkpoint_every=7)
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    sealer.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sealer.stop()
    assert errors == []
    with Session(engine) as s:
        seqs = s.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)).all()
        assert seqs == list(range(1, 4 * 18 + 1))
        report = service.verify(s, keyring)
        assert report.ok and report.unsealed == 0, report.problem


def test_the_sealer_reads_its_work_with_a_plain_index_scan_however_many_were_sealed(engine):
    """A seal leaves the entry's old row version and its index entry behind until VACUUM. On
    PostgreSQL the sealer reads the unsealed entries with a plain index scan, never a bitmap
    scan (which would visit every sealed version on every tick), turning bitmap scans off for
    that statement only and putting the transaction's own setting back afterwards."""
    from sqlalchemy import event

    sent: list[str] = []

    def spy(conn, cursor, statement, *args):
        sent.append(statement)

    pg = engine.dialect.name == "postgresql"
    for round_ in range(6):
        with _unsealed_session(engine) as s:
            _record(s, 200, start=200 * round_)
            s.commit()
        event.listen(engine, "before_cursor_execute", spy)
        try:
            with Session(engine) as s:
                assert service.seal(s) == 200
                s.commit()
        finally:
            event.remove(engine, "before_cursor_execute", spy)
    assert [q for q, _ in _chain(engine)] == list(range(1, 1201))
    with _unsealed_session(engine) as s:
        _record(s, 3, start=5000)
        s.commit()
    with Session(engine) as s:
        if pg:  # (SQLite keeps no old row versions)
            s.execute(text("ANALYZE audit_entry"))
            compiled = service._UNSEALED.compile(engine, compile_kwargs={"literal_binds": True})
            s.execute(text("SET LOCAL enable_bitmapscan = off"))
            plan = str(s.execute(text(f"EXPLAIN (FORMAT JSON) {compiled}")).scalar())
            assert "'Index Scan'" in plan and "Bitmap" not in plan
            # the transaction's own setting survives the sealer's read, whichever it is
            for mine in ("off", "on"):
                s.execute(text(f"SET LOCAL enable_bitmapscan = {mine}"))
                rows = service._unsealed(s)
                assert s.scalar(text("SHOW enable_bitmapscan")) == mine
        else:
            rows = service._unsealed(s)
        assert [r.target for r in rows] == ["subject:S5000", "subject:S5001", "subject:S5002"]
    if pg:  # each tick: bitmap scans off just before the select and back right after
        selects = [i for i, q in enumerate(sent) if "WHERE audit_entry.seq IS NULL" in q]
        assert len(selects) == 6
        for i in selects:
            assert "set_config('enable_bitmapscan', 'off', true)" in sent[i - 1]
            assert "set_config('enable_bitmapscan'," in sent[i + 1]
