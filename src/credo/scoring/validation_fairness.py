"""The fairness section: approval and error rates across groups of each protected attribute.

The model never sees these columns; they only split the test rows. "Approved" (score at least
the cut-off) is the favourable outcome and a good (y = 0) the favourable truth, which is how
fairlearn reads ``y_pred = 1`` and ``y_true = 1``: selection rate = approval rate, TPR = the
approval rate of goods, FPR = the approval rate of bads.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_ratio,
    equalized_odds_difference,
    selection_rate,
)
from sklearn.metrics import roc_auc_score

from credo.scoring.protected import normalise_column

#: the four-fifths rule: a group approved at less than 80 % of the best group's rate is flagged
FOUR_FIFTHS = 0.8
#: age bands of a numeric age column (lower bounds inclusive)
AGE_BAND_EDGES = (25, 35, 45, 55, 65)
AGE_BAND_LABELS = ("<25", "25-34", "35-44", "45-54", "55-64", "65+")
#: goods and bads a group needs for its AUC and for the equalized odds difference
MIN_CLASS_ROWS = 10
#: a numeric protected column with more distinct values than this is banded before grouping
MAX_RAW_GROUPS = 12


def fairness(
    groups: pd.DataFrame | None, y: np.ndarray, s: np.ndarray, cutoff: float, min_rows: int
) -> dict[str, Any]:
    """The fairness section: one entry per protected column of `groups`."""
    if groups is None:
        return {"attributes": [], "note": "no protected attributes given"}
    return {
        "attributes": [
            fairness_for(groups[c], y, s, cutoff, min_rows, name=str(c)) for c in groups.columns
        ],
        "approval": "score >= cutoff",
        "four_fifths": FOUR_FIFTHS,
    }


def fairness_for(
    col: pd.Series, y: np.ndarray, s: np.ndarray, cutoff: float, min_rows: int, *, name: str
) -> dict[str, Any]:
    """Approval rate, AUC, TPR/FPR per group of one protected column; parity and odds gaps."""
    group, banding, order = band_protected(col, name)
    good = 1 - y  # fairlearn's positive class is the favourable one: a good, approved
    approved = (s >= cutoff).astype(int)
    frame = MetricFrame(
        metrics={
            "approval_rate": selection_rate,
            "tpr": lambda t, p: _share(np.asarray(p)[np.asarray(t) == 1]),  # goods approved
            "fpr": lambda t, p: _share(np.asarray(p)[np.asarray(t) == 0]),  # bads approved
        },
        y_true=good, y_pred=approved, sensitive_features=group.to_numpy(),
    )  # fmt: skip
    by = frame.by_group
    rows = []
    for g in sorted(by.index, key=order.index):
        m = (group == g).to_numpy()
        n, bads = int(m.sum()), int(y[m].sum())
        fewer = min(bads, n - bads)
        auc, note = None, ""
        if n < min_rows:
            note = f"only {n} rows (fewer than {min_rows}); not judged"
        elif fewer == 0:
            note = f"no {'bads' if bads == 0 else 'goods'} in this group"
        elif fewer < MIN_CLASS_ROWS:
            kind = "bads" if bads == fewer else "goods"
            note = f"only {fewer} {kind} (fewer than {MIN_CLASS_ROWS})"
        else:
            auc = float(roc_auc_score(y[m], -s[m]))
        rows.append({
            "group": str(g), "rows": n, "share": n / len(y), "bads": bads, "bad_rate": bads / n,
            "approval_rate": float(by.loc[g, "approval_rate"]),
            "tpr": _nan_none(by.loc[g, "tpr"]), "fpr": _nan_none(by.loc[g, "fpr"]),
            "auc": auc, "auc_note": note, "judged": n >= min_rows,
            "rates_judged": n >= min_rows and fewer >= MIN_CLASS_ROWS,
        })  # fmt: skip
    judged = [r for r in rows if r["judged"]]
    best = max((r["approval_rate"] for r in judged), default=0.0)
    for r in rows:
        r["impact_ratio"] = r["approval_rate"] / best if r["judged"] and best > 0 else None
        r["flagged"] = r["impact_ratio"] is not None and r["impact_ratio"] < FOUR_FIFTHS
    out: dict[str, Any] = {"attribute": name, "banding": banding, "groups": rows}
    m = group.isin([r["group"] for r in judged]).to_numpy()
    if len(judged) < 2:
        out["demographic_parity_ratio"] = None
        out["note"] = f"fewer than two groups with at least {min_rows} rows; nothing to compare"
    elif best == 0:
        out["demographic_parity_ratio"] = None
        out["note"] = "no row of the judged groups is approved at this cut-off"
    else:
        out["demographic_parity_ratio"] = float(
            demographic_parity_ratio(good[m], approved[m], sensitive_features=group[m].to_numpy())
        )
    both = group.isin([r["group"] for r in rows if r["rates_judged"]]).to_numpy()
    if group[both].nunique() >= 2:
        out["equalized_odds_difference"] = float(
            equalized_odds_difference(good[both], approved[both],
                                      sensitive_features=group[both].to_numpy())
        )  # fmt: skip
    else:
        out["equalized_odds_difference"] = None
    ratio = out["demographic_parity_ratio"]
    out["four_fifths_flag"] = ratio is not None and ratio < FOUR_FIFTHS
    return out


def band_protected(col: pd.Series, name: str) -> tuple[pd.Series, str | None, list[str]]:
    """Group labels of a protected column, how it was banded, and the groups in display order.

    A numeric column named ``age`` (or with ``age`` as a word of its name, like ``age_years``)
    is cut into `AGE_BAND_LABELS`. Any other numeric column with more than `MAX_RAW_GROUPS`
    values is cut into quartiles of the test rows. Everything else (text, booleans, codes) is
    grouped as it is, largest group first. Missing values form a group of their own, "missing",
    shown last.
    """
    col = col.reset_index(drop=True)
    numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
    is_age = numeric and "age" in normalise_column(name).split("_")
    if not is_age and (not numeric or col.nunique(dropna=True) <= MAX_RAW_GROUPS):
        out = col.astype(object).where(col.notna(), "missing").map(_group_label).astype(str)
        order = [g for g in out.value_counts().index if g != "missing"]
        return out, None, [*order, "missing"]
    v = col.to_numpy(dtype=float, na_value=np.nan)
    if is_age:
        names = list(AGE_BAND_LABELS)
        idx = np.searchsorted(AGE_BAND_EDGES, v, side="right")
        banding = "age bands: " + ", ".join(names)
    else:
        edges = np.unique(np.nanquantile(v, [0.25, 0.5, 0.75]))
        bounds = [-math.inf, *edges, math.inf]
        names = [f"[{bounds[i]:g}, {bounds[i + 1]:g})" for i in range(len(bounds) - 1)]
        idx = np.searchsorted(edges, v, side="right")
        banding = "quartiles of the test rows: " + ", ".join(names)
    labs = np.array(names, dtype=object)[np.minimum(idx, len(names) - 1)]
    labs[np.isnan(v)] = "missing"
    return pd.Series(labs, dtype=str), banding, [*names, "missing"]


def _share(v: np.ndarray) -> float:
    return float(v.mean()) if len(v) else math.nan


def _nan_none(v: Any) -> float | None:
    v = float(v)
    return None if math.isnan(v) else v


def _group_label(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)
