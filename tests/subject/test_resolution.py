"""Identity resolution: conflicts are held for review, never merged or overwritten silently."""

from __future__ import annotations

from datetime import date

import orjson
import pytest
from sqlalchemy import select

from credo.subject.models import IdentityReview, ReviewKind, ReviewStatus, Subject
from credo.subject.resolution import id_blind, name_dob_blind
from furnishing.bureau import (
    LI_ID,
    OTHER,
    WANG_ID,
    ZHANG_ID,
    ZHANG_NAME,
    account,
    add_institution,
    errors_by_line,
    inquiry,
    person,
    run,
    small_bureau,
    status,
    table_counts,
    write_jsonl,
)


@pytest.fixture
def bank(session):
    add_institution(session)
    session.flush()
    return session


def _subject(session, number=ZHANG_ID, keyring=None) -> Subject:
    blind = id_blind(keyring, "prc_id", number)
    return session.scalars(
        select(Subject).where(Subject.id_blind == blind).execution_options(populate_existing=True)
    ).one()


def _reviews(session):
    return session.scalars(select(IdentityReview).order_by(IdentityReview.id)).all()


def test_blind_indexes_are_keyed_and_normalised(keyring):
    assert id_blind(keyring, "prc_id", ZHANG_ID) == id_blind(keyring, "prc_id", ZHANG_ID)
    assert id_blind(keyring, "prc_id", ZHANG_ID) != id_blind(keyring, "passport", ZHANG_ID)
    assert ZHANG_ID not in id_blind(keyring, "prc_id", ZHANG_ID)
    dob = date(1985, 3, 14)
    assert name_dob_blind(keyring, "Zhang San", dob) == name_dob_blind(keyring, "zhang  san", dob)
    assert name_dob_blind(keyring, "Zhang San", dob) != name_dob_blind(keyring, "Zhang Si", dob)


def test_same_identifier_with_a_different_name_is_held_for_review(bank, tmp_path, keyring, cn):
    run(bank, write_jsonl(tmp_path / "1.jsonl", small_bureau()), keyring, cn)
    add_institution(bank, OTHER)  # a furnisher that never confirmed Zhang's identity
    before = table_counts(bank)
    rows = [
        person(name="张叁"),  # line 2: same id, different name
        account("CC-NEW", ZHANG_ID),  # line 3: an account for the held identifier
        status("CC-NEW", "2024-06"),  # line 4: and a status of that account
        inquiry(ZHANG_ID),  # line 5
        small_bureau()[1],  # line 6: another subject, unaffected
    ]
    path = write_jsonl(tmp_path / "2.jsonl", rows, institution=OTHER)
    report = run(bank, path, keyring, cn, institution_code=OTHER)
    assert (report.flagged, report.rejected, report.accepted + report.duplicates) == (4, 0, 1)
    (review,) = _reviews(bank)
    assert review.kind == ReviewKind.identity_conflict
    assert review.status == ReviewStatus.open
    assert review.fields == "name"
    assert review.line_no == 2
    detail = orjson.loads(keyring.decrypt(review.detail_enc, column="identity_review.detail"))
    assert detail["name"] == "张叁"
    subject = _subject(bank, keyring=keyring)
    assert review.subject_id == subject.id
    assert keyring.decrypt(subject.name_enc, column="subject.name") == ZHANG_NAME
    assert subject.needs_review is True
    errs = errors_by_line(report)
    assert [(e["field"], e["held"]) for e in errs[2]] == [("name", True)]
    assert f"review #{review.id}" in errs[3][0]["reason"]
    assert all(errs[line][0]["held"] for line in (2, 3, 4, 5))
    after = table_counts(bank)
    for table in ("subject", "account", "status_record", "inquiry"):
        assert after[table] == before[table], table
    assert after["subject_info"] == before["subject_info"] + 1  # OTHER's record of Li
    assert after["identity_review"] == 1
    assert after["quarantined_row"] == 4


def test_status_of_a_held_holders_existing_account_is_held(bank, tmp_path, keyring, cn):
    run(bank, write_jsonl(tmp_path / "1.jsonl", small_bureau()), keyring, cn)
    add_institution(bank, OTHER)
    # OTHER furnishes an account for Zhang without ever sending his subject record
    first = [account("OT-1", ZHANG_ID), status("OT-1", "2024-05")]
    path = write_jsonl(tmp_path / "2.jsonl", first, institution=OTHER)
    run(bank, path, keyring, cn, institution_code=OTHER)
    before = table_counts(bank)
    rows = [person(name="张叁"), status("OT-1", "2024-06", balance="9")]
    path = write_jsonl(tmp_path / "3.jsonl", rows, institution=OTHER)
    report = run(bank, path, keyring, cn, institution_code=OTHER)
    assert (report.flagged, report.accepted, report.rejected) == (2, 0, 0)
    assert [e["held"] for e in errors_by_line(report)[3]] == [True]
    assert table_counts(bank)["status_record"] == before["status_record"]


def test_a_furnisher_that_confirmed_the_identity_has_only_the_conflicting_line_held(
    bank, tmp_path, keyring, cn
):
    run(bank, write_jsonl(tmp_path / "1.jsonl", small_bureau()), keyring, cn)
    before = table_counts(bank)
    rows = [
        person(name="张叁"),  # BANK sent Zhang's matching record before: only this line is held
        account("CC-NEW", ZHANG_ID),
        status("CC-1", "2024-06", balance="9"),
    ]
    report = run(bank, write_jsonl(tmp_path / "2.jsonl", rows), keyring, cn)
    assert (report.flagged, report.accepted, report.corrections) == (1, 1, 1)
    assert sorted(errors_by_line(report)) == [2]
    (review,) = _reviews(bank)
    assert (review.kind, review.line_no) == (ReviewKind.identity_conflict, 2)
    after = table_counts(bank)
    assert after["account"] == before["account"] + 1
    assert _subject(bank, keyring=keyring).needs_review


def test_different_birth_date_is_a_conflict_on_birth_date(bank, tmp_path, keyring, cn):
    passport = {"id_type": "passport", "id_number": "E12345678", "name": "John Smith"}
    first = person(**passport, birth=date(1980, 1, 1))
    run(bank, write_jsonl(tmp_path / "1.jsonl", [first]), keyring, cn)
    report = run(
        bank,
        write_jsonl(tmp_path / "2.jsonl", [person(**passport, birth=date(1980, 1, 2))]),
        keyring,
        cn,
    )
    assert report.flagged == 1
    (review,) = _reviews(bank)
    assert review.fields == "birth_date"
    assert report.errors[0]["field"] == "birth_date"


def test_name_spacing_and_case_are_not_a_conflict(bank, tmp_path, keyring, cn):
    passport = {"id_type": "passport", "id_number": "E12345678", "birth": date(1980, 1, 1)}
    run(
        bank, write_jsonl(tmp_path / "1.jsonl", [person(**passport, name="Zhang San")]), keyring, cn
    )
    report = run(
        bank,
        write_jsonl(tmp_path / "2.jsonl", [person(**passport, name="zhang  san")]),
        keyring,
        cn,
    )
    assert report.flagged == 0
    assert _reviews(bank) == []
    assert table_counts(bank)["subject"] == 1


@pytest.mark.parametrize("chunk_rows", [1, 2, 5000])
def test_conflict_with_an_earlier_line_of_the_same_file(bank, tmp_path, keyring, cn, chunk_rows):
    rows = [person(), person(name="张叁"), person(), account("CC-1", ZHANG_ID)]
    report = run(bank, write_jsonl(tmp_path / "1.jsonl", rows), keyring, cn, chunk_rows=chunk_rows)
    # line 2 created the subject, so this furnisher confirmed it: only line 3 is held
    assert (report.accepted, report.duplicates, report.flagged) == (2, 1, 1)
    (review,) = _reviews(bank)
    assert (review.kind, review.fields, review.line_no) == (ReviewKind.identity_conflict, "name", 3)
    subject = _subject(bank, keyring=keyring)
    assert keyring.decrypt(subject.name_enc, column="subject.name") == ZHANG_NAME
    assert subject.needs_review
    assert [e["line"] for e in report.errors] == [3]


def test_new_identifier_with_same_name_and_birth_date_is_a_possible_duplicate(
    bank, tmp_path, keyring, cn
):
    run(bank, write_jsonl(tmp_path / "1.jsonl", small_bureau()), keyring, cn)
    dup = person("E99887766", ZHANG_NAME, date(1985, 3, 14), id_type="passport")
    report = run(
        bank,
        write_jsonl(tmp_path / "2.jsonl", [dup, account("P-1", "E99887766", id_type="passport")]),
        keyring,
        cn,
    )
    assert (report.accepted, report.flagged) == (2, 0)  # created, not held
    (review,) = _reviews(bank)
    assert review.kind == ReviewKind.possible_duplicate
    new = bank.scalars(select(Subject).where(Subject.id_type == "passport")).one()
    old = _subject(bank, keyring=keyring)
    assert (review.subject_id, review.other_subject_id) == (new.id, old.id)
    assert new.needs_review and old.needs_review


def test_new_identifier_sharing_a_phone_is_a_possible_duplicate(bank, tmp_path, keyring, cn):
    run(bank, write_jsonl(tmp_path / "1.jsonl", small_bureau()), keyring, cn)
    other = person(WANG_ID, "王五", date(1978, 1, 30), phone="+86 138 0013 8000")  # Li's phone
    report = run(bank, write_jsonl(tmp_path / "2.jsonl", [other]), keyring, cn)
    assert report.accepted == 1
    (review,) = _reviews(bank)
    assert review.kind == ReviewKind.possible_duplicate
    assert _subject(bank, WANG_ID, keyring).needs_review
    assert review.other_subject_id == _subject(bank, LI_ID, keyring).id


@pytest.mark.parametrize("chunk_rows", [1, 5000])
def test_possible_duplicates_within_one_file(bank, tmp_path, keyring, cn, chunk_rows):
    rows = [
        person(),
        person("E99887766", ZHANG_NAME, date(1985, 3, 14), id_type="passport"),
        person(LI_ID, "李四", date(1990, 11, 2), phone="13800138000"),
        person(WANG_ID, "王五", date(1978, 1, 30), phone="13800138000"),
    ]
    report = run(bank, write_jsonl(tmp_path / "1.jsonl", rows), keyring, cn, chunk_rows=chunk_rows)
    assert report.accepted == 4
    reviews = _reviews(bank)
    assert [(r.kind, r.line_no) for r in reviews] == [
        (ReviewKind.possible_duplicate, 3),
        (ReviewKind.possible_duplicate, 5),
    ]
    assert sum(s.needs_review for s in bank.scalars(select(Subject))) == 4


def test_unrelated_subjects_raise_no_review(bank, tmp_path, keyring, cn):
    run(bank, write_jsonl(tmp_path / "1.jsonl", small_bureau()), keyring, cn)
    assert _reviews(bank) == []
    assert not any(s.needs_review for s in bank.scalars(select(Subject)))


@pytest.mark.parametrize("chunk_rows", [1, 4, 5000])
def test_only_lines_after_a_conflict_are_held_whatever_the_chunk_size(
    bank, tmp_path, keyring, cn, chunk_rows
):
    run(bank, write_jsonl(tmp_path / "0.jsonl", small_bureau()), keyring, cn)
    add_institution(bank, OTHER)
    rows = [
        account("OT-1", ZHANG_ID),  # before the conflict: applied
        person(name="张叁"),  # OTHER never confirmed Zhang: this and every later line held
        account("OT-2", ZHANG_ID),
        status("OT-1", "2024-06"),
    ]
    path = write_jsonl(tmp_path / "1.jsonl", rows, institution=OTHER)
    report = run(bank, path, keyring, cn, institution_code=OTHER, chunk_rows=chunk_rows)
    assert (report.accepted, report.flagged, report.rejected) == (1, 3, 0)
    assert [e["line"] for e in report.errors] == [3, 4, 5]
    counts = table_counts(bank)
    assert (counts["account"], counts["status_record"], counts["identity_review"]) == (4, 6, 1)
