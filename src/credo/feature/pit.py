"""Point-in-time bureau features (pure: Polars frames in, one row per subject out).

Two clocks decide what a feature may see (docs/features.md):

* **event time** -- the `as_of` date: status periods up to the month of `as_of`, accounts opened,
  inquiries made and public records filed on or before it. Nothing dated later is used.
* **knowledge time** -- which version of each record was on file; the loader applies it in SQL
  (`recorded_at <= known_at` and not superseded by then), so a back-test can see the bureau as
  it stood on a past day and a correction never leaks into an earlier decision.

The same function computes the features of every subject (bulk) and of one subject (its frames
filtered by the loader), so both ways give identical values.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from credo.config import Profile
from credo.retention.rules import drop_expired_frames

#: account types whose balance counts against a credit limit (revolving utilisation)
REVOLVING = ("credit_card", "revolving_loan", "bnpl", "marketplace_credit")
DPD_DEPTHS = (30, 60, 90)
DPD_WINDOWS = (6, 12, 24)
INQUIRY_WINDOWS = (3, 6, 12)

#: feature -> (family, description); the columns of `compute_features` in this order
FEATURES: dict[str, tuple[str, str]] = {
    **{f"worst_dpd_{w}m": ("payment_history", f"worst days past due in the last {w} months")
       for w in DPD_WINDOWS},
    **{f"n_dpd{d}_{w}m": ("payment_history",
                          f"account-months {d}+ days past due in the last {w} months")
       for w in DPD_WINDOWS for d in DPD_DEPTHS},
    "months_since_delinquency": ("payment_history",
                                 "months since the last month with any days past due (none: null)"),
    "overdue_amount": ("payment_history", "amount overdue now, over all accounts (yuan)"),
    "revolving_utilisation": ("amounts_owed",
                              "revolving balances / revolving limits, open accounts (none: null)"),
    "total_balance": ("amounts_owed", "balances of all accounts in the latest month (yuan)"),
    "n_accounts_with_balance": ("amounts_owed", "accounts with a balance in the latest month"),
    "oldest_account_months": ("length_of_history", "age of the oldest account in months"),
    "avg_account_months": ("length_of_history", "average account age in months"),
    **{f"hard_inquiries_{w}m": ("new_credit", f"hard inquiries in the last {w} months")
       for w in INQUIRY_WINDOWS},
    "accounts_opened_12m": ("new_credit", "accounts opened in the last 12 months"),
    "n_open_accounts": ("credit_mix", "open accounts"),
    "n_account_types": ("credit_mix", "distinct account types ever held"),
    "has_installment": ("credit_mix", "1 if an installment loan was ever held"),
    "n_public_records": ("public_records", "public records filed"),
    "n_open_public_records": ("public_records", "public records not resolved by the date"),
}  # fmt: skip

ACCOUNT_SCHEMA = {
    "subject_id": pl.Int64, "account_id": pl.Int64, "account_type": pl.Utf8,
    "opened_on": pl.Date, "closed_on": pl.Date, "credit_limit_cents": pl.Int64,
    "status": pl.Utf8,
}  # fmt: skip
STATUS_SCHEMA = {
    "account_id": pl.Int64, "period": pl.Date, "balance_cents": pl.Int64,
    "amount_due_cents": pl.Int64, "amount_paid_cents": pl.Int64, "days_past_due": pl.Int64,
}  # fmt: skip
INQUIRY_SCHEMA = {"subject_id": pl.Int64, "inquired_on": pl.Date, "kind": pl.Utf8}
PUBLIC_SCHEMA = {
    "subject_id": pl.Int64, "filed_on": pl.Date, "resolved_on": pl.Date, "kind": pl.Utf8,
}  # fmt: skip


def add_months(d: date, months: int) -> date:
    """The same day `months` later (earlier if negative), clipped to the month's end."""
    y, m = divmod(d.year * 12 + d.month - 1 + months, 12)
    m += 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(y, m, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _months_between(col: pl.Expr, as_of: date) -> pl.Expr:
    """Whole calendar months from the date in `col` to `as_of`."""
    return (as_of.year - col.dt.year().cast(pl.Int64)) * 12 + (
        as_of.month - col.dt.month().cast(pl.Int64)
    )


def compute_features(
    accounts: pl.DataFrame,
    statuses: pl.DataFrame,
    inquiries: pl.DataFrame,
    public_records: pl.DataFrame,
    *,
    as_of: date,
    subjects: pl.Series | None = None,
    retention: Profile | None = None,
) -> pl.DataFrame:
    """One row per subject (every subject with an account opened by `as_of`, or `subjects`).

    With `retention`, negative data expired at `as_of` under that profile is left out first
    (`credo.retention.rules`, docs/retention.md).
    """
    if retention is not None:
        accounts, statuses, public_records = drop_expired_frames(
            accounts, statuses, public_records, profile=retention, as_of=as_of
        )
    month = as_of.replace(day=1)
    acc = accounts.filter(pl.col("opened_on") <= as_of)
    st = statuses.filter(pl.col("period") <= month).join(
        acc.select("account_id", "subject_id", "account_type", "credit_limit_cents",
                   "closed_on", "status"),
        on="account_id", how="inner",
    ).with_columns(age=_months_between(pl.col("period"), as_of))  # fmt: skip

    ids = (
        subjects.cast(pl.Int64).unique().sort().to_frame("subject_id")
        if subjects is not None
        else acc.select("subject_id").unique().sort("subject_id")
    )

    # -- payment history ----------------------------------------------------------------
    dpd_aggs = []
    for w in DPD_WINDOWS:
        inside = pl.col("age") < w
        dpd_aggs.append(pl.col("days_past_due").filter(inside).max().alias(f"worst_dpd_{w}m"))
        for d in DPD_DEPTHS:
            dpd_aggs.append((inside & (pl.col("days_past_due") >= d)).sum().alias(f"n_dpd{d}_{w}m"))
    dpd_aggs.append(
        pl.col("age").filter(pl.col("days_past_due") > 0).min().alias("months_since_delinquency")
    )
    history = st.group_by("subject_id").agg(dpd_aggs)

    # the latest reported month of each account, as of the date
    latest = st.sort("period").group_by("account_id").last()
    closed_by_then = pl.col("closed_on").is_not_null() & (pl.col("closed_on") <= as_of)
    amounts = latest.group_by("subject_id").agg(
        (pl.col("amount_due_cents") - pl.col("amount_paid_cents")).clip(lower_bound=0)
        .filter(pl.col("days_past_due") > 0).sum().alias("overdue_amount"),
        pl.col("balance_cents").sum().alias("total_balance"),
        (pl.col("balance_cents") > 0).sum().alias("n_accounts_with_balance"),
        pl.col("balance_cents").filter(pl.col("account_type").is_in(REVOLVING) & ~closed_by_then)
        .sum().alias("_rev_balance"),
        pl.col("credit_limit_cents").filter(pl.col("account_type").is_in(REVOLVING)
                                            & ~closed_by_then).sum().alias("_rev_limit"),
    ).with_columns(
        # cents summed exactly as integers; Polars divides a long column by multiplying with
        # the reciprocal, which can be one ulp off the division it does for one row, so the
        # yuan value is rounded back to its cents: bulk and one subject agree exactly
        overdue_amount=(pl.col("overdue_amount") / 100.0).round(2),
        total_balance=(pl.col("total_balance") / 100.0).round(2),
        revolving_utilisation=pl.when(pl.col("_rev_limit") > 0)
        .then(pl.col("_rev_balance") / pl.col("_rev_limit"))
        .otherwise(None)
    ).drop("_rev_balance", "_rev_limit")  # fmt: skip

    # -- length of history, new credit, mix -----------------------------------------------
    acc_age = _months_between(pl.col("opened_on"), as_of)
    open_now = ~(pl.col("closed_on").is_not_null() & (pl.col("closed_on") <= as_of))
    accounts_f = acc.group_by("subject_id").agg(
        acc_age.max().alias("oldest_account_months"),
        acc_age.mean().alias("avg_account_months"),
        (pl.col("opened_on") > add_months(as_of, -12)).sum().alias("accounts_opened_12m"),
        open_now.sum().alias("n_open_accounts"),
        pl.col("account_type").n_unique().alias("n_account_types"),
        (pl.col("account_type") == "installment_loan").any().cast(pl.Int64)
        .alias("has_installment"),
    )  # fmt: skip
    inq = inquiries.filter((pl.col("inquired_on") <= as_of) & (pl.col("kind") == "hard"))
    inquiries_f = inq.group_by("subject_id").agg(
        [(pl.col("inquired_on") > add_months(as_of, -w)).sum().alias(f"hard_inquiries_{w}m")
         for w in INQUIRY_WINDOWS]
    )  # fmt: skip
    pub = public_records.filter(pl.col("filed_on") <= as_of)
    public_f = pub.group_by("subject_id").agg(
        pl.len().alias("n_public_records"),
        (pl.col("resolved_on").is_null() | (pl.col("resolved_on") > as_of))
        .sum().alias("n_open_public_records"),
    )  # fmt: skip

    out = ids
    for part in (history, amounts, accounts_f, inquiries_f, public_f):
        out = out.join(part, on="subject_id", how="left")
    counts = [c for c in FEATURES if c.startswith(("n_", "hard_", "accounts_opened"))]
    out = out.with_columns(
        [pl.col(c).fill_null(0).cast(pl.Int64) for c in counts]
        + [pl.col("has_installment").fill_null(0)]
    )
    return out.select("subject_id", *FEATURES).with_columns(
        [pl.col(c).cast(pl.Float64) for c in FEATURES]
    )


def label_window(
    statuses: pl.DataFrame, accounts: pl.DataFrame, *, as_of: date, months: int = 12
) -> pl.DataFrame:
    """subject_id, bad: 90+ days past due or a charge-off within `months` after `as_of`.

    Also `bad_before`: already 90+ in the 12 months up to `as_of` (such subjects are usually
    left out of a training sample: they are bad already, not predicted to become so).
    """
    month = as_of.replace(day=1)
    end = add_months(month, months)
    joined = statuses.join(accounts.select("account_id", "subject_id"), on="account_id")
    after = joined.filter((pl.col("period") > month) & (pl.col("period") <= end))
    before = joined.filter(
        (pl.col("period") <= month) & (pl.col("period") > add_months(month, -12))
    )
    charged = accounts.filter(
        (pl.col("status") == "charged_off")
        & pl.col("closed_on").is_not_null()
        & (pl.col("closed_on") > as_of)
        & (pl.col("closed_on") <= add_months(as_of, months))
    ).select("subject_id", pl.lit(True).alias("_charged"))
    bad = (
        after.group_by("subject_id")
        .agg((pl.col("days_past_due") >= 90).any().alias("_dpd"))
        .join(charged.unique("subject_id"), on="subject_id", how="full", coalesce=True)
        .select("subject_id", (pl.col("_dpd").fill_null(False) | pl.col("_charged")
                               .fill_null(False)).alias("bad"))
    )  # fmt: skip
    already = before.group_by("subject_id").agg(
        (pl.col("days_past_due") >= 90).any().alias("bad_before")
    )
    return bad.join(already, on="subject_id", how="full", coalesce=True).with_columns(
        pl.col("bad").fill_null(False), pl.col("bad_before").fill_null(False)
    )
