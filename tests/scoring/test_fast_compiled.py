"""The compiled scoring pass (numba) gives exactly the NumPy path's and score_one's points."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credo.scoring import kernel
from credo.scoring.fast import IDENTITY_MIN_ROWS, FeaturePoints, PointsScorer

HOUSING = FeaturePoints(
    name="housing",
    dtype="categorical",
    splits=(),
    categories=(("own", "mortgage"), ("rent",), ("1",)),
    points=(40.25, 10.5, 25.125),
    missing_points=18.0,
)
UTILISATION = FeaturePoints(
    name="utilisation",
    dtype="numerical",
    splits=(0.3, 0.7),
    categories=(),
    points=(50.1, 30.7, 5.3),
    missing_points=20.9,
    special_codes=(-1.0, 999.0),
    special_points=-3.3,
)
#: more splits than kernel.SELECT_SPLITS: binned by binary search
INCOME = FeaturePoints(
    name="income",
    dtype="numerical",
    splits=tuple(float(s) for s in range(0, 1000, 10)),
    categories=(),
    points=tuple(0.1 * i - 3.7 for i in range(101)),
    missing_points=0.7,
)
SCORER = PointsScorer([HOUSING, UTILISATION, INCOME])
TEXTS = ["own", "mortgage", "rent", "1", "boat", "", "Own"]


def per_record(scorer: PointsScorer, frame: pd.DataFrame) -> np.ndarray:
    return np.asarray([scorer.score_one(r) for r in frame.to_dict("records")])


def frame_of(rng: np.random.Generator, n: int, pool_size: int) -> pd.DataFrame:
    """Text cells drawn from a pool of objects (some equal texts in distinct objects, None,
    NaN, numbers); numbers with NaN, special codes, values on the splits, infinities."""
    pool = np.asarray(
        [*("".join(list(t)) for t in rng.choice(TEXTS, pool_size)), None, np.nan, 1, 1.0],
        dtype=object,
    )
    numbers = np.concatenate([rng.random(50) * 1.2 - 0.1, [np.nan, -1.0, 999.0, 0.3, 0.7]])
    incomes = np.concatenate([rng.integers(-20, 1020, 50) * 1.0, [np.nan, np.inf, -np.inf, 10.0]])
    return pd.DataFrame(
        {
            "housing": pool[rng.integers(0, len(pool), n)],
            "utilisation": rng.choice(numbers, n),
            "income": rng.choice(incomes, n),
        }
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.sampled_from([1, 7, 300, IDENTITY_MIN_ROWS + 5, 3 * IDENTITY_MIN_ROWS]),
    pool_size=st.sampled_from([1, 5, 400]),
)
def test_compiled_numpy_and_per_record_agree(seed, n, pool_size):
    rng = np.random.default_rng(seed)
    X = frame_of(rng, n, pool_size)
    if n > IDENTITY_MIN_ROWS:  # objects first met after the sampled head: scored by NumPy
        X.loc[n - 3 :, "housing"] = ["".join(["re", "nt"]), "".join(["nov", "el"]), None]
    compiled = SCORER.score(X, engine="compiled")
    np.testing.assert_array_equal(compiled, SCORER.score(X, engine="numpy"))
    rows = slice(None) if n <= 300 else np.r_[0:200, n - 200 : n]
    np.testing.assert_array_equal(compiled[rows], per_record(SCORER, X.iloc[rows]))


def test_a_column_of_distinct_objects_and_a_categorical_dtype_score_alike():
    rng = np.random.default_rng(7)
    X = frame_of(rng, 2 * IDENTITY_MIN_ROWS, 5)
    # every cell its own object: the sample says mostly distinct, NumPy codes it by value
    X["housing"] = np.asarray(
        [None if v is None else "".join(list(str(v))) for v in X["housing"]], dtype=object
    )
    expected = SCORER.score(X, engine="numpy")
    np.testing.assert_array_equal(SCORER.score(X, engine="compiled"), expected)
    as_category = X.astype({"housing": "category"})
    np.testing.assert_array_equal(SCORER.score(as_category, engine="compiled"), expected)


def test_unseen_objects_after_the_sample_are_scored_by_the_text_rule():
    n = 5 * IDENTITY_MIN_ROWS
    housing = np.asarray(["own"] * n, dtype=object)
    housing[-1000:] = ["".join(["re", "nt"]) for _ in range(1000)]  # 1000 distinct objects
    housing[-1] = "Mars"
    X = {"housing": housing, "utilisation": np.full(n, 0.5), "income": np.full(n, 55.0)}
    scores = SCORER.score(X, engine="compiled")
    np.testing.assert_array_equal(scores, SCORER.score(X, engine="numpy"))
    assert scores[0] == 40.25 + 30.7 + INCOME.points[6]
    assert scores[-2] == 10.5 + 30.7 + INCOME.points[6]
    assert scores[-1] == 18.0 + 30.7 + INCOME.points[6]


def test_large_frames_take_the_compiled_pass_by_default(monkeypatch):
    from credo.scoring import fast

    X = frame_of(np.random.default_rng(3), fast.KERNEL_MIN_ROWS, 5)
    calls = []
    original = fast._CompiledPass.run
    monkeypatch.setattr(fast._CompiledPass, "run", lambda self: calls.append(1) or original(self))
    SCORER.score(X.head(100))
    assert not calls
    np.testing.assert_array_equal(SCORER.score(X), SCORER.score(X, engine="numpy"))
    assert calls == [1]


def test_bad_engine_and_ragged_columns_are_refused():
    with pytest.raises(ValueError, match="engine must be auto, numpy or compiled; got 'gpu'"):
        SCORER.score({"housing": ["own"], "utilisation": [0.1], "income": [1.0]}, engine="gpu")
    with pytest.raises(ValueError, match=r"differ in length: \[1, 2\]"):
        SCORER.score({"housing": ["own"], "utilisation": [0.1, 0.2], "income": [1.0]})


def test_the_loop_is_cached_on_disk_and_compiled_in_memory_without_a_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CREDO_KERNEL_CACHE", str(tmp_path))
    shape = kernel.shape_of("NO", [1, 0], [1, 0])
    monkeypatch.setattr(kernel, "_LOOPS", {})
    kernel.loop_for(shape)
    assert [p.name.startswith("credo_kernel_") for p in tmp_path.glob("*.py")] == [True]
    # nowhere writable: compiled in memory
    monkeypatch.setattr(kernel, "cache_dir", lambda: None)
    monkeypatch.setattr(kernel, "_LOOPS", {})
    loop = kernel.loop_for(shape)
    out = np.empty(3)
    x = np.asarray([0.5, np.nan, -1.0])
    keys = np.zeros(16, dtype=np.uintp)
    values = np.full(17, np.nan)
    misses = loop(x, np.asarray([0.3]), np.asarray([-1.0]), np.asarray([1.0, 2.0, 3.0, 4.0]),
                  np.zeros(3, dtype=np.uintp), keys, values, np.uint64(60), out)  # fmt: skip
    assert misses == 3  # NULL cells are never in the table
    assert np.isnan(out).all()


@pytest.mark.parametrize("threads", ["1", "2", "3"])
def test_a_frame_split_across_threads_scores_as_one_pass(monkeypatch, threads):
    from credo.scoring import fast

    monkeypatch.setenv("CREDO_SCORING_THREADS", threads)
    monkeypatch.setattr(fast, "PARALLEL_MIN_ROWS", 4 * IDENTITY_MIN_ROWS)
    n = 3 * 4 * IDENTITY_MIN_ROWS + 17  # three parts of unequal size
    X = frame_of(np.random.default_rng(11), n, 5)
    # unseen objects in every part (misses counted by each thread)
    for row in (10, n // 3 + 1, n // 2, n - 1):
        X.loc[row, "housing"] = "".join(["re", "nt"]) if row % 2 else "".join(["mo", "on"])
    calls = []
    loop = fast._CompiledPass._loop_rows
    monkeypatch.setattr(
        fast._CompiledPass, "_loop_rows", lambda self, out: calls.append(1) or loop(self, out)
    )
    used = []
    original = kernel.loop_for

    def counting(shape):
        fn = original(shape)
        return lambda *args: used.append(len(args[-1])) or fn(*args)

    monkeypatch.setattr(kernel, "loop_for", counting)
    scores = SCORER.score(X, engine="compiled")
    np.testing.assert_array_equal(scores, SCORER.score(X, engine="numpy"))
    assert calls == [1]
    assert len(used) == int(threads) and sum(used) == n


@pytest.mark.parametrize("bad", ["two", "0", "-1"])
def test_a_bad_thread_count_is_refused(monkeypatch, bad):
    from credo.scoring import fast

    monkeypatch.setenv("CREDO_SCORING_THREADS", bad)
    with pytest.raises(ValueError, match=f"CREDO_SCORING_THREADS must be .*{bad}"):
        fast.scoring_threads()


def test_objects_are_looked_up_in_a_probed_table_when_no_collision_free_one_is_found(
    monkeypatch,
):
    rng = np.random.default_rng(5)
    X = frame_of(rng, 3 * IDENTITY_MIN_ROWS, 400)
    X.loc[len(X) - 2 :, "housing"] = ["".join(["re", "nt"]), "".join(["bo", "at"])]
    expected = SCORER.score(X, engine="numpy")
    kinds = []
    real = kernel.loop_for
    monkeypatch.setattr(kernel, "loop_for", lambda shape: kinds.append(shape) or real(shape))
    np.testing.assert_array_equal(SCORER.score(X, engine="compiled"), expected)
    monkeypatch.setattr(kernel, "direct_table", lambda addresses, points: None)
    np.testing.assert_array_equal(SCORER.score(X, engine="compiled"), expected)
    assert [s[0] for s in kinds] == ["D", "O"]


def test_a_direct_table_has_no_collisions_and_finds_only_its_addresses():
    objects = np.asarray([f"o{i}" for i in range(300)], dtype=object)
    addresses = np.asarray(kernel_addresses(objects))
    points = np.arange(300, dtype=np.float64)
    keys, values, multiplier, shift = kernel.direct_table(addresses, points)
    slots = (addresses * multiplier) >> shift
    assert len(np.unique(slots)) == 300 and (keys[slots] == addresses).all()
    np.testing.assert_array_equal(values[slots], points)
    assert np.isnan(values[-1]) and len(values) == len(keys) + 1
    strangers = np.asarray(kernel_addresses(np.asarray(["x", "y"], dtype=object)))
    probe = np.concatenate([addresses[:3], strangers, [0]]).astype(np.uintp)
    np.testing.assert_array_equal(kernel.unseen_direct(probe, keys, multiplier, shift), [3, 4, 5])


def test_no_direct_table_when_the_objects_are_too_many(monkeypatch):
    monkeypatch.setattr(kernel, "DIRECT_MAX_BITS", 6)
    objects = np.asarray([f"o{i}" for i in range(40)], dtype=object)
    assert kernel.direct_table(np.asarray(kernel_addresses(objects)), np.zeros(40)) is None


def kernel_addresses(objects: np.ndarray):
    from credo.scoring.fast import _Addresses

    return _Addresses(objects)
