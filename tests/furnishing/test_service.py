"""Furnishing batches end to end on a real database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import contextlib
import random
import re
from datetime import date

import orjson
import pytest
from sqlalchemy import select

from credo.account.models import Account, AccountVersion, StatusRecord
from credo.audit import service as audit
from credo.audit.models import AuditEntry
from credo.core.checksums import make_prc_id
from credo.core.masking import mask_id
from credo.furnishing.models import FurnishingBatch, QuarantinedRow
from credo.public_record.models import PublicRecord
from credo.subject.models import Subject, SubjectInfo

from .bureau import (
    LI_ADDRESS,
    LI_ID,
    LI_PHONE_E164,
    OTHER_BANK,
    SMALL_BUREAU_ROWS,
    WANG_ID,
    ZHANG_ID,
    account,
    add_institution,
    errors_by_line,
    inquiry,
    loan,
    person,
    public_record,
    run,
    small_bureau,
    status,
    table_counts,
    write_csv,
    write_jsonl,
)

LEDGER_TABLES = {"furnishing_batch", "audit_entry", "audit_checkpoint"}


@pytest.fixture
def bank(session):
    add_institution(session)
    session.flush()
    return session


def _write(tmp_path, name, rows, fmt="jsonl"):
    path = tmp_path / f"{name}.{fmt}"
    return write_jsonl(path, rows) if fmt == "jsonl" else write_csv(path, rows)


def _statuses(session, ref="CC-1", period=date(2024, 6, 1)):
    return session.scalars(
        select(StatusRecord)
        .join(Account, Account.id == StatusRecord.account_id)
        .where(Account.account_ref == ref, StatusRecord.period == period)
        .order_by(StatusRecord.version)
        # bulk UPDATEs do not refresh objects already in the session
        .execution_options(populate_existing=True)
    ).all()


def _batch_id(session, report) -> int:
    return session.scalar(select(FurnishingBatch.id).where(FurnishingBatch.ref == report.batch_id))


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_small_bureau_lands_with_exact_counts(bank, tmp_path, keyring, cn, fmt):
    before = table_counts(bank)
    report = run(
        bank, _write(tmp_path, "b", small_bureau(), fmt), keyring, cn, as_of=date(2024, 6, 30)
    )
    assert (report.lines, report.accepted, report.rejected, report.duplicates) == (15, 15, 0, 0)
    assert report.errors == []
    after = table_counts(bank)
    for table, n in SMALL_BUREAU_ROWS.items():
        assert after[table] - before[table] == n, table
    assert report.changes["status_record"] == {"inserted": 6, "superseded": 0}
    assert report.file_format == fmt
    subj = bank.scalars(select(Subject).order_by(Subject.id)).all()
    assert [s.subject_type for s in subj] == ["person", "person", "enterprise"]
    assert keyring.decrypt(subj[1].id_enc, column="subject.id_number") == LI_ID
    info = bank.scalars(select(SubjectInfo).where(SubjectInfo.subject_id == subj[1].id)).one()
    assert keyring.decrypt(info.phone_enc, column="subject_info.phone") == LI_PHONE_E164
    assert keyring.decrypt(info.address_enc, column="subject_info.address") == LI_ADDRESS
    loan_version = bank.scalars(
        select(AccountVersion).join(Account).where(Account.account_ref == "LOAN-1")
    ).one()
    assert (loan_version.principal_cents, loan_version.term_months) == (12_000_000, 36)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_resending_the_same_file_changes_nothing(bank, tmp_path, keyring, cn, fmt):
    path = _write(tmp_path, "b", small_bureau(), fmt)
    run(bank, path, keyring, cn, as_of=date(2024, 6, 30))
    before = table_counts(bank)
    again = run(bank, path, keyring, cn, as_of=date(2024, 6, 30))
    assert (again.accepted, again.corrections, again.duplicates) == (0, 0, 15)
    assert again.changes == {}
    after = table_counts(bank)
    assert {t for t in after if after[t] != before[t]} <= LEDGER_TABLES
    assert after["furnishing_batch"] == before["furnishing_batch"] + 1
    assert after["audit_entry"] == before["audit_entry"] + 1


def test_csv_and_jsonl_of_the_same_data_are_duplicates_of_each_other(bank, tmp_path, keyring, cn):
    run(bank, _write(tmp_path, "b", small_bureau(), "jsonl"), keyring, cn)
    again = run(
        bank, _write(tmp_path, "b", small_bureau(), "csv"), keyring, cn, as_of=date(2024, 6, 30)
    )
    assert again.duplicates == 15


def test_later_status_with_another_balance_is_a_correction(bank, tmp_path, keyring, cn):
    first = run(bank, _write(tmp_path, "1", small_bureau()), keyring, cn)
    fix = run(
        bank, _write(tmp_path, "2", [status("CC-1", "2024-06", balance="1600.00")]), keyring, cn
    )
    assert (fix.accepted, fix.corrections, fix.duplicates) == (0, 1, 0)
    assert fix.changes == {"status_record": {"inserted": 1, "superseded": 1}}
    old, new = _statuses(bank)
    assert (old.version, old.balance_cents, old.batch_id) == (1, 150000, _batch_id(bank, first))
    assert old.superseded_at is not None
    assert old.superseded_by_batch_id == _batch_id(bank, fix)
    assert (new.version, new.balance_cents, new.superseded_at) == (2, 160000, None)
    assert new.batch_id == _batch_id(bank, fix)
    # sending the correction again is a duplicate of the current version
    again = run(
        bank, _write(tmp_path, "3", [status("CC-1", "2024-06", balance="1600.00")]), keyring, cn
    )
    assert again.duplicates == 1
    assert len(_statuses(bank)) == 2
    # and sending the original again is a correction back (version 3), not a duplicate of v1
    back = run(bank, _write(tmp_path, "4", [status("CC-1", "2024-06")]), keyring, cn)
    assert back.corrections == 1
    assert [(s.version, s.superseded_at is None) for s in _statuses(bank)] == [
        (1, False),
        (2, False),
        (3, True),
    ]


def test_two_versions_of_one_status_in_one_file(bank, tmp_path, keyring, cn):
    rows = [
        *small_bureau(),
        status("CC-1", "2024-06", balance="1700"),
        status("CC-1", "2024-06", balance="1700"),
    ]
    report = run(bank, _write(tmp_path, "b", rows), keyring, cn)
    assert (report.accepted, report.corrections, report.duplicates) == (15, 1, 1)
    v1, v2 = _statuses(bank)
    batch = _batch_id(bank, report)
    assert (v1.version, v1.superseded_by_batch_id, v1.line_no) == (1, batch, 10)
    assert v1.superseded_at is not None
    assert (v2.version, v2.balance_cents, v2.superseded_at, v2.line_no) == (2, 170000, None, 17)


def test_account_attribute_change_keeps_account_version_history(bank, tmp_path, keyring, cn):
    run(bank, _write(tmp_path, "1", small_bureau()), keyring, cn)
    change = [
        account("CC-1", credit_limit="30000"),
        account("CC-1", status="closed", credit_limit="30000", closed_on="2024-06-20"),
    ]
    report = run(bank, _write(tmp_path, "2", change), keyring, cn)
    assert (report.accepted, report.corrections) == (0, 2)
    versions = bank.scalars(
        select(AccountVersion)
        .join(Account)
        .where(Account.account_ref == "CC-1")
        .order_by(AccountVersion.version)
    ).all()
    assert [
        (v.version, v.credit_limit_cents, str(v.status), v.superseded_at is None) for v in versions
    ] == [
        (1, 2_000_000, "open", False),
        (2, 3_000_000, "open", False),
        (3, 3_000_000, "closed", True),
    ]
    assert bank.scalar(select(Account.id).where(Account.account_ref == "CC-1")) is not None
    assert len(bank.scalars(select(Account)).all()) == 3
    # the closed account now refuses a balance for the closing month
    late = run(bank, _write(tmp_path, "3", [status("CC-1", "2024-06", balance="5")]), keyring, cn)
    assert late.rejected == 1 and late.errors[0]["field"] == "balance"


def test_public_record_correction(bank, tmp_path, keyring, cn):
    run(bank, _write(tmp_path, "1", small_bureau()), keyring, cn)
    fix = run(bank, _write(tmp_path, "2", [public_record(resolved_on="2024-06-10")]), keyring, cn)
    assert fix.corrections == 1
    rows = bank.scalars(select(PublicRecord).order_by(PublicRecord.version)).all()
    assert [(r.version, r.resolved_on, r.superseded_at is None) for r in rows] == [
        (1, None, False),
        (2, date(2024, 6, 10), True),
    ]
    assert rows[0].superseded_by_batch_id == _batch_id(bank, fix)


def test_subject_contact_change_keeps_subject_info_history(bank, tmp_path, keyring, cn):
    run(bank, _write(tmp_path, "1", small_bureau()), keyring, cn)
    moved = person(
        LI_ID, "李四", date(1990, 11, 2), phone="13900139000", address="杭州市西湖区", gender="F"
    )
    report = run(bank, _write(tmp_path, "2", [moved]), keyring, cn)
    assert (report.corrections, report.flagged) == (1, 0)
    sid = bank.scalar(
        select(Subject.id).where(Subject.id_blind.isnot(None)).order_by(Subject.id).offset(1)
    )
    infos = bank.scalars(
        select(SubjectInfo).where(SubjectInfo.subject_id == sid).order_by(SubjectInfo.version)
    ).all()
    assert [(i.version, i.superseded_at is None) for i in infos] == [(1, False), (2, True)]
    assert keyring.decrypt(infos[0].address_enc, column="subject_info.address") == LI_ADDRESS
    assert keyring.decrypt(infos[1].phone_enc, column="subject_info.phone") == "+8613900139000"
    assert len(bank.scalars(select(Subject)).all()) == 3  # still one subject


def test_two_versions_of_a_subject_in_one_file_keep_both(bank, tmp_path, keyring, cn):
    rows = [person(phone="13900139000"), person(phone="13700137000"), person(phone="13700137000")]
    report = run(bank, _write(tmp_path, "b", rows), keyring, cn)
    assert (report.accepted, report.corrections, report.duplicates) == (1, 1, 1)
    infos = bank.scalars(select(SubjectInfo).order_by(SubjectInfo.version)).all()
    assert [(i.version, i.line_no, i.superseded_at is None) for i in infos] == [
        (1, 2, False),
        (2, 3, True),
    ]
    assert report.changes["subject_info"] == {"inserted": 2, "superseded": 1}


def test_another_institution_reporting_the_same_subject(bank, tmp_path, keyring, cn):
    add_institution(bank, OTHER_BANK)
    run(bank, _write(tmp_path, "1", small_bureau()), keyring, cn)
    path = write_jsonl(tmp_path / "2.jsonl", [person(), account("CC-1")], institution=OTHER_BANK)
    report = run(bank, path, keyring, cn, institution_code=OTHER_BANK)
    assert report.accepted == 2
    counts = table_counts(bank)
    assert (counts["subject"], counts["subject_info"], counts["account"]) == (3, 4, 4)


def test_status_for_unknown_account_is_rejected(bank, tmp_path, keyring, cn):
    report = run(
        bank, _write(tmp_path, "b", [*small_bureau(), status("NOPE-9", "2024-06")]), keyring, cn
    )
    assert report.rejected == 1
    (err,) = errors_by_line(report)[17]
    assert (err["record_type"], err["field"]) == ("status", "account_ref")
    assert "unknown account" in err["reason"]


def test_account_and_status_of_an_unknown_holder_are_rejected(bank, tmp_path, keyring, cn):
    rows = [*small_bureau(), account("CC-9", WANG_ID), status("CC-9", "2024-06"), inquiry(WANG_ID)]
    report = run(bank, _write(tmp_path, "b", rows), keyring, cn)
    assert (report.accepted, report.rejected) == (15, 3)
    errs = errors_by_line(report)
    assert [(e["record_type"], e["field"]) for e in errs[17]] == [("account", "id_number")]
    assert "no subject on file" in errs[17][0]["reason"]
    assert [(e["record_type"], e["field"]) for e in errs[18]] == [("status", "account_ref")]
    assert [(e["record_type"], e["field"]) for e in errs[19]] == [("inquiry", "id_number")]
    assert table_counts(bank)["account"] == 3


def test_account_ref_cannot_change_holder(bank, tmp_path, keyring, cn):
    run(bank, _write(tmp_path, "1", small_bureau()), keyring, cn)
    report = run(bank, _write(tmp_path, "2", [account("CC-1", LI_ID)]), keyring, cn)
    assert report.rejected == 1
    assert report.errors[0]["field"] == "id_number"
    assert "cannot change holder" in report.errors[0]["reason"]
    # the same in one file
    rows = [
        person(),
        person(LI_ID, "李四", date(1990, 11, 2)),
        account("X-1"),
        account("X-1", LI_ID),
    ]
    report = run(bank, _write(tmp_path, "3", rows), keyring, cn)
    assert report.rejected == 1 and report.errors[0]["line"] == 5


def test_quarantined_rows_are_masked_and_keep_the_raw_line_encrypted(bank, tmp_path, keyring, cn):
    bad_id = ZHANG_ID[:-1] + ("0" if ZHANG_ID[-1] != "0" else "1")
    rows = [
        person(id_number=bad_id),  # line 2
        status("CC-1", "2024-06", balance="-3", currency_note=None),  # line 3
    ]
    report = run(bank, _write(tmp_path, "b", rows), keyring, cn)
    assert report.rejected == 2
    q = bank.scalars(select(QuarantinedRow).order_by(QuarantinedRow.line_no)).all()
    assert [(r.line_no, r.record_type, r.field, r.held) for r in q] == [
        (2, "subject", "id_number", False),
        (3, "status", "balance", False),
    ]
    assert q[0].masked_value == mask_id(bad_id) == bad_id[:4] + "*" * 10 + bad_id[-4:]
    assert "checksum" in q[0].reason and bad_id not in q[0].reason
    assert q[1].masked_value == "-3"
    raw = orjson.loads(keyring.decrypt(q[0].raw_enc, column="quarantined_row.raw"))
    assert raw["id_number"] == bad_id
    assert bad_id.encode() not in q[0].raw_enc
    assert report.errors[0] == {
        "line": 2,
        "record_type": "subject",
        "field": "id_number",
        "reason": q[0].reason,
        "value": q[0].masked_value,
        "held": False,
    }
    for e in report.errors:
        assert {"line", "record_type", "field", "reason"} <= set(e)
    assert sum(report.rejections_by_reason.values()) == 2


def test_every_problem_of_a_line_is_quarantined_but_the_line_counts_once(
    bank, tmp_path, keyring, cn
):
    report = run(
        bank, _write(tmp_path, "b", [account(currency="XYZ", opened_on="2099-01-01")]), keyring, cn
    )
    assert (report.lines, report.rejected, report.errors_total) == (1, 1, 2)
    q = bank.scalars(select(QuarantinedRow)).all()
    assert sorted(r.field for r in q) == ["currency", "opened_on"]
    assert sum(r.raw_enc is not None for r in q) == 1


def test_one_ledger_entry_per_batch_naming_the_counts(bank, tmp_path, keyring, cn):
    first = run(
        bank, _write(tmp_path, "1", [*small_bureau(), status("NOPE", "2024-06")]), keyring, cn
    )
    second = run(bank, _write(tmp_path, "2", small_bureau()), keyring, cn)
    entries = bank.scalars(
        select(AuditEntry).where(AuditEntry.action == "furnish.batch").order_by(AuditEntry.seq)
    ).all()
    assert [e.target for e in entries] == [f"batch:{first.batch_id}", f"batch:{second.batch_id}"]
    details = orjson.loads(entries[0].details)
    assert {
        k: details[k]
        for k in ("lines", "accepted", "rejected", "duplicates", "corrections", "flagged")
    } == {
        "lines": 16,
        "accepted": 15,
        "rejected": 1,
        "duplicates": 0,
        "corrections": 0,
        "flagged": 0,
    }
    assert details["file_sha256"] == first.file_sha256
    assert details["changes"]["subject"] == {"inserted": 3, "superseded": 0}
    assert orjson.loads(entries[1].details)["duplicates"] == 15
    assert audit.verify(bank, keyring).ok
    for e in bank.scalars(select(AuditEntry)).all():
        assert ZHANG_ID not in e.details and "张三" not in e.details


def test_batch_row_records_the_outcome(bank, tmp_path, keyring, cn):
    from credo.furnishing.service import file_sha256

    path = _write(tmp_path, "b", small_bureau())
    report = run(bank, path, keyring, cn)
    batch = bank.scalars(select(FurnishingBatch)).one()
    assert (batch.lines, batch.accepted, batch.rejected, batch.file_format) == (15, 15, 0, "jsonl")
    assert batch.file_sha256 == report.file_sha256 == file_sha256(path)
    assert batch.as_of == date(2024, 6, 30)
    assert orjson.loads(batch.changes) == report.changes


# -- chunking ---------------------------------------------------------------------------


def generated_bureau(n_subjects: int, seed: int = 3) -> list[dict]:
    """A larger file: subjects, 1-2 accounts each, six months of statuses, then a tail of
    corrections, duplicates, account changes and bad rows that cross chunk boundaries."""
    rng = random.Random(seed)
    rows: list[dict] = []
    refs: list[tuple[str, str]] = []
    people: list[dict] = []
    for i in range(n_subjects):
        birth = date(1960 + i % 40, 1 + i % 12, 1 + i % 28)
        pid = make_prc_id("110105", birth, i % 1000)
        people.append(person(pid, f"客户{i:04d}", birth, phone=f"139{i:08d}"))
        rows.append(people[-1])
        if i % 10 == 0:
            rows.append(public_record(pid, f"CASE-{i}", id_type="prc_id"))
        for j in range(1 + i % 2):
            ref = f"A{i:04d}-{j}"
            refs.append((ref, pid))
            if j == 0:
                rows.append(account(ref, pid, credit_limit=str(1000 * (1 + i % 9))))
            else:
                rows.append(loan(ref, pid, principal=str(5000 + i)))
            for m in range(1, 7):
                dpd = 30 if (i % 7 == 0 and m == 6) else 0
                rows.append(status(ref, f"2024-{m:02d}", balance=str(100 * m + i), dpd=dpd))
    tail: list[dict] = []
    for ref, _ in rng.sample(refs, 40):
        tail.append(status(ref, "2024-06", balance="1.23"))  # correction
    for ref, _ in rng.sample(refs, 40):
        tail.append(status(ref, "2024-05", balance="0.01"))  # correction
        tail.append(status(ref, "2024-05", balance="0.02"))  # second correction
    for ref, _ in rng.sample(refs, 20):
        tail.append(status(ref, "2024-03", balance="9.99"))
    for ref, pid in rng.sample(refs, 30):
        if ref.endswith("-0"):
            tail.append(account(ref, pid, credit_limit="999"))  # account correction
            tail.append(account(ref, pid, credit_limit="888"))
    for p in rng.sample(people, 20):
        tail.append({**p, "address": "新地址"})  # subject_info correction
        tail.append({**p, "address": "又一个新地址"})
    for i in range(0, n_subjects, 20):
        tail.append(
            public_record(people[i]["id_number"], f"CASE-{i}", id_type="prc_id", amount="1")
        )
    for k in range(20):
        tail.append(status(f"MISSING-{k}", "2024-06"))
        tail.append(status(refs[k][0], "2024-06", balance="-1"))
    rows.extend(tail)
    rows.extend(rows[:50])  # duplicates of the head
    return rows


def _snapshot(session):
    statuses = session.execute(
        select(
            Account.account_ref,
            StatusRecord.period,
            StatusRecord.balance_cents,
            StatusRecord.version,
            StatusRecord.superseded_at.is_(None),
            StatusRecord.line_no,
        ).join(Account, Account.id == StatusRecord.account_id)
    ).all()
    versions = session.execute(
        select(
            Account.account_ref,
            AccountVersion.credit_limit_cents,
            AccountVersion.version,
            AccountVersion.superseded_at.is_(None),
        ).join(Account, Account.id == AccountVersion.account_id)
    ).all()
    quarantine = session.execute(select(QuarantinedRow.line_no, QuarantinedRow.field)).all()
    infos = session.execute(
        select(SubjectInfo.line_no, SubjectInfo.version, SubjectInfo.superseded_at.is_(None))
    ).all()
    records = session.execute(
        select(PublicRecord.case_ref, PublicRecord.version, PublicRecord.amount_cents,
               PublicRecord.superseded_at.is_(None))
    ).all()  # fmt: skip
    return sorted(statuses), sorted(versions), sorted(quarantine), sorted(infos), sorted(records)


@pytest.mark.slow
def test_chunk_boundaries_do_not_change_results(engine, tmp_path, keyring, cn):
    from sqlalchemy.orm import Session

    rows = generated_bureau(150)
    path = _write(tmp_path, "big", rows)
    results = []
    for chunk_rows in (5000, 100, 7):
        with Session(engine) as session:
            add_institution(session)
            report = run(session, path, keyring, cn, chunk_rows=chunk_rows)
            counts = table_counts(session)
            results.append((report, counts, _snapshot(session)))
            session.rollback()
    (big, big_counts, big_snap), *others = results
    assert big.lines == len(rows)
    assert big.rejected == 40
    assert big.corrections > 100
    for report, counts, snap in others:
        got = (
            report.accepted,
            report.corrections,
            report.duplicates,
            report.rejected,
            report.flagged,
        )
        want = (big.accepted, big.corrections, big.duplicates, big.rejected, big.flagged)
        assert got == want
        assert report.changes == big.changes
        assert counts == big_counts
        assert snap == big_snap


@contextlib.contextmanager
def _analyzes(engine):
    """The ANALYZE statements run on `engine` inside the block, each followed by the
    statistics target set for it (if any) in brackets."""
    from sqlalchemy import event

    analyzed: list[str] = []
    target = ""  # the statistics target set for the transaction, if any

    def spy(conn, cursor, statement, *args):
        nonlocal target
        if statement.startswith("ANALYZE"):
            analyzed.append(statement + target)
        elif "set_config('default_statistics_target'" in statement:
            # `credo.db.pg_setting`: set to a value, then the transaction's own put back
            value = re.search(r"set_config\('default_statistics_target', '(\d+)'", statement)
            target = f" (SET LOCAL default_statistics_target = {value[1]})" if value else ""

    event.listen(engine, "before_cursor_execute", spy)
    try:
        yield analyzed
    finally:
        event.remove(engine, "before_cursor_execute", spy)


def test_postgresql_statistics_follow_a_big_file_inside_its_transaction(
    engine, tmp_path, keyring, cn
):
    """On PostgreSQL the looked-up tables are ANALYZEd inside the file's own transaction each
    time the lines processed double from a threshold, so the planner counts the rows that
    transaction inserted; SQLite needs none of it."""
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    rows = generated_bureau(150)
    path, size = _write(tmp_path, "big", rows), len(rows)
    counts, targets, default = {}, set(), None
    for analyze_from in (size + 1, size // 8):
        with _analyzes(engine) as analyzed, Session(engine) as session:
            pg = engine.dialect.name == "postgresql"
            if pg:
                default = session.scalar(text("SHOW default_statistics_target"))
            add_institution(session)
            run(session, path, keyring, cn, chunk_rows=100, analyze_from_lines=analyze_from)
            if pg:
                targets.add(session.scalar(text("SHOW default_statistics_target")))
            session.rollback()
        counts[analyze_from] = analyzed
    assert counts[size + 1] == []
    if engine.dialect.name != "postgresql":
        assert counts[size // 8] == []
        return
    # at 1/8 of the lines, then each doubling: about 1/8, 1/4, 1/2 of them and, chunks
    # permitting, once more before the end, each on a small sample; then once with the full
    # sample, so that the file does not leave the small samples' statistics behind
    *sampled, last = counts[size // 8]
    assert 3 <= len(sampled) <= 4
    assert all("inquiry" in s and "status_record" in s for s in counts[size // 8])
    assert all(s.endswith("(SET LOCAL default_statistics_target = 10)") for s in sampled)
    assert not last.endswith(")")
    # the small sample is for those ANALYZEs only: the rest of the transaction has the default
    assert targets == {default}


def test_a_file_into_a_bureau_larger_than_it_triggers_no_analyze(engine, tmp_path, keyring, cn):
    """Statistics that already count as many rows as a file can add need no refresh: the first
    ANALYZE waits until the lines processed reach the rows the tables held at the start."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's planner statistics")
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    rows = generated_bureau(150)
    path, size = _write(tmp_path, "big", rows), len(rows)
    with Session(engine) as session:
        add_institution(session)
        run(session, path, keyring, cn, chunk_rows=100)
        session.commit()
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    # the same file again: as many lines as rows on file
    with _analyzes(engine) as analyzed, Session(engine) as session:
        run(session, path, keyring, cn, chunk_rows=100, analyze_from_lines=size // 8)
        session.rollback()
    assert analyzed == []


def test_a_failure_while_a_status_copy_is_still_open_aborts_the_batch_cleanly(
    engine, tmp_path, keyring, cn, monkeypatch
):
    """On PostgreSQL a chunk's status COPY completes while the next chunk is read and
    validated; an error in between aborts the COPY with the batch, which then rolls back whole
    and leaves the connection usable (SQLite takes the same path without a COPY)."""
    from sqlalchemy import func
    from sqlalchemy.orm import Session

    from credo.furnishing.validate import RowValidator

    rows = generated_bureau(60)
    path = _write(tmp_path, "big", rows)
    real, calls = RowValidator.validate, []

    def failing(self, raw):
        calls.append(1)
        # well after the first chunks with statuses were stored (plain statuses are validated
        # as columns, so these are the other rows and the statuses outside that lane)
        if len(calls) == 100:
            raise RuntimeError("validator crashed")
        return real(self, raw)

    from credo.furnishing.store import RecordStore

    finish, aborted = RecordStore.finish_copy, []

    def spy(self, exc=None):
        if exc is not None and self._open_copy is not None:
            aborted.append(exc)
        finish(self, exc)

    monkeypatch.setattr(RowValidator, "validate", failing)
    monkeypatch.setattr(RecordStore, "finish_copy", spy)
    with Session(engine) as session:
        add_institution(session)
        session.commit()
        with pytest.raises(RuntimeError, match="validator crashed"):
            run(session, path, keyring, cn, chunk_rows=100)
        # on PostgreSQL the crash came while the last chunk's COPY was open, and aborted it
        assert len(aborted) == (1 if engine.dialect.name == "postgresql" else 0)
        session.rollback()
        assert session.scalar(select(func.count()).select_from(StatusRecord)) == 0
        assert session.scalar(select(func.count()).select_from(FurnishingBatch)) == 0
    # the same file goes through once the validator works again
    monkeypatch.setattr(RowValidator, "validate", real)
    with Session(engine) as session:
        report = run(session, path, keyring, cn, chunk_rows=100)
        session.commit()
        stored = session.scalar(select(func.count()).select_from(StatusRecord))
    assert report.accepted > 0 and stored == report.changes["status_record"]["inserted"]


@pytest.mark.parametrize("batch_rows", [3, 2_000])
def test_quarantined_rows_land_whether_written_in_batches_or_at_the_end(
    engine, tmp_path, keyring, cn, monkeypatch, batch_rows
):
    """Quarantined rows are held until a few thousand are waiting (or the file ends): every
    one of them is stored, with its line, across chunk boundaries."""
    from sqlalchemy import func
    from sqlalchemy.orm import Session

    from credo.furnishing import service

    monkeypatch.setattr(service, "QUARANTINE_BATCH_ROWS", batch_rows)
    path = _write(tmp_path, "big", generated_bureau(150))
    with Session(engine) as session:
        add_institution(session)
        report = run(session, path, keyring, cn, chunk_rows=50)
        stored = session.execute(select(QuarantinedRow.line_no, QuarantinedRow.field)).all()
        assert session.scalar(select(func.count()).select_from(QuarantinedRow)) == len(stored)
        session.rollback()
    assert report.rejected == 40 and report.errors_total == len(stored)
    assert sorted(stored) == sorted((e["line"], e["field"]) for e in report.errors)
