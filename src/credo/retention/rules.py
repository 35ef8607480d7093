"""What negative data is, when its event ends, and the last day it may stay on file.

The one definition that reports, features and the retention job share (docs/retention.md):
pure functions over dates and a jurisdiction `Profile`. Every function takes the date the
question is asked for (`as_of`) and looks only at what had happened by then, so an as-of
report in the past hides what had expired then and nothing more.

A record stays on file up to and including its **keep-until** day and is expired from the day
after. Negative data is:

* a **delinquent month**: a status with days past due > 0;
* a **negative account**: status ``charged_off`` (呆账) or ``transferred`` (sold or placed for
  collection, 转出);
* every **public record** (judgment, enforcement, tax arrears, penalty, bankruptcy).

Two clocks, one per profile:

* ``cn`` (征信业管理条例 Art. 16, 自不良行为或者事件终止之日起保存5年): from the **end** of the
  event. A delinquency episode (delinquent statuses in consecutive calendar months) ends at the
  end of its last delinquent month; every month of the episode is kept until 5 years after
  that. A negative account's event ends at its close date or its last reported month, whichever
  is later. A public record ends when resolved; an unresolved one has not ended and stays.
* ``us`` (FCRA §605): from the **date of the item**. Each late month is its own adverse item,
  kept 7 years after the month (§605(a)(5)); a charged-off or collection account 7 years from
  the end of the 180 days that began with the delinquency immediately before the charge-off
  (§605(c)(1)), and the late months of that delinquency go with the account; judgments and
  other public records 7 years from filing (§605(a)(2), (a)(5)); a tax lien 7 years from
  payment, unpaid not at all (§605(a)(3)); a bankruptcy 10 years from filing (§605(a)(1)).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta

import polars as pl

from credo.config import Profile

#: account statuses that are themselves the negative event
NEGATIVE_ACCOUNT_STATUSES = frozenset({"charged_off", "transferred"})
#: profiles whose clock runs from the date of each item (FCRA §605), not the end of the event
ITEM_DATED = frozenset({"us"})
#: public-record kinds counted from payment, not filing, in an item-dated profile (§605(a)(3))
FROM_RESOLUTION = frozenset({"tax_arrears"})
#: FCRA §605(c)(1): a charged-off or collection account's clock starts when the 180 days that
#: began with the delinquency before the charge-off are over
COLLECTION_CLOCK_DELAY = timedelta(days=180)


def add_years(d: date, years: int) -> date:
    """The same day `years` later (earlier if negative); 29 February becomes the 28th."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return d.replace(year=d.year + years, day=28)


def month_end(period: date) -> date:
    """The last day of the month of `period`."""
    first_next = (period.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first_next - timedelta(days=1)


def _next_month(period: date) -> date:
    return (period.replace(day=28) + timedelta(days=4)).replace(day=1)


def _late(dpd: int | None) -> bool:
    return dpd is not None and dpd > 0


def _runs(statuses: Sequence[tuple[date, int | None]]) -> list[list[date]]:
    """Delinquency episodes: delinquent periods in consecutive calendar months, in order."""
    runs: list[list[date]] = []
    for period, dpd in statuses:
        if not _late(dpd):
            continue
        if runs and _next_month(runs[-1][-1]) == period:
            runs[-1].append(period)
        else:
            runs.append([period])
    return runs


def _known(statuses: Iterable[tuple[date, int | None]], as_of: date) -> list[tuple[date, int]]:
    month = as_of.replace(day=1)
    return sorted(((p, d) for p, d in statuses if p <= month), key=lambda s: s[0])


def delinquency_kept_until(
    statuses: Iterable[tuple[date, int | None]], profile: Profile, *, as_of: date
) -> dict[date, date]:
    """Each delinquent month of one account (period, days past due) up to the month of `as_of`,
    mapped to the last day it stays on file."""
    years = profile.negative_retention_years
    known = _known(statuses, as_of)
    if profile.code in ITEM_DATED:
        return {p: add_years(month_end(p), years) for p, d in known if _late(d)}
    out: dict[date, date] = {}
    for run in _runs(known):
        # the episode ends with its last delinquent month: cured, closed or no longer reported
        until = add_years(month_end(run[-1]), years)
        out.update(dict.fromkeys(run, until))
    return out


def _charge_off_run(
    status: str, closed_on: date | None, known: Sequence[tuple[date, int]], profile: Profile
) -> tuple[date, int] | None:
    """In an item-dated profile, the first month (and its days past due) of the delinquency
    immediately before a negative account's charge-off: the last run of late months that began
    on or before the charge-off (`closed_on`, or the last month on file without one)."""
    if profile.code not in ITEM_DATED or status not in NEGATIVE_ACCOUNT_STATUSES or not known:
        return None
    until = closed_on or month_end(known[-1][0])
    days = dict(known)
    starts = [run[0] for run in _runs(known) if run[0] <= until]
    return (starts[-1], days[starts[-1]]) if starts else None


def _began(run: tuple[date, int]) -> date:
    # A status gives days past due on some day of its month, so the delinquency began no
    # earlier than that many days before the month's first day: the estimate errs toward
    # removing the account early, never late.
    return run[0] - timedelta(days=run[1])


def _account_clock(
    status: str,
    closed_on: date | None,
    known: Sequence[tuple[date, int]],
    profile: Profile,
    as_of: date,
) -> tuple[date | None, tuple[date, int] | None]:
    """(the account's keep-until day, the run of late months that dates a us charge-off)."""
    if status not in NEGATIVE_ACCOUNT_STATUSES:
        return None, None
    if closed_on is not None and closed_on > as_of:
        return None, None  # not charged off or transferred yet at the date
    years = profile.negative_retention_years
    run = _charge_off_run(status, closed_on, known, profile)
    if run is not None:  # us: §605(c)(1), a clock that later reports cannot move
        return add_years(_began(run) + COLLECTION_CLOCK_DELAY, years), run
    # cn (and us when no late month dates the delinquency): from the end of the event, the
    # later of the close date and the last month reported. It must not hang on the late months
    # before it: those are erased on their own, earlier, and the date would then move after the
    # job ran (docs/retention.md).
    ends = [month_end(p) for p, _ in known[-1:]] + ([closed_on] if closed_on else [])
    return (add_years(max(ends), years) if ends else None), None


def first_delinquency_on(
    status: str,
    closed_on: date | None,
    statuses: Iterable[tuple[date, int | None]],
    profile: Profile,
    *,
    as_of: date,
) -> date | None:
    """The date the delinquency before a charge-off began (FCRA §605(c), Metro 2's "date of
    first delinquency"), estimated from the months on file at `as_of` (the earliest date they
    allow); None in ``cn``, for an account that is not negative, or when no late month precedes
    the charge-off."""
    run = _charge_off_run(status, closed_on, _known(statuses, as_of), profile)
    return None if run is None else _began(run)


def account_kept_until(
    status: str,
    closed_on: date | None,
    statuses: Iterable[tuple[date, int | None]],
    profile: Profile,
    *,
    as_of: date,
) -> date | None:
    """The last day a charged-off or transferred account stays on file; None when the account
    is not negative, its event had not happened by `as_of`, or nothing dates its end."""
    return _account_clock(status, closed_on, _known(statuses, as_of), profile, as_of)[0]


def public_record_kept_until(
    kind: str, filed_on: date, resolved_on: date | None, profile: Profile, *, as_of: date
) -> date | None:
    """The last day a public record stays on file; None while its clock has not started."""
    years = (
        profile.bankruptcy_retention_years
        if kind == "bankruptcy"
        else profile.negative_retention_years
    )
    resolved = resolved_on if resolved_on is not None and resolved_on <= as_of else None
    if profile.code in ITEM_DATED and kind not in FROM_RESOLUTION:
        start: date | None = filed_on
    else:
        start = resolved  # the event ends when it is resolved (paid, discharged, lifted)
    return add_years(start, years) if start is not None else None


def expired(kept_until: date | None, as_of: date) -> bool:
    """Whether a record kept until `kept_until` (None: indefinitely) is gone at `as_of`."""
    return kept_until is not None and as_of > kept_until


def expired_in_account(
    status: str,
    closed_on: date | None,
    statuses: Iterable[tuple[date, int | None]],
    profile: Profile,
    *,
    as_of: date,
) -> tuple[bool, set[date]]:
    """(whether the whole account has expired, the delinquent periods that have) at `as_of`."""
    statuses = list(statuses)
    known = _known(statuses, as_of)
    kept_until, run = _account_clock(status, closed_on, known, profile, as_of)
    if expired(kept_until, as_of):
        return True, {p for p, _ in statuses}
    months = delinquency_kept_until(known, profile, as_of=as_of)
    gone = {p for p, until in months.items() if expired(until, as_of)}
    if run is not None:
        # us: the late months of the delinquency that dates the charge-off (§605(c)) stay as
        # long as the account; erasing its first month would move the account's own clock
        gone = {p for p in gone if p < run[0]}
    return False, gone


def public_record_expired(
    kind: str, filed_on: date, resolved_on: date | None, profile: Profile, *, as_of: date
) -> bool:
    """Whether a public record is gone at `as_of`."""
    return expired(
        public_record_kept_until(kind, filed_on, resolved_on, profile, as_of=as_of), as_of
    )


# -- the same rule over feature rows (credo.feature.pit schemas) ------------------------------
# accounts: (subject_id, account_id, account_type, opened_on, closed_on, limit, status)
# statuses: (account_id, period, balance, due, paid, days_past_due)
# public records: (subject_id, filed_on, resolved_on, kind)


def _expired_keys(
    accounts: Iterable[Sequence], statuses: Iterable[Sequence], profile: Profile, as_of: date
) -> tuple[set[int], set[tuple[int, date]]]:
    by_account: dict[int, list[tuple[date, int | None]]] = {}
    for s in statuses:
        by_account.setdefault(s[0], []).append((s[1], s[5]))
    gone: set[int] = set()
    months: set[tuple[int, date]] = set()
    for a in accounts:
        whole, periods = expired_in_account(
            a[6], a[4], by_account.get(a[1], ()), profile, as_of=as_of
        )
        if whole:
            gone.add(a[1])
        months.update((a[1], p) for p in periods)
    return gone, months


def drop_expired_rows(
    accounts: Iterable[Sequence],
    statuses: Iterable[Sequence],
    public_records: Iterable[Sequence],
    *,
    profile: Profile,
    as_of: date,
) -> tuple[list[Sequence], list[Sequence], list[Sequence]]:
    """Feature rows without the negative data expired at `as_of` (one subject's rows)."""
    accounts, statuses = list(accounts), list(statuses)
    gone, months = _expired_keys(accounts, statuses, profile, as_of)
    return (
        [a for a in accounts if a[1] not in gone],
        [s for s in statuses if s[0] not in gone and (s[0], s[1]) not in months],
        [p for p in public_records if not public_record_expired(p[3], p[1], p[2], profile,
                                                                 as_of=as_of)],
    )  # fmt: skip


def drop_expired_frames(
    accounts: pl.DataFrame,
    statuses: pl.DataFrame,
    public_records: pl.DataFrame,
    *,
    profile: Profile,
    as_of: date,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Feature frames without the negative data expired at `as_of` (every subject).

    Nothing dated after `horizon` can have expired yet (every clock starts at or after a
    record's own date), so only the few older records go through the row-wise rule above.
    """
    years = min(profile.negative_retention_years, profile.bankruptcy_retention_years)
    horizon = add_years(as_of, -years) + timedelta(days=3)  # a margin for 29 February
    old = statuses.filter(pl.col("period") <= horizon)
    candidates = (
        old.filter(pl.col("days_past_due") > 0)["account_id"].unique().to_list()
        # a negative account's clock may start before its first month on file (§605(c)
        # counts from when the delinquency began), so every negative account is looked at
        + accounts.filter(pl.col("status").is_in(list(NEGATIVE_ACCOUNT_STATUSES)))[
            "account_id"
        ].to_list()
    )
    gone, months = _expired_keys(
        accounts.filter(pl.col("account_id").is_in(candidates)).iter_rows(),
        statuses.filter(pl.col("account_id").is_in(candidates)).iter_rows(),
        profile,
        as_of,
    )
    if gone or months:
        pairs = pl.DataFrame(
            [(a, p) for a, p in months if a not in gone],
            schema={"account_id": statuses.schema["account_id"], "period": pl.Date},
            orient="row",
        )
        accounts = accounts.filter(~pl.col("account_id").is_in(list(gone)))
        statuses = statuses.filter(~pl.col("account_id").is_in(list(gone))).join(
            pairs, on=["account_id", "period"], how="anti"
        )
    old_pub = (pl.col("filed_on") <= horizon) | (pl.col("resolved_on") <= horizon)
    keep = [
        not (old and public_record_expired(kind, filed, resolved, profile, as_of=as_of))
        for old, filed, resolved, kind in zip(
            public_records.select(old_pub.fill_null(False))[:, 0],
            public_records["filed_on"],
            public_records["resolved_on"],
            public_records["kind"],
            strict=True,
        )
    ]
    return accounts, statuses, public_records.filter(pl.Series(keep, dtype=pl.Boolean))
