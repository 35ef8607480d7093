"""The columnar lane for plain monthly status rows: validated as columns, not row by row.

Nine lines in ten of a furnishing file are monthly statuses, and most of them have one shape:
the status fields only, amounts as plain decimal strings (or integers), the period as
``YYYY-MM``, days past due as an integer. `validate_statuses` checks such rows a whole chunk at
a time with Polars expressions and hands every row it does not take, for whatever reason, to
the general validator (`RowValidator.validate`), which reports each problem as before. The lane
only ever *accepts*: a row it accepts is one the general path accepts, with the same values
(tested on generated rows, `tests/furnishing/test_columnar.py`); it never rejects anything.

The records come back as a `StatusColumns` batch that `RecordStore` stores account by account
(`RecordStore._statuses`): an account whose rows all pass the cross-record rules in one
vectorised pass is stored from the columns; any other account goes through the row-by-row path,
which is exact by construction (`docs/furnishing.md`, "What happens to each line").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from credo.furnishing.validate import StatusRec, status_content_hash

if TYPE_CHECKING:
    from credo.furnishing.reader import RawRow
    from credo.furnishing.validate import RowValidator

#: status fields whose values the lane reads
_FIELDS = (
    "account_ref", "period", "balance", "amount_due", "amount_paid", "days_past_due",
    "subject_notified_on",
)  # fmt: skip
_AMOUNTS = ("balance", "amount_due", "amount_paid")
#: what `to_ascii` leaves unchanged and non-empty: printable ASCII, single inner spaces
_REF = r"^[!-~]+(?: [!-~]+)*$"
_PERIOD = r"^[0-9]{4}-(?:0[1-9]|1[0-2])$"
_AMOUNT = r"^[0-9]{1,15}(?:\.[0-9]{1,2})?$"
_DPD_TEXT_RE = re.compile(r"[0-9]{1,4}")
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_NONE = type(None)


@dataclass(slots=True)
class StatusColumns:
    """Validated plain status rows of one chunk, as columns (row i of every array)."""

    line: np.ndarray  # int64
    ref: list[str]
    #: months since year 0 (``year * 12 + month - 1``) of the reported period
    month: np.ndarray  # int64
    balance: np.ndarray  # int64 cents
    due: np.ndarray
    paid: np.ndarray
    dpd: np.ndarray  # int64
    #: ``YYYY-MM-DD`` or None
    notified: list[str | None]
    text: list[str | None]
    #: `status_content_hash` of each row
    hash: list[str]

    def __len__(self) -> int:
        return len(self.ref)

    def record(self, i: int) -> StatusRec:
        """Row `i` as the `StatusRec` the general validator gives for it."""
        m = int(self.month[i])
        n = self.notified[i]
        return StatusRec(
            self.ref[i],
            date(m // 12, m % 12 + 1, 1),
            int(self.balance[i]),
            int(self.due[i]),
            int(self.paid[i]),
            int(self.dpd[i]),
            None if n is None else date.fromisoformat(n),
        )


def _ints(column: pl.Series, missing: int = 0) -> np.ndarray:
    """An integer column as int64 (a column with nulls would otherwise come back as floats)."""
    return column.fill_null(missing).cast(pl.Int64).to_numpy()


def _types(values: list) -> set[type]:
    return set(map(type, values))


def _text_column(values: list, allowed: tuple[type, ...]) -> tuple[list, np.ndarray | None]:
    """`values` as strings for Polars, and a mask of the rows whose type the lane cannot take
    (None when every row is fine). Integers become their decimal text (same value either way
    for the parsers concerned); None stays None."""
    kinds = _types(values)
    if kinds <= {str}:
        return values, None
    bad = np.fromiter((type(v) not in allowed for v in values), bool, len(values))
    if int in kinds:
        values = [str(v) if type(v) is int else v for v in values]
    return [v if type(v) is str else None for v in values], bad


def _days_past_due(values: list) -> np.ndarray:
    """Days past due as int64, -1 where the lane does not take the value (out of range, not
    an integer or a plain digit string)."""
    if _types(values) <= {int}:
        try:
            dpd = np.asarray(values, dtype=np.int64)
        except OverflowError:
            pass
        else:
            return np.where((dpd >= 0) & (dpd <= 3650), dpd, -1)
    out = np.full(len(values), -1, np.int64)
    for i, v in enumerate(values):
        if type(v) is str and _DPD_TEXT_RE.fullmatch(v):
            v = int(v)
        if type(v) is int and 0 <= v <= 3650:
            out[i] = v
    return out


def validate_statuses(
    validator: RowValidator, rows: Sequence[RawRow]
) -> tuple[StatusColumns | None, list[RawRow]]:
    """Validate plain status rows a chunk at a time.

    `rows` must be decoded rows with ``record_type == "status"`` whose keys are all status
    fields (`BatchRun.process` picks them). Returns the accepted rows as columns, and the
    rows the lane does not take (to be validated one by one by the general path).
    """
    if not rows or not validator.status_lane_ok:
        return None, list(rows)
    n = len(rows)
    data = [r.data for r in rows]
    cols: dict[str, list] = {}
    bad = np.zeros(n, bool)
    for name in _FIELDS:
        if name == "days_past_due":
            continue
        values = [d.get(name) for d in data]
        if name in _AMOUNTS:
            allowed: tuple[type, ...] = (str, int)
        elif name == "subject_notified_on":
            allowed = (str, _NONE)
        else:
            allowed = (str,)
        values, wrong = _text_column(values, allowed)
        if wrong is not None:
            bad |= wrong
        cols[name] = values
    dpd = _days_past_due([d.get("days_past_due") for d in data])
    frame = pl.DataFrame(
        {k: pl.Series(k, v, dtype=pl.String) for k, v in cols.items()},
    )
    as_of_month = validator.as_of_period.year * 12 + validator.as_of_period.month - 1
    whole = pl.col("^(balance|amount_due|amount_paid)$")
    checks = frame.select(
        ok_ref=pl.col("account_ref").str.contains(_REF),
        ok_period=pl.col("period").str.contains(_PERIOD)
        & (pl.col("period").str.slice(0, 4) != "0000"),
        month=pl.col("period").str.slice(0, 4).cast(pl.Int64, strict=False) * 12
        + pl.col("period").str.slice(5, 2).cast(pl.Int64, strict=False)
        - 1,
        ok_amounts=pl.all_horizontal(whole.str.contains(_AMOUNT)),
        notified_date=pl.when(
            pl.col("subject_notified_on").str.contains(_DATE)
            & (pl.col("subject_notified_on").str.slice(0, 4) != "0000")
        ).then(pl.col("subject_notified_on").str.to_date("%Y-%m-%d", strict=False)),
        has_notified=pl.col("subject_notified_on").is_not_null(),
        **{
            f"{a}_cents": pl.col(a).str.extract(r"^([0-9]+)", 1).cast(pl.Int64, strict=False) * 100
            + pl.col(a)
            .str.extract(r"\.([0-9]+)$", 1)
            .str.pad_end(2, "0")
            .cast(pl.Int64, strict=False)
            .fill_null(0)
            for a in _AMOUNTS
        },
    )
    month = _ints(checks["month"], -1)
    notified_ok = (
        ~checks["has_notified"].to_numpy()
        | (
            checks["notified_date"].is_not_null() & (checks["notified_date"] <= validator.as_of)
        ).to_numpy()
    )
    negative_ok = (
        (dpd == 0) | checks["has_notified"].to_numpy()
        if validator.negative_notice_before
        else np.ones(n, bool)
    )
    ok = (
        ~bad
        & checks["ok_ref"].fill_null(False).to_numpy()
        & checks["ok_period"].fill_null(False).to_numpy()
        & (month <= as_of_month)
        & checks["ok_amounts"].fill_null(False).to_numpy()
        & (dpd >= 0)
        & notified_ok
        & negative_ok
    )
    keep = np.flatnonzero(ok)
    slow = [rows[i] for i in np.flatnonzero(~ok)]
    if not len(keep):
        return None, slow
    refs, notified = cols["account_ref"], cols["subject_notified_on"]
    if len(keep) == n:  # the usual case: every row taken, no picking needed
        kept_rows, kept_refs, kept_notified = rows, refs, notified
    else:
        kept_rows = [rows[i] for i in keep]
        kept_refs, kept_notified = [refs[i] for i in keep], [notified[i] for i in keep]
    balance = _ints(checks["balance_cents"])[keep]
    due = _ints(checks["amount_due_cents"])[keep]
    paid = _ints(checks["amount_paid_cents"])[keep]
    kept_dpd = dpd[keep]
    hashes = list(
        map(status_content_hash, balance.tolist(), due.tolist(), paid.tolist(),
            kept_dpd.tolist(), kept_notified)
    )  # fmt: skip
    taken = StatusColumns(
        line=np.fromiter((r.line for r in kept_rows), np.int64, len(keep)),
        ref=kept_refs,
        month=month[keep],
        balance=balance,
        due=due,
        paid=paid,
        dpd=kept_dpd,
        notified=kept_notified,
        text=[r.text for r in kept_rows],
        hash=hashes,
    )
    return taken, slow
