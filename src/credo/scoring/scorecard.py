"""`Scorecard`: optimal binning + weight of evidence + logistic regression, scaled to points.

The estimator is scikit-learn compatible (`fit`, `predict_proba`, `predict`, `get_params`) and
adds what a credit scorecard needs: `score` (points), `reasons` (the factors that cost the most
points), `points_table`, `to_sql` and `to_dict` (the model as data, for the registry).

Scaling. With ``factor = pdo / ln 2`` and ``offset = base_score - factor * ln(base_odds)``, a
row whose good:bad odds are ``o`` scores ``offset + factor * ln(o)``: ``base_score`` points at
``base_odds`` to 1, and every ``pdo`` points double the odds. The logistic regression is fitted
on the weights of evidence, so ``ln(bad odds) = b0 + sum_i b_i * woe_i`` and each bin of feature
``i`` is worth ``-factor * (b_i * woe + b0 / n) + offset / n`` points (``n`` features): the
points of a row's bins add up to its score. Points are rounded to whole numbers by default
(``rounding=True``), as published scorecards are; the score is then the sum of the rounded
points, and `pd_from_score` turns it back into a PD.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from optbinning import OptimalBinning
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.utils.validation import check_is_fitted

from credo.scoring.fast import FeaturePoints, PointsScorer, numeric_column
from credo.scoring.protected import DEFAULT_POLICY, ProtectedPolicy
from credo.scoring.reasons import Reason, ReasonCatalog, explain

MIN_ROWS = 50
MIN_CLASS_ROWS = 10
#: (max_n_bins, min_bin_size) candidates, coarse to fine, among which `fit` chooses by
#: cross-validation on the training rows when neither is given
BINNING_CANDIDATES: tuple[tuple[int, float], ...] = (
    (4, 0.05),
    (6, 0.05),
    (8, 0.04),
    (10, 0.03),
    (12, 0.02),
)
#: the granularity used when the training rows are too few to cross-validate
FALLBACK_BINNING: tuple[int, float] = (6, 0.05)


@dataclass
class FeatureBinning:
    """One feature of a fitted scorecard: bins, their statistics, weights and points."""

    name: str
    dtype: str
    splits: list[float]
    categories: list[list[str]]
    #: per regular bin, then the special bin, then the missing bin
    labels: list[str]
    counts: list[int]
    event_rates: list[float]
    woe: list[float]
    iv: float
    coef: float = 0.0
    points: list[float] | None = None
    special_codes: list[float] | None = None

    @property
    def n_regular(self) -> int:
        return len(self.labels) - 2


class Scorecard(ClassifierMixin, BaseEstimator):
    """A points scorecard built on optbinning and logistic regression.

    Parameters
    ----------
    base_score : float, default=600
        Score at which the good:bad odds equal `base_odds`.
    base_odds : float, default=50
        Good:bad odds at `base_score`.
    pdo : float, default=20
        Points that double the odds.
    max_n_bins : int, optional
        Most regular bins per feature. Default: chosen with `min_bin_size` (below).
    min_bin_size : float, optional
        Smallest share of the training rows in one bin (optbinning's pre-bins follow it).
        When neither is given, `fit` chooses the pair from `BINNING_CANDIDATES` (4 to 12 bins,
        5 % to 2 % per bin) by `binning_cv`-fold stratified cross-validation on the training
        rows only: the candidate with the highest mean AUC, the coarser on a tie (6 bins of
        5 % when the rows are too few to cross-validate). When one is given, only the other
        varies; when both are, there is no search.
    binning_cv : int, default=5
        Folds of that cross-validation.
    random_state : int, optional, default=0
        Seed of its fold shuffling (the fit is deterministic for a given seed).
    min_iv : float, default=0.02
        Features with a lower information value are left out.
    categorical : sequence of str, optional
        Columns to bin as categories; text columns are categorical anyway.
    special_codes : sequence of float, optional
        Numeric codes that mean "special" (e.g. -1 for "not applicable"); they get their own bin.
    C : float, default=1.0
        Inverse L2 regularisation strength of the logistic regression.
    rounding : bool, default=True
        Round each bin's points to a whole number.
    protected : ProtectedPolicy, optional
        Which columns count as protected attributes; `fit` refuses them.
    reason_catalog : ReasonCatalog, optional
        Codes and texts of reason codes (defaults to a generic catalog from column names).
    """

    def __init__(
        self,
        *,
        base_score: float = 600.0,
        base_odds: float = 50.0,
        pdo: float = 20.0,
        max_n_bins: int | None = None,
        min_bin_size: float | None = None,
        binning_cv: int = 5,
        random_state: int | None = 0,
        min_iv: float = 0.02,
        categorical: Sequence[str] | None = None,
        special_codes: Sequence[float] | None = None,
        C: float = 1.0,
        rounding: bool = True,
        protected: ProtectedPolicy | None = None,
        reason_catalog: ReasonCatalog | None = None,
    ) -> None:
        self.base_score = base_score
        self.base_odds = base_odds
        self.pdo = pdo
        self.max_n_bins = max_n_bins
        self.min_bin_size = min_bin_size
        self.binning_cv = binning_cv
        self.random_state = random_state
        self.min_iv = min_iv
        self.categorical = categorical
        self.special_codes = special_codes
        self.C = C
        self.rounding = rounding
        self.protected = protected
        self.reason_catalog = reason_catalog

    # -- fitting ---------------------------------------------------------------------
    def _check_params(self) -> None:
        check_scaling(self.pdo, self.base_odds)
        m = self.max_n_bins
        if m is not None and not (isinstance(m, int | np.integer) and m >= 2):
            raise ValueError(f"max_n_bins must be an integer >= 2; got {m}")
        if self.min_bin_size is not None and not 0 < self.min_bin_size < 0.5:
            raise ValueError(f"min_bin_size must be in (0, 0.5); got {self.min_bin_size}")
        if not (isinstance(self.binning_cv, int | np.integer) and self.binning_cv >= 2):
            raise ValueError(f"binning_cv must be an integer >= 2; got {self.binning_cv}")
        if not self.C > 0:
            raise ValueError(f"C must be positive; got {self.C}")

    def fit(self, X: Any, y: Any, sample_weight: Any = None, groups: Any = None) -> Scorecard:
        """Choose the binning granularity, bin every feature, fit the regression, scale.

        `groups` (optional, one label per row, e.g. the subject of each row) keeps a group's
        rows in one fold of the granularity search, as `StratifiedGroupKFold` does.
        """
        self._check_params()
        X, y, kinds = check_training_data(X, y, self.protected, self.categorical)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=float)
            if sample_weight.shape != (len(y),):
                raise ValueError(f"sample_weight has shape {sample_weight.shape}; need ({len(y)},)")
        if groups is not None:
            groups = np.asarray(groups.to_numpy() if hasattr(groups, "to_numpy") else groups)
            if len(groups) != len(y):
                raise ValueError(f"groups has {len(groups)} labels for {len(y)} rows")
        candidates = binning_candidates(self.max_n_bins, self.min_bin_size)
        self.binning_search_: dict[str, Any] | None = None
        chosen = candidates[0]  # both given
        if len(candidates) > 1:
            self.binning_search_ = self._search_binning(X, y, kinds, candidates, sample_weight,
                                                        groups)  # fmt: skip
            chosen = tuple(self.binning_search_["chosen"])
        return self._fit_binned(X, y, kinds, sample_weight, chosen)

    def _search_binning(self, X, y, kinds, candidates, sample_weight, groups) -> dict[str, Any]:
        """Mean out-of-fold AUC of each candidate over `binning_cv` folds of the training rows.

        Every fold refits the whole method (binning, IV filter, regression, wrong-sign drops)
        on the other folds. A candidate that cannot be fitted on some fold (e.g. no feature
        reaches `min_iv` there) is not chosen; when the rows are too few to cross-validate,
        or no candidate fits on every fold, `FALLBACK_BINNING` is used (with the value given,
        if one was).
        """
        k = self.binning_cv
        fallback = binning_candidates(self.max_n_bins, self.min_bin_size, [FALLBACK_BINNING])[0]
        n_bad = int(y.sum())
        minority = min(n_bad, len(y) - n_bad)
        out: dict[str, Any] = {"folds": k, "random_state": self.random_state,
                               "groups": groups is not None, "candidates": []}  # fmt: skip
        n_groups = len(y) if groups is None else len(np.unique(groups))
        if (
            len(y) * (k - 1) / k < MIN_ROWS
            or minority * (k - 1) / k < MIN_CLASS_ROWS
            or minority < k
            or n_groups < k
        ):
            return out | {"chosen": list(fallback), "skipped": "too few rows"}
        if groups is None:
            splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=self.random_state)
        else:
            splitter = StratifiedGroupKFold(
                n_splits=k, shuffle=True, random_state=self.random_state
            )
        folds = list(splitter.split(X, y, groups))
        best, best_auc = fallback, -np.inf
        for cand in candidates:
            aucs: list[float] = []
            for tr, te in folds:
                if len(np.unique(y[te])) < 2:
                    continue
                inner = clone(self)
                w = None if sample_weight is None else sample_weight[tr]
                try:
                    inner._fit_binned(X.iloc[tr], y[tr], kinds, w, cand)
                except ValueError:  # e.g. no feature reaches min_iv on this fold
                    aucs = []
                    break
                aucs.append(float(roc_auc_score(y[te], inner.decision_function(X.iloc[te]))))
            mean = float(np.mean(aucs)) if aucs else None
            out["candidates"].append({"max_n_bins": cand[0], "min_bin_size": cand[1],
                                      "cv_auc": mean, "fold_aucs": aucs})  # fmt: skip
            if mean is not None and mean > best_auc:  # strictly: the coarser wins a tie
                best, best_auc = cand, mean
        return out | {"chosen": list(best)}

    def _fit_binned(self, X, y, kinds, sample_weight, granularity) -> Scorecard:
        """The fit proper, with the (max_n_bins, min_bin_size) chosen."""
        self.max_n_bins_, self.min_bin_size_ = int(granularity[0]), float(granularity[1])
        specials = [float(s) for s in (self.special_codes or ())]
        binned: list[FeatureBinning] = []
        for name, kind in kinds.items():
            binned.append(self._bin(name, kind, X[name], y, specials))
        self.binning_all_ = binned
        kept = [b for b in binned if b.iv >= self.min_iv]
        if not kept:
            best = max(binned, key=lambda b: b.iv)
            raise ValueError(
                f"no feature has information value >= {self.min_iv} (best: {best.name!r} with "
                f"{best.iv:.4f}); the features do not separate goods from bads"
            )
        # drop features whose coefficient has the wrong sign (collinearity), worst IV first
        while True:
            W = np.column_stack([woe_column(b, X[b.name]) for b in kept])
            lr = LogisticRegression(C=self.C, max_iter=2000)
            lr.fit(W, y, sample_weight=sample_weight)
            coefs = lr.coef_[0]
            wrong = [i for i, c in enumerate(coefs) if c > 0]
            if not wrong or len(kept) == 1:
                break
            kept.pop(min(wrong, key=lambda i: kept[i].iv))
        self.estimator_ = lr
        self.intercept_ = float(lr.intercept_[0])
        for b, c in zip(kept, coefs, strict=True):
            b.coef = float(c)
        self.features_ = kept
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        self.n_features_in_ = X.shape[1]
        self.classes_ = np.array([0, 1])
        self.factor_, self.offset_ = scaling(self.base_score, self.base_odds, self.pdo)
        n = len(kept)
        for b in kept:
            raw = [
                -self.factor_ * (b.coef * w + self.intercept_ / n) + self.offset_ / n for w in b.woe
            ]
            b.points = [float(round(p)) if self.rounding else round(p, 6) for p in raw]
        self.scorer_ = PointsScorer([to_points(b) for b in kept])
        self.training_rows_ = len(X)
        self.bad_rate_ = float(y.mean())
        return self

    def _bin(self, name, kind, col, y, specials) -> FeatureBinning:
        if kind == "numerical":
            x = numeric_column(col)
            params = {"monotonic_trend": "auto_asc_desc"}
        else:
            x = np.asarray([None if _missing(v) else str(v) for v in col], dtype=object)
            params = {}
        ob = OptimalBinning(
            name=name,
            dtype=kind,
            max_n_bins=self.max_n_bins_,
            min_bin_size=self.min_bin_size_,
            # optbinning pre-bins at 5 % by default, which would make a smaller min_bin_size
            # ineffective; pre-bins are never larger than the bins asked for
            min_prebin_size=min(self.min_bin_size_, 0.05),
            special_codes=(specials or None) if kind == "numerical" else None,
            **params,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ob.fit(x, y)
        table = ob.binning_table.build(add_totals=False)
        labels = [str(v) for v in table["Bin"]]
        if kind == "numerical":
            splits = [float(s) for s in ob.splits]
            categories: list[list[str]] = []
        else:
            splits = []
            categories = [[str(c) for c in cats] for cats in ob.splits]
        return FeatureBinning(
            name=name,
            dtype=kind,
            splits=splits,
            categories=categories,
            labels=labels,
            counts=[int(c) for c in table["Count"]],
            event_rates=[float(r) if not pd.isna(r) else 0.0 for r in table["Event rate"]],
            woe=[float(w) for w in table["WoE"]],
            iv=float(table["IV"].sum()),
            special_codes=specials if kind == "numerical" else [],
        )

    # -- prediction ------------------------------------------------------------------
    def _frame(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self, "scorer_")
        return as_frame(X, self.feature_names_in_)

    def decision_function(self, X: Any) -> np.ndarray:
        """ln(bad odds) of every row, from the unrounded regression."""
        X = self._frame(X)
        W = np.column_stack([woe_column(b, X[b.name]) for b in self.features_])
        return W @ np.array([b.coef for b in self.features_]) + self.intercept_

    def predict_proba(self, X: Any) -> np.ndarray:
        """[P(good), P(bad)] per row, from the regression (not the rounded points)."""
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def score(self, X: Any, y: Any = None) -> np.ndarray:
        """Points of every row (higher is better). Not scikit-learn's accuracy `score`."""
        X = self._frame(X)
        return self.scorer_.score(X)

    def points(self, X: Any) -> pd.DataFrame:
        """Points of every feature for every row."""
        X = self._frame(X)
        return pd.DataFrame(self.scorer_.points_matrix(X), columns=self.scorer_.names)

    def pd_from_score(self, score: Any) -> np.ndarray:
        """The probability of default a score stands for under the scaling."""
        check_is_fitted(self, "scorer_")
        return pd_from_score(np.asarray(score, dtype=float), self.offset_, self.factor_)

    def reasons(self, X: Any, n: int = 4) -> list[list[Reason]]:
        """For each row the (up to) `n` factors that cost the most points against the best."""
        X = self._frame(X)
        pts = self.scorer_.points_matrix(X)
        catalog = self.reason_catalog or ReasonCatalog()
        return explain(self.features_, X, pts, catalog, n)

    # -- the model as data -----------------------------------------------------------
    def points_table(self) -> pd.DataFrame:
        """One row per feature and bin: label, count, event rate, WoE, IV, coefficient, points."""
        check_is_fitted(self, "scorer_")
        rows = []
        for b in self.features_:
            for i, label in enumerate(b.labels):
                rows.append({
                    "feature": b.name, "bin": label, "count": b.counts[i],
                    "event_rate": b.event_rates[i], "woe": b.woe[i], "iv": b.iv,
                    "coef": b.coef, "points": b.points[i],
                })  # fmt: skip
        return pd.DataFrame(rows)

    @property
    def score_range(self) -> tuple[float, float]:
        """The lowest and highest attainable score."""
        check_is_fitted(self, "scorer_")
        return (
            sum(min(b.points) for b in self.features_),
            sum(max(b.points) for b in self.features_),
        )

    def to_sql(self, *, columns: dict[str, str] | None = None) -> str:
        """A SQL expression of the score (SQLite, PostgreSQL and DuckDB)."""
        check_is_fitted(self, "scorer_")
        return self.scorer_.to_sql(columns=columns)

    def to_dict(self) -> dict[str, Any]:
        """Everything needed to score and explain, as JSON-ready data (no pickles)."""
        check_is_fitted(self, "scorer_")
        return {
            "kind": "scorecard",
            "scaling": {
                "base_score": self.base_score, "base_odds": self.base_odds, "pdo": self.pdo,
                "factor": self.factor_, "offset": self.offset_, "rounding": self.rounding,
            },
            "intercept": self.intercept_,
            "features": [
                {**to_points(b).to_dict(), "labels": b.labels, "counts": b.counts,
                 "event_rates": b.event_rates, "woe": b.woe, "iv": b.iv, "coef": b.coef}
                for b in self.features_
            ],
            "columns": [str(c) for c in self.feature_names_in_],
            "params": {
                "max_n_bins": self.max_n_bins_, "min_bin_size": self.min_bin_size_,
                "min_iv": self.min_iv, "C": self.C,
                "categorical": list(self.categorical or []),
                "special_codes": [float(c) for c in self.special_codes or []],
            },
            "binning_all": [{"name": b.name, "iv": b.iv, "kept": b.points is not None}
                            for b in self.binning_all_],
            "binning_search": self.binning_search_,
            "training_rows": self.training_rows_,
            "bad_rate": self.bad_rate_,
            "score_range": list(self.score_range),
        }  # fmt: skip

    @classmethod
    def from_dict(
        cls, d: dict[str, Any], *, reason_catalog: ReasonCatalog | None = None
    ) -> Scorecard:
        """A scorecard that scores, explains and prints exactly as the one exported.

        It is rebuilt from plain data (as the registry stores it): nothing is unpickled. It
        cannot be refitted from here (`binning_all_` keeps names and IVs only).
        """
        if d.get("kind") != "scorecard":
            raise ValueError(f"not a scorecard export (kind={d.get('kind')!r})")
        sc, params = d["scaling"], d.get("params", {})
        model = cls(
            base_score=sc["base_score"], base_odds=sc["base_odds"], pdo=sc["pdo"],
            rounding=sc["rounding"], reason_catalog=reason_catalog,
            **{k: v for k, v in params.items() if k in ("max_n_bins", "min_bin_size",
                                                         "min_iv", "C")},
            categorical=params.get("categorical") or None,
            special_codes=params.get("special_codes") or None,
        )  # fmt: skip
        features = []
        for f in d["features"]:
            fp = FeaturePoints.from_dict(f)
            features.append(FeatureBinning(
                name=fp.name, dtype=fp.dtype, splits=list(fp.splits),
                categories=[list(c) for c in fp.categories], labels=list(f["labels"]),
                counts=[int(c) for c in f["counts"]],
                event_rates=[float(r) for r in f["event_rates"]],
                woe=[float(w) for w in f["woe"]], iv=float(f["iv"]), coef=float(f["coef"]),
                points=[*fp.points, fp.special_points, fp.missing_points],
                special_codes=list(fp.special_codes),
            ))  # fmt: skip
        model.features_ = features
        model.max_n_bins_ = int(params.get("max_n_bins", FALLBACK_BINNING[0]))
        model.min_bin_size_ = float(params.get("min_bin_size", FALLBACK_BINNING[1]))
        model.binning_search_ = d.get("binning_search")
        model.binning_all_ = [
            FeatureBinning(b["name"], "", [], [], [], [], [], [], float(b["iv"]))
            for b in d.get("binning_all", [])
        ]
        model.intercept_ = float(d["intercept"])
        model.factor_, model.offset_ = float(sc["factor"]), float(sc["offset"])
        columns = d.get("columns") or [f.name for f in features]
        model.feature_names_in_ = np.asarray(columns, dtype=object)
        model.n_features_in_ = len(columns)
        model.classes_ = np.array([0, 1])
        model.scorer_ = PointsScorer([to_points(b) for b in features])
        model.training_rows_ = int(d["training_rows"])
        model.bad_rate_ = float(d["bad_rate"])
        return model


# -- helpers (pure) ------------------------------------------------------------------
def check_scaling(pdo: float, base_odds: float) -> None:
    if not pdo > 0:
        raise ValueError(f"pdo must be positive; got {pdo}")
    if not base_odds > 0:
        raise ValueError(f"base_odds must be positive; got {base_odds}")


def binning_candidates(
    max_n_bins: int | None,
    min_bin_size: float | None,
    grid: Sequence[tuple[int, float]] = BINNING_CANDIDATES,
) -> list[tuple[int, float]]:
    """The (max_n_bins, min_bin_size) pairs to choose from: a given value replaces the grid's."""
    pairs = [
        (max_n_bins if max_n_bins is not None else m,
         min_bin_size if min_bin_size is not None else s)
        for m, s in grid
    ]  # fmt: skip
    return list(dict.fromkeys(pairs))


def scaling(base_score: float, base_odds: float, pdo: float) -> tuple[float, float]:
    """(factor, offset): a row with good:bad odds ``o`` scores ``offset + factor * ln(o)``."""
    factor = pdo / math.log(2)
    return factor, base_score - factor * math.log(base_odds)


def pd_from_score(score: np.ndarray, offset: float, factor: float) -> np.ndarray:
    """PD = 1 / (1 + good odds), good odds = exp((score - offset) / factor)."""
    return 1.0 / (1.0 + np.exp((score - offset) / factor))


def to_points(b: FeatureBinning) -> FeaturePoints:
    """The scoring part of a fitted feature: regular bins, then special and missing points."""
    assert b.points is not None
    k = b.n_regular
    return FeaturePoints(
        name=b.name,
        dtype=b.dtype,
        splits=tuple(b.splits),
        categories=tuple(tuple(c) for c in b.categories),
        points=tuple(b.points[:k]),
        missing_points=b.points[k + 1],
        special_codes=tuple(b.special_codes or ()),
        special_points=b.points[k],
    )


def woe_column(b: FeatureBinning, col: Any) -> np.ndarray:
    """The weight of evidence of each value, by the same bin rules as the points."""
    k = b.n_regular
    fp = FeaturePoints(
        name=b.name, dtype=b.dtype, splits=tuple(b.splits),
        categories=tuple(tuple(c) for c in b.categories), points=tuple(b.woe[:k]),
        missing_points=b.woe[k + 1], special_codes=tuple(b.special_codes or ()),
        special_points=b.woe[k],
    )  # fmt: skip
    return PointsScorer([fp]).points_matrix({b.name: col})[:, 0]


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def as_frame(X: Any, columns: Sequence[str] | np.ndarray | None = None) -> pd.DataFrame:
    """A pandas DataFrame from a DataFrame, a polars frame, a mapping or a 2-D array."""
    if isinstance(X, pd.DataFrame):
        df = X
    elif hasattr(X, "to_pandas") and hasattr(X, "get_column"):
        df = pd.DataFrame({c: X.get_column(c).to_list() for c in X.columns})
    elif isinstance(X, dict):
        df = pd.DataFrame(X)
    else:
        arr = np.asarray(X, dtype=object)
        if arr.ndim != 2:
            raise ValueError(f"X must be 2-D (rows x features); got shape {arr.shape}")
        names = list(columns) if columns is not None else [f"x{i}" for i in range(arr.shape[1])]
        if len(names) != arr.shape[1]:
            raise ValueError(f"X has {arr.shape[1]} columns; the model expects {len(names)}")
        df = pd.DataFrame(arr, columns=names)
    if columns is not None:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ValueError(f"X lacks the model's columns: {', '.join(map(str, missing))}")
    if len(set(map(str, df.columns))) != df.shape[1]:
        raise ValueError("X has duplicate column names")
    return df


def as_binary_target(y: Any, n_rows: int) -> np.ndarray:
    """y as an int array of 0 (good) / 1 (bad), with clear errors for everything else."""
    arr = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y, dtype=object).ravel()
    if len(arr) != n_rows:
        raise ValueError(f"X has {n_rows} rows but y has {len(arr)}; they must match")
    if any(_missing(v) for v in arr):
        raise ValueError("y has missing values; every row needs a 0 (good) or 1 (bad) label")
    values = set(arr.tolist())
    if not values <= {0, 1}:
        bad = sorted(map(str, values - {0, 1}))[:3]
        raise ValueError(f"y must be 0 (good) or 1 (bad); got {', '.join(bad)}")
    y_int = arr.astype(int)
    n_bad = int(y_int.sum())
    if n_bad == 0 or n_bad == len(y_int):
        raise ValueError(
            f"y has a single class ({int(y_int[0])}) in all {len(y_int)} rows; a scorecard "
            "needs both goods (0) and bads (1)"
        )
    if len(y_int) < MIN_ROWS or min(n_bad, len(y_int) - n_bad) < MIN_CLASS_ROWS:
        raise ValueError(
            f"too few rows to fit: {len(y_int)} rows with {n_bad} bads; need at least "
            f"{MIN_ROWS} rows and {MIN_CLASS_ROWS} of each class"
        )
    return y_int


def check_training_data(
    X: Any, y: Any, protected: ProtectedPolicy | None, categorical: Sequence[str] | None
) -> tuple[pd.DataFrame, np.ndarray, dict[str, str]]:
    """The checks every estimator runs before fitting: shape, labels, protected columns, kinds."""
    X = as_frame(X)
    y = as_binary_target(y, len(X))
    (protected or DEFAULT_POLICY).refuse(
        X.columns, "column", "it can never be a model feature; drop it (it may be used in the "
        "fairness section of the validation report only)",
    )  # fmt: skip
    return X, y, infer_kinds(X, categorical or ())


def infer_kinds(X: pd.DataFrame, categorical: Sequence[str]) -> dict[str, str]:
    """numerical / categorical per column; junk in a numeric column is an error naming it."""
    kinds: dict[str, str] = {}
    unknown = [c for c in categorical if c not in X.columns]
    if unknown:
        raise ValueError(f"categorical names unknown columns: {', '.join(unknown)}")
    for name in X.columns:
        col = X[name]
        present = col[~col.map(_missing)]
        if present.empty:
            raise ValueError(f"column {name!r} is all missing; drop it")
        if present.nunique() < 2:
            raise ValueError(
                f"column {name!r} is constant ({present.iloc[0]!r}); it cannot separate goods "
                "from bads -- drop it"
            )
        if name in categorical:
            kinds[str(name)] = "categorical"
            continue
        if col.dtype.kind in "biuf":
            kinds[str(name)] = "numerical"
            continue
        as_num = pd.to_numeric(present.map(lambda v: v.strip() if isinstance(v, str) else v),
                               errors="coerce")  # fmt: skip
        bad = as_num.isna()
        if not bad.any():
            kinds[str(name)] = "numerical"
        elif bad.mean() > 0.5:
            kinds[str(name)] = "categorical"
        else:
            row = present.index[bad.to_numpy()][0]
            raise ValueError(
                f"column {name!r} is numeric but row {row} holds {present[row]!r}; clean it "
                "or list the column in categorical="
            )
    return kinds
