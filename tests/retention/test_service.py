"""The retention job, reports and features with time travel, for both profiles and backends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.conftest import publish_champion
from credo.account.models import Account, AccountVersion, StatusRecord
from credo.audit import service as audit
from credo.audit.models import AuditEntry
from credo.config import get_profile, get_settings
from credo.db import Base
from credo.feature.pit import FEATURES
from credo.feature.service import (
    bulk_features,
    load_frames,
    one_subject_features,
    subject_features,
)
from credo.furnishing.service import furnish
from credo.public_record.models import PublicRecord
from credo.report.service import build_report
from credo.report.snapshot import Viewer, load_snapshot
from credo.retention import service
from credo.scoring.models import SubjectScore
from credo.scoring.service import subjects_with_file
from credo.subject.models import Subject
from furnishing.bureau import WANG_ID, WANG_NAME, loan, person, table_counts, write_jsonl

from .conftest import BATCH_DATE, FURNISHED, _late, _months

#: per profile: (day, expired records found that day), each run erasing what it finds
RUNS = {
    "cn": [
        (date(2020, 4, 1), {"delinquent_month": 2, "public_record:bankruptcy": 1}),
        (date(2021, 6, 1), {"account:charged_off": 1, "public_record:court_judgment": 1}),
    ],
    "us": [
        (date(2022, 3, 1), {"delinquent_month": 1, "public_record:court_judgment": 1,
                            "public_record:enforcement": 1}),
        (date(2023, 6, 30), {"delinquent_month": 1, "account:charged_off": 1,
                             "public_record:bankruptcy": 1}),
    ],
}  # fmt: skip
#: per profile: the first record to expire and its last day on file
FIRST = {"cn": ("public_record:bankruptcy", date(2019, 1, 10)),
         "us": ("public_record:enforcement", date(2019, 2, 1))}  # fmt: skip


def _rows(session: Session) -> dict[str, set]:
    """What is stored, by stable key (every version)."""
    refs = dict(session.execute(select(Account.id, Account.account_ref)).all())
    return {
        "status_record": {(refs[a], p.isoformat(), d) for a, p, d in session.execute(
            select(StatusRecord.account_id, StatusRecord.period, StatusRecord.days_past_due))},
        "account": set(refs.values()),
        "account_version": {refs[a] for a in session.scalars(select(AccountVersion.account_id))},
        "public_record": {k.value for k in session.scalars(select(PublicRecord.kind))},
    }  # fmt: skip


def _retention_entries(session: Session) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.action == "retention.erase")
    return list(session.scalars(stmt.order_by(AuditEntry.seq)))


def _run(session, day, **kw):
    report = service.run(session, get_settings(), today=day, actor="test:retention", **kw)
    session.commit()
    return report


def test_just_before_and_just_after_the_boundary(bureau, session):
    kind, last_day = FIRST[bureau.profile]
    before = table_counts(session)
    assert _run(session, last_day, dry_run=True).total == 0
    after = _run(session, last_day + timedelta(days=1), dry_run=True)
    assert dict(after.by_kind) == {kind: 1}
    assert table_counts(session) == before  # dry runs change nothing, not even the ledger


def test_a_dry_run_lists_counts_and_changes_nothing(bureau, session):
    day, expected = RUNS[bureau.profile][0]
    before, rows = table_counts(session), _rows(session)
    report = _run(session, day, dry_run=True)
    assert dict(report.by_kind) == expected and report.dry_run
    assert report.counts["status_record"] == expected["delinquent_month"]
    assert table_counts(session) == before and _rows(session) == rows
    assert _retention_entries(session) == []


def test_the_job_erases_exactly_the_expired_rows_and_is_idempotent(bureau, session, keyring):
    (day1, exp1), (day2, exp2) = RUNS[bureau.profile]
    rows0 = _rows(session)
    first = _run(session, day1)
    assert dict(first.by_kind) == exp1
    rows1 = _rows(session)
    gone = {t: rows0[t] - rows1[t] for t in rows0}
    late = {("CC-1", "2015-02-01", 30), ("CC-1", "2015-03-01", 60)}
    if bureau.profile == "cn":
        assert gone == {"status_record": late, "account": set(), "account_version": set(),
                        "public_record": {"bankruptcy"}}  # fmt: skip
    else:
        assert gone == {"status_record": {("CC-1", "2015-02-01", 30)}, "account": set(),
                        "account_version": set(),
                        "public_record": {"court_judgment", "enforcement"}}  # fmt: skip
    # the card's clean months, old and recent, stay; so does 李四's card
    assert {p for r, p, _ in rows1["status_record"] if r == "CC-1"} >= {
        "2015-01-01", "2015-04-01", "2019-06-01"}  # fmt: skip
    assert "CL-2" in rows1["account"]

    # the ledger: one entry, counts and row ids only
    (entry,) = _retention_entries(session)
    details = orjson.loads(entry.details)
    assert details["profile"] == bureau.profile and details["today"] == day1.isoformat()
    assert details["records"] == exp1
    assert details["rows"] == first.counts
    assert sorted(details["row_ids"]["status_record"]) == sorted(first.rows["status_record"])

    # a second run the same day finds nothing, and says so in the ledger
    again = _run(session, day1)
    assert again.total == 0 and _rows(session) == rows1
    entries = _retention_entries(session)
    assert len(entries) == 2 and orjson.loads(entries[1].details)["rows"] == dict.fromkeys(
        first.counts, 0
    )

    # later, the charged-off loan goes whole: account, its versions, every month
    second = _run(session, day2)
    assert dict(second.by_kind) == exp2
    rows2 = _rows(session)
    assert "LOAN-9" not in rows2["account"] and "LOAN-9" not in rows2["account_version"]
    assert not {r for r, _, _ in rows2["status_record"]} & {"LOAN-9"}
    assert rows2["public_record"] == ({"enforcement"} if bureau.profile == "cn" else set())
    assert audit.verify(session, keyring).ok


def test_every_version_of_an_expired_record_is_erased(bureau, session, keyring, tmp_path,
                                                       monkeypatch):  # fmt: skip
    from credo.furnishing.service import furnish
    from furnishing.bureau import status, write_jsonl

    # a correction of Feb 2015 (15 days instead of 30): two versions of that month
    path = write_jsonl(tmp_path / "fix.jsonl",
                       [status("CC-1", "2015-02", dpd=15, subject_notified_on="2014-12-01")],
                       institution="BANK_A", as_of=BATCH_DATE)  # fmt: skip
    profile = get_settings().jurisdiction
    report = furnish(session, path=path, institution_code="BANK_A", keyring=keyring,
                     profile=profile, actor="test", today=date(2019, 7, 2))  # fmt: skip
    assert report.corrections == 1
    session.commit()
    feb = select(StatusRecord.id).where(StatusRecord.period == date(2015, 2, 1))
    assert len(session.scalars(feb).all()) == 2
    _run(session, RUNS[bureau.profile][0][0])
    assert session.scalars(feb).all() == []


def test_reports_hide_expired_data_before_the_job_and_do_not_change_after_it(bureau, session,
                                                                            keyring):  # fmt: skip
    day, _ = RUNS[bureau.profile][0]
    now = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=9)

    def doc():
        d = build_report(session, bureau.zhang, viewer="operator", actor="test", now=now,
                         keyring=keyring, report_id="r1")  # fmt: skip
        return {k: d[k] for k in ("accounts", "public_records", "summary")}

    def kinds(snap):
        return sorted(r.kind for r in snap.public_records)

    def snap(as_of):
        return load_snapshot(session, bureau.zhang_id, as_of=as_of, keyring=keyring,
                             viewer=Viewer.operator, now=now)  # fmt: skip

    expected_kinds = {"cn": ["court_judgment", "enforcement"], "us": ["bankruptcy"]}
    current = snap(None)
    assert kinds(current) == expected_kinds[bureau.profile]
    card = next(a for a in current.accounts if a.account_ref == "CC-1")
    late = [s.period for s in card.statuses if s.days_past_due > 0]
    assert late == ([] if bureau.profile == "cn" else [date(2015, 3, 1)])
    # the month itself disappears; the clean months around it stay
    assert {date(2015, 1, 1), date(2015, 4, 1)} <= {s.period for s in card.statuses}
    # an as-of report in the past shows what had not expired then
    past = snap(day - timedelta(days=1))
    card = next(a for a in past.accounts if a.account_ref == "CC-1")
    late = [s.period for s in card.statuses if s.days_past_due > 0]
    assert late == [date(2015, 2, 1), date(2015, 3, 1)]
    if bureau.profile == "us":
        assert kinds(snap(date(2021, 9, 1))) == ["bankruptcy", "court_judgment"]
        assert kinds(snap(date(2021, 9, 2))) == ["bankruptcy"]
    before = doc()
    _run(session, day)
    assert doc() == before  # erasing changes nothing anyone sees


@pytest.mark.parametrize("step", [0, 1])
def test_features_ignore_expired_data_and_both_paths_agree(bureau, session, step):
    """Around the day the charged-off loan's data goes: its late months, then the account."""
    points = {
        "cn": [(date(2021, 5, 31), 60.0, 1.0), (date(2021, 6, 1), None, 0.0)],
        "us": [(date(2022, 2, 28), 69.0, 1.0), (date(2023, 5, 30), 84.0, 1.0),
               (date(2023, 5, 31), None, 0.0)],
    }[bureau.profile]  # fmt: skip
    for as_of, since, installment in points:
        if step:  # after the job has run that day, the values are the same
            _run(session, as_of)
        bulk = bulk_features(session, as_of)
        for row in bulk.iter_rows(named=True):
            values = {k: row[k] for k in FEATURES}
            assert one_subject_features(session, row["subject_id"], as_of) == values
            assert subject_features(session, row["subject_id"], as_of) == values
        zhang = bulk.filter(bulk["subject_id"] == bureau.zhang_id).row(0, named=True)
        assert zhang["months_since_delinquency"] == since, as_of
        assert zhang["has_installment"] == installment, as_of


def test_a_file_with_only_expired_accounts_is_no_file(bureau, session):
    # the court's public records alone are no credit file; 张三 keeps his card
    day = date(2030, 1, 1)
    assert one_subject_features(session, bureau.zhang_id, day) is not None
    _run(session, day)
    assert session.scalar(select(Account.id).where(Account.account_ref == "LOAN-9")) is None


def test_no_foreign_key_stands_in_the_way():
    """Every foreign key into a table the job deletes from comes from one it also deletes from
    (children first); a new reference to these rows must be handled by the job."""
    erased = {"account", "account_version", "status_record", "public_record"}
    into = {
        (t.name, fk.column.table.name)
        for t in Base.metadata.sorted_tables
        for fk in t.foreign_keys
        if fk.column.table.name in erased
    }
    assert into == {("account_version", "account"), ("status_record", "account")}


def test_bulk_scoring_and_one_subject_agree_on_a_file_of_only_expired_accounts(
    bureau, session, keyring, tmp_path, monkeypatch
):
    """王五's only account was charged off in 2016: once it has expired he has no credit file,
    for the single-subject features and for bulk scoring's list of whom to score alike."""
    rows = [
        person(WANG_ID, WANG_NAME, date(1978, 1, 30)),
        loan("LOAN-W", WANG_ID, opened_on="2015-06-01", status="charged_off",
             closed_on="2016-05-31", subject_notified_on="2016-05-01"),
        *[_late("LOAN-W", p, 30 * i) for i, p in enumerate(_months(2016, 1, 5), 1)],
    ]  # fmt: skip
    path = write_jsonl(tmp_path / "wang.jsonl", rows, institution="BANK_A", as_of=BATCH_DATE)
    with monkeypatch.context() as m:
        m.setattr("credo.furnishing.store.utcnow", lambda: FURNISHED)
        furnish(
            session, path=path, institution_code="BANK_A", keyring=keyring,
            profile=get_profile(bureau.profile), actor="test", today=FURNISHED.date(),
        )  # fmt: skip
    wang = session.scalar(select(Subject.id).where(Subject.birth_year == 1978))
    frames = load_frames(session)
    for day, has_file in ((date(2020, 1, 1), True), (date(2030, 1, 1), False)):
        assert (wang in subjects_with_file(frames, day)) is has_file, day
        assert (one_subject_features(session, wang, day) is not None) is has_file, day
        assert bureau.zhang_id in subjects_with_file(frames, day)


def test_the_job_rescores_the_subjects_whose_files_lost_data(bureau, session, scorecard):
    """A stored score must not keep points and reasons that came from erased data: after a run
    the subjects it touched are re-scored with their segment's champion."""
    day = date(2030, 1, 1)
    assert service.run(session, get_settings(), today=day, actor="test", dry_run=True).rescored == 0
    publish_champion(session, scorecard)
    report = _run(session, day)
    assert bureau.zhang_id in report.subjects and bureau.li_id not in report.subjects
    assert report.rescored == len(report.subjects)
    stored = session.scalars(
        select(SubjectScore).where(SubjectScore.subject_id == bureau.zhang_id)
    ).all()
    assert [(s.as_of, s.trigger) for s in stored] == [(day, "batch")]
    [entry] = _retention_entries(session)
    assert orjson.loads(entry.details)["subjects"] == len(report.subjects)
    # nothing left to erase: nobody is re-scored again
    assert _run(session, day).rescored == 0


def test_scores_computed_from_erased_data_are_erased_with_it(bureau, session, scorecard):
    """Every stored score of a subject whose data the job erased was computed from it (its
    reasons and inputs hold it; an as-of report would show it): those rows go too, and the
    subject gets a fresh score. Other subjects' scores stay."""
    from credo.scoring.service import score_subjects

    publish_champion(session, scorecard)
    for day in (date(2019, 7, 1), date(2020, 1, 1)):
        score_subjects(session, [bureau.zhang_id, bureau.li_id], actor="test", as_of=day)
    session.commit()

    def rows(sid):
        session.expire_all()
        return session.scalars(
            select(SubjectScore).where(SubjectScore.subject_id == sid).order_by(SubjectScore.id)
        ).all()

    old_zhang, old_li = [s.id for s in rows(bureau.zhang_id)], [s.id for s in rows(bureau.li_id)]
    assert len(old_zhang) == len(old_li) == 2
    day = date(2030, 1, 1)
    dry = service.run(session, get_settings(), today=day, actor="test", dry_run=True)
    assert dry.rows["subject_score"] == old_zhang
    assert [s.id for s in rows(bureau.zhang_id)] == old_zhang  # a dry run erases nothing
    report = _run(session, day)
    assert report.counts["subject_score"] == 2
    assert [(s.as_of, s.trigger) for s in rows(bureau.zhang_id)] == [(day, "batch")]
    assert [s.id for s in rows(bureau.li_id)] == old_li
    [entry] = _retention_entries(session)
    assert orjson.loads(entry.details)["row_ids"]["subject_score"] == old_zhang
