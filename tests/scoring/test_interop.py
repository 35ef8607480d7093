"""optbinning scorecards served by Credo's fast scorer: the same scores, or a clear refusal."""

from __future__ import annotations

import sqlite3
import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optbinning import BinningProcess
from optbinning import Scorecard as OptbScorecard
from sklearn.linear_model import LinearRegression, LogisticRegression

from credo.scoring.interop import points_from_optbinning

NUMERIC = ["utilisation", "inquiries_6m", "oldest_account_months"]
CATEGORICAL = ["housing", "product"]
#: the columns of the scorecards in `CONFIGS`: NaN, a numeric and a text special code, None
MAIN = ["utilisation", "inquiries_6m", "housing", "product"]
HOUSING = ["own", "mortgage", "rent", "family"]
PRODUCTS = [f"P{i}" for i in range(6)]


def make_data(n: int = 1200, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    """Utilisation, inquiries, history length, housing and product drive the odds."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "utilisation": rng.random(n) * 1.2,
        "inquiries_6m": rng.poisson(1.5, n).astype(float),
        "oldest_account_months": rng.integers(1, 300, n).astype(float),
        "housing": rng.choice(HOUSING, n, p=[0.3, 0.3, 0.3, 0.1]),
        "product": rng.choice(PRODUCTS, n),
    })  # fmt: skip
    X.loc[rng.random(n) < 0.06, "utilisation"] = np.nan
    X.loc[rng.random(n) < 0.05, "inquiries_6m"] = -1  # special: not reported
    X.loc[rng.random(n) < 0.04, "housing"] = None
    X.loc[rng.random(n) < 0.04, "housing"] = "unknown"  # special, as text
    z = (
        2.0 * X["utilisation"].fillna(0.6)
        + 0.4 * X["inquiries_6m"].clip(lower=0)
        - 0.01 * X["oldest_account_months"]
        + 0.8 * (X["housing"] == "rent")
        + 0.3 * X["product"].str[1:].astype(int)
        - 1.8
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    return X, y


def fit(X, y, *, process: dict | None = None, fit_params: dict | None = None, **scorecard):
    """A fitted optbinning Scorecard over every column, with -1 and "unknown" special."""
    params = {
        "variable_names": list(X.columns),
        "categorical_variables": [c for c in CATEGORICAL if c in X.columns],
        "special_codes": [-1, "unknown"],
        **(process or {}),
    }
    sc = OptbScorecard(BinningProcess(**params), LogisticRegression(max_iter=1000), **scorecard)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sc.fit(X, y, **(fit_params or {}))


def perturbed(X: pd.DataFrame, sc: OptbScorecard, seed: int = 11) -> pd.DataFrame:
    """New data: jittered and far-out numbers, values on the splits, unseen categories."""
    rng = np.random.default_rng(seed)
    n = len(X)
    P = X.copy()
    for name in [c for c in NUMERIC if c in sc.binning_process_.variable_names]:
        x = P[name].to_numpy(dtype=float) * (1 + rng.normal(0, 0.3, n))
        splits = sc.binning_process_.get_binned_variable(name).splits
        on_split = rng.random(n) < 0.1
        x[on_split] = rng.choice(splits, on_split.sum()) if len(splits) else 0.0
        x[rng.random(n) < 0.02] = 1e12
        x[rng.random(n) < 0.02] = -1e12
        x[rng.random(n) < 0.01] = np.inf
        x[rng.random(n) < 0.01] = -np.inf
        x[rng.random(n) < 0.05] = np.nan
        x[rng.random(n) < 0.05] = -1
        P[name] = x
    unseen = {"housing": ("boat", np.nan), "product": ("P99", None)}
    for name, (new, missing) in unseen.items():
        if name in P:
            P.loc[rng.random(n) < 0.05, name] = new  # never seen in training
            P.loc[rng.random(n) < 0.05, name] = missing
    return P


CONFIGS = {
    "pdo-rounded": {
        "scaling_method": "pdo_odds",
        "scaling_method_params": {"pdo": 20, "odds": 50, "scorecard_points": 600},
        "rounding": True,
    },
    "pdo-unrounded-empirical": {
        "scaling_method": "pdo_odds",
        "scaling_method_params": {"pdo": 40, "odds": 20, "scorecard_points": 500},
        "rounding": False,
        "fit_params": {"metric_special": "empirical", "metric_missing": "empirical"},
        # the three rarest products share an "others" bin
        "process": {"binning_fit_params": {"product": {"cat_cutoff": 0.168}}},
    },
    "minmax-rounded": {
        "scaling_method": "min_max",
        "scaling_method_params": {"min": 300, "max": 850},
        "rounding": True,
    },
    "minmax-unrounded-reversed": {
        "scaling_method": "min_max",
        "scaling_method_params": {"min": 0, "max": 1000},
        "rounding": False,
        "reverse_scorecard": True,
        "fit_params": {"metric_missing": 0.25},
    },
    "unscaled-top3": {  # housing, the lowest information value, is not selected
        "process": {"selection_criteria": {"iv": {"top": 3, "strategy": "highest"}}},
    },
}


@cache
def fitted_config(name: str) -> OptbScorecard:
    """The scorecard of one of `CONFIGS` on `make_data()`, fitted once per session."""
    X, y = make_data()
    return fit(X[MAIN], y, **CONFIGS[name])


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.fixture(scope="module", params=list(CONFIGS))
def fitted(request):
    return fitted_config(request.param)


def test_scores_equal_optbinning_on_training_data(fitted, data):
    X, _ = data
    scorer = points_from_optbinning(fitted)
    assert scorer.names == list(fitted.binning_process_.get_support(names=True))
    # the same points added in the same order: equal to the last bit, rounded or not
    assert np.array_equal(scorer.score(X), fitted.score(X))


def test_scores_equal_optbinning_on_new_and_out_of_range_data(fitted, data):
    X, _ = data
    P = perturbed(X, fitted)
    scorer = points_from_optbinning(fitted)
    assert np.array_equal(scorer.score(P), fitted.score(P))


def test_one_record_scores_equal_optbinning(fitted, data):
    X, _ = data
    P = perturbed(X, fitted).iloc[:300]
    scorer = points_from_optbinning(fitted)
    expected = fitted.score(P)
    records = P.astype(object).where(P.notna(), None).to_dict("records")
    assert [scorer.score_one(r) for r in records] == expected.tolist()


def test_points_table_is_optbinnings():
    sc = fitted_config("pdo-rounded")
    table = sc.table(style="detailed")
    scorer = points_from_optbinning(sc)
    util = next(f for f in scorer.features if f.name == "utilisation")
    rows = table[table.Variable == "utilisation"].Points.tolist()
    assert util.splits == tuple(sc.binning_process_.get_binned_variable("utilisation").splits)
    assert list(util.points) == rows[:-2]
    assert (util.special_points, util.missing_points) == (rows[-2], rows[-1])
    assert util.special_codes == (-1.0,)  # the text code "unknown" cannot match a number
    housing = next(f for f in scorer.features if f.name == "housing")
    assert housing.categories[-1] == ("unknown",)  # the special bin, as one more bin
    assert housing.points[-1] == table[table.Variable == "housing"].Points.tolist()[-2]


def test_variable_selection_and_grouped_categories_carry_over():
    top3 = points_from_optbinning(fitted_config("unscaled-top3"))
    assert top3.names == ["utilisation", "inquiries_6m", "product"]
    grouped = points_from_optbinning(fitted_config("pdo-unrounded-empirical"))
    product = next(f for f in grouped.features if f.name == "product")
    assert sorted(max(product.categories, key=len)) == ["P0", "P3", "P4"]  # the "others" bin


def test_unseen_categories_take_the_missing_points(data):
    X, _ = data
    sc = fitted_config("pdo-rounded")
    scorer = points_from_optbinning(sc)
    rows = pd.DataFrame([X.iloc[0].to_dict()] * 3)
    rows["product"] = ["P1", "never-seen", None]
    got = scorer.points_matrix(rows)[:, scorer.names.index("product")]
    missing = next(f for f in scorer.features if f.name == "product").missing_points
    assert got[1] == got[2] == missing
    assert np.array_equal(scorer.score(rows), sc.score(rows))


def test_sql_of_a_converted_scorecard_gives_the_same_scores(data):
    X, _ = data
    sc = fitted_config("minmax-rounded")
    P = perturbed(X, sc).iloc[:200].replace([np.inf, -np.inf], [1e300, -1e300])
    con = sqlite3.connect(":memory:")
    P.to_sql("applicants", con, index=False)
    got = [
        r[0] for r in con.execute(f"SELECT {points_from_optbinning(sc).to_sql()} FROM applicants")
    ]
    assert got == sc.score(P).tolist()


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_any_rows_score_the_same_as_optbinning(data):
    sc = fitted_config("pdo-unrounded-empirical")
    scorer = points_from_optbinning(sc)
    n = data.draw(st.integers(1, 25))
    columns = {}
    for name in ["utilisation", "inquiries_6m"]:
        splits = [float(s) for s in sc.binning_process_.get_binned_variable(name).splits]
        value = st.one_of(
            st.floats(-1e6, 1e6, allow_nan=False),
            st.sampled_from(splits or [0.0]),
            st.sampled_from([np.nan, -1.0, np.inf, -np.inf, 0.0, -0.0]),
        )
        columns[name] = data.draw(st.lists(value, min_size=n, max_size=n))
    columns["housing"] = data.draw(
        st.lists(st.sampled_from([*HOUSING, "unknown", "boat", None]), min_size=n, max_size=n)
    )
    columns["product"] = data.draw(
        st.lists(st.sampled_from([*PRODUCTS, "P99", "", None]), min_size=n, max_size=n)
    )
    frame = pd.DataFrame(columns)
    assert np.array_equal(scorer.score(frame), sc.score(frame))


# -- what cannot convert exactly ---------------------------------------------------------------
def test_an_intercept_based_scorecard_is_refused(data):
    X, y = data
    sc = fit(X[["utilisation", "housing"]], y, **CONFIGS["pdo-rounded"], intercept_based=True)
    with pytest.raises(ValueError, match="intercept_based"):
        points_from_optbinning(sc)


def test_special_bins_with_different_points_are_refused(data):
    X, y = data
    X = X[["oldest_account_months", "product"]].copy()
    X.loc[X.index % 17 == 0, "oldest_account_months"] = -2
    codes = {"not reported": [-1], "closed": [-2]}
    sc = fit(
        X, y, process={"special_codes": codes}, fit_params={"metric_special": "empirical"},
        **CONFIGS["pdo-rounded"],
    )  # fmt: skip
    with pytest.raises(ValueError, match="special bins"):
        points_from_optbinning(sc)


def test_special_bins_with_equal_points_convert(data):
    X, y = data
    X = X[["inquiries_6m", "oldest_account_months", "housing"]].copy()
    X.loc[X.index % 17 == 0, "oldest_account_months"] = -2
    codes = {"not reported": [-1], "closed": [-2]}
    sc = fit(X, y, process={"special_codes": codes}, **CONFIGS["pdo-rounded"])  # special WoE 0
    scorer = points_from_optbinning(sc)
    assert next(f for f in scorer.features if f.name == "oldest_account_months").special_codes == (
        -2.0,
        -1.0,
    )
    P = perturbed(X, sc)
    P.loc[P.index % 13 == 0, "oldest_account_months"] = -2
    assert np.array_equal(scorer.score(P), sc.score(P))


def test_an_integer_metric_special_override_is_read_as_a_bin_index(data):
    # optbinning's transform takes an int metric_special as the index of the bin to use
    X, y = data
    X = X[["inquiries_6m", "housing"]]
    sc = fit(
        X, y, process={"binning_transform_params": {"inquiries_6m": {"metric_special": 1}}},
        **CONFIGS["pdo-rounded"],
    )  # fmt: skip
    scorer = points_from_optbinning(sc)
    inquiries = next(f for f in scorer.features if f.name == "inquiries_6m")
    assert inquiries.special_points == inquiries.points[1]
    assert np.array_equal(scorer.score(perturbed(X, sc)), sc.score(perturbed(X, sc)))


def test_unseen_categories_sent_elsewhere_than_missing_are_refused(data):
    X, y = data
    sc = fit(X[["product"]], y, **CONFIGS["pdo-rounded"])
    # set after fitting: optbinning 1.0 fitted with an integer cat_unknown fills its WoE
    # column into an integer array, so every WoE becomes 0 and every bin the same points
    sc.binning_process_.get_binned_variable("product").cat_unknown = 0
    points = sc.table().Points
    assert sc.score(pd.DataFrame({"product": ["P99"]}))[0] == points.iloc[0] != points.iloc[-1]
    with pytest.raises(ValueError, match="cat_unknown"):
        points_from_optbinning(sc)


def test_non_text_categories_are_refused(data):
    X, y = data
    X = X[["utilisation", "product"]].assign(product=X["product"].str[1:].astype(int))
    sc = fit(X, y, process={"special_codes": [-1]}, **CONFIGS["pdo-rounded"])
    with pytest.raises(ValueError, match="non-text category"):
        points_from_optbinning(sc)


def test_a_per_variable_metric_override_is_refused(data):
    X, y = data
    sc = fit(
        X[["product"]], y, process={"binning_transform_params": {"product": {"metric": "woe"}}},
        **CONFIGS["pdo-rounded"],
    )  # fmt: skip
    with pytest.raises(ValueError, match="metric='woe'"):
        points_from_optbinning(sc)


def test_a_continuous_target_is_refused(data):
    X, _ = data
    y = X["oldest_account_months"].to_numpy() / 10 + np.arange(len(X)) % 7
    sc = OptbScorecard(
        BinningProcess(["oldest_account_months"]), LinearRegression(),
        scaling_method="min_max", scaling_method_params={"min": 0, "max": 100},
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.fit(X[["oldest_account_months"]], y)
    with pytest.raises(ValueError, match="ContinuousOptimalBinning"):
        points_from_optbinning(sc)


def test_unfitted_and_foreign_objects_are_refused(data):
    X, _ = data
    unfitted = OptbScorecard(BinningProcess(list(X.columns)), LogisticRegression())
    with pytest.raises(ValueError, match="not fitted"):
        points_from_optbinning(unfitted)
    with pytest.raises(TypeError, match="optbinning Scorecard"):
        points_from_optbinning(LogisticRegression())
