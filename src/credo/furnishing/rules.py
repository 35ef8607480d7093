"""Cross-record quality rules over plain values (the service supplies the stored state)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from credo.furnishing.validate import Problem, StatusRec

#: a delinquency can deepen by at most one month's worth of days per elapsed month
MAX_DPD_GROWTH_PER_MONTH = 31


@dataclass(slots=True)
class AccountState:
    """What the status rules need to know about an account."""

    account_id: int
    opened_on: date
    closed_on: date | None
    status: str
    subject_id: int = 0
    #: id of the current account_version row (None until written in this batch)
    version_id: int | None = None
    content_hash: str = ""
    version: int = 1


def months_between(a: date, b: date) -> int:
    """Whole months from period `a` to period `b` (negative if b is earlier)."""
    return (b.year - a.year) * 12 + (b.month - a.month)


def check_status_against_account(rec: StatusRec, acct: AccountState) -> Problem | None:
    """A status must lie inside the account's life and a closed account owes nothing."""
    if rec.period < acct.opened_on.replace(day=1):
        return Problem(
            "period",
            f"is before the account was opened ({acct.opened_on:%Y-%m})",
            f"{rec.period:%Y-%m}",
        )
    closed = acct.closed_on
    if (
        acct.status == "closed"
        and closed is not None
        and rec.period >= closed.replace(day=1)
        and rec.balance_cents != 0
    ):
        return Problem(
            "balance",
            f"the account was closed on {closed}; a closed account carries zero balance",
            f"{rec.balance_cents / 100:.2f}",
        )
    return None


def check_dpd_aging(prev_period: date, prev_dpd: int, rec: StatusRec) -> Problem | None:
    """Days past due may not grow faster than the calendar between two reported months."""
    months = months_between(prev_period, rec.period)
    if months <= 0:
        return None
    if rec.days_past_due > prev_dpd + MAX_DPD_GROWTH_PER_MONTH * months:
        return Problem(
            "days_past_due",
            f"jumps from {prev_dpd} in {prev_period:%Y-%m} to {rec.days_past_due}: a delinquency "
            "cannot age faster than time (correct the earlier month first)",
            str(rec.days_past_due),
        )
    return None
