"""The Scorecard estimator: points add up, scaling, reasons, protected columns, bad input."""

from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score

from credo.scoring import PointsScorer, ProtectedAttributeError, Scorecard
from credo.scoring.fast import FeaturePoints
from credo.scoring.scorecard import BINNING_CANDIDATES, FALLBACK_BINNING

#: a fixed granularity, for tests about something else than its search (each search fits the
#: method 25 more times)
FIXED = {"max_n_bins": 6, "min_bin_size": 0.05}


def make_data(n: int = 4000, seed: int = 7) -> tuple[pd.DataFrame, np.ndarray]:
    """Utilisation, inquiries and history length drive the odds; `noise` does not."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "utilisation": rng.random(n) * 1.2,
        "inquiries_6m": rng.poisson(2, n).astype(float),
        "oldest_account_months": rng.integers(1, 240, n).astype(float),
        "housing": rng.choice(["own", "rent", "free"], n, p=[0.5, 0.35, 0.15]),
        "noise": rng.normal(size=n),
    })  # fmt: skip
    X.loc[rng.random(n) < 0.05, "utilisation"] = np.nan
    X.loc[rng.random(n) < 0.03, "inquiries_6m"] = -1  # special: "not applicable"
    z = (
        2.2 * X["utilisation"].fillna(0.6)
        + 0.35 * X["inquiries_6m"].clip(lower=0)
        - 0.012 * X["oldest_account_months"]
        + 0.9 * (X["housing"] == "rent")
        - 1.8
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    return X, y


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return Scorecard(special_codes=[-1]).fit(X, y)


def reference_points(table: pd.DataFrame, model: Scorecard, row: pd.Series) -> float:
    """Score one row from the published points table alone, with the documented bin rules."""
    total = 0.0
    for f in model.features_:
        rows = table[table.feature == f.name].reset_index(drop=True)
        k = f.n_regular
        v = row[f.name]
        if v is None or (isinstance(v, float) and math.isnan(v)):
            total += rows.points[k + 1]
        elif f.dtype == "numerical" and float(v) in (f.special_codes or []):
            total += rows.points[k]
        elif f.dtype == "numerical":
            total += rows.points[bisect_right(f.splits, float(v))]
        else:
            i = next((i for i, cats in enumerate(f.categories) if str(v) in cats), None)
            total += rows.points[k + 1] if i is None else rows.points[i]
    return total


def test_the_points_of_every_row_add_up_to_its_score(fitted, data):
    X, _ = data
    scores = fitted.score(X)
    table = fitted.points_table()
    expected = [reference_points(table, fitted, X.iloc[i]) for i in range(len(X))]
    assert scores.tolist() == expected
    assert np.array_equal(fitted.points(X).sum(axis=1).to_numpy(), scores)
    # whole points by default
    assert all(float(p).is_integer() for p in table.points)


def test_scaling_matches_the_regression_when_points_are_not_rounded(data):
    X, y = data
    model = Scorecard(base_score=600, base_odds=50, pdo=20, rounding=False, **FIXED).fit(X, y)
    ln_bad_odds = model.decision_function(X)
    factor = 20 / math.log(2)
    expected = 600 - factor * math.log(50) - factor * ln_bad_odds
    assert model.score(X) == pytest.approx(expected, abs=1e-3)
    # PD implied by the score is the regression's probability
    assert model.pd_from_score(model.score(X)) == pytest.approx(
        model.predict_proba(X)[:, 1], rel=1e-5
    )
    # doubling the odds costs pdo points
    pd_a, pd_b = model.pd_from_score(np.array([600.0, 620.0]))
    odds_a, odds_b = (1 - pd_a) / pd_a, (1 - pd_b) / pd_b
    assert odds_b / odds_a == pytest.approx(2.0)
    assert odds_a == pytest.approx(50.0)


def test_the_model_separates_goods_from_bads_and_drops_the_noise(fitted, data):
    X, y = data
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y, -fitted.score(X)) > 0.7
    names = [f.name for f in fitted.features_]
    assert "noise" not in names
    assert {"utilisation", "inquiries_6m", "oldest_account_months"} <= set(names)
    iv = {f.name: f.iv for f in fitted.binning_all_}
    assert iv["noise"] < 0.02 < iv["utilisation"]


def test_higher_utilisation_never_scores_more(fitted):
    f = next(f for f in fitted.features_ if f.name == "utilisation")
    regular = f.points[: f.n_regular]
    assert regular == sorted(regular, reverse=True)


def test_reasons_name_the_costliest_factors_first(fitted, data):
    X, _ = data
    rows = X.head(200)
    points = fitted.points(rows)
    for (_, pts), reasons in zip(points.iterrows(), fitted.reasons(rows), strict=True):
        assert len(reasons) <= 4
        costs = [r.cost for r in reasons]
        assert costs == sorted(costs, reverse=True)
        assert all(c > 0 for c in costs)
        for r in reasons:
            assert pts[r.feature] == r.points
            assert r.text_en and r.text_zh
    risky = pd.DataFrame(
        [
            {
                "utilisation": 1.15,
                "inquiries_6m": 9.0,
                "oldest_account_months": 2.0,
                "housing": "rent",
                "noise": 0.0,
            }
        ]
    )
    reasons = fitted.reasons(risky)[0]
    codes = {r.code for r in reasons}
    assert "G-UTILISATION-H" in codes and "G-INQUIRIES_6M-H" in codes
    assert "G-OLDEST_ACCOUNT_MONTHS-L" in codes
    util = next(r for r in reasons if r.feature == "utilisation")
    assert util.text_en == "utilisation 1.15 is high"
    assert "偏高" in util.text_zh


def test_a_row_in_the_best_bins_has_no_reasons(fitted):
    best = {}
    for f in fitted.features_:
        k = f.n_regular
        i = max(range(k), key=lambda j: f.points[j])
        if f.dtype == "numerical":
            lo = f.splits[i - 1] if i > 0 else f.splits[0] - 1
            best[f.name] = lo
        else:
            best[f.name] = f.categories[i][0]
    best["noise"] = 0.0
    assert fitted.reasons(pd.DataFrame([best]), n=4) == [[]]


def test_missing_unseen_and_junk_values_take_the_missing_bin(fitted):
    odd = pd.DataFrame([{
        "utilisation": None, "inquiries_6m": "lots", "oldest_account_months": np.nan,
        "housing": "houseboat", "noise": None,
    }])  # fmt: skip
    pts = fitted.points(odd).iloc[0]
    for f in fitted.features_:
        assert pts[f.name] == f.points[f.n_regular + 1], f.name
    reasons = fitted.reasons(odd)[0]
    assert all(r.code.endswith(("-M", "-C")) for r in reasons)


def test_special_codes_take_the_special_bin(fitted):
    f = next(f for f in fitted.features_ if f.name == "inquiries_6m")
    row = pd.DataFrame(
        [
            {
                "utilisation": 0.1,
                "inquiries_6m": -1.0,
                "oldest_account_months": 100.0,
                "housing": "own",
                "noise": 0.0,
            }
        ]
    )
    assert fitted.points(row).iloc[0]["inquiries_6m"] == f.points[f.n_regular]


def test_single_record_scoring_equals_the_batch(fitted, data):
    X, _ = data
    scorer = fitted.scorer_
    for _, row in X.head(300).iterrows():
        assert scorer.score_one(row.to_dict()) == fitted.score(row.to_frame().T)[0]


def test_the_model_as_data_scores_the_same_after_a_json_round_trip(fitted, data):
    import json

    X, _ = data
    spec = json.loads(json.dumps(fitted.to_dict()))
    scorer = PointsScorer([FeaturePoints.from_dict(f) for f in spec["features"]])
    assert np.array_equal(scorer.score(X), fitted.score(X))
    lo, hi = spec["score_range"]
    assert lo <= fitted.score(X).min() <= fitted.score(X).max() <= hi


def test_a_scorecard_rebuilt_from_its_data_behaves_the_same(fitted, data):
    import json

    X, _ = data
    again = Scorecard.from_dict(json.loads(json.dumps(fitted.to_dict())))
    assert np.array_equal(again.score(X), fitted.score(X))
    np.testing.assert_allclose(again.predict_proba(X), fitted.predict_proba(X), rtol=1e-12)
    assert [[r.to_dict() for r in rs] for rs in again.reasons(X.iloc[:50])] == [
        [r.to_dict() for r in rs] for rs in fitted.reasons(X.iloc[:50])
    ]
    pd.testing.assert_frame_equal(again.points_table(), fitted.points_table())
    assert again.score_range == fitted.score_range
    assert again.to_sql() == fitted.to_sql()
    assert [(b.name, b.iv) for b in again.binning_all_] == [
        (b.name, b.iv) for b in fitted.binning_all_
    ]
    with pytest.raises(ValueError, match="not a scorecard"):
        Scorecard.from_dict({"kind": "challenger"})


def test_it_is_a_scikit_learn_estimator(data):
    X, y = data
    model = Scorecard(pdo=40, **FIXED)
    assert clone(model).get_params()["pdo"] == 40
    auc = cross_val_score(model, X, y, cv=3, scoring="roc_auc")
    assert auc.mean() > 0.7
    with pytest.raises(NotFittedError):
        Scorecard().score(X)


@pytest.mark.parametrize(
    "column",
    [
        "gender",
        "MARRIAGE",
        "Sex",
        "personal.status.and.sex",
        "age",
        "marital_status",
        "religion",
        "birth_date",
        "region",
    ],
)
def test_a_protected_attribute_can_never_be_a_feature(data, column):
    X, y = data
    X = X.assign(**{column: np.resize(["a", "b"], len(X))})
    with pytest.raises(ProtectedAttributeError, match=f"column '{column}' is a protected"):
        Scorecard().fit(X, y)


def test_length_of_history_is_not_mistaken_for_age(data):
    X, y = data
    X = X.rename(columns={"oldest_account_months": "age_of_oldest_account_months"})
    model = Scorecard(**FIXED).fit(X, y)
    assert "age_of_oldest_account_months" in [f.name for f in model.features_]


def test_the_protected_list_is_configurable(data):
    from credo.scoring import ProtectedPolicy

    X, y = data
    policy = ProtectedPolicy.from_names(["housing"])
    with pytest.raises(ProtectedAttributeError, match="housing"):
        Scorecard(protected=policy).fit(X, y)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda X, y: (X, np.zeros(len(X), int)), "single class"),
        (lambda X, y: (X.assign(c=5.0), y), "column 'c' is constant"),
        (lambda X, y: (X.assign(c=np.nan), y), "column 'c' is all missing"),
        (lambda X, y: (X.head(30), y[:30]), "too few rows"),
        (lambda X, y: (X, y[:-1]), "X has 4000 rows but y has 3999"),
        (lambda X, y: (X, np.where(y == 1, 2, 0)), "y must be 0 \\(good\\) or 1 \\(bad\\)"),
        (lambda X, y: (X, np.where(y == 1, None, 0)), "y has missing values"),
    ],
)
def test_bad_training_data_gets_a_clear_error(data, mutate, message):
    X, y = mutate(*data)
    with pytest.raises(ValueError, match=message):
        Scorecard().fit(X, y)


def test_junk_in_a_numeric_column_names_the_row_and_value(data):
    X, y = data
    X = X.assign(utilisation=X["utilisation"].astype(object))
    X.loc[17, "utilisation"] = "n/a"
    with pytest.raises(ValueError, match="column 'utilisation' is numeric but row 17 holds 'n/a'"):
        Scorecard().fit(X, y)


def test_features_without_signal_are_refused(data):
    X, y = data
    with pytest.raises(ValueError, match="no feature has information value"):
        Scorecard().fit(X[["noise"]], y)


@pytest.mark.parametrize(
    ("param", "value", "message"),
    [("pdo", -20, "pdo must be positive; got -20"), ("base_odds", 0, "base_odds must be positive"),
     ("max_n_bins", 1, "max_n_bins must be an integer >= 2"), ("C", 0, "C must be positive"),
     ("min_bin_size", 0.6, r"min_bin_size must be in \(0, 0.5\); got 0.6"),
     ("binning_cv", 1, "binning_cv must be an integer >= 2; got 1")],
)  # fmt: skip
def test_bad_parameters_are_named(data, param, value, message):
    X, y = data
    with pytest.raises(ValueError, match=message):
        Scorecard(**{param: value}).fit(X, y)


def test_a_smaller_min_bin_size_allows_smaller_bins(data):
    """optbinning's own 5 % pre-binning floor must not silently override min_bin_size."""
    X, y = data
    coarse = Scorecard(max_n_bins=10, min_bin_size=0.05).fit(X, y)
    fine = Scorecard(max_n_bins=10, min_bin_size=0.02).fit(X, y)
    shares = fine.points_table().query("bin not in ('Special', 'Missing')")["count"] / len(X)
    assert not fine.points_table().equals(coarse.points_table())
    assert shares.min() >= 0.02 - 1e-9


# -- the binning granularity, chosen by cross-validation on the training rows ------------------
def test_the_granularity_is_the_best_cross_validated_candidate(fitted, data):
    X, y = data
    search = fitted.binning_search_
    assert [(c["max_n_bins"], c["min_bin_size"]) for c in search["candidates"]] == list(
        BINNING_CANDIDATES
    )
    aucs = [c["cv_auc"] for c in search["candidates"]]
    best = search["candidates"][int(np.argmax(aucs))]  # the first (coarser) one on a tie
    assert search["chosen"] == [best["max_n_bins"], best["min_bin_size"]]
    assert (fitted.max_n_bins_, fitted.min_bin_size_) == tuple(search["chosen"])
    assert all(len(b.points) - 2 <= fitted.max_n_bins_ for b in fitted.features_)
    # the reported AUC is the method's own out-of-fold AUC on the training rows, recomputed
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0).split(X, y)
    chosen = dict(zip(("max_n_bins", "min_bin_size"), search["chosen"], strict=True))
    manual = [
        roc_auc_score(
            y[te],
            Scorecard(special_codes=[-1], **chosen)
            .fit(X.iloc[tr], y[tr])
            .predict_proba(X.iloc[te])[:, 1],
        )
        for tr, te in folds
    ]
    assert best["fold_aucs"] == pytest.approx(manual, rel=1e-9)


def test_the_search_is_deterministic_and_survives_the_model_as_data(fitted, data):
    import json

    X, y = data
    again = Scorecard(special_codes=[-1]).fit(X, y)
    assert again.binning_search_ == fitted.binning_search_
    assert np.array_equal(again.score(X), fitted.score(X))
    spec = json.loads(json.dumps(fitted.to_dict()))
    assert spec["params"]["max_n_bins"] == fitted.max_n_bins_
    assert spec["binning_search"] == fitted.binning_search_
    rebuilt = Scorecard.from_dict(spec)
    assert (rebuilt.max_n_bins_, rebuilt.min_bin_size_) == (
        fitted.max_n_bins_,
        fitted.min_bin_size_,
    )
    # refitting the rebuilt model (as the validation report's folds do) keeps the granularity
    assert clone(rebuilt).get_params()["max_n_bins"] == fitted.max_n_bins_


def test_a_given_granularity_is_not_searched(data):
    X, y = data
    fixed = Scorecard(**FIXED).fit(X, y)
    assert fixed.binning_search_ is None
    assert (fixed.max_n_bins_, fixed.min_bin_size_) == (6, 0.05)
    half = Scorecard(max_n_bins=8, binning_cv=2).fit(X.head(1500), y[:1500])
    sizes = sorted({s for _, s in BINNING_CANDIDATES})
    assert [(c["max_n_bins"], c["min_bin_size"]) for c in half.binning_search_["candidates"]] == [
        (8, s) for s in sorted(sizes, reverse=True)
    ]
    assert half.max_n_bins_ == 8


def test_too_few_rows_to_cross_validate_use_the_fallback(data):
    X, y = data
    idx = np.r_[np.flatnonzero(y == 1)[:12], np.flatnonzero(y == 0)[:60]]
    model = Scorecard(**{**FIXED, "max_n_bins": None}).fit(X.iloc[idx], y[idx])
    assert model.binning_search_["skipped"] == "too few rows"
    assert (model.max_n_bins_, model.min_bin_size_) == FALLBACK_BINNING


def test_groups_keep_each_group_in_one_fold(data):
    X, y = data
    groups = np.arange(len(y)) // 4  # four rows per subject
    model = Scorecard(binning_cv=3).fit(X.head(2000), y[:2000], groups=groups[:2000])
    assert model.binning_search_["groups"] is True
    assert len(model.binning_search_["candidates"]) == len(BINNING_CANDIDATES)
    with pytest.raises(ValueError, match="groups has 10 labels for 2000 rows"):
        Scorecard().fit(X.head(2000), y[:2000], groups=groups[:10])
    with pytest.raises(ValueError, match=r"sample_weight has shape \(3,\); need \(2000,\)"):
        Scorecard().fit(X.head(2000), y[:2000], sample_weight=[1, 2, 3])
