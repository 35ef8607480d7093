"""Credit scoring: scorecard and challenger estimators, reason codes, fast scorer, registry."""

from credo.scoring.challenger import Challenger
from credo.scoring.fast import FeaturePoints, PointsScorer
from credo.scoring.protected import ProtectedAttributeError, ProtectedPolicy
from credo.scoring.reasons import Reason, ReasonCatalog, ReasonSpec
from credo.scoring.scorecard import Scorecard

__all__ = [
    "Challenger",
    "FeaturePoints",
    "PointsScorer",
    "ProtectedAttributeError",
    "ProtectedPolicy",
    "Reason",
    "ReasonCatalog",
    "ReasonSpec",
    "Scorecard",
]
