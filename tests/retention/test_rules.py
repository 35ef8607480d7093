"""The retention rules on plain dates: cn counts from the end of the event, us from the item."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from credo.config import get_profile
from credo.retention.rules import (
    account_kept_until,
    add_years,
    delinquency_kept_until,
    drop_expired_frames,
    drop_expired_rows,
    expired,
    expired_in_account,
    first_delinquency_on,
    month_end,
    public_record_kept_until,
)

CN, US = get_profile("cn"), get_profile("us")
#: a card late in Feb and Mar 2015, cured in April
CARD = [
    (date(2015, 1, 1), 0),
    (date(2015, 2, 1), 30),
    (date(2015, 3, 1), 60),
    (date(2015, 4, 1), 0),
]
#: a loan late from Jan 2016, charged off and closed at the end of May 2016
LOAN = [(date(2016, m, 1), 30 * m) for m in range(1, 6)]


def test_add_years_and_month_end():
    assert add_years(date(2024, 2, 29), 5) == date(2029, 2, 28)
    assert add_years(date(2024, 2, 29), -4) == date(2020, 2, 29)
    assert month_end(date(2016, 2, 1)) == date(2016, 2, 29)
    assert month_end(date(2015, 12, 1)) == date(2015, 12, 31)


def test_kept_until_is_the_last_day_shown():
    assert not expired(date(2020, 3, 31), date(2020, 3, 31))
    assert expired(date(2020, 3, 31), date(2020, 4, 1))
    assert not expired(None, date(2999, 1, 1))


def test_cn_a_delinquency_episode_leaves_five_years_after_its_last_month():
    until = delinquency_kept_until(CARD, CN, as_of=date(2024, 1, 1))
    assert until == {date(2015, 2, 1): date(2020, 3, 31), date(2015, 3, 1): date(2020, 3, 31)}


def test_cn_an_ongoing_episode_has_not_ended():
    late = [(date(2015, m, 1), 30) for m in range(1, 13)]
    # as of mid-2015 the episode so far ends with June: kept at least five years from then
    until = delinquency_kept_until(late, CN, as_of=date(2015, 6, 15))
    assert set(until) == {date(2015, m, 1) for m in range(1, 7)}
    assert set(until.values()) == {date(2020, 6, 30)}


def test_cn_a_gap_in_reporting_splits_episodes():
    gap = [(date(2015, 1, 1), 30), (date(2015, 3, 1), 30)]
    assert delinquency_kept_until(gap, CN, as_of=date(2024, 1, 1)) == {
        date(2015, 1, 1): date(2020, 1, 31),
        date(2015, 3, 1): date(2020, 3, 31),
    }


def test_us_each_late_month_is_its_own_item():
    until = delinquency_kept_until(CARD, US, as_of=date(2024, 1, 1))
    assert until == {date(2015, 2, 1): date(2022, 2, 28), date(2015, 3, 1): date(2022, 3, 31)}


def test_months_after_the_date_are_not_looked_at():
    assert delinquency_kept_until(CARD, CN, as_of=date(2015, 1, 31)) == {}


#: us: LOAN's delinquency began no earlier than 30 days before 1 Jan 2016 (2 Dec 2015); the
#: clock starts 180 days later, on 30 May 2016 (§605(c)(1)), and runs 7 years
@pytest.mark.parametrize(("profile", "kept"), [(CN, date(2021, 5, 31)), (US, date(2023, 5, 30))])
def test_a_charged_off_account(profile, kept):
    assert account_kept_until("charged_off", date(2016, 5, 31), LOAN, profile,
                              as_of=date(2024, 1, 1)) == kept  # fmt: skip
    assert account_kept_until("transferred", date(2016, 5, 31), LOAN, profile,
                              as_of=date(2024, 1, 1)) == kept  # fmt: skip


def test_an_account_that_is_not_negative_or_not_yet_charged_off_is_kept():
    assert account_kept_until("closed", date(2016, 5, 31), LOAN, CN, as_of=date(2024, 1, 1)) is None
    assert account_kept_until("open", None, LOAN, US, as_of=date(2024, 1, 1)) is None
    # charged off on 31 May 2016: as of April it had not happened yet
    assert account_kept_until("charged_off", date(2016, 5, 31), LOAN, CN,
                              as_of=date(2016, 4, 30)) is None  # fmt: skip
    # nothing dates the event
    assert account_kept_until("charged_off", None, [], CN, as_of=date(2024, 1, 1)) is None


def test_cn_a_charge_off_without_a_close_date_ends_with_its_last_month():
    assert account_kept_until("charged_off", None, LOAN, CN, as_of=date(2024, 1, 1)) == date(
        2021, 5, 31
    )


def test_cn_a_charge_off_does_not_hang_on_its_late_months():
    """The job erases late months before the account: the account's date must not move."""
    clean = [(p, 0) for p, _ in LOAN]
    assert account_kept_until("charged_off", date(2016, 5, 31), clean, CN,
                              as_of=date(2024, 1, 1)) == account_kept_until(
        "charged_off", date(2016, 5, 31), LOAN, CN, as_of=date(2024, 1, 1))  # fmt: skip


#: a card late once in 2012 (cured), late again from Mar 2014, charged off at 300 days past
#: due on 31 Dec 2014 and then reported every month until 2019 with its balance
LATE_CHARGE_OFF = (
    [(date(2012, m, 1), 30 if m == 5 else 0) for m in range(1, 13)]
    + [(date(2014, m, 1), 0 if m < 3 else 30 * (m - 2)) for m in range(1, 13)]
    + [(date(y, m, 1), 300) for y in range(2015, 2020) for m in range(1, 13)]
)


def test_us_the_clock_starts_180_days_after_the_delinquency_before_the_charge_off():
    kw = {"as_of": date(2030, 1, 1)}
    # Mar 2014 at 30 days past due: began no earlier than 30 Jan 2014; the 2012 episode was cured
    assert first_delinquency_on("charged_off", date(2014, 12, 31), LATE_CHARGE_OFF, US,
                                **kw) == date(2014, 1, 30)  # fmt: skip
    kept = account_kept_until("charged_off", date(2014, 12, 31), LATE_CHARGE_OFF, US, **kw)
    assert kept == date(2021, 7, 29)  # 30 Jan 2014 + 180 days = 29 Jul 2014, + 7 years
    # earlier than 7 years after the (late) charge-off, and five years of later reports of the
    # charged-off balance do not move it; without a close date the same delinquency dates it
    assert kept < add_years(date(2014, 12, 31), 7)
    assert account_kept_until("charged_off", None, LATE_CHARGE_OFF, US, **kw) == kept
    assert first_delinquency_on("charged_off", None, LOAN, CN, **kw) is None
    assert first_delinquency_on("open", None, LOAN, US, **kw) is None


def test_us_a_charge_off_with_no_late_month_on_file_counts_from_its_end():
    clean = [(p, 0) for p, _ in LOAN]
    assert first_delinquency_on("charged_off", date(2016, 5, 31), clean, US,
                                as_of=date(2024, 1, 1)) is None  # fmt: skip
    assert account_kept_until("charged_off", date(2016, 5, 31), clean, US,
                              as_of=date(2024, 1, 1)) == date(2023, 5, 31)  # fmt: skip


@pytest.mark.parametrize("profile", [CN, US])
@pytest.mark.parametrize(
    ("statuses", "closed_on"), [(LOAN, date(2016, 5, 31)), (LATE_CHARGE_OFF, date(2014, 12, 31))]
)
def test_erasing_what_has_expired_never_moves_the_account(profile, statuses, closed_on):
    """The retention job, run every month, erases late months before the account goes: the
    account must leave on the day it would have left had nothing been erased."""
    kept = account_kept_until("charged_off", closed_on, statuses, profile, as_of=date(2040, 1, 1))
    on_file = list(statuses)
    day = closed_on + timedelta(days=1)
    while day <= kept:
        whole, months = expired_in_account("charged_off", closed_on, on_file, profile, as_of=day)
        assert not whole, day
        on_file = [s for s in on_file if s[0] not in months]
        assert account_kept_until("charged_off", closed_on, on_file, profile, as_of=day) == (
            account_kept_until("charged_off", closed_on, statuses, profile, as_of=day)
        ), day
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    after = kept + timedelta(days=1)
    assert expired_in_account("charged_off", closed_on, on_file, profile, as_of=after)[0]
    # the 2012 episode, cured before the delinquency of the charge-off, went on its own
    assert (date(2012, 5, 1), 30) not in on_file


@pytest.mark.parametrize(
    ("kind", "resolved", "cn", "us"),
    [
        ("court_judgment", date(2015, 6, 30), date(2020, 6, 30), date(2021, 9, 1)),
        ("enforcement", None, None, date(2021, 9, 1)),
        ("admin_penalty", date(2016, 1, 1), date(2021, 1, 1), date(2021, 9, 1)),
        ("tax_arrears", date(2016, 1, 1), date(2021, 1, 1), date(2023, 1, 1)),
        ("tax_arrears", None, None, None),
        ("bankruptcy", date(2016, 1, 1), date(2021, 1, 1), date(2024, 9, 1)),
        ("bankruptcy", None, None, date(2024, 9, 1)),
    ],
)
def test_public_records(kind, resolved, cn, us):
    filed = date(2014, 9, 1)
    assert public_record_kept_until(kind, filed, resolved, CN, as_of=date(2030, 1, 1)) == cn
    assert public_record_kept_until(kind, filed, resolved, US, as_of=date(2030, 1, 1)) == us


def test_a_resolution_after_the_date_has_not_happened_yet():
    kept = public_record_kept_until("court_judgment", date(2014, 9, 1), date(2015, 6, 30), CN,
                                    as_of=date(2015, 6, 29))  # fmt: skip
    assert kept is None


# -- the same rule over feature rows and frames ------------------------------------------------
def _rows():
    accounts = [
        (1, 10, "credit_card", date(2014, 12, 1), None, 100_000, "open"),
        (1, 11, "installment_loan", date(2015, 6, 1), date(2016, 5, 31), None, "charged_off"),
        (2, 20, "credit_card", date(2015, 1, 1), None, 50_000, "open"),
    ]
    statuses = [(10, p, 0, 0, 0, d) for p, d in CARD] + [(11, p, 0, 0, 0, d) for p, d in LOAN]
    statuses += [(20, date(2019, 1, 1), 0, 0, 0, 30)]
    public = [
        (1, date(2014, 9, 1), date(2015, 6, 30), "court_judgment"),
        (2, date(2014, 9, 1), None, "enforcement"),
    ]
    return accounts, statuses, public


@pytest.mark.parametrize(
    ("profile", "as_of", "accounts", "months", "public"),
    [
        # cn: the card's episode went 2020-03-31, the judgment 2020-06-30, the loan 2021-05-31
        (CN, date(2020, 3, 31), {10, 11, 20}, 10, 2),
        (CN, date(2020, 7, 1), {10, 11, 20}, 8, 1),
        (CN, date(2021, 6, 1), {10, 20}, 3, 1),
        # us: Feb 2015 went 2022-02-28; the enforcement and judgment 2021-09-01; the loan
        # (all five of its late months with it, §605(c)) after 2023-05-30
        (US, date(2022, 3, 1), {10, 11, 20}, 9, 0),
        (US, date(2023, 5, 30), {10, 11, 20}, 8, 0),
        (US, date(2023, 5, 31), {10, 20}, 3, 0),
    ],
)
def test_rows_and_frames_drop_the_same(profile, as_of, accounts, months, public):
    acc, st, pub = _rows()
    a, s, p = drop_expired_rows(acc, st, pub, profile=profile, as_of=as_of)
    assert {r[1] for r in a} == accounts
    assert len(s) == months and len(p) == public
    fa, fs, fp = drop_expired_frames(
        pl.DataFrame(acc, orient="row", schema=["subject_id", "account_id", "account_type",
                                                "opened_on", "closed_on", "credit_limit_cents",
                                                "status"]),
        pl.DataFrame(st, orient="row", schema=["account_id", "period", "balance_cents",
                                               "amount_due_cents", "amount_paid_cents",
                                               "days_past_due"]),
        pl.DataFrame(pub, orient="row", schema=["subject_id", "filed_on", "resolved_on", "kind"]),
        profile=profile, as_of=as_of,
    )  # fmt: skip
    assert sorted(fa.rows()) == sorted(a)
    assert sorted(fs.rows()) == sorted(s)
    assert sorted(fp.rows(), key=str) == sorted(p, key=str)
