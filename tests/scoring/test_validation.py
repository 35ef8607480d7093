"""The validation report: metrics checked against independent computations, fairness flags,
rendering, round-tripping and refusals of bad input."""

from __future__ import annotations

import io
import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score

from credo.scoring import ProtectedAttributeError, Scorecard
from credo.scoring.validation import ValidationReport, validate
from credo.scoring.validation_fairness import AGE_BAND_LABELS, band_protected, fairness_for
from credo.scoring.validation_metrics import (
    auc_ks,
    bootstrap_auc_ks,
    calibration_table,
    psi,
    psi_from_counts,
)


def make_data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Utilisation, inquiries and history length drive the odds of a bad; `noise` does not."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "utilisation": rng.random(n) * 1.2,
        "inquiries_6m": rng.poisson(2, n).astype(float),
        "oldest_account_months": rng.integers(1, 240, n).astype(float),
        "housing": rng.choice(["own", "rent", "free"], n, p=[0.5, 0.35, 0.15]),
        "noise": rng.normal(size=n),
    })  # fmt: skip
    z = (
        2.2 * X["utilisation"]
        + 0.35 * X["inquiries_6m"]
        - 0.012 * X["oldest_account_months"]
        + 0.9 * (X["housing"] == "rent")
        - 2.6
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    return X, y


class ColumnModel(ClassifierMixin, BaseEstimator):
    """A stand-in model: minus one column is the score. No points table, no binning."""

    def __init__(self, column: str = "utilisation") -> None:
        self.column = column

    def fit(self, X, y):
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        self.classes_ = np.array([0, 1])
        return self

    def score(self, X, y=None):
        return -100 * X[self.column].fillna(0).to_numpy(dtype=float)

    def predict_proba(self, X):
        p = 1 / (1 + np.exp(-(X[self.column].fillna(0).to_numpy(dtype=float) * 3 - 3)))
        return np.column_stack([1 - p, p])


@pytest.fixture(scope="module")
def split():
    X_train, y_train = make_data(3000, seed=1)
    X_test, y_test = make_data(2000, seed=2)
    return X_train, y_train, X_test, y_test


@pytest.fixture(scope="module")
def model(split):
    X_train, y_train, _, _ = split
    # a fixed granularity: the report refits the model in each fold, and the search is tested
    # in test_scorecard.py
    return Scorecard(max_n_bins=6, min_bin_size=0.05).fit(X_train, y_train)


@pytest.fixture(scope="module")
def groups(model, split):
    """`gender` approves group B far less often (assigned by score); `coin` is random."""
    _, _, X_test, _ = split
    rng = np.random.default_rng(3)
    s = model.score(X_test)
    high = s >= np.median(s)
    gender = np.where(rng.random(len(s)) < np.where(high, 0.85, 0.15), "A", "B")
    return pd.DataFrame({
        "gender": gender,
        "coin": rng.choice(["heads", "tails"], len(s)),
        "age": rng.integers(18, 85, len(s)).astype(float),
    })  # fmt: skip


@pytest.fixture(scope="module")
def report(model, split, groups):
    return validate(
        model, *split, groups=groups, cv_folds=3, n_boot=200,
        meta={"name": "test scorecard", "version": "1.2.0", "author": "pytest"},
    )  # fmt: skip


# -- metrics against independent computations ----------------------------------------
def test_auc_and_ks_equal_sklearn_and_scipy_with_ties():
    rng = np.random.default_rng(0)
    y = (rng.random(3000) < 0.2).astype(int)
    s = np.round(rng.normal(size=3000) * 5 - 2 * y)  # few distinct values: many ties
    auc, ks = auc_ks(s, y)
    assert auc == pytest.approx(roc_auc_score(y, -s), rel=1e-12)
    assert ks == pytest.approx(ks_2samp(s[y == 0], s[y == 1]).statistic, rel=1e-12)


def test_report_discrimination_matches_independent_computation(report, model, split):
    X_train, y_train, X_test, y_test = split
    s_test, s_train = model.score(X_test), model.score(X_train)
    test, train = report.discrimination["test"], report.discrimination["train"]
    auc = roc_auc_score(y_test, -s_test)
    assert test["auc"]["value"] == pytest.approx(auc, rel=1e-9)
    assert test["gini"]["value"] == pytest.approx(2 * auc - 1, rel=1e-9)
    ks = ks_2samp(s_test[y_test == 0], s_test[y_test == 1]).statistic
    assert test["ks"]["value"] == pytest.approx(ks, rel=1e-9)
    assert train["auc"] == pytest.approx(roc_auc_score(y_train, -s_train), rel=1e-9)
    assert 0.7 < auc < 0.95


def test_bootstrap_interval_holds_the_estimate_and_narrows_with_more_data(report):
    for name in ("auc", "ks", "gini"):
        m = report.discrimination["test"][name]
        assert m["ci_low"] < m["value"] < m["ci_high"]
    rng = np.random.default_rng(5)

    def width(n: int) -> float:
        y = (rng.random(n) < 0.2).astype(int)
        s = rng.normal(size=n) - y
        aucs, _ = bootstrap_auc_ks(s, y, 300, np.random.default_rng(0))
        lo, hi = np.percentile(aucs, [2.5, 97.5])
        return hi - lo

    small, large = width(500), width(8000)
    assert large < small / 2  # ~ 1/sqrt(n): 4 times narrower for 16 times the rows


def test_bootstrap_is_stratified_and_reproducible():
    rng = np.random.default_rng(1)
    y = (rng.random(1000) < 0.1).astype(int)
    s = rng.normal(size=1000) - y
    a1, k1 = bootstrap_auc_ks(s, y, 50, np.random.default_rng(7))
    a2, k2 = bootstrap_auc_ks(s, y, 50, np.random.default_rng(7))
    assert np.array_equal(a1, a2) and np.array_equal(k1, k2)
    assert len(a1) == 50 and np.all((a1 > 0.5) & (a1 < 1)) and np.all((k1 > 0) & (k1 < 1))


def test_cross_validation_reports_each_fold_and_their_mean(report):
    cv = report.cross_validation
    assert cv["folds"] == 3 and len(cv["rows"]) == 3 and cv["failed"] == 0
    assert sum(r["rows"] for r in cv["rows"]) == 5000
    aucs = [r["auc"] for r in cv["rows"]]
    assert cv["auc"]["mean"] == pytest.approx(np.mean(aucs))
    assert cv["auc"]["sd"] == pytest.approx(np.std(aucs, ddof=1))
    assert all(0.7 < a < 0.95 for a in aucs)


# -- cut-off and confusion matrix -----------------------------------------------------
def test_default_cutoff_maximises_ks_on_the_training_scores(report, model, split):
    X_train, y_train, _, _ = split
    s = model.score(X_train)
    bads, goods = s[y_train == 1], s[y_train == 0]
    best = max(np.unique(s), key=lambda c: ((bads < c).mean() - (goods < c).mean(), -c))
    cut = report.cutoff
    assert cut["score"] == best
    assert cut["train_ks_at_cutoff"] == pytest.approx((bads < best).mean() - (goods < best).mean())
    assert cut["pd"] == pytest.approx(float(model.pd_from_score(best)))
    assert cut["train_approval_rate"] == pytest.approx((s >= best).mean())


def test_confusion_matrix_at_the_cutoff(report, model, split):
    _, _, X_test, y_test = split
    declined = model.score(X_test) < report.cutoff["score"]
    c = report.confusion
    assert c["matrix"] == {
        "bad_declined": int((declined & (y_test == 1)).sum()),
        "good_declined": int((declined & (y_test == 0)).sum()),
        "bad_approved": int((~declined & (y_test == 1)).sum()),
        "good_approved": int((~declined & (y_test == 0)).sum()),
    }
    assert c["approval_rate"] == pytest.approx((~declined).mean())
    assert c["recall"] == pytest.approx(declined[y_test == 1].mean())
    assert c["precision"] == pytest.approx(y_test[declined].mean())


def test_a_given_cutoff_is_used_and_a_pd_is_refused(model, split):
    r = validate(model, *split, cutoff=600, cv_folds=None, n_boot=0)
    assert r.cutoff["score"] == 600 and r.cutoff["rule"] == "given"
    assert r.confusion["approval_rate"] == pytest.approx((model.score(split[2]) >= 600).mean())
    assert "ci_low" not in r.discrimination["test"]["auc"]
    with pytest.raises(ValueError, match=r"cutoff is a score; got 0\.05, outside"):
        validate(model, *split, cutoff=0.05, cv_folds=None, n_boot=0)


# -- calibration, distributions, stability ---------------------------------------------
def test_calibration_table_and_brier_score(report, model, split):
    _, _, X_test, y_test = split
    p = model.predict_proba(X_test)[:, 1]
    cal = report.calibration
    assert cal["brier"] == pytest.approx(brier_score_loss(y_test, p), rel=1e-9)
    assert len(cal["rows"]) == 10
    assert sum(r["rows"] for r in cal["rows"]) == len(y_test)
    assert sum(r["bads"] for r in cal["rows"]) == y_test.sum()
    mean_pds = [r["mean_pd"] for r in cal["rows"]]
    assert mean_pds == sorted(mean_pds)
    # a model fitted on the same population is calibrated within a few points per decile
    assert all(abs(r["mean_pd"] - r["bad_rate"]) < 0.08 for r in cal["rows"])


def test_calibration_of_a_perfect_forecast():
    p = np.repeat([0.1, 0.5], 1000)
    y = np.concatenate([np.arange(1000) < 100, np.arange(1000) < 500]).astype(int)
    cal = calibration_table(p, y)
    assert [r["bad_rate"] for r in cal["rows"]] == pytest.approx([0.1, 0.5])
    assert cal["brier"] == pytest.approx(0.5 * 0.09 + 0.5 * 0.25)


def test_score_distribution_counts_goods_and_bads(report, split):
    _, _, _, y_test = split
    d = report.score_distribution
    assert len(d["edges"]) == len(d["good"]) + 1
    assert sum(d["good"]) == (y_test == 0).sum() and sum(d["bad"]) == y_test.sum()
    assert d["stats"]["good"]["mean"] > d["stats"]["bad"]["mean"]


def test_psi_by_hand():
    # two bins split at the median (2.5) of [1, 2, 3, 4]: shares 0.5 / 0.5 against 0.25 / 0.75
    out = psi(np.array([1, 2, 3, 4]), np.array([1, 3, 4, 4]), bins=2)
    hand = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert out["psi"] == pytest.approx(hand)  # 0.2747
    assert out["band"] == "shift"
    assert [b["train"] for b in out["bins"]] == [2, 2]
    assert [b["test"] for b in out["bins"]] == [1, 3]
    assert psi(np.arange(100), np.arange(100))["psi"] == 0
    # an empty bin is floored, not infinite
    total, _ = psi_from_counts([50, 50], [100, 0])
    assert math.isfinite(total) and total > 1


def test_psi_bands(report):
    assert psi_from_counts([50, 50], [55, 45])[0] < 0.1
    assert report.stability["score_psi"]["band"] == "stable"  # same population
    assert len(report.stability["score_psi"]["bins"]) >= 8
    csi = {c["feature"]: c for c in report.stability["csi"]}
    assert set(csi) == {"utilisation", "inquiries_6m", "oldest_account_months", "housing", "noise"}
    assert all(c["band"] == "stable" for c in csi.values())


# -- features and points table -----------------------------------------------------------
def test_iv_marks_kept_and_dropped_features(report, model):
    iv = {r["feature"]: r for r in report.features["iv"]}
    assert iv["noise"]["kept"] is False
    assert "min_iv" in iv["noise"]["dropped_because"]
    assert iv["utilisation"]["kept"] is True and iv["utilisation"]["dropped_because"] == ""
    assert iv["utilisation"]["iv"] == pytest.approx(
        next(b.iv for b in model.binning_all_ if b.name == "utilisation"), rel=1e-5
    )
    assert len(report.points_table["rows"]) == len(model.points_table())


def test_sections_a_model_without_a_points_table_does_not_have(split):
    X_train, y_train, X_test, y_test = split
    m = ColumnModel().fit(X_train, y_train)
    r = validate(m, X_train, y_train, X_test, y_test, cv_folds=2, n_boot=0)
    assert r.points_table["rows"] is None and "not applicable" in r.points_table["note"]
    assert r.features["iv"] is None and "not applicable" in r.features["iv_note"]
    assert r.cutoff["pd_rule"] == "highest PD approved on the training data"
    assert "<h2>8. Points table" in r.render_html()


# -- fairness ---------------------------------------------------------------------------
def test_four_fifths_flag_set_for_a_disparity_and_not_for_equal_groups(report):
    fair = {a["attribute"]: a for a in report.fairness["attributes"]}
    gender, coin = fair["gender"], fair["coin"]
    rates = {g["group"]: g["approval_rate"] for g in gender["groups"]}
    ratio = min(rates.values()) / max(rates.values())
    assert gender["demographic_parity_ratio"] == pytest.approx(ratio)
    assert gender["demographic_parity_ratio"] < 0.8 and gender["four_fifths_flag"] is True
    assert [g["flagged"] for g in gender["groups"]] == [False, True]
    assert coin["demographic_parity_ratio"] > 0.9 and coin["four_fifths_flag"] is False
    assert report.summary["four_fifths_flags"] == ["gender"]
    assert any("four-fifths" in n for n in report.notes)


def test_equalized_odds_and_group_auc_by_hand(report, model, split, groups):
    _, _, X_test, y_test = split
    s = model.score(X_test)
    approved = s >= report.cutoff["score"]
    gender = next(a for a in report.fairness["attributes"] if a["attribute"] == "gender")
    tpr, fpr = {}, {}
    for g in gender["groups"]:
        m = (groups["gender"] == g["group"]).to_numpy()
        tpr[g["group"]] = approved[m & (y_test == 0)].mean()
        fpr[g["group"]] = approved[m & (y_test == 1)].mean()
        assert g["tpr"] == pytest.approx(tpr[g["group"]])
        assert g["auc"] == pytest.approx(roc_auc_score(y_test[m], -s[m]))
    eod = max(abs(tpr["A"] - tpr["B"]), abs(fpr["A"] - fpr["B"]))
    assert gender["equalized_odds_difference"] == pytest.approx(eod)


def test_small_and_one_class_groups_get_no_auc_and_do_not_crash():
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.3).astype(int)
    s = rng.normal(size=400) - y
    group = np.array(["big"] * 400, dtype=object)
    group[:5] = "tiny"
    goods, bads = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    group[goods[5:45]] = "only_goods"
    group[np.concatenate([goods[45:82], bads[5:8]])] = "few_bads"
    out = fairness_for(pd.Series(group), y, s, 0.0, 30, name="region")
    rows = {g["group"]: g for g in out["groups"]}
    assert rows["few_bads"]["auc"] is None and "only 3 bads" in rows["few_bads"]["auc_note"]
    assert rows["few_bads"]["judged"] is True and rows["few_bads"]["rates_judged"] is False
    assert rows["tiny"]["auc"] is None and "only 5 rows" in rows["tiny"]["auc_note"]
    assert rows["tiny"]["judged"] is False and rows["tiny"]["impact_ratio"] is None
    assert rows["only_goods"]["auc"] is None and "no bads" in rows["only_goods"]["auc_note"]
    assert rows["only_goods"]["fpr"] is None  # no bads to approve
    assert rows["big"]["auc"] is not None
    assert out["demographic_parity_ratio"] is not None  # over big, only_goods and few_bads
    # equalized odds needs 10 of each class: only "big" has them, so nothing to compare
    assert out["equalized_odds_difference"] is None


def test_continuous_age_is_banded(report):
    age = next(a for a in report.fairness["attributes"] if a["attribute"] == "age")
    assert [g["group"] for g in age["groups"]] == list(AGE_BAND_LABELS)
    assert age["banding"].startswith("age bands")
    ages = pd.Series([18.0, 24.9, 25.0, 64.0, 65.0, 90.0, np.nan] * 3)
    labels, _, _ = band_protected(ages, "age")
    assert labels[:7].tolist() == ["<25", "<25", "25-34", "55-64", "65+", "65+", "missing"]
    other, banding, _ = band_protected(pd.Series(np.arange(100.0)), "income_band_score")
    assert other.nunique() == 4 and banding.startswith("quartiles")


def test_groups_are_aligned_by_index(report, model, split, groups):
    X_train, y_train, X_test, y_test = split
    X_ix = X_test.set_index(pd.Index(np.arange(len(X_test)) + 1000))
    shuffled = groups.set_index(X_ix.index).sample(frac=1.0, random_state=0)
    r = validate(model, X_train, y_train, X_ix, y_test, groups=shuffled, cv_folds=None, n_boot=0)
    assert r.to_dict()["fairness"] == report.to_dict()["fairness"]
    with pytest.raises(ValueError, match="groups' index does not match X_test's"):
        validate(model, X_train, y_train, X_ix, y_test, groups=shuffled.set_index(
            shuffled.index + 1), cv_folds=None, n_boot=0)  # fmt: skip


# -- output -----------------------------------------------------------------------------
def test_json_round_trips(report, tmp_path):
    path = report.to_json(tmp_path / "report.json")
    loaded = json.loads(path.read_text("utf-8"))
    assert loaded == report.to_dict()
    assert list(loaded) == [
        "meta", "settings", "data", "summary", "cutoff", "discrimination", "cross_validation",
        "confusion", "calibration", "score_distribution", "stability", "features",
        "points_table", "fairness", "curves", "notes",
    ]  # fmt: skip
    assert loaded["meta"]["name"] == "test scorecard"
    assert loaded["meta"]["model_kind"] == "Scorecard"
    assert loaded["data"]["test"]["rows"] == 2000
    again = ValidationReport.from_dict(loaded)
    assert again.to_dict() == loaded


def test_html_renders_every_section_with_embedded_charts(report, tmp_path):
    html = report.to_html(tmp_path / "report.html").read_text("utf-8")
    for heading in ("Discrimination", "Cross-validation", "confusion matrix", "Calibration",
                    "Score distribution", "Stability", "Information value", "Points table",
                    "Fairness", "模型验证报告", "区分能力", "公平性"):  # fmt: skip
        assert heading in html
    # ROC, KS, distribution, calibration, PSI, one per protected attribute
    assert html.count('src="data:image/png;base64,') == 5 + 3
    assert "http://" not in html and "https://" not in html  # nothing fetched
    assert "test scorecard" in html and "four-fifths flag" in html


# -- refusals ---------------------------------------------------------------------------
def test_groups_of_the_wrong_length_are_refused(model, split, groups):
    with pytest.raises(ValueError, match="groups has 1999 rows but X_test has 2000"):
        validate(model, *split, groups=groups.iloc[:-1], cv_folds=None, n_boot=0)


def test_a_group_column_that_is_a_model_feature_is_refused(model, split):
    g = pd.DataFrame({"housing": split[2]["housing"]})
    with pytest.raises(ValueError, match="group column 'housing' is also a model feature"):
        validate(model, *split, groups=g, cv_folds=None, n_boot=0)


def test_a_protected_model_feature_is_refused(split):
    X_train, y_train, X_test, y_test = split
    X_train = X_train.assign(gender=np.resize(["F", "M"], len(X_train)))
    X_test = X_test.assign(gender=np.resize(["F", "M"], len(X_test)))
    m = ColumnModel().fit(X_train, y_train)
    with pytest.raises(ProtectedAttributeError, match="'gender' is a protected attribute"):
        validate(m, X_train, y_train, X_test, y_test, cv_folds=None, n_boot=0)


def test_a_single_class_test_set_is_refused(model, split):
    X_train, y_train, X_test, _ = split
    with pytest.raises(ValueError, match="y_test has a single class"):
        validate(model, X_train, y_train, X_test, np.zeros(len(X_test)), cv_folds=None)


def test_bad_labels_lengths_and_settings_are_refused(model, split):
    X_train, y_train, X_test, y_test = split
    with pytest.raises(ValueError, match="X_test has 2000 rows but y_test has 10"):
        validate(model, X_train, y_train, X_test, y_test[:10])
    with pytest.raises(ValueError, match="y_train must hold 0"):
        validate(model, X_train, y_train * 2, X_test, y_test)
    with pytest.raises(ValueError, match="cv_folds must be"):
        validate(model, *split, cv_folds=1)
    with pytest.raises(ValueError, match="n_boot must be"):
        validate(model, *split, n_boot=-5)


def test_an_accuracy_style_score_is_refused(split):
    X_train, y_train, X_test, y_test = split
    cols = ["utilisation", "inquiries_6m", "oldest_account_months"]
    lr = LogisticRegression().fit(X_train[cols], y_train)
    with pytest.raises(TypeError, match="one score per row"):
        validate(lr, X_train[cols], y_train, X_test[cols], y_test, cv_folds=None, n_boot=0)


@pytest.mark.parametrize("font", ["installed", "missing"])
def test_chinese_group_names_never_draw_as_boxes(report, monkeypatch, font):
    from credo.scoring import validation_html

    if font == "missing":
        monkeypatch.setattr(validation_html, "cjk_family", lambda: None)
    elif validation_html.cjk_family() is None:
        pytest.skip("no CJK font on this machine")
    a = {
        "attribute": "地区",
        "groups": [
            {"group": "东部 east", "approval_rate": 0.6, "flagged": False, "judged": True},
            {"group": "西部", "approval_rate": 0.4, "flagged": True, "judged": True},
        ],
    }
    labels, family = validation_html.drawable([g["group"] for g in a["groups"]])
    if font == "missing":
        assert (labels, family) == (["#1 east", "#2"], None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" is a UserWarning
        fig = validation_html.fairness_chart(a)
        fig.savefig(io.BytesIO(), format="png")
