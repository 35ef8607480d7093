"""The audit ledger on a real database: appending, checkpoints, and catching tampering."""

from __future__ import annotations

import json
import threading
from itertools import pairwise

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from credo.audit import service
from credo.audit.chain import GENESIS, entry_hash
from credo.audit.models import AuditCheckpoint, AuditEntry
from credo.errors import IntegrityError
from credo.security.keys import KeyRing

OTHER_SECRET = bytes(range(1, 33))


def _fill(session, keyring, n=50, every=10, start=1):
    for i in range(start, start + n):
        service.append(
            session,
            actor=f"user:{i % 3}",
            action="subject.read" if i % 2 else "account.update",
            target=f"subject:{i}",
            details={"i": i, "reason": "review"},
        )
        service.maybe_checkpoint(session, keyring, every)


@pytest.fixture
def ledger(session, keyring):
    """50 entries with a checkpoint every 10."""
    _fill(session, keyring)
    return session


def _sql(session, sql, **params):
    session.execute(text(sql), params)


def _rows(session, start=1):
    stmt = select(
        AuditEntry.seq,
        AuditEntry.at,
        AuditEntry.actor,
        AuditEntry.action,
        AuditEntry.target,
        AuditEntry.details,
        AuditEntry.prev_hash,
    )
    return session.execute(stmt.where(AuditEntry.seq >= start).order_by(AuditEntry.seq)).all()


def _rehash(session, start, stop=None, prev_hash=None):
    """What an attacker with database access does: recompute hashes from `start` onwards."""
    prev = prev_hash or session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == start - 1))
    for row in _rows(session, start):
        if stop is not None and row.seq > stop:
            break
        fields = {**row._asdict(), "prev_hash": prev}
        new = entry_hash(**fields)
        _sql(
            session,
            "UPDATE audit_entry SET prev_hash=:p, hash=:h WHERE seq=:s",
            p=prev,
            h=new,
            s=row.seq,
        )
        prev = new


def _failed(session, keyring, seq, *phrases):
    report = service.verify(session, keyring)
    assert not report.ok
    assert report.first_bad_seq == seq, report.problem
    for phrase in phrases:
        assert phrase in report.problem
    return report


def test_empty_ledger_verifies(session, keyring):
    report = service.verify(session, keyring)
    assert report.ok and report.entries == 0 and report.head_seq is None
    assert service.checkpoint(session, keyring) is None


def test_clean_ledger_with_checkpoints_verifies(ledger, keyring):
    report = service.verify(ledger, keyring)
    assert report.ok, report.problem
    assert (report.entries, report.checkpoints, report.head_seq) == (50, 5, 50)
    assert report.head_hash == ledger.scalar(select(AuditEntry.hash).where(AuditEntry.seq == 50))
    assert report.last_checkpoint_seq == 50 and len(report.last_checkpoint_root) == 64
    assert report.first_bad_seq is None and report.problem is None


def test_clean_ledger_verifies_after_commit_in_a_new_session(ledger, keyring, engine):
    ledger.commit()
    with Session(engine) as fresh:
        assert service.verify(fresh, keyring).ok


def test_seq_is_contiguous_and_each_entry_links_to_the_previous(ledger):
    entries = list(ledger.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
    assert [e.seq for e in entries] == list(range(1, 51))
    assert entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in pairwise(entries))


def test_details_are_stored_as_canonical_json(session):
    e = service.append(session, actor="a", action="x", target="t", details={"b": 2, "a": "张"})
    assert e.details == '{"a":"张","b":2}'
    assert service.append(session, actor="a", action="x", target="t").details == "{}"


@pytest.mark.parametrize(
    "details",
    [
        {"id": "110105194912310021"},
        {"note": "subject 11010519491231002X called"},
        {"nested": [{"phone": "13800138000"}]},
        {"phone": "tel:13912345678"},
        {"+8613800138000": "key"},
    ],
)
def test_append_refuses_raw_identifiers(session, details):
    with pytest.raises(ValueError, match="masked") as err:
        service.append(
            session, actor="a", action="subject.read", target="subject:1", details=details
        )
    assert "13800138000" not in str(err.value) and "110105" not in str(err.value)
    assert session.scalar(select(AuditEntry.seq)) is None


def test_append_refuses_raw_identifier_in_target(session):
    with pytest.raises(ValueError, match="target"):
        service.append(session, actor="a", action="subject.read", target="110105194912310021")


def test_append_accepts_masked_values_hashes_and_amounts(session):
    digest = "ab13800138000cd" + "e" * 49  # hex with a mobile-like run inside
    details = {"id": "110105********0021", "phone": "138****8000", "sha256": digest}
    details["amount_fen"] = 13800138000  # numbers are amounts, not identifiers
    assert service.append(session, actor="a", action="x", target="t", details=details).seq == 1


def test_edited_details_are_caught(ledger, keyring):
    _sql(ledger, "UPDATE audit_entry SET details=:d WHERE seq=17", d='{"i":0}')
    _failed(ledger, keyring, 17, "entry 17: stored hash does not match its contents (edited)")


def test_edited_actor_is_caught(ledger, keyring):
    _sql(ledger, "UPDATE audit_entry SET actor='mallory' WHERE seq=33")
    _failed(ledger, keyring, 33, "entry 33:", "edited")


def test_edited_and_rehashed_entry_is_named(ledger, keyring):
    _sql(ledger, "UPDATE audit_entry SET actor='mallory' WHERE seq=24")
    _rehash(ledger, 24, stop=24)
    _failed(ledger, keyring, 24, "entry 24:", "re-hashed")


def test_deleted_middle_entry_is_caught(ledger, keyring):
    _sql(ledger, "DELETE FROM audit_entry WHERE seq=18")
    _failed(ledger, keyring, 18, "entry 18: missing (deleted) — expected seq 18, found 19")


def test_deleted_first_entry_is_caught(ledger, keyring):
    _sql(ledger, "DELETE FROM audit_entry WHERE seq=1")
    _failed(ledger, keyring, 1, "entry 1: missing (deleted)")


def test_inserted_forged_entry_is_caught(ledger, keyring):
    # make room at 25 by shifting later entries up (via an offset: PostgreSQL checks keys per row)
    _sql(ledger, "UPDATE audit_entry SET seq = seq + 1000 WHERE seq >= 25")
    _sql(ledger, "UPDATE audit_entry SET seq = seq - 999 WHERE seq >= 1025")
    forged = _rows(ledger, 24)[0]._asdict() | {"seq": 25, "actor": "mallory", "details": "{}"}
    forged["prev_hash"] = ledger.scalar(select(AuditEntry.hash).where(AuditEntry.seq == 24))
    forged["hash"] = entry_hash(**forged)
    ledger.execute(AuditEntry.__table__.insert().values(**forged))
    _failed(ledger, keyring, 25, "entry 25:", "inserted")


def test_forged_entry_with_a_broken_link_is_caught(ledger, keyring):
    forged = _rows(ledger, 50)[0]._asdict() | {"seq": 51, "prev_hash": "1" * 64}
    forged["hash"] = "2" * 64
    ledger.execute(AuditEntry.__table__.insert().values(**forged))
    _failed(ledger, keyring, 51, "entry 51: prev_hash does not match the hash of entry 50")


@pytest.mark.parametrize(("a", "b"), [(12, 17), (20, 21)])
def test_reordered_entries_are_caught(ledger, keyring, a, b):
    _sql(ledger, "UPDATE audit_entry SET seq=-1 WHERE seq=:a", a=a)
    _sql(ledger, "UPDATE audit_entry SET seq=:a WHERE seq=:b", a=a, b=b)
    _sql(ledger, "UPDATE audit_entry SET seq=:b WHERE seq=-1", b=b)
    _failed(ledger, keyring, a, f"entry {a}:", "reordered")


def test_recomputed_chain_is_caught_by_the_checkpoint(ledger, keyring):
    _sql(ledger, "UPDATE audit_entry SET details=:d WHERE seq=15", d='{"i":0}')
    _rehash(ledger, 15)
    # the chain itself is now self-consistent; only the signed Merkle roots disagree
    _failed(ledger, keyring, 11, "entries 11–20", "Merkle root does not match")


def test_recomputed_tail_after_the_last_checkpoint_is_beyond_reach(ledger, keyring):
    """The documented limit: uncheckpointed entries are only as safe as the head kept outside."""
    _fill(ledger, keyring, n=5, every=10, start=51)
    head_before = service.verify(ledger, keyring).head_hash
    _sql(ledger, "UPDATE audit_entry SET details=:d WHERE seq=53", d="{}")
    _rehash(ledger, 53)
    report = service.verify(ledger, keyring)
    assert report.ok and report.head_hash != head_before


def test_tampered_checkpoint_signature_is_caught(ledger, keyring):
    _sql(ledger, "UPDATE audit_checkpoint SET signature=:s WHERE upto_seq=30", s="0" * 64)
    report = _failed(ledger, keyring, None, "entries 21–30", "signature is invalid")
    assert report.checkpoints == 2


def test_edited_checkpoint_root_is_caught(ledger, keyring):
    _sql(ledger, "UPDATE audit_checkpoint SET merkle_root=:r WHERE upto_seq=20", r="a" * 64)
    _failed(ledger, keyring, None, "entries 11–20", "signature is invalid")


def test_deleted_middle_checkpoint_is_caught(ledger, keyring):
    _sql(ledger, "DELETE FROM audit_checkpoint WHERE upto_seq=20")
    _failed(ledger, keyring, None, "entries 11–30", "signature is invalid")


def test_deleted_last_entry_covered_by_a_checkpoint_is_caught(ledger, keyring):
    _sql(ledger, "DELETE FROM audit_entry WHERE seq=50")
    _failed(ledger, keyring, 50, "ledger ends at 49", "deleted from the tail")


def test_checkpoint_covers_only_new_entries(session, keyring):
    _fill(session, keyring, n=7, every=1000)
    first = service.checkpoint(session, keyring)
    assert (first.upto_seq, first.entry_count, first.kid) == (7, 7, keyring.current.kid)
    assert service.checkpoint(session, keyring) is None
    _fill(session, keyring, n=3, every=1000, start=8)
    second = service.checkpoint(session, keyring)
    assert (second.upto_seq, second.entry_count) == (10, 3)
    assert second.signature != first.signature
    assert service.verify(session, keyring).checkpoints == 2


def test_maybe_checkpoint_waits_for_enough_entries(session, keyring):
    _fill(session, keyring, n=4, every=1000)
    assert service.maybe_checkpoint(session, keyring, 5) is None
    _fill(session, keyring, n=1, every=1000, start=5)
    assert service.maybe_checkpoint(session, keyring, 5).upto_seq == 5


def test_checkpoint_refuses_to_sign_a_broken_ledger(ledger, keyring):
    _fill(ledger, keyring, n=5, every=1000, start=51)
    _sql(ledger, "UPDATE audit_entry SET actor='mallory' WHERE seq=53")
    with pytest.raises(IntegrityError, match="entry 53"):
        service.checkpoint(ledger, keyring)
    assert (
        ledger.scalar(select(AuditCheckpoint.upto_seq).order_by(AuditCheckpoint.upto_seq.desc()))
        == 50
    )


def test_checkpoints_signed_with_a_retired_key_still_verify(ledger, keyring):
    rotated = KeyRing.from_secrets(OTHER_SECRET, [bytes(range(32))])
    _fill(ledger, rotated, n=10, every=10, start=51)
    assert service.verify(ledger, rotated).ok
    _failed(ledger, keyring, None, "not in the key ring")


def test_list_entries_pages_and_filters(ledger):
    latest = service.list_entries(ledger, limit=5)
    assert [e.seq for e in latest] == [46, 47, 48, 49, 50]
    reads = service.list_entries(ledger, limit=3, action="subject.read")
    assert [e.seq for e in reads] == [45, 47, 49]
    assert [e.seq for e in service.list_entries(ledger, limit=3, after_seq=10)] == [11, 12, 13]
    assert json.loads(latest[0].details) == {"i": 46, "reason": "review"}


def test_concurrent_appends_never_fork_the_chain(engine, keyring):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers itself; the advisory lock is PostgreSQL's")
    errors = []

    def writer(n):
        try:
            for i in range(10):
                with Session(engine) as s, s.begin():
                    service.append(s, actor=f"w{n}", action="x", target=f"t{i}")
        except Exception as exc:  # pragma: no cover - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Session(engine) as s:
        assert s.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)).all() == list(
            range(1, 41)
        )
        assert service.verify(s, keyring).ok
