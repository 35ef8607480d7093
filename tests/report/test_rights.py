"""Dispute marks, personal statements, fraud alerts and freezes as the report shows them.

The rows are written directly here; the services that write them (disputes, controls) have
their own tests. What is checked is the report's reading: which marks show, for whom, as of when.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import orjson
from sqlalchemy import select, text

from credo.account.models import Account
from credo.core.refs import new_ref
from credo.inquiry.models import Inquiry
from credo.public_record.models import PublicRecord
from credo.report.render import render, render_html
from credo.report.schema import Report
from credo.rights.models import (
    Dispute,
    DisputeOutcome,
    DisputeRecordType,
    DisputeStatus,
    FileFlag,
    FlagKind,
    PersonalStatement,
)
from credo.subject.models import Subject

from .conftest import NOW

FILED = datetime(2024, 8, 8, 9, 0, tzinfo=UTC)
BANK_A = {"institution": "BANK_A", "purpose": "loan_approval"}


def _zhang(session, ref: str) -> Subject:
    return session.scalar(select(Subject).where(Subject.ref == ref))


def _dispute(session, keyring, subject: Subject, record_type: str, **kw) -> Dispute:
    d = Dispute(
        ref=new_ref("D"),
        subject_id=subject.id,
        record_type=DisputeRecordType(record_type),
        reason_enc=keyring.encrypt("这不是我的记录", column="dispute.reason"),
        filed_at=kw.pop("filed_at", FILED),
        filed_by="subject",
        due_on=kw.pop("due_on", FILED.date() + timedelta(days=20)),
        **kw,
    )
    session.add(d)
    session.flush()
    return d


def _account(session, ref: str) -> Account:
    return session.scalar(select(Account).where(Account.account_ref == ref))


def _status_dispute(session, keyring, bureau, **kw) -> Dispute:
    card = _account(session, "CC-1")
    return _dispute(
        session,
        keyring,
        _zhang(session, bureau.zhang),
        "status",
        target_key=f"status:{card.id}:2024-03",
        account_id=card.id,
        period=date(2024, 3, 1),
        institution_id=card.institution_id,
        **kw,
    )


def _card(doc: dict) -> dict:
    return next(
        a for a in doc["accounts"] if a["account_type"] == "credit_card" and a["status"] == "open"
    )


def test_an_open_dispute_marks_the_record_in_every_viewers_report(report, session, keyring, bureau):
    _status_dispute(session, keyring, bureau)
    for viewer, kw in (("subject", {}), ("operator", {}), ("institution", BANK_A)):
        doc = report(viewer=viewer, lang="en", **kw)
        Report.model_validate_json(orjson.dumps(doc))
        [mark] = doc["disputes"]
        assert mark["record_type"] == "status" and mark["status"] == "open"
        assert mark["opened_on"] == "2024-08-08" and mark["escalated"] is False
        assert "2024-03" in mark["record"] and "Credit card" in mark["record"]
        assert _card(doc)["disputed"] is True
        others = [a for a in doc["accounts"] if a is not _card(doc)]
        assert not any(a["disputed"] for a in others)
    # the subject and BANK_A (its own account) see the number; another bank would not
    assert "CC-1" in report(viewer="subject", lang="en")["disputes"][0]["record"]
    other = report(viewer="institution", institution="BANK_B", purpose="loan_approval", lang="en")
    assert "CC-1" not in other["disputes"][0]["record"]
    assert "BANK_A" not in other["disputes"][0]["record"]


def test_a_report_as_of_before_the_dispute_has_no_mark(report, session, keyring, bureau):
    _status_dispute(session, keyring, bureau)
    assert report(as_of=date(2024, 8, 7))["disputes"] == []
    assert report(as_of=date(2024, 8, 8))["disputes"][0]["status"] == "open"


def test_answered_escalated_and_closed_disputes(report, session, keyring, bureau):
    d = _status_dispute(session, keyring, bureau)
    d.status, d.answered_at = DisputeStatus.answered, FILED + timedelta(days=1)
    d.escalated_at = FILED + timedelta(days=1, hours=1)
    session.flush()
    [mark] = report(lang="zh")["disputes"]
    assert (mark["status"], mark["escalated"]) == ("answered", True)
    html = render_html(report(lang="zh"))
    assert "机构已回复" in html and "已超期" in html

    d.status, d.closed_at = DisputeStatus.closed, FILED + timedelta(days=1, hours=20)
    d.outcome, d.decision_note = DisputeOutcome.unresolved, "furnisher and subject disagree"
    session.flush()
    [mark] = report()["disputes"]
    assert mark["status"] == "unresolved" and mark["note"] == "furnisher and subject disagree"
    assert _card(report())["disputed"] is True
    # before it closed, the same dispute showed as answered, without the note
    before = report(as_of=date(2024, 8, 9))["disputes"][0]
    assert before["status"] == "answered" and before["note"] is None

    for outcome in (DisputeOutcome.confirmed, DisputeOutcome.corrected):
        d.outcome = outcome
        session.flush()
        doc = report()
        assert doc["disputes"] == [] and not _card(doc)["disputed"]


def test_public_record_inquiry_and_identity_marks(report, session, keyring, bureau):
    zhang = _zhang(session, bureau.zhang)
    judgment = session.scalar(
        select(PublicRecord).where(
            PublicRecord.subject_id == zhang.id, PublicRecord.superseded_at.is_(None)
        )
    )
    _dispute(
        session,
        keyring,
        zhang,
        "public_record",
        target_key=f"public_record:{judgment.institution_id}:court_judgment:{judgment.case_ref}",
        record_id=judgment.id,
        institution_id=judgment.institution_id,
    )
    inquiry = session.scalar(
        select(Inquiry).where(
            Inquiry.subject_id == zhang.id, Inquiry.inquired_on == date(2024, 5, 20)
        )
    )
    _dispute(
        session,
        keyring,
        zhang,
        "inquiry",
        target_key=f"inquiry:{inquiry.id}",
        record_id=inquiry.id,
        institution_id=inquiry.institution_id,
    )
    _dispute(session, keyring, zhang, "identity", target_key="identity:phone", field="phone")
    doc = report(lang="en")
    marks = {m["record_type"]: m for m in doc["disputes"]}
    assert set(marks) == {"public_record", "inquiry", "identity"}
    assert judgment.case_ref in marks["public_record"]["record"]
    assert "2024-05-20" in marks["inquiry"]["record"]
    assert marks["identity"]["record"] == "Identity: phone"
    [record] = doc["public_records"]
    assert record["disputed"] is True
    assert not any(a["disputed"] for a in doc["accounts"])


def test_another_subjects_dispute_never_shows(report, session, keyring, bureau):
    li = _zhang(session, bureau.li)
    _dispute(session, keyring, li, "identity", target_key="identity:name", field="name")
    assert report()["disputes"] == []
    assert len(report(bureau.li)["disputes"]) == 1


def test_the_personal_statement_on_file_then_and_now(report, session, keyring, bureau):
    zhang = _zhang(session, bureau.zhang)
    first = PersonalStatement(
        subject_id=zhang.id,
        text_enc=keyring.encrypt("2024年3月因住院延迟还款", column="personal_statement.text"),
        created_at=datetime(2024, 8, 1, tzinfo=UTC),
        created_by="subject",
        removed_at=datetime(2024, 8, 9, tzinfo=UTC),
        removed_by="subject",
    )
    second = PersonalStatement(
        subject_id=zhang.id,
        text_enc=keyring.encrypt("已于2024年4月全部还清", column="personal_statement.text"),
        created_at=datetime(2024, 8, 9, tzinfo=UTC),
        created_by="subject",
    )
    session.add_all([first, second])
    session.flush()
    assert report()["statements"] == [{"added_on": "2024-08-09", "text": "已于2024年4月全部还清"}]
    assert report(as_of=date(2024, 8, 5))["statements"][0]["text"] == "2024年3月因住院延迟还款"
    assert report(as_of=date(2024, 7, 31))["statements"] == []
    bank = report(viewer="institution", **BANK_A)
    assert bank["statements"][0]["text"] == "已于2024年4月全部还清"
    assert "已于2024年4月全部还清" in render_html(bank)


def test_fraud_alert_and_freeze_in_the_header(report, session, bureau):
    zhang = _zhang(session, bureau.zhang)
    session.add_all(
        [
            FileFlag(
                ref=new_ref("F"),
                subject_id=zhang.id,
                kind=FlagKind.fraud_alert,
                placed_at=datetime(2024, 8, 1, tzinfo=UTC),
                placed_by="subject",
                expires_at=datetime(2031, 8, 1, tzinfo=UTC),
                identity_theft_report_sha256="ab" * 32,
            ),
            FileFlag(
                ref=new_ref("F"),
                subject_id=zhang.id,
                kind=FlagKind.freeze,
                placed_at=datetime(2024, 8, 2, tzinfo=UTC),
                placed_by="subject",
                lifted_at=datetime(2024, 8, 9, tzinfo=UTC),
                lifted_by="subject",
            ),
        ]
    )
    session.flush()
    header = report(viewer="institution", lang="en", **BANK_A)["header"]
    assert header["fraud_alert"] == {
        "placed_on": "2024-08-01",
        "expires_on": "2031-08-01",
        "extended": True,
    }
    assert header["frozen"] is False  # lifted on 2024-08-09
    assert report(as_of=date(2024, 8, 5))["header"]["frozen"] is True
    assert report(as_of=date(2024, 7, 31))["header"]["fraud_alert"] is None
    doc = report(viewer="institution", lang="zh", **BANK_A)
    html = render_html(doc)
    assert "欺诈警示" in html and "2031-08-01" in html
    pdf = render(doc, "pdf")
    assert pdf[:4] == b"%PDF"
    # the alert expires: a report after its end shows none
    later = NOW.replace(year=2032)
    assert report(now=later)["header"]["fraud_alert"] is None


def test_a_report_as_of_now_shows_what_was_filed_within_the_same_second(
    report, session, keyring, bureau
):
    """A report shows its time to the second, but what was on file is judged on the full clock:
    a dispute, statement or freeze written a moment before the report must show (it did not
    once, when the report's clock was cut to the second before the snapshot was loaded)."""
    zhang = _zhang(session, bureau.zhang)
    moment = datetime.now(UTC)
    _status_dispute(session, keyring, bureau, filed_at=moment)
    session.add_all(
        [
            PersonalStatement(
                subject_id=zhang.id,
                text_enc=keyring.encrypt("刚刚添加", column="personal_statement.text"),
                created_at=moment,
                created_by="subject",
            ),
            FileFlag(
                ref=new_ref("F"),
                subject_id=zhang.id,
                kind=FlagKind.freeze,
                placed_at=moment,
                placed_by="subject",
            ),
        ]
    )
    session.flush()
    doc = report(now=None)  # the real clock, a moment after `moment`
    assert [d["status"] for d in doc["disputes"]] == ["open"]
    assert doc["statements"][0]["text"] == "刚刚添加" and doc["header"]["frozen"] is True


def test_marks_and_statements_read_on_psycopg_equal_the_session_path(
    session, keyring, bureau, monkeypatch
):
    """On PostgreSQL a report as of now reads disputes and statements in the snapshot's one
    round trip on psycopg (enums as plain values, times in the connection's zone); the marks
    and statements must be exactly those of the session path, which SQLite always takes."""
    from credo import dbraw
    from credo.report import snapshot

    zhang = _zhang(session, bureau.zhang)
    if session.get_bind().dialect.name == "postgresql":
        # psycopg gives times in the connection's zone: 20:00 UTC is the next day there
        session.execute(text("SET TIME ZONE 'Asia/Shanghai'"))
    late = FILED - timedelta(hours=13)  # 2024-08-07 20:00 UTC
    d = _status_dispute(session, keyring, bureau, filed_at=late)
    d.status, d.closed_at = DisputeStatus.closed, FILED + timedelta(days=1)
    d.outcome, d.decision_note = DisputeOutcome.unresolved, "still disagreed"
    inquiry = session.scalar(
        select(Inquiry).where(
            Inquiry.subject_id == zhang.id, Inquiry.inquired_on == date(2024, 5, 20)
        )
    )
    _dispute(
        session, keyring, zhang, "inquiry", target_key=f"inquiry:{inquiry.id}",
        record_id=inquiry.id, institution_id=inquiry.institution_id,
        answered_at=FILED + timedelta(hours=3), escalated_at=FILED + timedelta(days=1),
    )  # fmt: skip
    _dispute(session, keyring, zhang, "identity", target_key="identity:phone", field="phone")
    session.add(
        PersonalStatement(
            subject_id=zhang.id,
            text_enc=keyring.encrypt("已于2024年4月全部还清", column="personal_statement.text"),
            created_at=late,
            created_by="subject",
        )
    )
    session.flush()

    def load():
        return snapshot.load_snapshot(session, zhang.id, as_of=None, keyring=keyring, now=NOW)

    snap = load()
    assert [m.status for m in snap.disputes] == ["unresolved", "answered", "open"]
    assert snap.disputes[0].opened_on == date(2024, 8, 7)
    assert snap.statements[0].added_on == date(2024, 8, 7)
    took_psycopg = dbraw.driver(session) is not None
    monkeypatch.setattr(snapshot, "driver", lambda _session: None)
    by_session = load()
    assert (snap.disputes, snap.statements) == (by_session.disputes, by_session.statements)
    assert took_psycopg == (session.get_bind().dialect.name == "postgresql")
