"""Key rotation: everything re-encrypted and re-indexed, old secret retirable, ledger intact."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from credo.audit import service as audit
from credo.furnishing.service import furnish
from credo.institution import service as institutions
from credo.security.keys import KeyGeneration, KeyRing
from credo.security.service import bind_index_key, key_usage, rotate
from credo.subject.models import Subject, SubjectInfo

FILE = """\
{"record_type":"header","format":"credo-furnishing","format_version":"1.0","institution":"BANK01","as_of":"2026-10-31"}
{"record_type":"subject","subject_type":"person","id_type":"prc_id","id_number":"11010519491231002X","name":"张三","birth_date":"1949-12-31","phone":"13812345678","address":"北京市朝阳区建国路1号"}
{"record_type":"account","account_ref":"A1","id_type":"prc_id","id_number":"11010519491231002X","account_type":"credit_card","opened_on":"2024-01-15","currency":"CNY","credit_limit":"20000","status":"open"}
{"record_type":"status","account_ref":"A1","period":"2024-02","balance":"1200.50","amount_due":"100","amount_paid":"100","days_past_due":0}
{"record_type":"status","account_ref":"A1","period":"2024-03","balance":"1200.50","amount_due":"100","amount_paid":"100","days_past_due":0,"blood_type":"A"}
"""


def _furnish(session, keyring, cn, path: Path):
    return furnish(
        session, path=path, institution_code="BANK01", keyring=keyring, profile=cn, actor="test"
    )


def test_rotation_reencrypts_reindexes_and_retires_old_key(session, keyring, cn, tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_text(FILE, encoding="utf-8")
    institutions.create(session, code="BANK01", name="Bank", kind="bank", actor="test")
    first = _furnish(session, keyring, cn, path)
    session.commit()
    assert (first.accepted, first.rejected) == (3, 1)
    old_kid = keyring.current.kid
    assert key_usage(session) == {old_kid: 7}  # 3 subject + 3 info + 1 quarantined raw line

    new_ring = KeyRing(KeyGeneration.from_secret(os.urandom(32)), [keyring.current])
    # before rotation the new ring still finds subjects with the old index key
    assert bind_index_key(session, new_ring) == old_kid
    counts = rotate(session, new_ring, actor="test")
    session.commit()
    assert counts["values"] == 7 and counts["subjects"] == 1
    assert key_usage(session) == {new_ring.current.kid: 7}

    # the old secret can now be dropped entirely
    only_new = KeyRing(new_ring.current)
    assert bind_index_key(session, only_new) == only_new.current.kid
    subj = session.scalar(select(Subject))
    assert only_new.decrypt(subj.name_enc, column="subject.name") == "张三"
    assert only_new.decrypt(subj.id_enc, column="subject.id_number") == "11010519491231002X"
    assert audit.verify(session, only_new).ok

    # lookups by blind index still resolve: re-sending the file is all duplicates
    again = _furnish(session, only_new, cn, path)
    session.commit()
    assert (again.duplicates, again.accepted, again.corrections) == (3, 0, 0)
    assert session.scalar(select(func.count()).select_from(Subject)) == 1
    assert session.scalar(select(func.count()).select_from(SubjectInfo)) == 1


def test_rotation_refuses_when_ledger_is_tampered(session, keyring, cn, tmp_path):
    from sqlalchemy import text

    from credo.errors import IntegrityError

    institutions.create(session, code="BANK01", name="Bank", kind="bank", actor="test")
    audit.checkpoint(session, keyring)
    session.commit()
    session.execute(text("UPDATE audit_entry SET actor = 'mallory' WHERE seq = 1"))
    new_ring = KeyRing(KeyGeneration.from_secret(os.urandom(32)), [keyring.current])
    with pytest.raises(IntegrityError, match="does not verify"):
        rotate(session, new_ring, actor="test")


def test_every_encrypted_column_is_rotated():
    """A ``*_enc`` column missing from ENCRYPTED would stay under the old key after rotation and
    become unreadable once that key is retired."""
    import credo.models  # noqa: F401  (every table registered)
    from credo.db import Base
    from credo.security.service import ENCRYPTED

    rotated = {(m.__table__.name, attr) for m, attr, _ in ENCRYPTED}
    encrypted = {
        (t.name, c.name) for t in Base.metadata.sorted_tables for c in t.columns
        if c.name.endswith("_enc")
    }  # fmt: skip
    assert encrypted == rotated


def test_dispute_reasons_and_statements_survive_rotation_and_key_retirement(
    session, keyring, cn, tmp_path
):
    from datetime import UTC, datetime

    from credo.rights import controls, disputes
    from credo.rights.disputes import RecordName
    from credo.rights.models import Dispute

    path = tmp_path / "b.jsonl"
    path.write_text(FILE, encoding="utf-8")
    institutions.create(session, code="BANK01", name="Bank", kind="bank", actor="test")
    _furnish(session, keyring, cn, path)
    subj = session.scalar(select(Subject))
    now = datetime(2026, 11, 2, 9, tzinfo=UTC)
    disputes.file(
        session, keyring=keyring, subject_id=subj.id, profile=cn, now=now, actor="subject",
        name=RecordName("status", institution="BANK01", account_ref="A1", period="2024-02"),
        reason="我已按时还款",
    )  # fmt: skip
    controls.set_statement(session, subject_ref=subj.ref, text="本人声明：该账户曾被盗用",
                           actor="subject", keyring=keyring, now=now)  # fmt: skip
    session.commit()
    new_ring = KeyRing(KeyGeneration.from_secret(os.urandom(32)), [keyring.current])
    counts = rotate(session, new_ring, actor="test")
    session.commit()
    # 3 subject + 3 info + the quarantined line, and the dispute reason and the statement
    assert counts["values"] == 9
    only_new = KeyRing(new_ring.current)
    assert key_usage(session) == {only_new.current.kid: 9}
    d = session.scalar(select(Dispute))
    assert disputes.reason(d, only_new) == "我已按时还款"
    statement = controls.current_statement(session, subj.id, keyring=only_new)
    assert statement is not None and statement.text == "本人声明：该账户曾被盗用"
