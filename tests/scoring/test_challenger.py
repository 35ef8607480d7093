"""The LightGBM challenger: monotone, calibrated, explained in points, stored as data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_score

from credo.scoring import Challenger, ProtectedAttributeError, Scorecard

from .test_scorecard import make_data


@pytest.fixture(scope="module")
def data():
    return make_data(6000)


@pytest.fixture(scope="module")
def holdout():
    return make_data(3000, seed=11)


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return Challenger().fit(X, y)


def test_ranks_as_well_as_the_scorecard(data, holdout, fitted):
    X, y = data
    Xt, yt = holdout
    auc_ch = roc_auc_score(yt, fitted.predict_proba(Xt)[:, 1])
    auc_sc = roc_auc_score(yt, Scorecard(special_codes=[-1]).fit(X, y).predict_proba(Xt)[:, 1])
    assert auc_ch > 0.74
    assert auc_ch > auc_sc - 0.02


def test_auto_monotone_directions_follow_the_data(fitted):
    assert fitted.monotone_["utilisation"] == 1
    assert fitted.monotone_["inquiries_6m"] == 1
    assert fitted.monotone_["oldest_account_months"] == -1
    assert fitted.monotone_["housing"] == 0  # categorical: never constrained


@pytest.mark.parametrize(("feature", "grid"), [
    ("utilisation", np.linspace(0, 1.2, 40)),
    ("oldest_account_months", np.linspace(1, 240, 40)),
])  # fmt: skip
def test_predictions_are_monotone_in_constrained_features(holdout, fitted, feature, grid):
    Xt, _ = holdout
    rows = Xt.sample(30, random_state=1)
    direction = fitted.monotone_[feature]
    for _, row in rows.iterrows():
        sweep = pd.DataFrame([row] * len(grid)).reset_index(drop=True)
        sweep[feature] = grid
        p = fitted.predict_proba(sweep)[:, 1]
        steps = np.diff(p) * direction
        assert (steps >= -1e-12).all(), f"{feature} not monotone for row {row.to_dict()}"


def test_calibrated_on_new_data(holdout, fitted):
    Xt, yt = holdout
    p = fitted.predict_proba(Xt)[:, 1]
    assert abs(p.mean() - yt.mean()) < 0.03
    # deciles of predicted PD: observed bad rate within 0.06 of the mean prediction
    deciles = pd.qcut(p, 10, labels=False, duplicates="drop")
    for d in np.unique(deciles):
        sel = deciles == d
        assert abs(p[sel].mean() - yt[sel].mean()) < 0.08


def test_score_is_on_the_scorecard_scale(holdout, fitted):
    Xt, _ = holdout
    s = fitted.score(Xt)
    np.testing.assert_array_equal(s, np.round(s))
    # the score's PD under the shared scaling is the model's calibrated PD (up to rounding)
    p = fitted.predict_proba(Xt)[:, 1]
    unrounded = clone(fitted).set_params(rounding=False)
    unrounded.__dict__.update({k: v for k, v in fitted.__dict__.items() if k.endswith("_")})
    np.testing.assert_allclose(unrounded.pd_from_score(unrounded.score(Xt)), p, rtol=1e-9)


def test_points_add_up_to_the_score(holdout, fitted):
    """TreeSHAP points + the score of the training average = the (unrounded) score."""
    Xt, _ = holdout
    pts = fitted.points(Xt).to_numpy()
    a, b = fitted.calibration_
    M = fitted._matrix(Xt)
    bias = fitted.booster_.predict(M, pred_contrib=True)[:, -1]
    base = fitted.offset_ - fitted.factor_ * (a * bias + b)
    exact = fitted.offset_ - fitted.factor_ * fitted.decision_function(Xt)
    np.testing.assert_allclose(base + pts.sum(axis=1), exact, atol=1e-6)


def test_reasons_are_the_costliest_features(holdout, fitted):
    Xt, _ = holdout
    pts = fitted.points(Xt.iloc[:200])
    for i, reasons in enumerate(fitted.reasons(Xt.iloc[:200])):
        assert len(reasons) <= 4
        costs = [r.cost for r in reasons]
        assert costs == sorted(costs, reverse=True)
        assert all(c > 0 for c in costs)
        negatives = sorted((-v for v in pts.iloc[i] if v < -1e-9), reverse=True)
        np.testing.assert_allclose(costs, negatives[:4])
        for r in reasons:
            assert r.code.startswith("G-") and r.code[-1] in "HLMC"
            assert r.text_en and r.text_zh


def test_high_utilisation_is_named(fitted):
    best = {"inquiries_6m": 0.0, "oldest_account_months": 200.0, "housing": "own", "noise": 0.0}
    row = pd.DataFrame([{"utilisation": 1.15, **best}])
    (reasons,) = fitted.reasons(row)
    assert reasons[0].code == "G-UTILISATION-H"
    assert "high" in reasons[0].text_en


def test_round_trips_as_json_data(holdout, fitted):
    Xt, _ = holdout
    d = json.loads(json.dumps(fitted.to_dict()))
    again = Challenger.from_dict(d)
    np.testing.assert_array_equal(again.score(Xt), fitted.score(Xt))
    np.testing.assert_allclose(again.predict_proba(Xt), fitted.predict_proba(Xt))
    assert [r.code for r in again.reasons(Xt.iloc[:5])[0]] == [
        r.code for r in fitted.reasons(Xt.iloc[:5])[0]
    ]
    with pytest.raises(ValueError, match="not a challenger"):
        Challenger.from_dict({**d, "kind": "scorecard"})


def test_unseen_categories_missing_values_and_junk_do_not_crash(fitted):
    rows = pd.DataFrame({
        "utilisation": [np.nan, "n/a", 0.5], "inquiries_6m": [None, 3.0, 1e9],
        "oldest_account_months": [12.0, np.nan, -5.0], "housing": ["castle", None, "own"],
        "noise": [0.0, 0.0, 0.0],
    })  # fmt: skip
    s = fitted.score(rows)
    assert np.isfinite(s).all()
    reasons = fitted.reasons(rows)
    assert any(r.code == "G-UTILISATION-M" for r in reasons[0] + reasons[1])


def test_works_with_scikit_learn_tools(data):
    X, y = data
    scores = cross_val_score(Challenger(n_estimators=60), X.iloc[:2000], y[:2000], cv=3,
                             scoring="roc_auc")  # fmt: skip
    assert (scores > 0.65).all()


def test_explicit_monotone_directions(data):
    X, y = data
    m = Challenger(n_estimators=50, monotone={"noise": -1}).fit(X.iloc[:2000], y[:2000])
    assert m.monotone_["noise"] == -1
    assert m.monotone_["utilisation"] == 0  # not listed, not inferred
    with pytest.raises(ValueError, match="unknown columns: nope"):
        Challenger(monotone={"nope": 1}).fit(X, y)
    with pytest.raises(ValueError, match="must be -1, 0 or 1"):
        Challenger(monotone={"noise": 2}).fit(X, y)
    with pytest.raises(ValueError, match="categorical column 'housing'"):
        Challenger(monotone={"housing": 1}).fit(X, y)


def test_bad_training_input(data):
    X, y = data
    with pytest.raises(ProtectedAttributeError, match="'gender'"):
        Challenger().fit(X.assign(gender="f"), y)
    with pytest.raises(ValueError, match="single class"):
        Challenger().fit(X, np.zeros(len(X), dtype=int))
    with pytest.raises(ValueError, match="6000 rows but y has 10"):
        Challenger().fit(X, y[:10])
    with pytest.raises(ValueError, match="'c' is constant"):
        Challenger().fit(X.assign(c=1.0), y)
    junk = X.assign(noise=X["noise"].astype(object))
    junk.loc[5, "noise"] = "abc"
    with pytest.raises(ValueError, match="'noise' is numeric but row 5 holds 'abc'"):
        Challenger().fit(junk, y)
    with pytest.raises(ValueError, match="calibration_folds"):
        Challenger(calibration_folds=1).fit(X, y)
