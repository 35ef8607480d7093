"""A subject's credit repair plan (``/v1/me/repair-plan``), with their subject access credential.

The plan is computed on the champion model of the subject's segment from their records as of
today (`credo.repair.plan`); serving it is a read of personal data, one ledger entry.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from credo.api.deps import Context
from credo.api.problems import responses
from credo.api.repair_schemas import RepairPlanOut
from credo.api.routes.me import Me
from credo.db import utcnow
from credo.repair import plan as repair

router = APIRouter(prefix="/v1/me", tags=["subject access (/v1/me)"])


@router.get(
    "/repair-plan",
    response_model=RepairPlanOut,
    summary="My credit repair plan",
    description=(
        "What you can do to raise your credit score -- pay revolving balances down below 50 %, "
        "30 % or 10 % of your limits, pay an amount overdue now, make no new applications for "
        "credit for 3, 6 or 12 months, pay every account on time for 6, 12 or 24 months, or all "
        "of these -- each with the score, grade and probability of default it would reach on "
        "the bureau's current model, ordered by the points gained. Actions that would not raise "
        "your score are left out. A plan never removes accurate negative information; if a "
        "record is wrong, dispute it. 404 when you have no credit account on file; 409 when the "
        "bureau has no model for your segment."
    ),
    responses=responses(401, 404, 409, 422, 429),
)
def my_repair_plan(
    ctx: Context,
    me: Me,
    response: Response,
    lang: Annotated[Literal["zh", "en"], Query(description="texts and labels")] = "zh",
) -> RepairPlanOut:
    with ctx.transaction() as session:
        plan = repair.serve(
            session, me.subject_id, actor=me.actor, channel="api", as_of=utcnow().date(),
            lang=lang,
        )  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    return RepairPlanOut.model_validate(repair.to_dict(plan))
