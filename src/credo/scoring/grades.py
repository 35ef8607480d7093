"""Grades: fixed PD bands, the same for every model version, so a grade means one thing.

| grade | PD of the score |
|-------|-----------------|
| A     | below 0.5 %     |
| B     | 0.5 % – 1 %     |
| C     | 1 % – 2 %       |
| D     | 2 % – 5 %       |
| E     | 5 % – 10 %      |
| F     | 10 % – 20 %     |
| G     | 20 % and above  |

A band includes its lower bound: a PD of exactly 1 % is grade C.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: (grade, upper PD bound, exclusive)
GRADE_BANDS: tuple[tuple[str, float], ...] = (
    ("A", 0.005), ("B", 0.01), ("C", 0.02), ("D", 0.05), ("E", 0.10), ("F", 0.20), ("G", 1.01),
)  # fmt: skip
_UPPER = np.array([u for _, u in GRADE_BANDS[:-1]])
_NAMES = np.array([g for g, _ in GRADE_BANDS])


def grade_for_pd(pd_: Any) -> Any:
    """The grade of one PD (a str) or of an array of PDs (an array of str)."""
    arr = np.asarray(pd_, dtype=float)
    if np.any((arr < 0) | (arr > 1) | np.isnan(arr)):
        raise ValueError("a PD must be between 0 and 1")
    grades = _NAMES[np.searchsorted(_UPPER, arr, side="right")]
    return str(grades) if grades.ndim == 0 else grades
