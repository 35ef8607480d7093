"""Interoperability: serve a scorecard fitted with optbinning through Credo's fast scorer.

`points_from_optbinning` reads a fitted `optbinning.Scorecard` -- the bins of its own
`BinningProcess` and the points of ``scorecard.table(style="detailed")`` -- into a
`PointsScorer`, whose scores equal ``scorecard.score(X)``: bit for bit when the points are whole
numbers (``rounding=True``), and to the last few ulps otherwise (the only difference is the order
in which floating-point points are added).

How optbinning 1.0 scores, and therefore what the conversion reproduces (read from
``optbinning/scorecard/scorecard.py`` and ``optbinning/binning/transformations.py``):

* ``Scorecard.score`` bins every selected variable to a bin *index* (``metric="indices"``,
  special and missing values to the indices of their own bins) and adds up
  ``Points[index]`` of the variable's rows in the table, then ``intercept_``. Whatever was
  passed to ``fit(metric_special=..., metric_missing=...)`` is already folded into the Points of
  the Special and Missing rows, so numbers and ``"empirical"`` convert alike.
* Numerical bins come from ``np.digitize(x, splits, right=False)``: (-inf, s1), [s1, s2), ...,
  [sk, inf) -- a value equal to a split belongs to the bin on its right, as in `PointsScorer`.
  NaN is Missing (it wins over a special code); +-inf fall in the outer bins.
* Special codes are matched on the raw value; a Missing value takes the last row.
* A category that is neither in a bin, special nor missing gets the index ``cat_unknown``
  (default -1), i.e. ``Points[-1]``: the **Missing** row's points. `PointsScorer` gives unseen
  categories the Missing points too, so the default converts exactly.

What cannot be converted exactly raises `ValueError` naming the setting: ``intercept_based=True``
(a separate intercept that Credo's points tables do not have), several special bins with
different points (``special_codes`` as a dict), ``cat_unknown`` pointing at a bin whose points
differ from Missing, categorical bins of non-text categories, a per-variable ``metric``
override in ``binning_transform_params``, and binnings other than `OptimalBinning` for a binary
target (continuous, multiclass or piecewise).

Credo scores categories by their text and numbers as numbers. Special codes that cannot match a
column of that kind (a number on a categorical variable, text on a numerical one) are left out;
they could only match mixed-type object columns, which Credo reads as text or numbers.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from optbinning import OptimalBinning
from optbinning import Scorecard as OptbScorecard

from credo.scoring.fast import FeaturePoints, PointsScorer

#: texts Credo's scorer produces for missing values (float NaN, pd.NA, NaT); a training category
#: spelled like one of them would catch missing values that optbinning sends to Missing
_MISSING_TEXTS = frozenset({"nan", "<NA>", "NaT"})


def points_from_optbinning(scorecard: OptbScorecard) -> PointsScorer:
    """A `PointsScorer` giving the same scores as a fitted ``optbinning.Scorecard``.

    Parameters
    ----------
    scorecard : optbinning.Scorecard
        A fitted scorecard for a binary target, with any ``scaling_method`` (``"pdo_odds"``,
        ``"min_max"`` or None), ``rounding`` on or off, ``reverse_scorecard`` either way.

    Returns
    -------
    PointsScorer
        One `FeaturePoints` per variable the binning process selected, in optbinning's order,
        with optbinning's splits, categories and points.

    Raises
    ------
    TypeError
        If `scorecard` is not an ``optbinning.Scorecard``.
    sklearn.exceptions.NotFittedError
        If the scorecard is not fitted (a ValueError, raised by optbinning).
    ValueError
        If the scorecard uses a setting whose scores Credo's points table cannot reproduce
        exactly (see the module docstring).
    """
    if not isinstance(scorecard, OptbScorecard):
        raise TypeError(f"expected an optbinning Scorecard; got {type(scorecard).__name__}")
    table = scorecard.table(style="detailed")  # NotFittedError (a ValueError) if not fitted
    if scorecard.intercept_ != 0:
        raise ValueError(
            "intercept_based=True scorecards add a separate intercept "
            f"({scorecard.intercept_}) that a Credo points table does not have; refit with "
            "intercept_based=False (the unrounded scores are the same)"
        )
    process = scorecard.binning_process_
    transform_params = process.binning_transform_params or {}
    features = []
    for name in process.get_support(names=True):
        name = str(name)
        points = table.loc[table["Variable"] == name, "Points"].to_numpy(dtype=np.float64)
        features.append(
            _feature(name, process.get_binned_variable(name), points, transform_params.get(name))
        )
    return PointsScorer(features)


def _feature(
    name: str, optb: Any, points: np.ndarray, params: dict[str, Any] | None
) -> FeaturePoints:
    """One variable: regular bins, then the special bin(s), then Missing, as in the table."""
    if type(optb) is not OptimalBinning:
        raise ValueError(
            f"variable {name!r} is binned with {type(optb).__name__}; only OptimalBinning "
            "(binary target) converts"
        )
    params = params or {}
    if params.get("metric", "indices") not in (None, "indices"):
        raise ValueError(
            f"variable {name!r} has binning_transform_params metric={params['metric']!r}, "
            "which optbinning's own score() cannot apply either"
        )
    if optb.dtype == "numerical":
        splits = tuple(float(s) for s in optb.splits)
        n_bins = len(splits) + 1
    else:
        bins = [list(b) for b in optb.splits]
        n_bins = len(bins)
    codes = optb.special_codes
    groups = list(codes.values()) if isinstance(codes, dict) else [codes or []]
    n_special = len(groups)
    if len(points) != n_bins + n_special + 1:
        raise ValueError(
            f"variable {name!r}: the scorecard table has {len(points)} rows for {n_bins} bins, "
            f"{n_special} special and 1 missing"
        )
    special = points[n_bins : n_bins + n_special]
    missing = points[-1]
    # an *integer* metric_special / metric_missing in binning_transform_params is taken by
    # optbinning's transform as a bin index, and score() then reads that row's points
    override = params.get("metric_special")
    if isinstance(override, int):
        special = np.full(n_special, _row(points, override, name, "metric_special"))
    override = params.get("metric_missing")
    if isinstance(override, int):
        missing = _row(points, override, name, "metric_missing")
    if len(set(special.tolist())) > 1:
        raise ValueError(
            f"variable {name!r} has {n_special} special bins (special_codes as a dict) with "
            f"different points {special.tolist()}; a Credo points table has one special bin"
        )
    special_points = float(special[0])
    flat = [c for g in groups for c in (g if isinstance(g, list | tuple | np.ndarray) else [g])]

    if optb.dtype == "numerical":
        numeric = [
            float(c) for c in flat if isinstance(c, numbers.Real) and not math.isnan(float(c))
        ]
        return FeaturePoints(
            name=name,
            dtype="numerical",
            splits=splits,
            categories=(),
            points=tuple(float(p) for p in points[:n_bins]),
            missing_points=float(missing),
            special_codes=tuple(sorted(set(numeric))),
            special_points=special_points,
        )

    for b in bins:
        for c in b:
            if not isinstance(c, str):
                raise ValueError(
                    f"categorical variable {name!r} has a non-text category {c!r} "
                    f"({type(c).__name__}); Credo matches categories as text, so cast the "
                    "column to str before fitting"
                )
            if c in _MISSING_TEXTS:
                raise ValueError(
                    f"categorical variable {name!r} has the category {c!r}, the text of a "
                    "missing value; rename it before fitting"
                )
    unknown = -1 if optb.cat_unknown is None else optb.cat_unknown
    if not isinstance(unknown, int):
        raise ValueError(
            f"variable {name!r} has cat_unknown={unknown!r}; optbinning's score() needs an "
            "integer bin index there"
        )
    unseen = _row(points, unknown, name, "cat_unknown")
    if unseen != missing:
        raise ValueError(
            f"variable {name!r} has cat_unknown={unknown}: optbinning gives unseen categories "
            f"the points of that bin ({unseen}), Credo gives them Missing's ({float(missing)})"
        )
    categories = [tuple(b) for b in bins]
    regular = [float(p) for p in points[:n_bins]]
    # text special codes become one more bin; it comes last, so it wins over a regular bin
    # listing the same text, as optbinning's special mask wins over its bins
    text_codes = tuple(dict.fromkeys(c for c in flat if isinstance(c, str)))
    if text_codes:
        categories.append(text_codes)
        regular.append(special_points)
    return FeaturePoints(
        name=name,
        dtype="categorical",
        splits=(),
        categories=tuple(categories),
        points=tuple(regular),
        missing_points=float(missing),
        special_points=special_points,
    )


def _row(points: np.ndarray, index: int, name: str, setting: str) -> float:
    """``points[index]`` with NumPy's indexing (negative counts from the end), or a ValueError."""
    if not -len(points) <= index < len(points):
        raise ValueError(
            f"variable {name!r}: {setting}={index} is not a bin index (the table has "
            f"{len(points)} rows)"
        )
    return float(points[index])
