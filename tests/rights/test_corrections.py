"""Applying a dispute's correction (`credo.rights.corrections`) on both backends.

Fixtures: the bureau is `small_bureau()` of the furnishing tests furnished by BANK_A on the clock
2024-07-01, except that 张三's card CC-1 is 30 days past due in 2024-06; a person champion
(the API tests' scorecard, which uses worst days past due and hard inquiries) is published.
Corrections are applied at `NOW` (2024-08-10) unless a test says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.conftest import publish_champion, scorecard  # noqa: F401 (fixture)
from credo.account.models import Account, AccountVersion, StatusRecord
from credo.audit.models import AuditEntry
from credo.config import Settings
from credo.core.refs import new_ref
from credo.errors import Conflict, Invalid
from credo.feature.service import one_subject_features
from credo.furnishing.models import BatchStatus, FurnishingBatch
from credo.inquiry.models import Inquiry, InquiryKind, InquirySource
from credo.institution.models import Institution
from credo.institution.service import bureau_institution
from credo.notify.models import Notification
from credo.public_record.models import PublicRecord
from credo.report.snapshot import load_snapshot
from credo.rights.corrections import CorrectionResult, apply_correction, validate_correction
from credo.rights.models import Dispute, DisputeRecordType
from credo.scoring.models import SubjectScore
from credo.scoring.service import score_subjects
from credo.security.keys import KeyRing
from credo.subject.models import Subject
from furnishing.bureau import (
    ACME_USCC,
    BANK,
    LI_ID,
    OTHER_BANK,
    ZHANG_ID,
    furnish_small_bureau,
    run,
    small_bureau,
    status,
    subject_of,
    table_counts,
    write_jsonl,
)

FURNISHED_AT = datetime(2024, 7, 1, 10, 0, tzinfo=UTC)
NOW = datetime(2024, 8, 10, 10, 0, tzinfo=UTC)
BEFORE = NOW - timedelta(seconds=1)
ACTOR = "operator:test"


def bureau_rows() -> list[dict]:
    rows = [
        r
        for r in small_bureau()
        if not (
            r["record_type"] == "status" and (r["account_ref"], r["period"]) == ("CC-1", "2024-06")
        )
    ]
    return [*rows, status("CC-1", "2024-06", dpd=30)]


@dataclass
class Bureau:
    session: Session
    keyring: KeyRing
    settings: Settings
    zhang: Subject
    li: Subject
    acme: Subject

    def institution(self, code: str) -> Institution:
        return self.session.scalar(select(Institution).where(Institution.code == code))

    def account(self, ref: str) -> Account:
        return self.session.scalar(select(Account).where(Account.account_ref == ref))

    def dispute(self, subject: Subject, record_type: str, target_key: str, **kw: Any) -> Dispute:
        """A filed dispute, written directly (the dispute service is not under test here)."""
        d = Dispute(
            ref=new_ref("D"),
            subject_id=subject.id,
            record_type=DisputeRecordType(record_type),
            target_key=target_key,
            reason_enc=self.keyring.encrypt("this is wrong", column="dispute.reason"),
            filed_by=f"subject:{subject.ref}",
            filed_at=NOW - timedelta(days=3),
            due_on=date(2024, 8, 27),
            **kw,
        )
        self.session.add(d)
        self.session.flush()
        return d

    def status_dispute(self, ref: str = "CC-1", period: date = date(2024, 6, 1)) -> Dispute:
        acct = self.account(ref)
        subject = self.session.get(Subject, acct.subject_id)
        return self.dispute(
            subject, "status", f"status:{acct.id}:{period:%Y-%m}", account_id=acct.id,
            period=period, institution_id=acct.institution_id,
        )  # fmt: skip

    def account_dispute(self, ref: str) -> Dispute:
        acct = self.account(ref)
        subject = self.session.get(Subject, acct.subject_id)
        return self.dispute(
            subject, "account", f"account:{acct.id}", account_id=acct.id,
            institution_id=acct.institution_id,
        )  # fmt: skip

    def correct(self, d: Dispute, correction: dict, *, now: datetime = NOW) -> CorrectionResult:
        return apply_correction(
            self.session, dispute=d, correction=correction, actor=ACTOR, keyring=self.keyring,
            settings=self.settings, now=now,
        )  # fmt: skip

    def api_inquiry(self, subject: Subject, code: str, on: date, source=InquirySource.api) -> None:
        """An inquiry as the institution API writes it (source api, random content hash)."""
        self.session.add(
            Inquiry(
                subject_id=subject.id, institution_id=self.institution(code).id, inquired_on=on,
                purpose="loan_approval", kind=InquiryKind.hard, source=source,
                content_hash=new_ref("H", 40), recorded_at=datetime.combine(on, datetime.min.time(),
                                                                          tzinfo=UTC),
            )
        )  # fmt: skip
        self.session.flush()

    def ledger_and_notices(self) -> str:
        """Every ledger entry and notice payload, as one text (for leak scans)."""
        entries = self.session.scalars(select(AuditEntry)).all()
        notices = self.session.scalars(select(Notification)).all()
        return orjson.dumps(
            [[e.actor, e.action, e.target, e.details] for e in entries]
            + [n.payload for n in notices]
        ).decode()


def build(session: Session, keyring: KeyRing, profile, tmp_path, monkeypatch, model) -> Bureau:
    with monkeypatch.context() as m:
        m.setattr("credo.furnishing.store.utcnow", lambda: FURNISHED_AT)
        furnish_small_bureau(
            session, keyring, profile, tmp_path / "bureau.jsonl",
            institutions=(BANK, OTHER_BANK, "BANK_C"), rows=bureau_rows(),
        )  # fmt: skip
    if model is not None:
        publish_champion(session, model)
    session.commit()
    return Bureau(
        session, keyring, Settings(), subject_of(session, keyring, ZHANG_ID),
        subject_of(session, keyring, LI_ID), subject_of(session, keyring, ACME_USCC, "uscc"),
    )  # fmt: skip


@pytest.fixture
def bureau(session, keyring, cn, tmp_path, monkeypatch, request) -> Bureau:
    return build(session, keyring, cn, tmp_path, monkeypatch, request.getfixturevalue("scorecard"))


def current_status(b: Bureau, ref: str, period: date) -> StatusRecord | None:
    return b.session.scalar(
        select(StatusRecord).where(
            StatusRecord.account_id == b.account(ref).id,
            StatusRecord.period == period,
            StatusRecord.superseded_at.is_(None),
        )
    )


def all_scores(b: Bureau, subject: Subject) -> list[SubjectScore]:
    return list(b.session.scalars(
        select(SubjectScore).where(SubjectScore.subject_id == subject.id).order_by(SubjectScore.id)
    ))  # fmt: skip


def card_dpd(snapshot) -> dict[date, int]:
    (card,) = [a for a in snapshot.accounts if a.account_ref == "CC-1"]
    return {s.period: s.days_past_due for s in card.statuses}


# -- validation ------------------------------------------------------------------------------
def test_validation_normalises_money_dates_and_enums(cn):
    status_fix = validate_correction(
        DisputeRecordType.status, {"balance": 1200, "days_past_due": "0", "amount_due": "0.5"},
        profile=cn,
    )  # fmt: skip
    assert status_fix == {"balance": "1200.00", "amount_due": "0.50", "days_past_due": 0}
    account_fix = validate_correction(
        DisputeRecordType.account,
        {"status": " Closed ", "closed_on": "2024/05/31", "credit_limit": None},
        profile=cn,
    )
    assert account_fix == {"closed_on": "2024-05-31", "credit_limit": None, "status": "closed"}
    phone = validate_correction(
        DisputeRecordType.identity, {"phone": "139 0000 1111"}, field="phone", profile=cn
    )
    assert phone == {"phone": "+8613900001111"}
    assert validate_correction(DisputeRecordType.inquiry, {"remove": True}) == {"remove": True}


@pytest.mark.parametrize(
    ("record_type", "correction", "field", "says"),
    [
        ("status", {"overdue_fee": 10}, "overdue_fee", "not a correctable field"),
        ("status", {"balance": -5}, "balance", "must not be negative; got -5"),
        ("status", {"balance": [100]}, "balance", "got list"),
        ("status", {"days_past_due": "late"}, "days_past_due", "must be an integer"),
        ("status", {"days_past_due": 5000}, "days_past_due", "between 0 and 3650"),
        ("status", {"days_past_due": True}, "days_past_due", "must be an integer"),
        ("status", {"balance": None}, "balance", "cannot be cleared"),
        ("status", {"balance": "1.005"}, "balance", "more than 2 decimals"),
        ("status", {}, "correction", "names no field"),
        ("status", {"remove": False}, "remove", "must be true"),
        ("status", {"remove": True, "balance": 1}, "balance", "carries no other field"),
        ("account", {"status": "frozen"}, "status", "must be one of"),
        ("account", {"opened_on": "31/12/2023"}, "opened_on", "YYYY-MM-DD"),
        ("account", {"period": "2024-05"}, "period", "not a correctable field"),
        ("public_record", {"currency": "XXY"}, "currency", "ISO 4217"),
        ("public_record", {"case_ref": "other"}, "case_ref", "not a correctable field"),
        ("inquiry", {"purpose": "self_query"}, "purpose", "can only be removed"),
    ],
)
def test_a_bad_correction_is_refused_naming_the_field(cn, record_type, correction, field, says):
    with pytest.raises(Invalid) as err:
        validate_correction(DisputeRecordType(record_type), correction, profile=cn)
    assert err.value.extra["field"] == field
    assert says in err.value.message


@pytest.mark.parametrize(
    ("correction", "disputed", "field", "says"),
    [
        ({"phone": "12345"}, "phone", "phone", "not a valid phone number"),
        ({"name": "12345"}, "name", "name", "not a valid name"),
        ({"birth_date": "1985-02-30"}, "birth_date", "birth_date", "is not a date"),
        ({"address": "上海"}, "phone", "address", "the dispute is about the phone"),
        ({"remove": True}, "name", "remove", "can be corrected, not removed"),
        (
            {"phone": "13900001111", "address": "上海市某路1号"},
            "phone",
            "phone",
            "exactly one field",
        ),
    ],
)
def test_an_identity_correction_never_echoes_the_personal_value(
    cn, correction, disputed, field, says
):
    with pytest.raises(Invalid) as err:
        validate_correction(DisputeRecordType.identity, correction, field=disputed, profile=cn)
    assert err.value.extra["field"] in (field, "address")
    assert says in err.value.message
    for value in correction.values():
        if isinstance(value, str):
            assert value not in err.value.message


# -- monthly status --------------------------------------------------------------------------
def test_a_status_correction_supersedes_the_month_keeps_history_and_rescores(bureau):
    b, june = bureau, date(2024, 6, 1)
    before = score_subjects(b.session, [b.zhang.id], actor="test", as_of=NOW.date()).scores[0]
    old = current_status(b, "CC-1", june)
    d = b.status_dispute()
    result = b.correct(d, {"days_past_due": 0})
    b.session.commit()

    # the old row is history, superseded by the correction's batch; the new one is version 2
    b.session.refresh(old)
    batch = b.session.get(FurnishingBatch, result.batch_id)
    assert (old.superseded_at, old.superseded_by_batch_id) == (NOW, batch.id)
    assert old.days_past_due == 30
    new = current_status(b, "CC-1", june)
    assert (new.version, new.days_past_due, new.batch_id) == (2, 0, batch.id)
    assert new.recorded_at == NOW
    assert (new.balance_cents, new.subject_notified_on) == (
        old.balance_cents,
        old.subject_notified_on,
    )
    assert d.correction_batch_id == batch.id
    # the batch stands for the correction, like a furnished file of one line
    assert batch.ref == result.batch_ref
    assert b.session.get(Institution, batch.institution_id).code == BANK
    assert (batch.file_name, batch.file_format, batch.format_version) == (
        f"dispute {d.ref}",
        "dispute",
        "1.0",
    )
    assert (batch.as_of, batch.status, batch.actor, batch.profile) == (
        NOW.date(),
        BatchStatus.completed,
        ACTOR,
        "cn",
    )
    assert orjson.loads(batch.changes) == {"status_record": {"inserted": 1, "superseded": 1}}
    assert result.superseded == result.inserted == {"status_record": 1}
    assert result.fields == ["days_past_due"] and not result.removed
    assert result.changes == {"days_past_due": {"old": 30, "new": 0}}

    # the file as of before the correction still shows the old value, now the new one
    before_fix = one_subject_features(b.session, b.zhang.id, NOW.date(), known_at=BEFORE)
    assert before_fix["worst_dpd_12m"] == 30
    assert one_subject_features(b.session, b.zhang.id, NOW.date())["worst_dpd_12m"] == 0
    past = load_snapshot(b.session, b.zhang.id, as_of=date(2024, 8, 1), keyring=b.keyring)
    assert card_dpd(past)[june] == 30
    assert card_dpd(load_snapshot(b.session, b.zhang.id, as_of=None, keyring=b.keyring))[june] == 0

    # re-scored with the champion: a new stored score, better than before
    scores = all_scores(b, b.zhang)
    assert len(scores) == 2 and scores[-1].trigger == "furnishing"
    assert result.score["score"] == pytest.approx(scores[-1].score)
    assert result.score["grade"] == scores[-1].grade
    assert scores[-1].score > before.score
    assert result.score_note is None

    # one ledger entry naming the batch, without values
    (entry,) = b.session.scalars(select(AuditEntry).where(AuditEntry.action == "dispute.correct"))
    assert entry.target == f"dispute:{d.ref}" and entry.actor == ACTOR
    details = orjson.loads(entry.details)
    assert details["batch"] == batch.ref
    assert details["superseded"] == {"status_record": 1}
    assert details["fields"] == ["days_past_due"]


def test_the_corrected_status_has_the_content_hash_furnishing_computes(bureau, cn, tmp_path):
    b = bureau
    b.correct(b.status_dispute(), {"days_past_due": 0})
    b.session.commit()
    # the furnisher then sends the corrected month itself: a duplicate, nothing written
    line = status("CC-1", "2024-06", dpd=0, subject_notified_on="2024-06-01")
    report = run(b.session, write_jsonl(tmp_path / "again.jsonl", [line]), b.keyring, cn)
    assert (report.duplicates, report.corrections) == (1, 0)


def test_a_removed_status_disappears_from_the_current_file_only(bureau):
    b, june = bureau, date(2024, 6, 1)
    result = b.correct(b.status_dispute(), {"remove": True})
    b.session.commit()
    assert current_status(b, "CC-1", june) is None
    assert result.removed and result.fields == ["remove"]
    assert result.superseded == {"status_record": 1} and result.inserted == {}
    card = b.account("CC-1").id
    old = b.session.scalar(
        select(StatusRecord).where(StatusRecord.period == june, StatusRecord.account_id == card)
    )
    assert old.superseded_by_batch_id == result.batch_id and old.days_past_due == 30
    now = load_snapshot(b.session, b.zhang.id, as_of=None, keyring=b.keyring)
    assert june not in card_dpd(now) and date(2024, 5, 1) in card_dpd(now)
    past = load_snapshot(b.session, b.zhang.id, as_of=date(2024, 8, 1), keyring=b.keyring)
    assert card_dpd(past)[june] == 30
    assert one_subject_features(b.session, b.zhang.id, NOW.date())["worst_dpd_12m"] == 0


@pytest.mark.parametrize(
    ("period", "correction", "field", "says"),
    [
        # 2024-04 was current: 2024-05 cannot be 90 days late a month later
        (date(2024, 5, 1), {"days_past_due": 90, "subject_notified_on": "2024-05-01"},
         "days_past_due", "cannot age faster"),
        (date(2024, 6, 1), {"days_past_due": 95}, "days_past_due", "cannot age faster"),
        (date(2024, 5, 1), {"balance": "-1"}, "balance", "must not be negative"),
        (date(2024, 5, 1), {"balance": "1500.00"}, "balance", "equals the record on file"),
        # dpd > 0 is negative data: the cn profile needs the subject's notice first
        (date(2024, 4, 1), {"days_past_due": 10}, "subject_notified_on", "must be notified"),
        (date(2024, 4, 1), {"subject_notified_on": "2024-09-01"}, "subject_notified_on",
         "after the batch date"),
    ],
)  # fmt: skip
def test_an_invalid_status_correction_changes_nothing(bureau, period, correction, field, says):
    b = bureau
    d = b.status_dispute(period=period)
    b.session.commit()
    counts = table_counts(b.session)
    with pytest.raises(Invalid) as err:
        b.correct(d, correction)
    assert err.value.extra["field"] == field
    assert says in err.value.message
    b.session.rollback()
    assert table_counts(b.session) == counts
    b.session.commit()
    assert b.session.scalar(select(func.count()).where(AuditEntry.action == "dispute.correct")) == 0
    assert b.session.scalar(select(func.count()).select_from(Notification)) == 0


def test_a_month_cannot_be_cleared_while_the_next_month_ages_from_it(bureau):
    b, may, june = bureau, date(2024, 5, 1), date(2024, 6, 1)
    first = b.status_dispute(period=may)
    b.correct(first, {"days_past_due": 30, "subject_notified_on": "2024-05-01"})
    first.closed_at = NOW
    b.correct(b.status_dispute(period=june), {"days_past_due": 60})
    # May back to 0 would leave June 60 days late one month after a current May
    again = b.status_dispute(period=may)
    with pytest.raises(Invalid) as err:
        b.correct(again, {"days_past_due": 0})
    assert err.value.extra["field"] == "days_past_due"
    assert "correct 2024-06 too" in err.value.message
    assert current_status(b, "CC-1", may).version == 2


# -- account ---------------------------------------------------------------------------------
def test_an_account_correction_is_a_new_version_with_the_old_one_kept(bureau):
    b = bureau
    loan = b.account("LOAN-1")
    old = b.session.scalar(select(AccountVersion).where(AccountVersion.account_id == loan.id))
    result = b.correct(b.account_dispute("LOAN-1"), {"principal": "100000", "term_months": 24})
    b.session.commit()
    b.session.refresh(old)
    assert old.superseded_by_batch_id == result.batch_id and old.principal_cents == 12_000_000
    new = b.session.scalar(
        select(AccountVersion).where(
            AccountVersion.account_id == loan.id, AccountVersion.superseded_at.is_(None)
        )
    )
    assert (new.version, new.principal_cents, new.term_months) == (2, 10_000_000, 24)
    assert (new.account_type, new.opened_on, new.currency) == (
        old.account_type, old.opened_on, old.currency,
    )  # fmt: skip
    assert result.changes == {
        "principal": {"old": "120000.00", "new": "100000.00"},
        "term_months": {"old": 36, "new": 24},
    }
    assert result.superseded == result.inserted == {"account_version": 1}
    # 李四 is re-scored too: the champion scores every person with a file
    assert result.score is not None and len(all_scores(b, b.li)) == 1


def test_closing_an_account_before_a_month_it_carries_a_balance_is_refused(bureau):
    b = bureau
    d = b.account_dispute("CC-1")
    b.session.commit()
    counts = table_counts(b.session)
    with pytest.raises(Invalid) as err:
        b.correct(d, {"status": "closed", "closed_on": "2024-04-30"})
    assert err.value.extra["field"] == "closed_on"
    assert "the status of 2024-04 disagrees" in err.value.message
    with pytest.raises(Invalid) as err:
        b.correct(d, {"status": "closed"})  # the furnishing rule: closed needs closed_on
    assert err.value.extra["field"] == "closed_on"
    with pytest.raises(Invalid) as err:
        b.correct(d, {"opened_on": "2024-05-15"})  # 2024-04 would lie before the opening
    assert err.value.extra["field"] == "opened_on"
    b.session.rollback()
    assert table_counts(b.session) == counts


def test_an_account_not_the_subjects_is_removed_with_its_statuses(bureau):
    b = bureau
    card = b.account("CC-1")
    result = b.correct(b.account_dispute("CC-1"), {"remove": True})
    b.session.commit()
    assert result.superseded == {"account_version": 1, "status_record": 3}
    assert result.inserted == {}
    # 张三 has no credit file left: nothing to score, said rather than failed
    assert result.score is None and "no credit file" in result.score_note
    assert one_subject_features(b.session, b.zhang.id, NOW.date()) is None
    assert load_snapshot(b.session, b.zhang.id, as_of=None, keyring=b.keyring).accounts == []
    past = load_snapshot(b.session, b.zhang.id, as_of=date(2024, 8, 1), keyring=b.keyring)
    assert [a.account_id for a in past.accounts] == [card.id]
    assert one_subject_features(b.session, b.zhang.id, NOW.date(), known_at=BEFORE) is not None
    # a second correction of the same record finds nothing on file
    with pytest.raises(Conflict):
        b.correct(b.status_dispute(), {"days_past_due": 0})


# -- public record ---------------------------------------------------------------------------
def public_record_dispute(b: Bureau) -> Dispute:
    rec = b.session.scalar(select(PublicRecord))
    return b.dispute(
        b.acme, "public_record", f"public_record:{rec.institution_id}:{rec.kind}:{rec.case_ref}",
        record_id=rec.id, institution_id=rec.institution_id,
    )  # fmt: skip


def test_a_public_record_is_corrected_and_an_enterprise_without_champion_is_not_scored(bureau):
    b = bureau
    old = b.session.scalar(select(PublicRecord))
    result = b.correct(public_record_dispute(b), {"resolved_on": "2024-07-20", "amount": 40000})
    b.session.commit()
    b.session.refresh(old)
    new = b.session.scalar(select(PublicRecord).where(PublicRecord.superseded_at.is_(None)))
    assert old.superseded_by_batch_id == result.batch_id and old.resolved_on is None
    assert (new.version, new.resolved_on, new.amount_cents) == (2, date(2024, 7, 20), 4_000_000)
    assert (new.case_ref, new.kind, new.subject_id) == (old.case_ref, old.kind, old.subject_id)
    assert result.changes["resolved_on"] == {"old": None, "new": "2024-07-20"}
    assert result.score is None and "no enterprise champion" in result.score_note
    (shown,) = load_snapshot(b.session, b.acme.id, as_of=None, keyring=b.keyring).public_records
    assert shown.resolved_on == date(2024, 7, 20)
    with pytest.raises(Invalid) as err:  # resolved before filed: the furnishing rule
        b.correct(public_record_dispute_again(b), {"resolved_on": "2024-01-01"})
    assert err.value.extra["field"] == "resolved_on"


def public_record_dispute_again(b: Bureau) -> Dispute:
    for d in b.session.scalars(select(Dispute).where(Dispute.record_type == "public_record")):
        d.closed_at = NOW
    b.session.flush()
    return public_record_dispute(b)


def test_a_public_record_not_the_subjects_is_removed(bureau):
    b = bureau
    result = b.correct(public_record_dispute(b), {"remove": True})
    b.session.commit()
    assert result.superseded == {"public_record": 1} and result.removed
    assert load_snapshot(b.session, b.acme.id, as_of=None, keyring=b.keyring).public_records == []
    past = load_snapshot(b.session, b.acme.id, as_of=date(2024, 8, 1), keyring=b.keyring)
    assert len(past.public_records) == 1


# -- inquiry ---------------------------------------------------------------------------------
def test_an_inquiry_without_authority_is_deleted_and_remembered_in_the_result(bureau):
    b = bureau
    inq = b.session.scalar(select(Inquiry).where(Inquiry.subject_id == b.zhang.id))
    before = score_subjects(b.session, [b.zhang.id], actor="test", as_of=NOW.date()).scores[0]
    d = b.dispute(b.zhang, "inquiry", f"inquiry:{inq.id}", record_id=inq.id,
                  institution_id=inq.institution_id)  # fmt: skip
    with pytest.raises(Invalid):
        b.correct(d, {"kind": "soft"})
    result = b.correct(d, {"remove": True})
    b.session.commit()
    assert b.session.get(Inquiry, inq.id) is None
    assert result.deleted == {"inquiry": 1} and result.superseded == {}
    assert result.removed_inquiry == {
        "institution": BANK, "inquired_on": "2024-05-20", "purpose": "loan_approval",
        "kind": "hard", "source": "furnished",
    }  # fmt: skip
    assert one_subject_features(b.session, b.zhang.id, NOW.date())["hard_inquiries_12m"] == 0
    assert result.score["score"] > before.score  # fewer hard inquiries, more points
    batch = b.session.get(FurnishingBatch, result.batch_id)
    assert b.session.get(Institution, batch.institution_id).code == BANK


# -- notices ---------------------------------------------------------------------------------
def test_institutions_that_queried_in_the_last_60_days_are_notified_once_each(bureau):
    b = bureau
    day = NOW.date()
    b.api_inquiry(b.zhang, BANK, day - timedelta(days=60))  # the first day of the window
    b.api_inquiry(b.zhang, BANK, day - timedelta(days=2))  # the same bank again: one notice
    b.api_inquiry(b.zhang, OTHER_BANK, day - timedelta(days=61))  # one day too old
    b.api_inquiry(b.zhang, "BANK_C", day - timedelta(days=5), source=InquirySource.furnished)
    b.api_inquiry(b.li, "BANK_C", day - timedelta(days=1))  # another subject
    d = b.status_dispute()
    result = b.correct(d, {"days_past_due": 0})
    b.session.commit()
    assert result.notified_institutions == [BANK]
    notices = b.session.scalars(select(Notification).order_by(Notification.id)).all()
    assert [(n.kind, n.institution_id, n.subject_id) for n in notices] == [
        ("report.corrected", b.institution(BANK).id, None),
        ("report.corrected", None, b.zhang.id),
    ]
    payload = orjson.loads(notices[0].payload)
    assert payload == {
        "subject_ref": b.zhang.ref, "dispute": d.ref, "corrected_report": result.batch_ref,
        "corrected_at": NOW.isoformat(), "record_type": "status",
    }  # fmt: skip
    assert orjson.loads(notices[1].payload) == payload
    assert all(n.created_at == NOW for n in notices)


def test_the_window_moves_with_the_correction_date_and_skips_the_bureau(bureau):
    b = bureau
    b.api_inquiry(b.zhang, BANK, date(2024, 8, 1))
    b.api_inquiry(b.zhang, OTHER_BANK, date(2024, 6, 1))
    bureau_inst = bureau_institution(b.session)
    b.api_inquiry(b.zhang, bureau_inst.code, date(2024, 8, 1))
    # corrected on 2024-07-30: OTHER_BANK's query is 59 days old, BANK's lies in the future
    result = b.correct(b.status_dispute(), {"days_past_due": 0},
                       now=datetime(2024, 7, 30, 12, 0, tzinfo=UTC))  # fmt: skip
    assert result.notified_institutions == [OTHER_BANK]


# -- a later file does not put back what a dispute removed or corrected ----------------------
def _resend(b: Bureau, cn, tmp_path, rows=None):
    """The furnisher's original file (`bureau_rows`), or `rows`, furnished again by BANK_A."""
    path = write_jsonl(tmp_path / "again.jsonl", rows or bureau_rows())
    report = run(b.session, path, b.keyring, cn)
    b.session.commit()
    return report, {(e["record_type"], e["field"]): e["reason"] for e in report.errors}


def test_a_removed_account_is_not_put_back_by_the_next_file(bureau, cn, tmp_path):
    b = bureau
    d = b.account_dispute("CC-1")
    b.correct(d, {"remove": True})
    b.session.commit()
    counts = table_counts(b.session)
    report, errors = _resend(b, cn, tmp_path)  # raised IntegrityError on account_ref before
    assert report.rejected == 4  # the account line and its three months
    assert f"this account was removed after dispute {d.ref}" in errors[("account", "account_ref")]
    assert f"removed after dispute {d.ref}" in errors[("status", "account_ref")]
    assert report.accepted == 0 and report.corrections == 0
    after = table_counts(b.session)
    assert {t: after[t] for t in ("account", "account_version", "status_record")} == {
        t: counts[t] for t in ("account", "account_version", "status_record")
    }
    assert load_snapshot(b.session, b.zhang.id, as_of=None, keyring=b.keyring).accounts == []


def test_a_removed_month_is_not_put_back_by_the_next_file(bureau, cn, tmp_path):
    b, june = bureau, date(2024, 6, 1)
    d = b.status_dispute()
    b.correct(d, {"remove": True})
    b.session.commit()
    report, errors = _resend(b, cn, tmp_path)
    assert report.rejected == 1 and report.accepted == 0 and report.corrections == 0
    assert f"this month was removed after dispute {d.ref}" in errors[("status", "period")]
    assert current_status(b, "CC-1", june) is None


def test_the_value_before_a_correction_is_refused_and_a_new_value_is_taken(bureau, cn, tmp_path):
    b, june = bureau, date(2024, 6, 1)
    d = b.status_dispute()
    b.correct(d, {"days_past_due": 0})
    b.session.commit()
    # the furnisher's system still says 30 days late: that line would undo the correction
    report, errors = _resend(b, cn, tmp_path)
    assert report.rejected == 1 and report.corrections == 0
    assert "as it read before it was corrected" in errors[("status", "period")]
    assert d.ref in errors[("status", "period")]
    assert current_status(b, "CC-1", june).days_past_due == 0
    # a different value is an ordinary correction by the furnisher
    line = status("CC-1", "2024-06", balance="1400.00", dpd=0)
    report, _ = _resend(b, cn, tmp_path, [line])
    assert (report.corrections, report.rejected) == (1, 0)
    assert current_status(b, "CC-1", june).balance_cents == 140_000


def test_an_account_as_it_read_before_its_correction_is_refused(bureau, cn, tmp_path):
    b = bureau
    d = b.account_dispute("CC-1")
    before = b.session.scalar(
        select(AccountVersion.credit_limit_cents).where(
            AccountVersion.account_id == b.account("CC-1").id,
            AccountVersion.superseded_at.is_(None),
        )
    )
    b.correct(d, {"credit_limit": "30000"})
    b.session.commit()
    report, errors = _resend(b, cn, tmp_path)
    assert report.rejected == 1 and report.corrections == 0
    assert d.ref in errors[("account", "account_ref")]
    limit = b.session.scalar(
        select(AccountVersion.credit_limit_cents).where(
            AccountVersion.account_id == b.account("CC-1").id,
            AccountVersion.superseded_at.is_(None),
        )
    )
    assert limit == 3_000_000 != before
