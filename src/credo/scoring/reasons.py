"""Reason codes: the factors that cost a subject the most points, in plain Chinese and English.

For every feature the *cost* of a row is the points of the best bin seen in training minus the
points the row got; the (up to) four costliest features are its reasons (ECOA Reg B §1002.9
allows four key factors; PIPL Art. 24 asks for an explanation of automated decisions). Each
reason has a stable code -- the feature's code plus what is wrong with it: ``H`` too high,
``L`` too low, ``M`` no data, ``S`` a special value, ``C`` an unfavourable category -- so a
reason means the same thing in every model version that uses the feature.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from credo.scoring.protected import normalise_column


@dataclass(frozen=True)
class ReasonSpec:
    """How one feature is named and its values written in reason texts."""

    code: str
    en: str
    zh: str
    #: pct (a ratio shown as %), count, months, money, number
    fmt: str = "number"


@dataclass
class ReasonCatalog:
    """Feature -> ReasonSpec; features not listed get a generic code from their name."""

    specs: Mapping[str, ReasonSpec] = field(default_factory=dict)

    def get(self, feature: str) -> ReasonSpec:
        spec = self.specs.get(feature)
        if spec is not None:
            return spec
        return ReasonSpec("G-" + normalise_column(feature).upper()[:40], feature, feature)


@dataclass(frozen=True)
class Reason:
    """One factor that cost points."""

    code: str
    feature: str
    value: Any
    points: float
    best_points: float
    text_en: str
    text_zh: str

    @property
    def cost(self) -> float:
        return self.best_points - self.points

    def text(self, lang: str = "en") -> str:
        return self.text_zh if lang == "zh" else self.text_en

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code, "feature": self.feature, "value": self.value,
            "points": self.points, "best_points": self.best_points, "cost": self.cost,
            "text_en": self.text_en, "text_zh": self.text_zh,
        }  # fmt: skip


def format_value(value: float, fmt: str, lang: str) -> str:
    if fmt == "pct":
        return f"{value * 100:.0f}%"
    if fmt == "count":
        return f"{value:.0f}"
    if fmt == "months":
        return f"{value:.0f}个月" if lang == "zh" else f"{value:.0f} months"
    if fmt == "money":
        return f"¥{value:,.0f}" if lang == "zh" else f"{value:,.0f}"
    return f"{value:.4g}"


def reason_texts(spec: ReasonSpec, condition: str, value: Any) -> tuple[str, str]:
    """(English, Chinese) text for a feature in a condition (H, L, M, S, C)."""
    if condition == "M":
        return f"{spec.en}: no data on file", f"{spec.zh}：无记录"
    if condition == "C":
        return (f"{spec.en} '{value}' is unfavourable", f"{spec.zh}为“{value}”，不利于评分")
    if condition == "S":
        return f"{spec.en} has a special value ({value})", f"{spec.zh}为特殊值（{value}）"
    en_v, zh_v = format_value(value, spec.fmt, "en"), format_value(value, spec.fmt, "zh")
    gap = " " if spec.zh[-1:].isascii() else ""  # a column name as label: keep a space
    if condition == "H":
        return f"{spec.en} {en_v} is high", f"{spec.zh}{gap}{zh_v}，偏高"
    return f"{spec.en} {en_v} is low", f"{spec.zh}{gap}{zh_v}，偏低"


def explain(
    features: Sequence[Any],
    X: Any,
    points: np.ndarray,
    catalog: ReasonCatalog,
    n: int = 4,
) -> list[list[Reason]]:
    """The `n` costliest features of every row (rows x features `points`), costliest first.

    `features` are fitted `FeatureBinning`s (name, dtype, points, counts, special codes).
    """
    if n < 1:
        raise ValueError(f"n must be at least 1; got {n}")
    best = np.array([_best(f) for f in features])
    cost = best[None, :] - points
    order = np.argsort(-cost, axis=1, kind="stable")[:, :n]
    columns = [X[f.name].to_numpy() for f in features]
    out: list[list[Reason]] = []
    for i in range(points.shape[0]):
        row: list[Reason] = []
        for j in order[i]:
            if cost[i, j] <= 1e-9:
                break
            f = features[j]
            value = _plain(columns[j][i])
            spec = catalog.get(f.name)
            cond = _condition(f, value)
            en, zh = reason_texts(spec, cond, value)
            row.append(Reason(f"{spec.code}-{cond}", f.name, value, float(points[i, j]),
                              float(best[j]), en, zh))  # fmt: skip
        out.append(row)
    return out


def _best(f: Any) -> float:
    """The most points any bin that held training rows gives."""
    seen = [p for p, c in zip(f.points, f.counts, strict=True) if c > 0]
    return max(seen or f.points)


def _plain(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _condition(f: Any, value: Any) -> str:
    if value is None:
        return "M"
    if f.dtype == "categorical":
        return "C"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "M"
    if math.isnan(x):
        return "M"
    if f.special_codes and x in f.special_codes:
        return "S"
    regular = f.points[: f.n_regular]
    # points rising with the value: low values cost points; falling: high values do
    return "L" if regular[-1] > regular[0] else "H"
