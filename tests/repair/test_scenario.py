"""The record changes behind each repair action (pure: no database)."""

from __future__ import annotations

from datetime import date
from itertools import product

import pytest

from credo.feature.pit import FEATURES
from credo.repair.scenario import (
    INQUIRY_FEATURES,
    PAYMENT_FEATURES,
    Scenario,
    SubjectRows,
    apply,
    clear_overdue,
    features_after,
    on_time,
    pay_down,
    paydown_cents,
    revolving_totals,
    without_new_inquiries,
)

AS_OF = date(2024, 6, 30)
JUNE, MAY = date(2024, 6, 1), date(2024, 5, 1)


def rows(*, latest_card2: date = JUNE) -> SubjectRows:
    """Two cards (limits 20,000.00 and 10,000.00), a loan and a charged-off card; card 2 is 45
    days late in its latest month, card 1 was late in 2023-11; an inquiry after the date."""
    accounts = (
        (1, 11, "credit_card", date(2022, 1, 15), None, 2_000_000, "open"),
        (1, 12, "credit_card", date(2023, 3, 10), None, 1_000_000, "open"),
        (1, 13, "installment_loan", date(2022, 6, 1), None, None, "open"),
        (1, 14, "credit_card", date(2021, 1, 1), None, 500_000, "charged_off"),
    )
    statuses = [
        (11, date(2023, 11, 1), 1_700_000, 50_000, 0, 30),
        (11, JUNE, 1_700_000, 30_000, 30_000, 0),
        (12, MAY, 800_000, 80_000, 0, 15),
        (12, latest_card2, 800_000, 80_000, 0, 45),
        (13, JUNE, 9_000_000, 350_000, 350_000, 0),
        (14, date(2024, 1, 1), 400_000, 400_000, 0, 120),
    ]
    inquiries = ((1, date(2024, 2, 15), "hard"), (1, date(2024, 6, 10), "hard"),
                 (1, date(2024, 8, 1), "hard"))  # fmt: skip
    return SubjectRows(accounts, tuple(dict.fromkeys(statuses)), inquiries,
                       ((1, date(2020, 5, 1), None),))  # fmt: skip


def negative(r: SubjectRows, as_of: date) -> set[tuple]:
    """How the late months that have ended were paid (account, period, due, paid, days past
    due; a payment may lower the balance still owed), every inquiry, every public record."""
    month = as_of.replace(day=1)
    return (
        {("status", s[0], s[1], *s[3:]) for s in r.statuses if s[1] < month and s[5]}
        | {("inquiry", *q) for q in r.inquiries if q[1] <= as_of}
        | {("public", *p) for p in r.public_records}
    )


def test_pay_down_reaches_strictly_below_the_level_in_whole_cents():
    r = rows()
    balance, limit = revolving_totals(r, AS_OF)
    # the charged-off card is open (no close date): its 4,000.00 of 5,000.00 counts
    assert (balance, limit) == (2_900_000, 3_500_000)
    pay = paydown_cents(r, AS_OF, 0.3)
    assert pay == 2_900_000 - 1_049_999  # the largest balance below 30% of 35,000.00
    after = pay_down(r, AS_OF, 0.3)
    assert revolving_totals(after, AS_OF) == (1_049_999, limit)
    assert after.features(AS_OF)["revolving_utilisation"] < 0.3
    assert pay_down(after, AS_OF, 0.3) == after  # already below: nothing to pay
    # a level that is a whole number of cents: exactly 30% is not below 30%
    exact = SubjectRows(((1, 1, "credit_card", date(2020, 1, 1), None, 1_000_000, "open"),),
                        ((1, JUNE, 500_000, 0, 0, 0),), (), ())  # fmt: skip
    assert revolving_totals(pay_down(exact, AS_OF, 0.3), AS_OF) == (299_999, 1_000_000)


def test_pay_down_lowers_the_latest_balances_in_proportion():
    after = pay_down(rows(), AS_OF, 0.5)
    changed = set(after.statuses) - set(rows().statuses)
    assert {s[0] for s in changed} == {11, 12, 14}
    assert all(s[1] in (JUNE, date(2024, 1, 1)) for s in changed)
    paid = {s[0]: s[2] for s in rows().statuses} | {s[0]: s[2] for s in changed}
    # 17,000 : 8,000 : 4,000 kept within a cent
    assert abs(paid[11] / paid[12] - 17 / 8) < 1e-4 and abs(paid[11] / paid[14] - 17 / 4) < 1e-4


def test_clearing_the_overdue_changes_the_month_in_progress_only():
    r = rows()
    after = clear_overdue(r, AS_OF)
    # card 2's June row (the month in progress) is reported paid in full; the charged-off
    # card's January row has ended: it stays, and June gets a paid row for it
    assert (12, JUNE, 720_000, 80_000, 80_000, 0) in after.statuses
    assert (12, JUNE, 800_000, 80_000, 0, 45) not in after.statuses
    assert (14, date(2024, 1, 1), 400_000, 400_000, 0, 120) in after.statuses
    assert (14, JUNE, 0, 400_000, 400_000, 0) in after.statuses
    f = after.features(AS_OF)
    assert f["overdue_amount"] == 0.0 and f["months_since_delinquency"] == 1.0
    # the card late in an ended month: a new paid row for June, May stays 15 days late
    stale = clear_overdue(rows(latest_card2=MAY), AS_OF)
    assert (12, MAY, 800_000, 80_000, 0, 15) in stale.statuses
    assert (12, JUNE, 720_000, 80_000, 80_000, 0) in stale.statuses


def test_on_time_months_are_added_for_open_accounts_only():
    after = on_time(rows(), AS_OF, 3)
    added = sorted(set(after.statuses) - set(rows().statuses))
    assert [(s[0], s[1]) for s in added] == [
        (a, date(2024, m, 1)) for a in (11, 12, 13) for m in (7, 8, 9)
    ]
    assert all(s[5] == 0 and s[3] == s[4] for s in added)


def test_waiting_takes_only_the_inquiry_counts_from_the_later_date():
    r = rows()
    base = r.known_at(AS_OF).features(AS_OF)
    f = features_after(r, AS_OF, Scenario(no_inquiry_months=6))
    assert {k for k in FEATURES if f[k] != base[k]} <= set(INQUIRY_FEATURES)
    # the inquiry dated after the date is not counted: it has not happened yet
    assert base["hard_inquiries_12m"] == 2.0 and base["hard_inquiries_3m"] == 1.0
    assert f["hard_inquiries_3m"] == f["hard_inquiries_6m"] == 0.0
    assert f["hard_inquiries_12m"] == 2.0  # both are still within 12 months on 2024-12-30
    g = features_after(r, AS_OF, Scenario(current_months=12))
    assert {k for k in FEATURES if g[k] != base[k]} <= set(PAYMENT_FEATURES)
    assert g["months_since_delinquency"] == base["months_since_delinquency"] + 12
    # late months leave the 12-month window, not the 24-month one
    assert (g["worst_dpd_12m"], g["worst_dpd_24m"]) == (0.0, 120.0)
    # the charged-off card is still 4,000.00 overdue: paying on time only covers open accounts
    assert g["overdue_amount"] == 4000.0


@pytest.mark.parametrize(
    "scenario",
    [Scenario(utilisation_below=u, clear_overdue=c, no_inquiry_months=n, current_months=m)
     for u, c, n, m in product((None, 0.1, 0.5), (False, True), (0, 12), (0, 24))],
)  # fmt: skip
def test_no_scenario_removes_negative_data(scenario):
    r = rows()
    after = apply(r, AS_OF, scenario)
    after = without_new_inquiries(on_time(after, AS_OF, scenario.current_months), AS_OF)
    assert negative(r, AS_OF) <= negative(after, AS_OF)
    f, base = features_after(r, AS_OF, scenario), r.known_at(AS_OF).features(AS_OF)
    assert f["n_public_records"] == base["n_public_records"] == 1.0
    if scenario.horizon == 0:
        # paying now: the late months that have ended stay in every window
        assert f["worst_dpd_24m"] == 120.0 and f["n_dpd90_24m"] == base["n_dpd90_24m"] == 1.0
        assert f["n_dpd30_24m"] >= base["n_dpd30_24m"] - 1  # at most the month in progress


@pytest.mark.parametrize(
    ("kw", "message"),
    [({"utilisation_below": 1.0}, "utilisation_below must be between 0 and 1; got 1.0"),
     ({"utilisation_below": 0}, "utilisation_below must be between 0 and 1; got 0"),
     ({"no_inquiry_months": -3}, "no_inquiry_months must not be negative; got -3"),
     ({"current_months": -1}, "current_months must not be negative; got -1")],
)  # fmt: skip
def test_a_bad_scenario_is_refused(kw, message):
    with pytest.raises(ValueError, match=message):
        Scenario(**kw)
