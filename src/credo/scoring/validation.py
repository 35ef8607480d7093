"""Model validation: discrimination, stability, calibration, features and fairness in one report.

`validate` takes a fitted model -- a `Scorecard`, a `Challenger`, or anything with
``predict_proba`` and a per-row ``score`` (higher is better) -- with its training and test sets
and, optionally, the protected attributes of the test rows, and returns a `ValidationReport`:
plain data that prints as JSON (`ValidationReport.to_json`) or as one self-contained HTML page
with charts (`ValidationReport.to_html`). docs/validation.md says what each section means.

Conventions. ``y`` is 1 for a bad and 0 for a good. Ranking metrics (AUC, KS, Gini, the cut-off)
use the score, because decisions are taken on it; calibration and the Brier score use the
model's PD (``predict_proba[:, 1]``). A row is *approved* when its score is at least the cut-off.

The metrics are pure functions on arrays (`validation_metrics`), the fairness section has its
own module (`validation_fairness`) and so does the HTML page (`validation_html`, which alone
loads matplotlib); this module checks the input, calls them and assembles the sections.
Protected attributes never reach the model: they only group the test rows for fairness.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from credo.scoring.protected import DEFAULT_POLICY, normalise_column
from credo.scoring.scorecard import as_frame
from credo.scoring.validation_fairness import FOUR_FIFTHS, fairness
from credo.scoring.validation_metrics import (
    IV_BANDS,
    auc_ks,
    band,
    bootstrap_auc_ks,
    calibration_table,
    confusion_at,
    ks_cutoff,
    psi,
    psi_feature,
    score_histogram,
    value_counts,
)

#: points kept per curve (ROC, KS) in the report
CURVE_POINTS = 201


@dataclass
class ValidationReport:
    """The sections of a validation report, as plain data (see docs/validation.md)."""

    meta: dict[str, Any]
    settings: dict[str, Any]
    data: dict[str, Any]
    summary: dict[str, Any]
    cutoff: dict[str, Any]
    discrimination: dict[str, Any]
    cross_validation: dict[str, Any]
    confusion: dict[str, Any]
    calibration: dict[str, Any]
    score_distribution: dict[str, Any]
    stability: dict[str, Any]
    features: dict[str, Any]
    points_table: dict[str, Any]
    fairness: dict[str, Any]
    curves: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: builtin types only, floats to 6 significant digits, NaN as None."""
        return {k: jsonable(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ValidationReport:
        """The report back from `to_dict` / the JSON file (e.g. to render it again)."""
        names = {f.name for f in fields(cls)}
        missing = names - set(d) - {"notes"}
        if missing:
            raise ValueError(f"not a validation report: missing {', '.join(sorted(missing))}")
        return cls(**{k: v for k, v in d.items() if k in names})

    def to_json(self, path: str | Path) -> Path:
        """Write the report as JSON (UTF-8) and return the path."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n", "utf-8")
        return path

    def render_html(self) -> str:
        """The report as one self-contained HTML page (inline CSS, charts as PNG data URIs)."""
        # imported here so that scoring never loads matplotlib
        from credo.scoring.validation_html import render_html

        return render_html(self.to_dict())

    def to_html(self, path: str | Path) -> Path:
        """Write `render_html` to `path` and return the path."""
        path = Path(path)
        path.write_text(self.render_html(), "utf-8")
        return path


def validate(
    model: Any,
    X_train: Any,
    y_train: Any,
    X_test: Any,
    y_test: Any,
    *,
    groups: pd.DataFrame | pd.Series | None = None,
    cutoff: float | None = None,
    cv_folds: int | None = 5,
    n_boot: int = 1000,
    min_group_size: int = 30,
    meta: dict[str, Any] | None = None,
    random_state: int = 42,
) -> ValidationReport:
    """Validate a fitted model on its training and test sets.

    Parameters
    ----------
    model : fitted estimator
        ``predict_proba(X)[:, 1]`` is P(bad) and ``score(X)`` one score per row (higher is
        better); `Scorecard` and `Challenger` qualify. Points table and IV sections need a
        scorecard (``points_table``, ``binning_all_``); a ``feature_importance()`` is reported
        when the model has one.
    X_train, y_train, X_test, y_test : the data; ``y`` is 1 for a bad, 0 for a good.
    groups : DataFrame or Series, optional
        Protected attributes (gender, age, region, ...) of the test rows, aligned with
        `X_test` (same index, or a plain 0..n-1 index taken by position). They are never
        passed to the model; a column that is also a model feature is an error. Numeric
        columns with many values are banded (age in fixed bands, others in quartiles).
    cutoff : float, optional
        The cut-off *score*: rows scoring at least this are approved. By default, the training
        score that maximises KS (Youden's J) is used.
    cv_folds : int or None, default=5
        Stratified folds over train + test, each refitted from ``sklearn.base.clone(model)``;
        None or 0 skips cross-validation.
    n_boot : int, default=1000
        Stratified bootstrap resamples of the test set for the 95 % intervals; 0 skips them.
    min_group_size : int, default=30
        Protected groups with fewer test rows are listed but not judged (no AUC, left out of
        the parity ratio and the equalized odds difference).
    meta : dict, optional
        Model name, version, data fingerprint, author, ...: copied into the report header.
    random_state : int, default=42
        Seed of the bootstrap and of the fold split.

    Returns
    -------
    ValidationReport
    """
    _check_settings(cv_folds, n_boot, min_group_size)
    X_train, X_test = model_columns(model, X_train), model_columns(model, X_test)
    y_train = binary_labels(y_train, len(X_train), "train")
    y_test = binary_labels(y_test, len(X_test), "test")
    _check_features(model, X_train)
    groups = _check_groups(groups, X_test)

    s_train, s_test = model_scores(model, X_train), model_scores(model, X_test)
    p_train, p_test = model_pd(model, X_train), model_pd(model, X_test)
    cut = _cutoff(model, cutoff, s_train, y_train, p_train)
    rng = np.random.default_rng(random_state)

    disc, curves = _discrimination(s_train, y_train, s_test, y_test, n_boot, rng)
    cv = _cross_validation(model, X_train, y_train, X_test, y_test, cv_folds, random_state)
    confusion = confusion_at(s_test, y_test, cut["score"])
    calib = calibration_table(p_test, y_test)
    stability = {
        "score_psi": psi(s_train, s_test),
        "csi": [{"feature": c, **psi_feature(X_train[c], X_test[c])} for c in X_train.columns],
    }
    stability["csi"].sort(key=lambda r: -r["psi"])

    report = ValidationReport(
        meta=_meta(model, meta),
        settings={
            "cv_folds": cv_folds or 0,
            "n_boot": n_boot,
            "min_group_size": min_group_size,
            "random_state": random_state,
            "four_fifths": FOUR_FIFTHS,
            "psi_bands": {"stable": "< 0.1", "watch": "0.1 - 0.25", "shift": ">= 0.25"},
        },
        data={"train": _data_summary(y_train, s_train), "test": _data_summary(y_test, s_test)},
        summary={},
        cutoff=cut,
        discrimination=disc,
        cross_validation=cv,
        confusion=confusion,
        calibration=calib,
        score_distribution=score_histogram(s_train, s_test, y_test),
        stability=stability,
        features=_features(model),
        points_table=_points_table(model),
        fairness=fairness(groups, y_test, s_test, cut["score"], min_group_size),
        curves=curves,
    )
    report.summary = _summary(report)
    report.notes = _notes(report)
    return report


# -- input checks --------------------------------------------------------------------
def _check_settings(cv_folds: int | None, n_boot: int, min_group_size: int) -> None:
    if cv_folds is not None and cv_folds != 0 and not (isinstance(cv_folds, int) and cv_folds >= 2):
        raise ValueError(f"cv_folds must be None, 0 or an integer >= 2; got {cv_folds!r}")
    if not (isinstance(n_boot, int) and n_boot >= 0):
        raise ValueError(f"n_boot must be a non-negative integer; got {n_boot!r}")
    if not (isinstance(min_group_size, int) and min_group_size >= 1):
        raise ValueError(f"min_group_size must be a positive integer; got {min_group_size!r}")


def binary_labels(y: Any, n_rows: int, which: str) -> np.ndarray:
    """y as 0/1 ints, with errors that name the data set (`which`: "train" or "test")."""
    arr = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y, dtype=object).ravel()
    if len(arr) != n_rows:
        raise ValueError(f"X_{which} has {n_rows} rows but y_{which} has {len(arr)}")
    if pd.isna(pd.Series(arr)).any():
        raise ValueError(f"y_{which} has missing labels; every row needs 0 (good) or 1 (bad)")
    values = set(arr.tolist())
    if not values <= {0, 1}:
        raise ValueError(f"y_{which} must hold 0 (good) or 1 (bad); got {sorted(map(str, values))}")
    y_int = arr.astype(int)
    if len(values) < 2:
        raise ValueError(
            f"y_{which} has a single class ({y_int[0]}) in all {n_rows} rows; validation needs "
            "both goods (0) and bads (1)"
        )
    return y_int


def _check_features(model: Any, X: pd.DataFrame) -> None:
    (getattr(model, "protected", None) or DEFAULT_POLICY).refuse(
        X.columns, "model feature", "protected attributes can never be model features -- pass "
        "them in groups= for the fairness section only",
    )  # fmt: skip


def _check_groups(groups: Any, X_test: pd.DataFrame) -> pd.DataFrame | None:
    if groups is None:
        return None
    if isinstance(groups, pd.Series):
        groups = groups.to_frame(name=groups.name if groups.name is not None else "group")
    if not isinstance(groups, pd.DataFrame):
        raise TypeError(f"groups must be a pandas DataFrame or Series; got {type(groups).__name__}")
    if len(groups) != len(X_test):
        raise ValueError(
            f"groups has {len(groups)} rows but X_test has {len(X_test)}; they must be aligned "
            "row for row"
        )
    features = {normalise_column(c): c for c in X_test.columns}
    for c in groups.columns:
        if normalise_column(c) in features:
            raise ValueError(
                f"group column {c!r} is also a model feature ({features[normalise_column(c)]!r}); "
                "protected attributes can never be model features"
            )
    if groups.index.equals(X_test.index):
        return groups.reset_index(drop=True)
    if groups.index.equals(pd.RangeIndex(len(groups))):
        return groups  # no index of its own: aligned by position
    if set(groups.index) == set(X_test.index) and groups.index.is_unique:
        return groups.loc[X_test.index].reset_index(drop=True)
    raise ValueError(
        "groups' index does not match X_test's; pass groups with X_test's index (or a plain "
        "0..n-1 index, taken by position)"
    )


def model_columns(model: Any, X: Any) -> pd.DataFrame:
    """X as a frame of the model's input columns only (extra columns are not features)."""
    columns = getattr(model, "feature_names_in_", None)
    X = as_frame(X, columns)
    return X if columns is None else X[list(columns)]


def model_scores(model: Any, X: pd.DataFrame) -> np.ndarray:
    """``model.score(X)`` as a float array, refusing an accuracy-style scalar `score`."""
    need = "model.score(X) must give one score per row (higher is better)"
    try:
        s = np.asarray(model.score(X), dtype=float)
    except TypeError as exc:  # e.g. scikit-learn's accuracy score(X, y)
        raise TypeError(f"{need}; calling it failed: {exc}") from exc
    if s.shape != (len(X),):
        raise TypeError(f"{need}; got shape {s.shape}")
    if np.isnan(s).any():
        raise ValueError(f"model.score(X) gave NaN for {int(np.isnan(s).sum())} rows")
    return s


def model_pd(model: Any, X: pd.DataFrame) -> np.ndarray:
    """P(bad) per row from ``predict_proba``."""
    p = np.asarray(model.predict_proba(X), dtype=float)
    if p.ndim != 2 or p.shape != (len(X), 2):
        raise TypeError(f"model.predict_proba(X) must have shape (n, 2); got {p.shape}")
    return p[:, 1]


# -- sections ------------------------------------------------------------------------
def _meta(model: Any, meta: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model_kind": type(model).__name__,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if hasattr(model, "score_range"):
        out["score_range"] = list(model.score_range)
    return {**out, **(meta or {})}


def _data_summary(y: np.ndarray, s: np.ndarray) -> dict[str, Any]:
    return {
        "rows": len(y), "bads": int(y.sum()), "goods": int(len(y) - y.sum()),
        "bad_rate": float(y.mean()), "score_min": float(s.min()), "score_max": float(s.max()),
    }  # fmt: skip


def _cutoff(
    model: Any, cutoff: float | None, s: np.ndarray, y: np.ndarray, p: np.ndarray
) -> dict[str, Any]:
    if cutoff is None:
        value, ks = ks_cutoff(s, y)
        rule = "maximises KS (Youden's J) on the training data"
    else:
        value = float(cutoff)
        if not math.isfinite(value):
            raise ValueError(f"cutoff must be a finite score; got {cutoff!r}")
        lo, hi = getattr(model, "score_range", (-math.inf, math.inf))
        if not lo <= value <= hi:
            raise ValueError(
                f"cutoff is a score; got {cutoff!r}, outside the model's score range "
                f"[{lo:g}, {hi:g}] (a PD cut-off must be turned into a score first)"
            )
        ks = None
        rule = "given"
    approved = s >= value
    if hasattr(model, "pd_from_score"):
        pd_cut, pd_rule = float(np.asarray(model.pd_from_score(value))), "pd_from_score"
    else:  # the riskiest approved training row
        pd_cut = float(p[approved].max()) if approved.any() else 0.0
        pd_rule = "highest PD approved on the training data"
    return {
        "score": value, "pd": pd_cut, "rule": rule, "pd_rule": pd_rule,
        "train_approval_rate": float(approved.mean()),
        "train_bad_rate_approved": float(y[approved].mean()) if approved.any() else None,
        "train_ks_at_cutoff": ks,
    }  # fmt: skip


def _discrimination(
    s_tr: np.ndarray, y_tr: np.ndarray, s_te: np.ndarray, y_te: np.ndarray, n_boot: int,
    rng: np.random.Generator,
) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    auc_tr, ks_tr = auc_ks(s_tr, y_tr)
    auc_te, ks_te = auc_ks(s_te, y_te)
    test: dict[str, Any] = {
        "auc": {"value": auc_te},
        "ks": {"value": ks_te},
        "gini": {"value": 2 * auc_te - 1},
    }
    if n_boot:
        aucs, kss = bootstrap_auc_ks(s_te, y_te, n_boot, rng)
        for name, draws in (("auc", aucs), ("ks", kss), ("gini", 2 * aucs - 1)):
            lo, hi = np.percentile(draws, [2.5, 97.5])
            test[name].update(ci_low=float(lo), ci_high=float(hi), sd=float(draws.std(ddof=1)))
    values, good, bad = value_counts(s_te, y_te)
    cum_bad, cum_good = np.cumsum(bad) / bad.sum(), np.cumsum(good) / good.sum()
    k = int(np.argmax(np.abs(cum_bad - cum_good)))
    disc = {
        "test": test,
        "train": {"auc": auc_tr, "ks": ks_tr, "gini": 2 * auc_tr - 1},
        "ks_score": float(values[k]),
        "auc_gap": auc_tr - auc_te,
    }
    keep = _thin(len(values))
    curves = {
        # ROC: declining everything up to a score; x = goods declined, y = bads declined
        "roc": {"fpr": [0.0, *cum_good[keep]], "tpr": [0.0, *cum_bad[keep]]},
        "ks": {"score": values[keep], "cum_bad": cum_bad[keep], "cum_good": cum_good[keep]},
    }
    return disc, curves


def _cross_validation(
    model: Any, X_train: pd.DataFrame, y_train: np.ndarray, X_test: pd.DataFrame,
    y_test: np.ndarray, folds: int | None, random_state: int,
) -> dict[str, Any]:  # fmt: skip
    if not folds:
        return {"folds": 0, "rows": [], "note": "skipped"}
    X = pd.concat([X_train, X_test], ignore_index=True)
    y = np.concatenate([y_train, y_test])
    if folds > min(int(y.sum()), int(len(y) - y.sum())):
        raise ValueError(f"cv_folds={folds} is more than the rows of the smaller class")
    rows: list[dict[str, Any]] = []
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    for k, (tr, te) in enumerate(split.split(X, y), start=1):
        m = clone(model)
        try:
            m.fit(X.iloc[tr].reset_index(drop=True), y[tr])
            s = model_scores(m, X.iloc[te].reset_index(drop=True))
        except ValueError as exc:  # a fold the estimator refuses is reported, not fatal
            rows.append({"fold": k, "rows": len(te), "error": str(exc)})
            continue
        auc, ks = auc_ks(s, y[te])
        rows.append({"fold": k, "rows": len(te), "bads": int(y[te].sum()), "auc": auc, "ks": ks,
                     "gini": 2 * auc - 1})  # fmt: skip
    done = [r for r in rows if "error" not in r]
    out: dict[str, Any] = {
        "folds": folds,
        "on": "train + test",
        "rows": rows,
        "failed": len(rows) - len(done),
    }
    for name in ("auc", "ks", "gini"):
        v = np.array([r[name] for r in done])
        out[name] = {
            "mean": float(v.mean()) if len(v) else None,
            "sd": float(v.std(ddof=1)) if len(v) > 1 else None,
        }
    return out


def _features(model: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"iv": None, "importance": None}
    if hasattr(model, "binning_all_") and hasattr(model, "features_"):
        kept = {b.name for b in model.features_}
        min_iv = getattr(model, "min_iv", None)
        rows = []
        for b in sorted(model.binning_all_, key=lambda b: -b.iv):
            if b.name in kept:
                why = ""
            elif min_iv is not None and b.iv < min_iv:
                why = f"IV below min_iv ({min_iv:g})"
            else:
                why = "coefficient with the wrong sign (collinearity)"
            rows.append({"feature": b.name, "iv": b.iv, "band": band(b.iv, IV_BANDS),
                         "kept": b.name in kept, "dropped_because": why})  # fmt: skip
        out["iv"] = rows
    else:
        out["iv_note"] = f"not applicable to a {type(model).__name__} (no binning)"
    if hasattr(model, "feature_importance"):
        fi = model.feature_importance()
        if isinstance(fi, pd.Series):
            fi = fi.rename("importance").rename_axis("feature").reset_index()
        elif isinstance(fi, dict):
            fi = pd.DataFrame({"feature": list(fi), "importance": list(fi.values())})
        out["importance"] = fi.to_dict(orient="records")
    return out


def _points_table(model: Any) -> dict[str, Any]:
    if not hasattr(model, "points_table"):
        return {"rows": None, "note": f"not applicable to a {type(model).__name__}"}
    return {"rows": model.points_table().to_dict(orient="records")}


def _summary(r: ValidationReport) -> dict[str, Any]:
    test = r.discrimination["test"]
    psi_score = r.stability["score_psi"]
    return {
        "auc": test["auc"], "ks": test["ks"], "gini": test["gini"],
        "cv_auc": r.cross_validation.get("auc"),
        "brier": r.calibration["brier"], "psi": psi_score["psi"], "psi_band": psi_score["band"],
        "cutoff_score": r.cutoff["score"], "cutoff_pd": r.cutoff["pd"],
        "approval_rate": r.confusion["approval_rate"],
        "four_fifths_flags": [
            a["attribute"] for a in r.fairness["attributes"] if a["four_fifths_flag"]
        ],
    }  # fmt: skip


def _notes(r: ValidationReport) -> list[str]:
    """What a reader should look at first, in plain words."""
    notes: list[str] = []
    psi_score = r.stability["score_psi"]
    if r.discrimination["auc_gap"] > 0.05:
        notes.append(
            f"AUC is {r.discrimination['auc_gap']:.3f} lower on test than on train: overfitting?"
        )
    if psi_score["band"] != "stable":
        notes.append(f"score PSI {psi_score['psi']:.3f} ({psi_score['band']}): train and test "
                     "populations differ")  # fmt: skip
    shifted = [c["feature"] for c in r.stability["csi"] if c["band"] == "shift"]
    if shifted:
        notes.append(f"features whose distribution shifted (CSI > 0.25): {', '.join(shifted)}")
    if r.data["test"]["bads"] < 100:
        notes.append(f"the test set has only {r.data['test']['bads']} bads: intervals are wide")
    for f in r.cross_validation.get("rows", []):
        if "error" in f:
            notes.append(f"cross-validation fold {f['fold']} failed: {f['error']}")
    for a in r.fairness["attributes"]:
        if a["four_fifths_flag"]:
            notes.append(
                f"{a['attribute']}: demographic parity ratio {a['demographic_parity_ratio']:.3f} "
                f"< {FOUR_FIFTHS} (four-fifths rule)"
            )
        small = [g["group"] for g in a["groups"] if not g["judged"]]
        if small:
            notes.append(f"{a['attribute']}: groups too small to judge: {', '.join(small)}")
    return notes


# -- small helpers -------------------------------------------------------------------
def _thin(n: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, CURVE_POINTS)).round().astype(int))


def jsonable(v: Any) -> Any:
    """Builtin types only: numpy scalars and arrays unwrapped, floats to 6 significant digits,
    NaN and infinities as None, tuples as lists, keys as strings."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple | np.ndarray | pd.Series):
        return [jsonable(x) for x in (v.tolist() if hasattr(v, "tolist") else v)]
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        v = float(v)
        return float(f"{v:.6g}") if math.isfinite(v) else None
    if v is None or isinstance(v, str):
        return v
    if v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, datetime | pd.Timestamp):
        return v.isoformat()
    return str(v)
