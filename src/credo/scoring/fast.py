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

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
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
        self._point_arrays = [np.asarray(f.points, dtype=np.float64) for f in self.features]
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
            pts = self._point_arrays[j][np.searchsorted(self._split_arrays[j], x, side="right")]
            pts[np.isnan(x)] = f.missing_points
            if f.special_codes:
                pts[np.isin(x, f.special_codes)] = f.special_points
            return pts
        series = pd.Series(raw.to_numpy() if hasattr(raw, "to_numpy") else raw, dtype=object)
        idx = series.map(lambda v: None if v is None else self._cat_maps[j].get(str(v)))
        codes = idx.to_numpy(dtype=np.float64, na_value=np.nan)
        known = ~np.isnan(codes)
        pts = np.full(len(codes), f.missing_points, dtype=np.float64)
        pts[known] = self._point_arrays[j][codes[known].astype(np.int64)]
        return pts

    def score(self, X: Any) -> np.ndarray:
        """The score of every row: the sum of its points."""
        return self.points_matrix(X).sum(axis=1)

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
