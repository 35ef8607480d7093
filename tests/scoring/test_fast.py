"""The fast scorer's text columns: coded by object identity, scored exactly as record by record."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from credo.scoring.fast import (
    IDENTITY_MIN_ROWS,
    FeaturePoints,
    PointsScorer,
    category_slots,
    identity_codes,
)

HOUSING = FeaturePoints(
    name="housing",
    dtype="categorical",
    splits=(),
    categories=(("own", "mortgage"), ("rent",), ("1",)),
    points=(40.0, 10.0, 25.0),
    missing_points=18.0,
)
UTILISATION = FeaturePoints(
    name="utilisation",
    dtype="numerical",
    splits=(0.3, 0.7),
    categories=(),
    points=(50.0, 30.0, 5.0),
    missing_points=20.0,
)
SCORER = PointsScorer([HOUSING, UTILISATION])


class Text(str):
    """A str subclass: equal to its text, but not a plain `str`."""


def record_by_record(values) -> np.ndarray:
    return np.asarray([SCORER.record_points({"housing": v})[0] for v in values])


def from_csv(n: int, seed: int = 5) -> pd.DataFrame:
    """`n` rows resampled from a frame read by read_csv (one object per distinct text)."""
    rng = np.random.default_rng(seed)
    text = "housing,utilisation\n" + "".join(
        f"{h},{u}\n" for h, u in zip(
            rng.choice(["own", "mortgage", "rent", "boat", ""], 500), rng.random(500), strict=True
        )
    )  # fmt: skip
    frame = pd.read_csv(io.StringIO(text), dtype={"housing": str})
    return frame.iloc[rng.integers(0, len(frame), n)].reset_index(drop=True)


def test_a_read_csv_column_holds_few_objects_and_scores_as_record_by_record():
    X = from_csv(50_000)
    values = X["housing"].to_numpy()
    coded = identity_codes(values)
    assert coded is not None
    codes, distinct = coded
    assert len(distinct) <= 5  # four texts and the missing value
    assert all(values[i] is distinct[codes[i]] for i in range(0, len(values), 97))
    pts = SCORER.points_matrix(X)[:, 0]
    np.testing.assert_array_equal(pts, record_by_record(values))
    assert set(pts) == {40.0, 10.0, 18.0}  # own/mortgage, rent, unseen or missing


def test_any_mix_of_objects_scores_as_record_by_record():
    rng = np.random.default_rng(1)
    # equal texts in distinct objects, str subclasses, numbers whose text is a category
    # ("1" but not "1.0"), missing markers of every kind, unseen texts, bytes and tuples
    pool = np.asarray(
        ["own", "".join(["o", "wn"]), Text("rent"), "rent", 1, 1.0, True, None, np.nan,
         pd.NA, float("nan"), "houseboat", b"own", 3.5, ("own",)],
        dtype=object,
    )  # fmt: skip
    values = pool[rng.integers(0, len(pool), 3 * IDENTITY_MIN_ROWS)]
    assert identity_codes(values) is not None
    pts = SCORER.points_matrix({"housing": values, "utilisation": np.zeros(len(values))})[:, 0]
    np.testing.assert_array_equal(pts, record_by_record(values))


def test_a_column_of_distinct_objects_is_coded_by_value():
    rng = np.random.default_rng(2)
    # a fresh object per row (as pyarrow or a database driver gives): identity would not pay
    values = np.asarray(
        ["".join(c) for c in rng.choice(list("own"), (3 * IDENTITY_MIN_ROWS, 3))], dtype=object
    )
    assert identity_codes(values) is None
    pts = SCORER.points_matrix({"housing": values, "utilisation": np.zeros(len(values))})[:, 0]
    np.testing.assert_array_equal(pts, record_by_record(values))


def test_a_column_resampled_from_a_frame_of_distinct_objects_is_coded_by_identity():
    rng = np.random.default_rng(3)
    # a training-sized frame with one object per cell, resampled to many rows (scorer.py)
    pool = np.asarray(
        ["".join(c) for c in rng.choice(["o", "wn", "rent", "x"], (2000, 2))], dtype=object
    )
    values = pool[rng.integers(0, len(pool), 20 * IDENTITY_MIN_ROWS)]
    codes, distinct = identity_codes(values)
    assert len(distinct) <= len(pool)
    assert all(values[i] is distinct[codes[i]] for i in range(0, len(values), 101))
    pts = SCORER.points_matrix({"housing": values, "utilisation": np.zeros(len(values))})[:, 0]
    np.testing.assert_array_equal(pts, record_by_record(values))


def test_a_rare_value_seen_only_in_the_last_row_is_found():
    values = np.asarray(["own"] * (5 * IDENTITY_MIN_ROWS) + ["rent"], dtype=object)
    codes, distinct = identity_codes(values)
    assert list(distinct) == ["own", "rent"]
    assert codes[-1] == 1 and not codes[:-1].any()
    assert (
        SCORER.points_matrix({"housing": values, "utilisation": np.zeros(len(values))})[-1, 0]
        == 10.0
    )


def test_other_containers_score_the_same():
    X = from_csv(2 * IDENTITY_MIN_ROWS)
    expected = SCORER.score(X)
    two_d = np.ascontiguousarray(X[["housing", "utilisation"]].to_numpy(dtype=object))
    assert not two_d[:, 0].flags.c_contiguous
    np.testing.assert_array_equal(SCORER.score(two_d), expected)
    as_lists = {c: X[c].tolist() for c in X.columns}
    np.testing.assert_array_equal(SCORER.score(as_lists), expected)
    as_object = X.astype({"housing": object})
    np.testing.assert_array_equal(SCORER.score(as_object), expected)
    as_category = X.astype({"housing": "category"})
    np.testing.assert_array_equal(SCORER.score(as_category), expected)
    short = X.head(IDENTITY_MIN_ROWS - 1)  # coded by value
    np.testing.assert_array_equal(SCORER.score(short), expected[: len(short)])


def test_unhashable_values_take_the_rule_one_by_one():
    values = np.asarray([["own"], "own", {"a": 1}, None] * IDENTITY_MIN_ROWS, dtype=object)
    pts = SCORER.points_matrix({"housing": values, "utilisation": np.zeros(len(values))})[:, 0]
    np.testing.assert_array_equal(pts, record_by_record(values))
    slots = category_slots(SCORER._cat_maps[0], 3, values[:4])
    assert slots.tolist() == [3, 0, 3, 3]


@pytest.mark.parametrize("bad", [np.zeros((2, 2), dtype=object), np.zeros(3)])
def test_addresses_refuse_anything_but_a_flat_object_array(bad):
    from credo.scoring.fast import _Addresses

    with pytest.raises(ValueError, match="1-D C-contiguous object array"):
        _Addresses(bad)
