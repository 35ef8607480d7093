"""PD bands to grades."""

import numpy as np
import pytest

from credo.scoring.grades import grade_for_pd


@pytest.mark.parametrize(
    ("pd_", "grade"),
    [(0.0, "A"), (0.0049, "A"), (0.005, "B"), (0.0099, "B"), (0.01, "C"), (0.03, "D"),
     (0.05, "E"), (0.15, "F"), (0.2, "G"), (1.0, "G")],
)  # fmt: skip
def test_each_band_includes_its_lower_bound(pd_, grade):
    assert grade_for_pd(pd_) == grade


def test_arrays_are_graded_elementwise():
    assert grade_for_pd(np.array([0.001, 0.5])).tolist() == ["A", "G"]


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_a_pd_outside_0_1_is_refused(bad):
    with pytest.raises(ValueError, match="between 0 and 1"):
        grade_for_pd(bad)
