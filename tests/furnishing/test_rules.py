"""Cross-record quality rules: pure checks, then the same rules through a real batch."""

from __future__ import annotations

from datetime import date

import pytest

from credo.furnishing.rules import (
    AccountState,
    check_dpd_aging,
    check_status_against_account,
    months_between,
)
from credo.furnishing.validate import StatusRec

from .bureau import account, add_institution, errors_by_line, person, run, status, write_jsonl


def rec(period=date(2024, 6, 1), balance=0, dpd=0) -> StatusRec:
    return StatusRec("CC-1", period, balance, 0, 0, dpd, None)


def state(opened=date(2023, 1, 15), closed=None, status="open") -> AccountState:
    return AccountState(1, opened, closed, status)


def test_months_between():
    assert months_between(date(2023, 11, 1), date(2024, 2, 1)) == 3
    assert months_between(date(2024, 2, 1), date(2023, 11, 1)) == -3


def test_closed_account_must_carry_zero_balance():
    closed = state(closed=date(2024, 5, 20), status="closed")
    problem = check_status_against_account(rec(balance=100), closed)
    assert problem.field == "balance"
    assert "closed account carries zero balance" in problem.reason
    assert problem.value == "1.00"
    assert check_status_against_account(rec(balance=0), closed) is None
    # months before the closing month may still carry a balance
    assert check_status_against_account(rec(date(2024, 4, 1), balance=100), closed) is None


def test_status_before_the_account_was_opened():
    problem = check_status_against_account(rec(date(2022, 12, 1)), state())
    assert problem.field == "period"
    assert "before the account was opened (2023-01)" in problem.reason
    assert check_status_against_account(rec(date(2023, 1, 1)), state()) is None


@pytest.mark.parametrize(
    ("prev", "months", "dpd", "ok"),
    [
        (0, 1, 30, True),
        (0, 1, 31, True),
        (0, 1, 60, False),
        (0, 1, 90, False),
        (0, 3, 90, True),
        (30, 1, 60, True),
        (90, 1, 0, True),  # a cure is always possible
        (0, 0, 90, True),  # same month: nothing to compare
    ],
)
def test_dpd_aging(prev, months, dpd, ok):
    start = date(2024, 1, 1)
    period = date(2024, 1 + months, 1)
    problem = check_dpd_aging(start, prev, rec(period, dpd=dpd))
    assert (problem is None) is ok
    if not ok:
        assert problem.field == "days_past_due"
        assert "cannot age faster than time" in problem.reason


# -- through the service ------------------------------------------------------------------


@pytest.fixture
def bank(session):
    add_institution(session)
    return session


def notified(period, dpd, **kw):
    return status("CC-1", period, dpd=dpd, subject_notified_on="2024-01-05", **kw)


def test_aging_within_one_file(bank, tmp_path, keyring, cn):
    rows = [
        person(),
        account(),
        notified("2024-01", 0),
        notified("2024-02", 30),  # line 5: ok
        notified("2024-03", 120),  # line 6: 30 -> 120 in one month
    ]
    report = run(bank, write_jsonl(tmp_path / "f.jsonl", rows), keyring, cn)
    assert (report.accepted, report.rejected) == (4, 1)
    (err,) = errors_by_line(report)[6]
    assert err["field"] == "days_past_due"


def test_aging_against_an_earlier_batch_and_gaps(bank, tmp_path, keyring, cn):
    first = [person(), account(), notified("2024-01", 0), notified("2024-02", 0)]
    run(bank, write_jsonl(tmp_path / "1.jsonl", first), keyring, cn)
    jump = run(bank, write_jsonl(tmp_path / "2.jsonl", [notified("2024-03", 90)]), keyring, cn)
    assert (jump.accepted, jump.rejected) == (0, 1)
    assert jump.errors[0]["field"] == "days_past_due"
    # nothing reported for March-April: by May the same delinquency may be 90 days old
    gap = run(bank, write_jsonl(tmp_path / "3.jsonl", [notified("2024-05", 90)]), keyring, cn)
    assert (gap.accepted, gap.rejected) == (1, 0)


def test_closed_account_with_balance_through_the_service(bank, tmp_path, keyring, cn):
    rows = [
        person(),
        account(status="closed", closed_on="2024-05-10"),
        status("CC-1", "2024-04", balance="500"),  # before closing: fine
        status("CC-1", "2024-05", balance="0"),
        status("CC-1", "2024-06", balance="12.34"),  # line 6
        status("CC-1", "2022-12", balance="0"),  # line 7: before opened_on
    ]
    report = run(bank, write_jsonl(tmp_path / "f.jsonl", rows), keyring, cn)
    assert (report.accepted, report.rejected) == (4, 2)
    errs = errors_by_line(report)
    assert [(e["field"], e["record_type"]) for e in errs[6]] == [("balance", "status")]
    assert [e["field"] for e in errs[7]] == ["period"]
