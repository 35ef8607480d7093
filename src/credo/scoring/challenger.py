"""`Challenger`: a gradient-boosted model (LightGBM) with monotone constraints, calibrated.

The challenger is scored on the same scale as the scorecard and explained the same way, so a
validator can put the two side by side:

* **Monotone constraints.** Credit features have a known direction (more days past due, more
  inquiries, higher utilisation: riskier). `monotone="auto"` takes each numeric feature's
  direction from the sign of its Spearman correlation with the target on the training data
  (no constraint when the correlation is weaker than `monotone_min_corr`); a mapping
  ``{feature: +1 | -1 | 0}`` fixes them by hand (+1: the risk rises with the value). Categorical
  features are not constrained.
* **Calibration.** LightGBM's raw margins are not probabilities one can publish. The margins of
  out-of-fold predictions (`calibration_folds`-fold, stratified) are mapped to the log-odds of
  default by a logistic regression on the margin (Platt scaling); the final booster is then
  fitted on all the training rows. The map is linear, so SHAP contributions stay additive on the
  calibrated log-odds scale.
* **Score.** ``offset - factor * ln(bad odds)``: the scaling of the scorecard (base score, base
  odds, PDO), rounded to whole points by default, so a challenger's 620 means the same PD as a
  scorecard's 620.
* **Reasons.** TreeSHAP contributions (LightGBM's ``pred_contrib``), turned into points
  (``-factor * a * contribution``): the (up to) four features that cost the most points against
  the average applicant of the training data, with the same codes and texts as the scorecard.
* **As data.** `to_dict` keeps the booster in LightGBM's own text format together with the
  calibration, scaling and category codes; `from_dict` rebuilds it. Nothing is pickled.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted

from credo.scoring.fast import numeric_column
from credo.scoring.protected import ProtectedPolicy
from credo.scoring.reasons import Reason, ReasonCatalog, reason_texts
from credo.scoring.scorecard import (
    _missing,
    as_frame,
    check_scaling,
    check_training_data,
    pd_from_score,
    scaling,
)


class Challenger(ClassifierMixin, BaseEstimator):
    """LightGBM with monotone constraints and Platt calibration, scored and explained as points.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_child_samples, subsample, colsample_bytree,
    reg_lambda : LightGBM's parameters (conservative defaults for a few thousand rows).
    monotone : "auto", None or a mapping feature -> +1 / -1 / 0
        Direction of risk per feature (+1: risk rises with the value). "auto" infers it.
    monotone_min_corr : float, default=0.02
        With "auto", features whose |Spearman correlation| with the target is lower are left
        unconstrained.
    calibration_folds : int, default=3
        Folds of the out-of-fold predictions the calibration is fitted on.
    categorical : sequence of str, optional
        Columns to treat as categories; text columns are categorical anyway.
    base_score, base_odds, pdo, rounding : the score scaling (as `Scorecard`).
    protected : ProtectedPolicy, optional
        Which columns count as protected attributes; `fit` refuses them.
    reason_catalog : ReasonCatalog, optional
        Codes and texts of reason codes.
    random_state : int, default=42
    """

    def __init__(
        self,
        *,
        n_estimators: int = 300,
        learning_rate: float = 0.03,
        num_leaves: int = 8,
        min_child_samples: int = 50,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        monotone: str | Mapping[str, int] | None = "auto",
        monotone_min_corr: float = 0.02,
        calibration_folds: int = 3,
        categorical: Sequence[str] | None = None,
        base_score: float = 600.0,
        base_odds: float = 50.0,
        pdo: float = 20.0,
        rounding: bool = True,
        protected: ProtectedPolicy | None = None,
        reason_catalog: ReasonCatalog | None = None,
        random_state: int = 42,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.monotone = monotone
        self.monotone_min_corr = monotone_min_corr
        self.calibration_folds = calibration_folds
        self.categorical = categorical
        self.base_score = base_score
        self.base_odds = base_odds
        self.pdo = pdo
        self.rounding = rounding
        self.protected = protected
        self.reason_catalog = reason_catalog
        self.random_state = random_state

    # -- fitting ---------------------------------------------------------------------
    def _check_params(self) -> None:
        check_scaling(self.pdo, self.base_odds)
        if not (isinstance(self.n_estimators, int) and self.n_estimators >= 1):
            raise ValueError(f"n_estimators must be a positive integer; got {self.n_estimators}")
        if not (isinstance(self.calibration_folds, int) and self.calibration_folds >= 2):
            raise ValueError(f"calibration_folds must be >= 2; got {self.calibration_folds}")
        if not (
            self.monotone is None or self.monotone == "auto" or isinstance(self.monotone, Mapping)
        ):
            raise ValueError(f"monotone must be 'auto', None or a mapping; got {self.monotone!r}")

    def _lgb_params(self, constraints: list[int]) -> dict[str, Any]:
        return {
            "objective": "binary", "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples, "subsample": self.subsample,
            "subsample_freq": 1 if self.subsample < 1 else 0,
            "colsample_bytree": self.colsample_bytree, "reg_lambda": self.reg_lambda,
            "monotone_constraints": constraints, "monotone_constraints_method": "advanced",
            "random_state": self.random_state, "n_jobs": 1, "verbose": -1,
        }  # fmt: skip

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Challenger:
        """Fit the booster, calibrate its margins out of fold, fix the scaling."""
        self._check_params()
        X, y, kinds = check_training_data(X, y, self.protected, self.categorical)
        self.kinds_ = kinds
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        self.n_features_in_ = X.shape[1]
        self.classes_ = np.array([0, 1])
        self.categories_ = {
            name: sorted({str(v) for v in X[name] if not _missing(v)})
            for name, kind in kinds.items()
            if kind == "categorical"
        }
        M = self._matrix(X)
        self.monotone_ = self._constraints(M, y)
        constraints = [self.monotone_[c] for c in self.feature_names_in_]
        cats = [i for i, c in enumerate(self.feature_names_in_) if kinds[c] == "categorical"]
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)

        # out-of-fold margins -> Platt scaling
        oof = np.zeros(len(y))
        folds = StratifiedKFold(self.calibration_folds, shuffle=True,
                                random_state=self.random_state)  # fmt: skip
        for tr, te in folds.split(M, y):
            m = self._booster(constraints)
            m.fit(M[tr], y[tr], sample_weight=None if w is None else w[tr],
                  categorical_feature=cats or "auto")  # fmt: skip
            oof[te] = m.predict(M[te], raw_score=True)
        platt = LogisticRegression(C=1e6, max_iter=1000)
        platt.fit(oof.reshape(-1, 1), y, sample_weight=w)
        self.calibration_ = (float(platt.coef_[0, 0]), float(platt.intercept_[0]))
        if self.calibration_[0] <= 0:
            raise ValueError(
                "the booster's out-of-fold margins do not rank goods above bads (calibration "
                "slope <= 0); the features carry no usable signal"
            )

        model = self._booster(constraints)
        model.fit(M, y, sample_weight=w, categorical_feature=cats or "auto")
        self.booster_ = model.booster_
        self.factor_, self.offset_ = scaling(self.base_score, self.base_odds, self.pdo)
        self.training_rows_ = len(X)
        self.bad_rate_ = float(y.mean())
        self.medians_ = {
            c: float(np.nanmedian(M[:, i])) if kinds[c] == "numerical" else None
            for i, c in enumerate(self.feature_names_in_)
        }
        return self

    def _booster(self, constraints: list[int]) -> lgb.LGBMClassifier:
        return lgb.LGBMClassifier(**self._lgb_params(constraints))

    def _constraints(self, M: np.ndarray, y: np.ndarray) -> dict[str, int]:
        out: dict[str, int] = {}
        given = self.monotone if isinstance(self.monotone, Mapping) else {}
        unknown = [c for c in given if c not in self.kinds_]
        if unknown:
            raise ValueError(f"monotone names unknown columns: {', '.join(unknown)}")
        for i, c in enumerate(self.feature_names_in_):
            if self.kinds_[c] == "categorical":
                if given.get(c, 0) != 0:
                    raise ValueError(f"categorical column {c!r} cannot have a monotone direction")
                out[c] = 0
            elif c in given:
                if given[c] not in (-1, 0, 1):
                    raise ValueError(f"monotone[{c!r}] must be -1, 0 or 1; got {given[c]!r}")
                out[c] = int(given[c])
            elif self.monotone == "auto":
                x = M[:, i]
                ok = ~np.isnan(x)
                rho = spearmanr(x[ok], y[ok]).statistic if ok.sum() > 2 else 0.0
                rho = 0.0 if np.isnan(rho) else float(rho)
                out[c] = 0 if abs(rho) < self.monotone_min_corr else (1 if rho > 0 else -1)
            else:
                out[c] = 0
        return out

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        """Float matrix: numbers as they are (junk -> NaN), categories as codes (new -> NaN)."""
        cols = []
        for c in self.feature_names_in_:
            if self.kinds_[c] == "numerical":
                cols.append(numeric_column(X[c]))
            else:
                cols.append(self._codes(c, X[c]))
        return np.column_stack(cols)

    def _codes(self, c: str, col: pd.Series) -> np.ndarray:
        """Category codes of a column (NaN: missing or unseen), coding each distinct value once."""
        index = {v: i for i, v in enumerate(self.categories_[c])}
        codes, uniques = pd.factorize(col.to_numpy(dtype=object), use_na_sentinel=True)
        lookup = np.array(
            [np.nan if _missing(u) else index.get(str(u), np.nan) for u in uniques] + [np.nan],
            dtype=np.float64,
        )
        return lookup.take(codes)  # code -1 (missing) takes the last entry

    # -- prediction ------------------------------------------------------------------
    def _frame(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self, "booster_")
        return as_frame(X, self.feature_names_in_)

    def decision_function(self, X: Any) -> np.ndarray:
        """Calibrated ln(bad odds) of every row."""
        M = self._matrix(self._frame(X))
        a, b = self.calibration_
        return a * self.booster_.predict(M, raw_score=True) + b

    def predict_proba(self, X: Any) -> np.ndarray:
        """[P(good), P(bad)] per row, calibrated."""
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def score(self, X: Any, y: Any = None) -> np.ndarray:
        """Score of every row on the scorecard's scale (higher is better)."""
        s = self.offset_ - self.factor_ * self.decision_function(X)
        return np.round(s) if self.rounding else s

    def pd_from_score(self, score: Any) -> np.ndarray:
        check_is_fitted(self, "booster_")
        return pd_from_score(np.asarray(score, dtype=float), self.offset_, self.factor_)

    def points(self, X: Any) -> pd.DataFrame:
        """Each feature's points against the training average (TreeSHAP), per row."""
        M = self._matrix(self._frame(X))
        contrib = self.booster_.predict(M, pred_contrib=True)[:, :-1]
        a, _ = self.calibration_
        return pd.DataFrame(-self.factor_ * a * contrib, columns=list(self.feature_names_in_))

    def reasons(self, X: Any, n: int = 4) -> list[list[Reason]]:
        """For each row the (up to) `n` features that cost the most points (TreeSHAP)."""
        if n < 1:
            raise ValueError(f"n must be at least 1; got {n}")
        X = self._frame(X)
        pts = self.points(X).to_numpy()
        catalog = self.reason_catalog or ReasonCatalog()
        names = list(self.feature_names_in_)
        values = [X[c].to_numpy() for c in names]
        order = np.argsort(pts, axis=1, kind="stable")[:, :n]
        out: list[list[Reason]] = []
        for i in range(len(X)):
            row: list[Reason] = []
            for j in order[i]:
                if pts[i, j] >= -1e-9:
                    break
                c = names[j]
                value = _plain(values[j][i], self.kinds_[c])
                cond = self._condition(c, value)
                spec = catalog.get(c)
                en, zh = reason_texts(spec, cond, value)
                row.append(Reason(f"{spec.code}-{cond}", c, value, float(pts[i, j]), 0.0, en, zh))
            out.append(row)
        return out

    def _condition(self, c: str, value: Any) -> str:
        if value is None:
            return "M"
        if self.kinds_[c] == "categorical":
            return "C"
        direction = self.monotone_[c]
        if direction == 0:
            direction = 1 if value > (self.medians_[c] or 0.0) else -1
        return "H" if direction > 0 else "L"

    def feature_importance(self) -> pd.DataFrame:
        """Total gain and split count per feature, largest gain first."""
        check_is_fitted(self, "booster_")
        return pd.DataFrame({
            "feature": list(self.feature_names_in_),
            "gain": self.booster_.feature_importance("gain"),
            "splits": self.booster_.feature_importance("split"),
            "monotone": [self.monotone_[c] for c in self.feature_names_in_],
        }).sort_values("gain", ascending=False, ignore_index=True)  # fmt: skip

    # -- the model as data -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Booster (LightGBM text format), calibration, scaling, categories: JSON-ready."""
        check_is_fitted(self, "booster_")
        return {
            "kind": "challenger",
            "scaling": {
                "base_score": self.base_score, "base_odds": self.base_odds, "pdo": self.pdo,
                "factor": self.factor_, "offset": self.offset_, "rounding": self.rounding,
            },
            "calibration": {"slope": self.calibration_[0], "intercept": self.calibration_[1]},
            "columns": [str(c) for c in self.feature_names_in_],
            "kinds": dict(self.kinds_),
            "categories": self.categories_,
            "monotone": self.monotone_,
            "medians": self.medians_,
            "params": {**{k: v for k, v in self.get_params().items()
                          if k not in ("protected", "reason_catalog", "monotone")},
                       "monotone": (self.monotone if self.monotone is None
                                    or isinstance(self.monotone, str) else dict(self.monotone))},
            "importance": self.feature_importance().to_dict(orient="records"),
            "booster": self.booster_.model_to_string(),
            "training_rows": self.training_rows_,
            "bad_rate": self.bad_rate_,
        }  # fmt: skip

    @classmethod
    def from_dict(
        cls, d: dict[str, Any], *, reason_catalog: ReasonCatalog | None = None
    ) -> Challenger:
        """A challenger that scores and explains exactly as the one exported (no pickles)."""
        if d.get("kind") != "challenger":
            raise ValueError(f"not a challenger export (kind={d.get('kind')!r})")
        params = dict(d.get("params", {}))
        params.pop("categorical", None)
        model = cls(**params, categorical=None, reason_catalog=reason_catalog)
        model.booster_ = lgb.Booster(model_str=d["booster"])
        model.calibration_ = (float(d["calibration"]["slope"]),
                              float(d["calibration"]["intercept"]))  # fmt: skip
        model.feature_names_in_ = np.asarray(d["columns"], dtype=object)
        model.n_features_in_ = len(d["columns"])
        model.classes_ = np.array([0, 1])
        model.kinds_ = dict(d["kinds"])
        model.categories_ = {k: list(v) for k, v in d["categories"].items()}
        model.monotone_ = {k: int(v) for k, v in d["monotone"].items()}
        model.medians_ = dict(d["medians"])
        model.factor_ = float(d["scaling"]["factor"])
        model.offset_ = float(d["scaling"]["offset"])
        model.training_rows_ = int(d["training_rows"])
        model.bad_rate_ = float(d["bad_rate"])
        return model


def _plain(v: Any, kind: str) -> Any:
    if _missing(v):
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if kind == "numerical":
        try:
            x = float(v)
        except (TypeError, ValueError):
            return None
        return None if math.isnan(x) else x
    return str(v)
