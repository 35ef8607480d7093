"""The validation report's metrics, as pure functions on arrays.

Scores are "higher is better" and labels are 1 for a bad, 0 for a good. Ranking metrics work on
the distinct scores in ascending order (riskiest first) with the goods and bads at each, which
makes ties exact (AUC counts a tie as half) and lets the bootstrap run as matrix arithmetic on
count rows instead of a Python loop of `roc_auc_score` calls.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

#: PSI (and CSI) interpretation bands: (upper bound, exclusive; band)
PSI_BANDS: tuple[tuple[float, str], ...] = ((0.10, "stable"), (0.25, "watch"), (math.inf, "shift"))
#: information value bands (Siddiqi): (upper bound, exclusive; band)
IV_BANDS: tuple[tuple[float, str], ...] = (
    (0.02, "not predictive"), (0.10, "weak"), (0.30, "medium"), (0.50, "strong"),
    (math.inf, "suspicious (check for leakage)"),
)  # fmt: skip
#: shares below this are taken as this in PSI (an empty bin would make it infinite)
PSI_FLOOR = 1e-4


def confusion_at(s: np.ndarray, y: np.ndarray, cutoff: float) -> dict[str, Any]:
    """Decline (score < cutoff) against bad: counts, precision, recall, approval rate."""
    declined = s < cutoff
    tp = int((declined & (y == 1)).sum())  # bad declined
    fp = int((declined & (y == 0)).sum())  # good declined
    fn = int((~declined & (y == 1)).sum())  # bad approved
    tn = int((~declined & (y == 0)).sum())  # good approved
    n = len(y)
    return {
        "cutoff": cutoff,
        "matrix": {"bad_declined": tp, "good_declined": fp, "bad_approved": fn,
                   "good_approved": tn},
        "precision": _ratio(tp, tp + fp),  # of the declined, how many were bad
        "recall": _ratio(tp, tp + fn),  # of the bads, how many were declined
        "specificity": _ratio(tn, tn + fp),  # of the goods, how many were approved
        "accuracy": (tp + tn) / n,
        "approval_rate": (fn + tn) / n,
        "bad_rate_approved": _ratio(fn, fn + tn),
        "bad_rate_declined": _ratio(tp, tp + fp),
    }  # fmt: skip


def calibration_table(p: np.ndarray, y: np.ndarray, n_bins: int = 10) -> dict[str, Any]:
    """Deciles of predicted PD: mean predicted vs observed bad rate; the Brier score."""
    q = pd.qcut(pd.Series(p), n_bins, labels=False, duplicates="drop").to_numpy()
    rows = []
    for b in np.unique(q):
        m = q == b
        rows.append({
            "bin": int(b) + 1, "rows": int(m.sum()), "bads": int(y[m].sum()),
            "pd_min": float(p[m].min()), "pd_max": float(p[m].max()),
            "mean_pd": float(p[m].mean()), "bad_rate": float(y[m].mean()),
            "expected_bads": float(p[m].sum()),
        })  # fmt: skip
    brier = float(np.mean((p - y) ** 2))
    base = float(y.mean())
    ref = base * (1 - base)  # Brier of predicting the bad rate for everyone
    return {
        "rows": rows,
        "brier": brier,
        "brier_reference": ref,
        "brier_skill": 1 - brier / ref,
        "mean_pd": float(p.mean()),
        "bad_rate": base,
    }


def score_histogram(s_train, s_test, y_test, n_bins: int = 20) -> dict[str, Any]:
    """Test scores of goods and bads in shared bins (edges over train and test scores)."""
    lo, hi = min(s_train.min(), s_test.min()), max(s_train.max(), s_test.max())
    edges = np.histogram_bin_edges([lo, hi], bins=n_bins)
    good, _ = np.histogram(s_test[y_test == 0], edges)
    bad, _ = np.histogram(s_test[y_test == 1], edges)
    stats = {}
    for name, v in (("good", s_test[y_test == 0]), ("bad", s_test[y_test == 1])):
        stats[name] = {"rows": len(v), "mean": float(v.mean()), "median": float(np.median(v)),
                       "sd": float(v.std(ddof=1)) if len(v) > 1 else None}  # fmt: skip
    return {
        "edges": edges, "good": good, "bad": bad,
        "good_share": good / max(good.sum(), 1), "bad_share": bad / max(bad.sum(), 1),
        "stats": stats,
    }  # fmt: skip


def value_counts(s: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct scores (ascending: riskiest first) with the goods and bads at each."""
    values, codes = np.unique(s, return_inverse=True)
    good = np.bincount(codes[y == 0], minlength=len(values))
    bad = np.bincount(codes[y == 1], minlength=len(values))
    return values, good, bad


def auc_ks_from_counts(good: np.ndarray, bad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUC and KS of each row of (resamples x distinct scores, ascending) count matrices.

    AUC = P(a bad scores below a good) + P(tie) / 2 (the Mann-Whitney statistic); KS = the
    largest gap between the cumulative score distributions of bads and goods.
    """
    good, bad = np.atleast_2d(good), np.atleast_2d(bad)
    n_good, n_bad = good.sum(axis=1), bad.sum(axis=1)
    cum_good, cum_bad = np.cumsum(good, axis=1), np.cumsum(bad, axis=1)
    # sum over bads of the goods scoring at or below them, ties counted half
    below = np.einsum("ij,ij->i", bad, cum_good) - 0.5 * np.einsum("ij,ij->i", bad, good)
    auc = 1.0 - below / (n_good * n_bad)
    gap = np.abs(cum_bad * n_good[:, None] - cum_good * n_bad[:, None]).max(axis=1)
    ks = gap / (n_good * n_bad)
    return auc, ks


def auc_ks(s: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """AUC and KS of scores `s` (higher is better) against bads `y`."""
    _, good, bad = value_counts(s, y)
    auc, ks = auc_ks_from_counts(good, bad)
    return float(auc[0]), float(ks[0])


def bootstrap_auc_ks(
    s: np.ndarray, y: np.ndarray, n_boot: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """AUC and KS of `n_boot` stratified resamples (goods and bads resampled separately).

    Vectorised: each resample is a row of counts per distinct score (one `bincount` for a block
    of resamples), and `auc_ks_from_counts` works on all rows at once.
    """
    values, codes = np.unique(s, return_inverse=True)
    n_values = len(values)
    block = max(1, 4_000_000 // max(len(s), n_values))
    aucs, kss = [], []
    for start in range(0, n_boot, block):
        m = min(block, n_boot - start)
        good = _resampled_counts(codes[y == 0], m, n_values, rng)
        bad = _resampled_counts(codes[y == 1], m, n_values, rng)
        auc, ks = auc_ks_from_counts(good, bad)
        aucs.append(auc)
        kss.append(ks)
    return np.concatenate(aucs), np.concatenate(kss)


def _resampled_counts(codes: np.ndarray, m: int, n_values: int, rng: np.random.Generator):
    draws = codes[rng.integers(0, len(codes), size=(m, len(codes)))]
    flat = (draws + n_values * np.arange(m)[:, None]).ravel()
    return np.bincount(flat, minlength=m * n_values).reshape(m, n_values)


def ks_cutoff(s: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The score cut-off (approve >= it) that maximises bads declined - goods declined.

    Returns the cut-off and that difference (the KS at the cut-off, Youden's J). Among equal
    maxima the lowest cut-off (the most approvals) wins.
    """
    values, good, bad = value_counts(s, y)
    if len(values) < 2:
        raise ValueError("every training row has the same score; no cut-off separates them")
    # declining every score up to values[k] (k < last) means approving from values[k + 1]
    j = (np.cumsum(bad) / bad.sum() - np.cumsum(good) / good.sum())[:-1]
    k = int(np.argmax(j))
    return float(values[k + 1]), float(j[k])


def psi_from_counts(expected: np.ndarray, actual: np.ndarray) -> tuple[float, np.ndarray]:
    """PSI = sum (a - e) ln(a / e) over bins of shares; shares are floored at `PSI_FLOOR`."""
    e = np.maximum(np.asarray(expected, float) / np.sum(expected), PSI_FLOOR)
    a = np.maximum(np.asarray(actual, float) / np.sum(actual), PSI_FLOOR)
    contrib = (a - e) * np.log(a / e)
    return float(contrib.sum()), contrib


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """PSI of `actual` against `expected` in bins cut at the deciles of `expected`.

    Bin rule: edges e1 < ... < ek give (-inf, e1), [e1, e2), ..., [ek, inf); tied deciles are
    merged, so a score with few distinct values may get fewer bins.
    """
    expected, actual = np.asarray(expected, float), np.asarray(actual, float)
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)[1:-1]))
    n = len(edges) + 1
    e = np.bincount(np.searchsorted(edges, expected, side="right"), minlength=n)
    a = np.bincount(np.searchsorted(edges, actual, side="right"), minlength=n)
    total, contrib = psi_from_counts(e, a)
    bounds = [-math.inf, *edges, math.inf]
    return {
        "psi": total, "band": band(total, PSI_BANDS),
        "bins": [
            {"low": _finite(bounds[i]), "high": _finite(bounds[i + 1]),
             "train": int(e[i]), "test": int(a[i]), "train_share": e[i] / e.sum(),
             "test_share": a[i] / a.sum(), "psi": float(contrib[i])}
            for i in range(n)
        ],
    }  # fmt: skip


def psi_feature(train: pd.Series, test: pd.Series, bins: int = 10) -> dict[str, Any]:
    """CSI of one feature: numeric in train deciles plus a missing bin, text by category."""
    if pd.api.types.is_numeric_dtype(train) and not pd.api.types.is_bool_dtype(train):
        tr = train.to_numpy(dtype=float, na_value=np.nan)
        te = pd.to_numeric(test, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        present = tr[~np.isnan(tr)]
        edges = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1]))
        n = len(edges) + 2  # the last bin holds the missing values

        def code(v: np.ndarray) -> np.ndarray:
            return np.where(np.isnan(v), n - 1, np.searchsorted(edges, v, side="right"))

        e, a = np.bincount(code(tr), minlength=n), np.bincount(code(te), minlength=n)
    else:
        tr_s = train.astype(object).where(train.notna(), "(missing)").astype(str)
        te_s = test.astype(object).where(test.notna(), "(missing)").astype(str)
        cats = list(tr_s.value_counts().index[:20])
        e = tr_s.where(tr_s.isin(cats), "(other)").value_counts()
        a = te_s.where(te_s.isin(cats), "(other)").value_counts()
        index = e.index.union(a.index)
        e, a = e.reindex(index, fill_value=0).to_numpy(), a.reindex(index, fill_value=0).to_numpy()
    total, _ = psi_from_counts(e, a)
    return {"psi": total, "band": band(total, PSI_BANDS), "bins": len(e)}


def band(value: float, bands: tuple[tuple[float, str], ...]) -> str:
    """The band whose (exclusive) upper bound `value` is below."""
    return next(name for upper, name in bands if value < upper)


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None
