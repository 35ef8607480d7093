"""The columnar status lane accepts only what the general validator accepts, with equal values."""

from __future__ import annotations

import re

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credo.furnishing.columnar import validate_statuses
from credo.furnishing.reader import RawRow
from credo.furnishing.store import status_hash
from credo.furnishing.validate import RowValidator, _Row

from .bureau import AS_OF
from .test_validate_fast import status_rows

_lane_settings = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _check_lane(validator: RowValidator, rows: list[dict]) -> int:
    raws = [RawRow(i + 2, r, None, f"line {i + 2}") for i, r in enumerate(rows)]
    known = validator.status_fields
    raws = [r for r in raws if r.data.get("record_type") == "status" and r.data.keys() <= known]
    taken, slow = validate_statuses(validator, raws)
    lines = [] if taken is None else [int(x) for x in taken.line]
    # every row lands in exactly one of the two, and the lane keeps the file's order
    assert sorted(lines + [r.line for r in slow]) == [r.line for r in raws]
    assert lines == sorted(lines)
    if taken is not None:  # exact integers, whatever else was in the chunk
        for column in (taken.line, taken.month, taken.balance, taken.due, taken.paid, taken.dpd):
            assert column.dtype == np.int64
    by_line = {r.line: r for r in raws}
    for i, line in enumerate(lines):
        general = _Row(by_line[line].data)
        expected = validator._status(general)
        assert not general.problems, (by_line[line].data, general.problems)
        assert taken.record(i) == expected
        assert taken.text[i] == by_line[line].text
        # the content hash the store would compute from the record
        assert taken.hash[i] == status_hash(expected)
    return len(lines)


@_lane_settings
@given(rows=st.lists(status_rows(), min_size=1, max_size=40))
def test_the_lane_accepts_only_what_the_general_path_accepts(cn, us, rows):
    for profile in (cn, us):  # the profiles differ in the negative-data notice rule
        _check_lane(RowValidator(as_of=AS_OF, profile=profile), rows)


_plain_amounts = st.one_of(
    st.from_regex(r"\A[0-9]{1,15}(\.[0-9]{1,2})?\Z"),
    st.integers(min_value=0, max_value=10**15 - 1),
)


@st.composite
def plain_rows(draw):
    """Rows in the shapes furnishers send: most of them go through the lane."""
    y = draw(st.integers(min_value=1990, max_value=AS_OF.year))
    m = draw(st.integers(min_value=1, max_value=12))
    row = {
        "record_type": "status",
        "account_ref": draw(st.sampled_from(["A-1", "BANK01-A00000001", "x y"])),
        "period": f"{y:04d}-{m:02d}",
        "balance": draw(_plain_amounts),
        "amount_due": draw(_plain_amounts),
        "amount_paid": draw(_plain_amounts),
        "days_past_due": draw(
            st.one_of(st.integers(min_value=0, max_value=3700), st.sampled_from(["0", "30"]))
        ),
    }
    if draw(st.booleans()):
        row["subject_notified_on"] = draw(st.dates(max_value=AS_OF)).isoformat()
    return row


@_lane_settings
@given(rows=st.lists(plain_rows(), min_size=1, max_size=60))
def test_plain_rows_take_the_lane_with_the_general_paths_values(cn, us, rows):
    for profile in (cn, us):
        _check_lane(RowValidator(as_of=AS_OF, profile=profile), rows)


def test_the_canonical_shape_goes_through_the_lane(cn):
    validator = RowValidator(as_of=AS_OF, profile=cn)
    rows = [
        {"record_type": "status", "account_ref": "A-1", "period": "2024-01", "balance": "12.5",
         "amount_due": 3, "amount_paid": "0.07", "days_past_due": 31,
         "subject_notified_on": "2024-01-20"},
        {"record_type": "status", "account_ref": "A-1", "period": "2024-02", "balance": "0.00",
         "amount_due": "0", "amount_paid": "12.50", "days_past_due": 0},
    ]  # fmt: skip
    assert _check_lane(validator, rows) == 2


def test_rows_the_lane_does_not_take_go_to_the_general_path(cn):
    validator = RowValidator(as_of=AS_OF, profile=cn)
    base = {"record_type": "status", "account_ref": "A-1", "period": "2024-01", "balance": "1",
            "amount_due": "0", "amount_paid": "0", "days_past_due": 0}  # fmt: skip
    odd = [
        {**base, "balance": 1.5},  # a float: the general path parses it through Decimal
        {**base, "period": "202401"},
        {**base, "account_ref": " A-1"},
        {**base, "days_past_due": 30},  # negative data without a notice date (cn)
        {**base, "days_past_due": True},
        {**base, "subject_notified_on": "2024-02-30"},
        {**base, "balance": "1.234"},
        {**base, "days_past_due": 10**30},
    ]
    raws = [RawRow(i + 2, r, None, None) for i, r in enumerate([base, *odd])]
    taken, slow = validate_statuses(validator, raws)
    assert taken is not None and [int(x) for x in taken.line] == [2]
    assert [r.line for r in slow] == list(range(3, 3 + len(odd)))


# -- storing: the lane and the row-by-row loop leave the same database --------------------------


def _status_table(session) -> list[tuple]:
    from sqlalchemy import select

    from credo.account.models import Account, StatusRecord
    from credo.furnishing.models import QuarantinedRow

    statuses = session.execute(
        select(
            Account.account_ref, StatusRecord.period, StatusRecord.balance_cents,
            StatusRecord.amount_due_cents, StatusRecord.amount_paid_cents,
            StatusRecord.days_past_due, StatusRecord.subject_notified_on, StatusRecord.version,
            StatusRecord.content_hash, StatusRecord.superseded_at.is_(None),
            StatusRecord.superseded_by_batch_id.is_(None), StatusRecord.line_no,
        ).join(Account, Account.id == StatusRecord.account_id)
    ).all()  # fmt: skip
    quarantine = session.execute(
        select(
            QuarantinedRow.line_no, QuarantinedRow.field, QuarantinedRow.reason,
            QuarantinedRow.held, QuarantinedRow.masked_value,
        )
    ).all()  # fmt: skip
    quarantine = [(line, f, _ids(reason), *rest) for line, f, reason, *rest in quarantine]
    return sorted(map(tuple, statuses), key=repr) + sorted(quarantine, key=repr)


def _ids(reason: str) -> str:
    """A reason without the review number (PostgreSQL's sequences go on after a rollback)."""
    return re.sub(r"#\d+", "#…", reason)


def _furnish_all(engine, files, keyring, profile, *, lane: bool, monkeypatch, chunk_rows):
    from sqlalchemy.orm import Session

    from credo.furnishing import checking, service
    from credo.institution import service as institutions

    from .bureau import TODAY, table_counts

    if lane:
        monkeypatch.setattr(checking, "validate_statuses", validate_statuses)
    else:
        monkeypatch.setattr(checking, "validate_statuses", lambda v, rows: (None, list(rows)))
    outcomes = []
    with Session(engine) as session:
        for code in sorted({code for _, code in files}):
            institutions.create(session, code=code, name=code, kind="bank", actor="test")
        for path, code in files:
            report = service.furnish(
                session, path=path, institution_code=code, keyring=keyring, profile=profile,
                actor="test", chunk_rows=chunk_rows, today=TODAY,
            )  # fmt: skip
            errors = sorted(
                (e["line"], e["field"], _ids(e["reason"]), e["held"]) for e in report.errors
            )
            outcomes.append(
                (report.lines, report.accepted, report.corrections, report.duplicates,
                 report.rejected, report.flagged, report.changes, errors)
            )  # fmt: skip
        snapshot = (outcomes, table_counts(session), _status_table(session))
        session.rollback()
    return snapshot


@pytest.mark.slow
@pytest.mark.parametrize("chunk_rows", [5000, 37])
def test_lane_and_loop_store_the_same_rows(engine, tmp_path, keyring, cn, monkeypatch, chunk_rows):
    """The test bureau's big file (corrections, duplicates, repeated months, bad rows across
    chunk boundaries), then a synthetic bureau with its defects (delinquencies aging too fast,
    balances on closed accounts, months before opening, ...), furnished with and without the
    lane: the same outcome for every line and the same rows stored."""
    from credo.synth import generate

    from .bureau import BANK, TODAY
    from .test_service import _write, generated_bureau

    big = _write(tmp_path, "big", generated_bureau(80))
    out = tmp_path / "synth"
    generate(out, subjects=40, seed=11, as_of=TODAY.replace(day=1), defect_rate=0.08)
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    files = [(big, BANK)] + [
        (out / f["name"], f["institution"])
        for f in sorted(manifest["files"], key=lambda f: f["order"])
    ]
    from credo.furnishing.store import RecordStore

    real, seen = RecordStore._lane_statuses, []

    def spy(self, lane, *args):
        demoted = real(self, lane, *args)
        seen.append((len(lane), len(demoted)))
        return demoted

    monkeypatch.setattr(RecordStore, "_lane_statuses", spy)
    with_lane = _furnish_all(
        engine, files, keyring, cn, lane=True, monkeypatch=monkeypatch, chunk_rows=chunk_rows
    )
    # most statuses were stored from the columns, and some accounts took the loop
    lane_rows, demoted = sum(n for n, _ in seen), sum(d for _, d in seen)
    assert lane_rows > 3000 and 0 < demoted < lane_rows / 4
    without = _furnish_all(
        engine, files, keyring, cn, lane=False, monkeypatch=monkeypatch, chunk_rows=chunk_rows
    )
    assert with_lane == without
    outcomes = with_lane[0]
    assert sum(o[2] for o in outcomes) > 50 and sum(o[4] for o in outcomes) > 50
