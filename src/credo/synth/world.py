"""Calendar, parameters and the per-subject record container of the synthetic story."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from credo.synth.reference import INSTITUTIONS

__all__ = [
    "History",
    "StoryParams",
    "World",
    "lognormal",
    "month_index",
    "period_of",
    "poisson",
    "sigmoid",
]

EXP = math.exp


@dataclass(frozen=True, slots=True)
class StoryParams:
    """The knobs of the story; the defaults give ~170 monthly statuses per subject."""

    history_months: tuple[int, int] = (24, 60)  # first account opens this long before as_of
    accounts_mean: float = 6.0  # 1 + Poisson(accounts_mean - 1), at most max_accounts
    max_accounts: int = 8
    miss_intercept: float = -6.2  # a
    miss_z: float = 1.1  # b
    miss_macro: float = 1.2  # c
    miss_util: float = 1.2  # d
    cure_intercept: float = 1.5  # e
    cure_z: float = -1.0  # f
    cure_k: float = -0.35  # g
    stay_share: float = 0.15  # of the non-curing months: one instalment paid, bucket kept
    chargeoff_cycles: int = 6  # 6 x 30 = 180 days past due
    util_intercept: float = -1.0
    util_z: float = 0.7
    util_concentration: float = 6.0
    close_rate: float = 0.003  # monthly voluntary closure of a revolving line after a year
    prepay_rate: float = 0.005  # monthly early repayment of an instalment loan
    hard_inquiry_rate: float = 0.015  # extra applications per month at z = 0
    inquiry_z: float = 0.7


def month_index(d: date) -> int:
    return d.year * 12 + d.month - 1


def period_of(mi: int) -> str:
    return f"{mi // 12:04d}-{mi % 12 + 1:02d}"


class World:
    """Calendar, macro shock and reference counters shared by all subjects of a run."""

    def __init__(self, as_of: date, rng: random.Random, params: StoryParams) -> None:
        self.as_of = as_of
        self.params = params
        self.last = month_index(as_of)
        self.first = self.last - params.history_months[1] - 1
        # One downturn, 12-30 months before as_of, about five months wide, plus the
        # post-Spring-Festival cash squeeze every February.
        centre = self.last - rng.randint(12, 30)
        self.shock = [
            EXP(-(((m - centre) / 5.0) ** 2)) + (0.25 if m % 12 == 1 else 0.0)
            for m in range(self.first, self.last + 1)
        ]
        # the macro part of the miss logit, c * shock(month), by month offset from ``first``
        self.macro = [params.miss_macro * s for s in self.shock]
        self.periods = [period_of(m) for m in range(self.first, self.last + 1)]
        self._counters: dict[str, int] = defaultdict(int)

    def next_ref(self, prefix: str) -> str:
        self._counters[prefix] += 1
        return f"{prefix}{self._counters[prefix]:08d}"

    def day(self, mi: int, day: int) -> date:
        """A date in month ``mi``, never after as_of."""
        d = date(mi // 12, mi % 12 + 1, min(day, 28))
        return d if d <= self.as_of else self.as_of


@dataclass(slots=True)
class History:
    """Everything one subject produces, grouped by the furnishing institution."""

    accounts: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    # per institution, one list of status rows per account, in account order
    statuses: dict[str, list[list[dict]]] = field(default_factory=lambda: defaultdict(list))
    inquiries: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    public_records: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    ever_90dpd: bool = False
    first_90dpd: str = ""
    # (date, balance) of every charge-off, for the court records that follow
    charge_offs: list[tuple[date, float]] = field(default_factory=list)

    def institutions(self) -> list[str]:
        """The institutions that hold any record of the subject, in the canonical order."""
        used = self.accounts.keys() | self.inquiries.keys() | self.public_records.keys()
        return [inst.code for inst in INSTITUTIONS if inst.code in used]


def lognormal(rng: random.Random, median: float, sigma: float, step: int) -> float:
    """A log-normal amount around ``median``, rounded to ``step``."""
    return max(step, round(median * EXP(rng.gauss(0.0, sigma)) / step) * step)


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth's method: the rates here are small; the stdlib has none)."""
    limit, k, prod = EXP(-lam), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + EXP(-x))
