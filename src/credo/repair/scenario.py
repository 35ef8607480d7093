"""What a subject's features would be after an action (pure: rows in, features out).

Every scenario changes the subject's *records* the way the action would -- a payment lowers a
balance, months reported on time are added after the date -- and then asks the one feature
definition (`credo.feature.single.features_from_rows`, equal to the bulk Polars path) for the
features. Nothing here sets a feature by hand, so every feature derived from the changed records
moves with it, exactly as it would once the records are furnished.

Rows are tuples in the column order of the ``*_SCHEMA`` of `credo.feature.pit`: accounts
(subject_id, account_id, account_type, opened_on, closed_on, credit_limit_cents, status),
statuses (account_id, period, balance, due, paid, days_past_due), inquiries (subject_id,
inquired_on, kind), public records (subject_id, filed_on, resolved_on).

Three rules keep the scenarios honest:

* a scenario never drops a record, nor changes how a month that has ended was paid (its
  amount paid, its days past due): a late month stays late, every inquiry and public record
  stays on file; negative data only leaves a *window* by ageing, never the file;
* a payment lowers what is owed: the latest reported balance of the accounts paid;
* the month of `as_of` is the month in progress: clearing an overdue amount now changes how
  that month is reported (paid in full, 0 days past due), and only that month;
* time-based scenarios isolate their effect: the features of the later date are computed on
  the records known at `as_of` plus the assumed future (on-time months, no inquiries), and
  only the features of the action's own family are taken from that date (inquiry counts, or
  payment history); everything else stays as of `as_of`, so accounts ageing is not counted as
  the action's gain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date
from fractions import Fraction

from credo.feature.pit import FEATURES, INQUIRY_WINDOWS, REVOLVING, add_months
from credo.feature.single import features_from_rows

Features = dict[str, float | None]

#: the features "no new hard inquiries" takes from the later date
INQUIRY_FEATURES = tuple(f"hard_inquiries_{w}m" for w in INQUIRY_WINDOWS)
#: the features "keep every account current" takes from the later date
PAYMENT_FEATURES = tuple(n for n, (family, _) in FEATURES.items() if family == "payment_history")


@dataclass(frozen=True)
class SubjectRows:
    """One subject's records, as the feature function reads them."""

    accounts: tuple[tuple, ...]
    statuses: tuple[tuple, ...]
    inquiries: tuple[tuple, ...]
    public_records: tuple[tuple, ...]

    def features(self, as_of: date) -> Features:
        return features_from_rows(
            self.accounts, self.statuses, self.inquiries, self.public_records, as_of=as_of
        )

    def known_at(self, as_of: date) -> SubjectRows:
        """Only what exists on `as_of`: the base every scenario's future is added to."""
        month = as_of.replace(day=1)
        accounts = tuple(a for a in self.accounts if a[3] <= as_of)
        ids = {a[1] for a in accounts}
        return SubjectRows(
            accounts=accounts,
            statuses=tuple(s for s in self.statuses if s[1] <= month and s[0] in ids),
            inquiries=tuple(q for q in self.inquiries if q[1] <= as_of),
            public_records=tuple(p for p in self.public_records if p[1] <= as_of),
        )


@dataclass(frozen=True)
class Scenario:
    """What the subject does: any combination of the four actions."""

    #: pay revolving balances down until utilisation is below this ratio
    utilisation_below: float | None = None
    #: pay every overdue amount this month
    clear_overdue: bool = False
    #: apply for no new credit (no hard inquiry) for this many months
    no_inquiry_months: int = 0
    #: pay every open account on time for this many months
    current_months: int = 0

    def __post_init__(self) -> None:
        u = self.utilisation_below
        if u is not None and not 0 < u < 1:
            raise ValueError(f"utilisation_below must be between 0 and 1; got {u}")
        for name in ("no_inquiry_months", "current_months"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative; got {getattr(self, name)}")

    @property
    def horizon(self) -> int:
        """Months until the scenario's last effect."""
        return max(self.no_inquiry_months, self.current_months)


# -- amounts ----------------------------------------------------------------------------------
def latest_statuses(statuses: tuple[tuple, ...]) -> dict[int, tuple]:
    """The latest status row of each account."""
    out: dict[int, tuple] = {}
    for s in statuses:
        if s[0] not in out or s[1] >= out[s[0]][1]:
            out[s[0]] = s
    return out


def _open_revolving(rows: SubjectRows, as_of: date) -> dict[int, tuple]:
    return {a[1]: a for a in rows.accounts
            if a[2] in REVOLVING and not (a[4] is not None and a[4] <= as_of)}  # fmt: skip


def revolving_totals(rows: SubjectRows, as_of: date) -> tuple[int, int]:
    """(balance, limit) in cents of the open revolving accounts, as utilisation counts them."""
    rev = _open_revolving(rows, as_of)
    latest = [s for aid, s in latest_statuses(rows.statuses).items() if aid in rev]
    balance = sum(s[2] for s in latest if s[2] is not None)
    limit = sum(rev[s[0]][5] for s in latest if rev[s[0]][5] is not None)
    return balance, limit


def paydown_cents(rows: SubjectRows, as_of: date, below: float) -> int:
    """The least payment (cents) that brings revolving utilisation strictly below `below`;
    0 when it is already below."""
    balance, limit = revolving_totals(rows, as_of)
    if limit <= 0:
        return 0
    # the largest whole-cent balance strictly below `below` of the limit (exact arithmetic:
    # 0.3 * limit in floats can land a hair above a whole number)
    target = math.ceil(Fraction(str(below)) * limit) - 1
    return max(balance - target, 0)


def overdue_cents(status: tuple) -> int:
    """What one status row counts as overdue (`features_from_rows`: late rows only)."""
    if not status[5] or status[3] is None or status[4] is None:
        return 0
    return max(status[3] - status[4], 0)


# -- the record changes ----------------------------------------------------------------------
def _in_progress(statuses: list[tuple], latest: tuple, month: date, change) -> None:
    """Replace the month-in-progress row of the account by `change(row)`: the latest row
    itself when it is of `month`, else a new row for `month` carried over from it."""
    if latest[1] == month:
        statuses[statuses.index(latest)] = change(latest)
    else:
        statuses.append(change((*latest[:1], month, *latest[2:])))


def pay_down(rows: SubjectRows, as_of: date, below: float) -> SubjectRows:
    """Revolving balances paid down, in proportion to each balance, until utilisation is
    strictly below `below`; the payment lowers each account's latest reported balance."""
    pay = paydown_cents(rows, as_of, below)
    if pay == 0:
        return rows
    rev = _open_revolving(rows, as_of)
    latest = sorted((s for aid, s in latest_statuses(rows.statuses).items()
                     if aid in rev and s[2] is not None and s[2] > 0),
                    key=lambda s: s[0])  # fmt: skip
    total = sum(s[2] for s in latest)
    # largest-remainder split of the payment: whole cents, summing exactly to `pay`
    shares = [(pay * s[2]) // total for s in latest]
    rests = sorted(range(len(latest)), key=lambda i: (-((pay * latest[i][2]) % total), i))
    for i in rests[: pay - sum(shares)]:
        shares[i] += 1
    statuses = list(rows.statuses)
    for s, share in zip(latest, shares, strict=True):
        statuses[statuses.index(s)] = (s[0], s[1], s[2] - share, *s[3:])
    return replace(rows, statuses=tuple(statuses))


def clear_overdue(rows: SubjectRows, as_of: date) -> SubjectRows:
    """Every overdue amount paid this month: the month in progress is reported paid in full
    (amount paid = amount due), 0 days past due, the balance lower by the overdue amount.
    Months that have ended keep their late statuses."""
    month = as_of.replace(day=1)
    statuses = list(rows.statuses)
    for s in latest_statuses(rows.statuses).values():
        owed = overdue_cents(s)
        if owed == 0:
            continue

        def paid(r: tuple, owed: int = owed) -> tuple:
            return (r[0], r[1], max(r[2] - owed, 0), r[3], r[3], 0)

        _in_progress(statuses, s, month, paid)
    return replace(rows, statuses=tuple(statuses))


def on_time(rows: SubjectRows, as_of: date, months: int) -> SubjectRows:
    """`months` more monthly statuses after the month of `as_of` for every open account, each
    paid on time (amount paid = amount due, 0 days past due, the balance unchanged). Accounts
    closed, charged off or transferred get none: their last status stands."""
    month = as_of.replace(day=1)
    latest = latest_statuses(rows.statuses)
    added = []
    for a in rows.accounts:
        if a[6] != "open" or (a[4] is not None and a[4] <= as_of) or a[1] not in latest:
            continue
        s = latest[a[1]]
        added += [(a[1], add_months(month, k), s[2], s[3], s[3], 0) for k in range(1, months + 1)]
    return replace(rows, statuses=rows.statuses + tuple(added))


def without_new_inquiries(rows: SubjectRows, as_of: date) -> SubjectRows:
    """No inquiry after `as_of` (those already on file stay; none is removed)."""
    return replace(rows, inquiries=tuple(q for q in rows.inquiries if q[1] <= as_of))


def apply(rows: SubjectRows, as_of: date, scenario: Scenario) -> SubjectRows:
    """The records as of `as_of` with the scenario's immediate changes (payments)."""
    out = rows.known_at(as_of)
    if scenario.utilisation_below is not None:
        out = pay_down(out, as_of, scenario.utilisation_below)
    if scenario.clear_overdue:
        out = clear_overdue(out, as_of)
    return out


def features_after(rows: SubjectRows, as_of: date, scenario: Scenario) -> Features:
    """The subject's features once the scenario has played out (see the module docstring)."""
    now = apply(rows, as_of, scenario)
    f = now.features(as_of)
    if scenario.no_inquiry_months:
        later = add_months(as_of, scenario.no_inquiry_months)
        aged = without_new_inquiries(now, as_of).features(later)
        f.update({k: aged[k] for k in INQUIRY_FEATURES})
    if scenario.current_months:
        later = add_months(as_of, scenario.current_months)
        aged = on_time(now, as_of, scenario.current_months).features(later)
        f.update({k: aged[k] for k in PAYMENT_FEATURES})
    return f
