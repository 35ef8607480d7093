"""Response body of ``GET /v1/me/repair-plan``: a subject's own credit repair plan."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field


class PlanReason(BaseModel):
    """One factor that costs the subject points now."""

    code: str = Field(description="stable reason code, e.g. AO01-H")
    feature: str
    value: Any = Field(description="the feature's value (null: no data)")
    text: str


class CurrentScore(BaseModel):
    """The subject's score now, on the champion the plan is computed with."""

    score: float
    grade: str
    pd: float = Field(description="probability of default of the score")
    reasons: list[PlanReason]


class FeatureChangeOut(BaseModel):
    """One feature the action moves."""

    feature: str
    label: str
    from_: float | None = Field(alias="from", description="the value now")
    to: float | None = Field(description="the value once the action has played out")

    model_config = {"populate_by_name": True, "serialize_by_alias": True}


class PlanAction(BaseModel):
    """One thing the subject can do, and where it would take their score."""

    code: str = Field(description="stable: UTIL-50/30/10, OVERDUE-CLEAR, INQ-3M/6M/12M, "
                      "CURRENT-6M/12M/24M, ALL-12M")  # fmt: skip
    text: str
    months: int = Field(description="months until the predicted score (0: once it is reported)")
    reached_on: date
    amount: float | None = Field(description="what to pay now, in yuan (null: nothing)")
    score: float = Field(description="the predicted score")
    grade: str
    pd: float
    gain: float = Field(description="points gained over the current score")
    changes: list[FeatureChangeOut]


class RepairPlanOut(BaseModel):
    """The subject's repair plan: actions ordered by gain, largest first."""

    subject: str = Field(description="your subject reference")
    segment: str
    model: str = Field(description="the champion model version the scores are computed with")
    as_of: date
    lang: str
    current: CurrentScore
    actions: list[PlanAction]
    note: str = Field(description="accurate negative information is never removed by a plan")
