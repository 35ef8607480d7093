"""The production scoring path: a published points table, applied without the training stack.

`PointsScorer` is built from plain data (the dict a `Scorecard` exports and the registry stores),
so serving never unpickles anything. It scores a whole frame with one binary search per feature
column (NumPy) and one record with `bisect`, and emits the same table as a SQL expression.

Bin semantics (the same as optbinning's): a numeric feature with splits s1 < s2 < ... < sk has
bins (-inf, s1), [s1, s2), ..., [sk, inf); a value equal to a split belongs to the bin on its
right. Missing values (None, NaN, text that is not a number) take the Missing bin; listed special
codes take the Special bin; a categorical value that was never seen in training takes the
Missing bin as well, so scoring never fails on new data.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class FeaturePoints:
    """One feature's bins and their points, as stored in a published model."""

    name: str
    dtype: str  # "numerical" | "categorical"
    #: numeric split points (numerical) -- len(points) == len(splits) + 1
    splits: tuple[float, ...]
    #: categories of each regular bin (categorical) -- len(points) == len(categories)
    categories: tuple[tuple[str, ...], ...]
    points: tuple[float, ...]
    missing_points: float
    special_codes: tuple[float, ...] = ()
    special_points: float = 0.0

    def __post_init__(self) -> None:
        n = len(self.splits) + 1 if self.dtype == "numerical" else len(self.categories)
        if self.dtype not in ("numerical", "categorical"):
            raise ValueError(f"dtype must be numerical or categorical; got {self.dtype!r}")
        if len(self.points) != n:
            raise ValueError(f"feature {self.name!r}: {len(self.points)} points for {n} bins")
        if list(self.splits) != sorted(set(self.splits)):
            raise ValueError(f"feature {self.name!r}: splits must be strictly increasing")

    @property
    def category_index(self) -> dict[str, int]:
        return {c: i for i, cats in enumerate(self.categories) for c in cats}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "splits": list(self.splits),
            "categories": [list(c) for c in self.categories],
            "points": list(self.points),
            "missing_points": self.missing_points,
            "special_codes": list(self.special_codes),
            "special_points": self.special_points,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeaturePoints:
        return cls(
            name=str(d["name"]),
            dtype=str(d["dtype"]),
            splits=tuple(float(s) for s in d.get("splits", ())),
            categories=tuple(tuple(str(c) for c in cats) for cats in d.get("categories", ())),
            points=tuple(float(p) for p in d["points"]),
            missing_points=float(d["missing_points"]),
            special_codes=tuple(float(s) for s in d.get("special_codes", ())),
            special_points=float(d.get("special_points", 0.0)),
        )


def numeric_column(values: Any) -> np.ndarray:
    """A float64 array; anything that is not a number becomes NaN (the Missing bin)."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        return values.astype(np.float64, copy=False)
    if isinstance(values, pd.Series) and values.dtype.kind in "fiu":
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    series = pd.Series(values.to_numpy() if hasattr(values, "to_numpy") else values)
    if series.dtype == bool:
        return series.to_numpy(dtype=np.float64)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def column_of(X: Any, name: str, position: int) -> Any:
    """Column `name` of a pandas / polars frame, a mapping of columns, or a 2-D array."""
    if isinstance(X, pd.DataFrame | Mapping):
        if name not in X:
            raise ValueError(f"column {name!r} is missing from the data to score")
        return X[name]
    if hasattr(X, "get_column"):  # polars
        return X.get_column(name)
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-D; got shape {arr.shape}")
    return arr[:, position]


class PointsScorer:
    """Vectorised and single-record scoring of a points table, plus its SQL expression."""

    def __init__(self, features: Sequence[FeaturePoints]) -> None:
        if not features:
            raise ValueError("a points table needs at least one feature")
        self.features = tuple(features)
        self._split_arrays = [np.asarray(f.splits, dtype=np.float64) for f in self.features]
        # one lookup table per feature: the regular bins' points, then Missing, then Special
        self._tables = [
            np.asarray((*f.points, f.missing_points, f.special_points), dtype=np.float64)
            for f in self.features
        ]
        self._cat_maps = [f.category_index for f in self.features]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    # -- vectorised ------------------------------------------------------------------
    def points_matrix(self, X: Any) -> np.ndarray:
        """Points of every feature for every row: shape (rows, features)."""
        cols = []
        for j, f in enumerate(self.features):
            raw = column_of(X, f.name, j)
            cols.append(self._feature_points(j, f, raw))
        return np.column_stack(cols)

    def _feature_points(self, j: int, f: FeaturePoints, raw: Any) -> np.ndarray:
        if f.dtype == "numerical":
            x = numeric_column(raw)
            idx = bin_index(self._split_arrays[j], x)
            k = len(f.points)  # the table's Missing slot; Special is the next one
            np.putmask(idx, np.isnan(x), k)
            if f.special_codes:
                np.putmask(idx, np.isin(x, f.special_codes), k + 1)
            return self._tables[j].take(idx)
        return self._category_points(j, f, raw)

    def _category_points(self, j: int, f: FeaturePoints, raw: Any) -> np.ndarray:
        """Points of a categorical column: its bin's, or Missing's (None, NaN, unseen).

        The rule is `_category_slot` (match by text), applied once per distinct object
        rather than once per row: rows holding the same object get the same points, so the
        column is first coded by object identity (`identity_codes`, a hash of the object
        addresses: ~3 ms per million rows, where hashing the texts costs 20-90 ms), and only
        its distinct objects go through `category_slots`. Columns whose rows are mostly
        distinct objects skip the identity step and are coded by value directly.
        """
        cats = self._cat_maps[j]
        table = self._tables[j]
        missing = len(f.points)
        dtype = getattr(raw, "dtype", None)
        if isinstance(dtype, pd.CategoricalDtype):  # already coded
            codes = np.asarray(raw.cat.codes if hasattr(raw, "cat") else raw.codes)
            uniques = np.asarray(dtype.categories, dtype=object)
            plain = np.asarray([type(u) is str for u in uniques], dtype=bool)
            slots = [cats.get(u, missing) if type(u) is str else missing for u in uniques]
            # one more entry for code -1 (missing values): fixed below with the odd rows
            pts = table.take(np.asarray([*slots, missing], dtype=np.intp)).take(codes)
            odd = codes < 0
            if not plain.all():
                odd |= np.isin(codes, np.flatnonzero(~plain))
            if odd.any():
                values = _object_values(raw)
                pts[odd] = table.take([_category_slot(cats, missing, v) for v in values[odd]])
            return pts
        values = _object_values(raw)
        coded = identity_codes(values)
        if coded is None:
            return table.take(category_slots(cats, missing, values))
        codes, distinct = coded
        return table.take(category_slots(cats, missing, distinct)).take(codes)

    def score(self, X: Any, *, engine: str = "auto") -> np.ndarray:
        """The score of every row: the sum of its points.

        Added feature by feature, the order of `score_one` (and of optbinning), so unrounded
        points give the same floating-point sum either way. The first feature's points (a
        fresh array) start the sum: adding them to 0 would give the same numbers.

        `engine`: ``"numpy"`` scores column by column with NumPy; ``"compiled"`` in one
        compiled pass over the rows (numba, `credo.scoring.kernel`); ``"auto"`` (default)
        takes the compiled pass for frames of at least `KERNEL_MIN_ROWS` rows when numba
        can be imported. Both give exactly the same scores.
        """
        if engine not in ("auto", "numpy", "compiled"):
            raise ValueError(f"engine must be auto, numpy or compiled; got {engine!r}")
        columns = [column_of(X, f.name, j) for j, f in enumerate(self.features)]
        lengths = {len(c) for c in columns}
        if len(lengths) > 1:
            raise ValueError(f"the columns to score differ in length: {sorted(lengths)}")
        n = lengths.pop()
        if engine == "compiled" or (engine == "auto" and n >= KERNEL_MIN_ROWS):
            kernel = _kernel(required=engine == "compiled")
            if kernel is not None:
                return _CompiledPass(self, kernel, columns, n).run()
        return self._sum_points(columns, self._feature_points)

    def _sum_points(self, columns: Sequence[Any], points_of: Any) -> np.ndarray:
        """Each feature's points ``points_of(j, feature, column)`` added up in feature order."""
        total = None
        for j, (f, column) in enumerate(zip(self.features, columns, strict=True)):
            pts = points_of(j, f, column)
            if total is None:
                total = pts
            else:
                total += pts
        return total

    # -- one record ------------------------------------------------------------------
    def record_points(self, record: Mapping[str, Any]) -> list[float]:
        """Points of each feature for one record (a mapping of feature -> value)."""
        out = []
        for f, categories in zip(self.features, self._cat_maps, strict=True):
            v = record.get(f.name)
            if f.dtype == "categorical":
                i = None if v is None else categories.get(str(v))
                out.append(f.missing_points if i is None else f.points[i])
                continue
            x = _to_float(v)
            if x is None:
                out.append(f.missing_points)
            elif f.special_codes and x in f.special_codes:
                out.append(f.special_points)
            else:
                out.append(f.points[bisect_right(f.splits, x)])
        return out

    def score_one(self, record: Mapping[str, Any]) -> float:
        return float(sum(self.record_points(record)))

    # -- SQL -------------------------------------------------------------------------
    def to_sql(self, *, columns: Mapping[str, str] | None = None) -> str:
        """A SQL expression (SQLite, PostgreSQL, DuckDB) giving the same score as `score`.

        `columns` maps feature names to the SQL column expressions to use (default: the
        feature name as a quoted identifier). Numeric columns must hold numbers or NULL.
        """
        columns = columns or {}
        parts = [self._case(f, columns.get(f.name) or _ident(f.name)) for f in self.features]
        return "(\n  " + "\n  + ".join(parts) + "\n)"

    @staticmethod
    def _case(f: FeaturePoints, col: str) -> str:
        whens = [f"WHEN {col} IS NULL THEN {_num(f.missing_points)}"]
        if f.dtype == "numerical":
            if f.special_codes:
                codes = ", ".join(_num(c) for c in f.special_codes)
                whens.append(f"WHEN {col} IN ({codes}) THEN {_num(f.special_points)}")
            for split, pts in zip(f.splits, f.points, strict=False):
                whens.append(f"WHEN {col} < {_num(split)} THEN {_num(pts)}")
            return f"(CASE {' '.join(whens)} ELSE {_num(f.points[-1])} END)"
        for cats, pts in zip(f.categories, f.points, strict=True):
            listed = ", ".join(_str(c) for c in cats)
            whens.append(f"WHEN CAST({col} AS TEXT) IN ({listed}) THEN {_num(pts)}")
        return f"(CASE {' '.join(whens)} ELSE {_num(f.missing_points)} END)"


#: up to this many splits, a column is binned by one comparison pass per split (~0.2 ms per
#: million values each); past it, by binary search (~25 ms per million values, branchy)
COMPARE_SPLITS = 64


def bin_index(splits: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The number of splits <= each value: its bin, as ``np.searchsorted(side="right")``.

    NaN gets 0 here, and 0 or ``len(splits)`` from `np.searchsorted`; callers mask it anyway.
    """
    if len(splits) > COMPARE_SPLITS:
        return np.searchsorted(splits, x, side="right")
    idx = np.zeros(len(x), dtype=np.uint8)
    above = np.empty(len(x), dtype=bool)
    for s in splits:
        np.greater_equal(x, s, out=above)
        idx += above.view(np.uint8)
    return idx


def _object_values(raw: Any) -> np.ndarray:
    """The column as the Python objects a record would hold (what `_category_slot` sees).

    A C-contiguous object array; an object column (or pandas' Python-backed ``str`` column)
    is passed through without copying its cells.
    """
    values = raw.to_numpy() if hasattr(raw, "to_numpy") else raw
    if not (isinstance(values, np.ndarray) and values.dtype == object and values.ndim == 1):
        values = pd.Series(values, dtype=object).to_numpy()
    return np.ascontiguousarray(values)


class _Addresses:
    """The cells of an object array as the integers they are (object addresses), read-only.

    NumPy refuses ``view`` on an object array, so the addresses are exposed through the array
    interface over the same memory; holding `values` keeps that memory and every object it
    points to alive for as long as the address array exists (it is this object's base).
    """

    def __init__(self, values: np.ndarray) -> None:
        if values.dtype != object or values.ndim != 1 or not values.flags.c_contiguous:
            raise ValueError("addresses need a 1-D C-contiguous object array")
        self.values = values
        self.__array_interface__ = {
            "shape": values.shape,
            "typestr": np.dtype(np.uintp).str,
            "data": (values.__array_interface__["data"][0], True),  # read-only
            "version": 3,
        }


#: columns shorter than this are coded by value (the identity step would not pay)
IDENTITY_MIN_ROWS = 4096
#: rows sampled (evenly spaced) to tell whether a column holds few objects
IDENTITY_SAMPLE = 65_536


def identity_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(codes, distinct objects): ``values[i] is distinct[codes[i]]`` for every row ``i``.

    A text column read by pandas' ``read_csv`` (and anything resampled from it) reuses one
    ``str`` object per distinct text, and a column resampled from a frame reuses that frame's
    objects, so a million cells often hold a few (or a few thousand) objects; hashing their
    addresses (integers) is an order of magnitude cheaper than hashing their texts. Exact for
    every input: two cells with the same address hold the same object. Returns None when the
    cells look like mostly distinct objects (text built row by row, as pyarrow or a database
    driver gives it), where it would not pay.
    """
    n = len(values)
    if n < IDENTITY_MIN_ROWS:
        return None
    addresses = np.asarray(_Addresses(values))
    head = addresses[:IDENTITY_MIN_ROWS]
    if len(pd.unique(head)) * 8 > len(head):  # not a handful: look at a wider sample
        sample = addresses[:: max(1, n // IDENTITY_SAMPLE)]
        if len(pd.unique(sample)) * 2 > len(sample):
            return None
    codes, unique_addresses = pd.factorize(addresses)
    k = len(unique_addresses)
    # codes are numbered in order of first appearance, so a prefix whose largest code is k-1
    # holds them all: each code's first row is found there when the prefix is short
    prefix = codes[: 4 * IDENTITY_MIN_ROWS]
    if prefix.max() == k - 1:
        present, rows = np.unique(prefix, return_index=True)
        if len(present) == k:
            return codes, values[rows]
    rows = np.empty(k, dtype=np.intp)
    rows[codes] = np.arange(n)  # any row of each code will do: they hold the same object
    return codes, values[rows]


#: frames of at least this many rows are scored by the compiled pass when numba is installed
#: (importing numba and loading the cached kernel costs ~0.3 s once per process)
KERNEL_MIN_ROWS = 65_536

_KERNEL: Any = None

#: frames of at least twice this many rows are split across threads (see `scoring_threads`)
PARALLEL_MIN_ROWS = 131_072


def scoring_threads() -> int:
    """Threads a large frame is scored on: ``$CREDO_SCORING_THREADS``, else the usable cores."""
    raw = os.environ.get("CREDO_SCORING_THREADS", "").strip()
    if raw:
        try:
            threads = int(raw)
        except ValueError:
            raise ValueError(
                f"CREDO_SCORING_THREADS must be a whole number of threads; got {raw!r}"
            ) from None
        if threads < 1:
            raise ValueError(f"CREDO_SCORING_THREADS must be at least 1; got {threads}")
        return threads
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


_POOL: tuple[int, ThreadPoolExecutor] | None = None
_POOL_LOCK = threading.Lock()


def _scoring_pool(threads: int) -> ThreadPoolExecutor:
    """One process-wide pool of `threads` workers (made again when the count changes)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL[0] != threads:
            if _POOL is not None:
                _POOL[1].shutdown(wait=False)
            _POOL = (threads, ThreadPoolExecutor(threads, thread_name_prefix="credo-score"))
        return _POOL[1]


def _kernel(*, required: bool) -> Any:
    """`credo.scoring.kernel` (importing numba the first time), or None without numba."""
    global _KERNEL
    if _KERNEL is None:
        try:
            from credo.scoring import kernel
        except ImportError as e:
            _KERNEL = False
            if required:
                raise ImportError("the compiled scoring pass needs numba") from e
        else:
            _KERNEL = kernel
    if _KERNEL is False and required:
        raise ImportError("the compiled scoring pass needs numba")
    return _KERNEL or None


def _frozen(a: np.ndarray) -> np.ndarray:
    """A read-only, C-contiguous view (numba compiles one loop for one array type)."""
    a = np.ascontiguousarray(a).view()
    a.flags.writeable = False
    return a


class _ObjectTable:
    """Object address -> points for the seeded objects of one text column, read by the
    compiled pass (kind ``O``): open addressing with linear probing, at most half full.
    Every entry's points come from `category_slots` (the text rule) applied to the object.
    """

    kind = "O"

    def __init__(self, kernel: Any, addresses: np.ndarray, points: np.ndarray) -> None:
        self.kernel = kernel
        bits = max(4, (2 * len(addresses) - 1).bit_length())
        self.keys = np.zeros(1 << bits, dtype=np.uintp)
        # one more value: the miss slot the loop reads for an address not in the table
        self.values = np.full((1 << bits) + 1, np.nan)
        self.shift = np.uint64(64 - bits)
        kernel.insert(self.keys, self.values, self.shift, addresses, points)

    def arguments(self) -> list[Any]:
        return [self.keys, self.values, self.shift]

    def unseen(self, addresses: np.ndarray) -> np.ndarray:
        return self.kernel.unseen(addresses, self.keys, self.shift)


class _DirectTable:
    """Object address -> points without collisions (kind ``D``, `kernel.direct_table`)."""

    kind = "D"

    def __init__(self, kernel: Any, table: tuple[np.ndarray, np.ndarray, Any, Any]) -> None:
        self.kernel = kernel
        self.keys, self.values, self.multiplier, self.shift = table

    def arguments(self) -> list[Any]:
        return [self.keys, self.values, self.multiplier, self.shift]

    def unseen(self, addresses: np.ndarray) -> np.ndarray:
        return self.kernel.unseen_direct(addresses, self.keys, self.multiplier, self.shift)


class _CompiledPass:
    """One `PointsScorer.score` through a loop of `credo.scoring.kernel`.

    Text columns are looked up by object: the objects of a sample of rows (the first
    `IDENTITY_MIN_ROWS`, or an evenly spaced wider sample when those hold many) are put
    through the text rule first, into a collision-free table when one is found, else a
    probed one; rows holding other objects are found after the pass and scored with the
    NumPy path (the same rule).
    Columns whose sample looks like mostly distinct objects, and pandas categoricals, are
    scored with the NumPy path and their points handed to the loop.
    """

    def __init__(self, scorer: PointsScorer, kernel: Any, columns: Sequence[Any], n: int) -> None:
        self.scorer, self.kernel, self.n = scorer, kernel, n
        #: per feature, what the NumPy path scores unseen objects' rows on
        self.columns: list[np.ndarray] = []
        self.tables: list[_ObjectTable | _DirectTable | None] = []
        self.kinds: list[str] = []
        for j, (f, raw) in enumerate(zip(scorer.features, columns, strict=True)):
            table = values = None
            if f.dtype == "numerical":
                self.columns.append(np.ascontiguousarray(numeric_column(raw)))
                self.kinds.append("N")
            else:
                if not isinstance(getattr(raw, "dtype", None), pd.CategoricalDtype):
                    values = _object_values(raw)
                    table = self._seed(j, f, values)
                if table is None:  # a categorical dtype, or mostly distinct objects
                    pts = scorer._category_points(j, f, raw if values is None else values)
                    self.columns.append(pts)
                    self.kinds.append("P")
                else:
                    self.columns.append(values)
                    self.kinds.append(table.kind)
            self.tables.append(table)
        features = scorer.features
        self.loop = kernel.loop_for(
            kernel.shape_of(
                "".join(self.kinds),
                [len(f.splits) for f in features],
                [len(f.special_codes) for f in features],
            )
        )
        self._specials = [np.asarray(f.special_codes, dtype=np.float64) for f in scorer.features]

    def _seed(
        self, j: int, f: FeaturePoints, values: np.ndarray
    ) -> _ObjectTable | _DirectTable | None:
        """A table of the objects in a sample of the column; None when they are mostly distinct."""
        addresses = np.asarray(_Addresses(values))
        head = addresses[:IDENTITY_MIN_ROWS]
        seen, rows = np.unique(head, return_index=True)
        if len(seen) * 8 > len(head):  # not a handful: look at a wider sample
            step = max(1, len(addresses) // IDENTITY_SAMPLE)
            sample = addresses[::step]
            seen, rows = np.unique(sample, return_index=True)
            if len(seen) * 2 > len(sample):
                return None
            rows *= step
        # the objects' points by the text rule; a NULL cell (address 0) is never stored
        rows = rows[seen != 0]
        slots = category_slots(self.scorer._cat_maps[j], len(f.points), values[rows])
        points = self.scorer._tables[j].take(slots)
        direct = self.kernel.direct_table(addresses[rows], points)
        if direct is not None:
            return _DirectTable(self.kernel, direct)
        return _ObjectTable(self.kernel, addresses[rows], points)

    def _arguments(self) -> list[tuple[Any, bool]]:
        """The loop's arguments, each with whether it holds one cell per row."""
        args: list[tuple[Any, bool]] = []
        for j, kind in enumerate(self.kinds):
            column, table = self.columns[j], self.tables[j]
            if kind == "N":
                scorer = self.scorer
                shared = [scorer._split_arrays[j], self._specials[j], scorer._tables[j]]
                args += [(column, True), *((a, False) for a in shared)]
            elif table is not None:
                args.append((np.asarray(_Addresses(column)), True))
                args += [(a, False) for a in table.arguments()]
            else:
                args.append((column, True))
        return args

    def run(self) -> np.ndarray:
        out = np.empty(self.n, dtype=np.float64)
        if not self._loop_rows(out):
            return out
        # rows holding objects the sample did not: scored again by the NumPy path
        unseen = [
            table.unseen(np.asarray(_Addresses(self.columns[j])))
            for j, table in enumerate(self.tables)
            if table is not None
        ]
        rows = np.unique(np.concatenate(unseen))
        out[rows] = self.scorer._sum_points([c[rows] for c in self.columns], self._points)
        return out

    def _loop_rows(self, out: np.ndarray) -> int:
        """Run the loop over every row; returns the number of object lookups that missed.

        The loop releases the GIL, so a large frame is cut into contiguous row ranges scored
        by `scoring_threads` threads at once, each writing its own part of `out`. Every row
        is computed by the same operations whatever the range, so the scores do not depend
        on the number of threads.
        """
        args = self._arguments()
        threads = min(scoring_threads(), self.n // PARALLEL_MIN_ROWS)
        if threads <= 1:
            return self.loop(*(a for a, _ in args), out)
        bounds = np.linspace(0, self.n, threads + 1).astype(int)

        def part(lo: int, hi: int) -> int:
            # a row-aligned column is cut with the rows; tables and splits are shared
            return self.loop(*(a[lo:hi] if rowwise else a for a, rowwise in args), out[lo:hi])

        pool = _scoring_pool(threads)
        futures = [pool.submit(part, lo, hi) for lo, hi in itertools.pairwise(bounds)]
        return sum(f.result() for f in futures)

    def _points(self, j: int, f: FeaturePoints, column: np.ndarray) -> np.ndarray:
        if self.kinds[j] == "P":  # computed already
            return column
        return self.scorer._feature_points(j, f, column)


def category_slots(categories: Mapping[str, int], missing: int, values: np.ndarray) -> np.ndarray:
    """`_category_slot` of every value, computed once per distinct value.

    `pd.factorize` codes the values in C and each distinct plain-`str` value is looked up
    once. Values it cannot vouch for -- missing values, and values that are not plain `str`,
    whose texts may differ although it deems them equal (1 and 1.0) -- go through
    `_category_slot` one by one.
    """
    try:
        codes, uniques = pd.factorize(values)
    except TypeError:  # unhashable values: every value by the rule
        return np.asarray([_category_slot(categories, missing, v) for v in values], np.intp)
    # -1 marks values to settle one by one (not plain str); the extra entry is for code -1
    lookup = [categories.get(u, missing) if type(u) is str else -1 for u in uniques]
    slots = np.asarray([*lookup, -1], dtype=np.intp).take(codes)
    odd = slots < 0
    if odd.any():
        slots[odd] = [_category_slot(categories, missing, v) for v in values[odd]]
    return slots


def _category_slot(categories: Mapping[str, int], missing: int, v: Any) -> int:
    """The bin of a categorical value, matched by its text; `missing` when None or unseen."""
    return missing if v is None else categories.get(str(v), missing)


def _to_float(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None if v is None else float(v)
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def _num(x: float) -> str:
    if float(x).is_integer():
        return str(int(x))
    return repr(float(x))


def _str(s: str) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
