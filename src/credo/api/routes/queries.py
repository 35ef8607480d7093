"""`POST /v1/scores` and `POST /v1/reports`: what member institutions pay for.

Both go through `credo.access.flows.authorise_query` (querier role, the consent for this
institution, subject, purpose and scope, then the inquiry and a ledger entry) in the same
transaction as the answer: a query that fails after authorisation leaves no inquiry behind.
A refused query is ledgered on its own (``query.refuse``) so refusals are auditable too.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter
from fastapi.responses import Response

from credo.access.flows import authorise_query
from credo.access.keys import Principal
from credo.access.models import Scope
from credo.api.deps import ApiContext, Caller, Context
from credo.api.problems import responses
from credo.api.schemas import ReportQuery, ScoreQuery, ScoreResult, SubjectQuery
from credo.audit import service as audit
from credo.db import utcnow
from credo.errors import CredoError, Forbidden, NotFound
from credo.report.render import render
from credo.report.service import build_report
from credo.report.snapshot import InstitutionData
from credo.scoring import online

router = APIRouter(prefix="/v1", tags=["queries"])

_MEDIA = {"json": "application/json", "html": "text/html; charset=utf-8", "pdf": "application/pdf"}

#: the OpenAPI description of a served report, for every route that serves one
REPORT_200 = {
    "description": "the report",
    "content": {
        "application/json": {"schema": {"type": "object"}},
        "text/html": {"schema": {"type": "string"}},
        "application/pdf": {"schema": {"type": "string", "format": "binary"}},
    },
}


def report_response(payload: bytes, fmt: str, report_id: str, **headers: str) -> Response:
    """A rendered report with its media type, its id and, for a PDF, a file name."""
    headers["X-Report-Id"] = report_id
    if fmt == "pdf":
        headers["Content-Disposition"] = f'attachment; filename="credit-report-{report_id}.pdf"'
    return Response(payload, media_type=_MEDIA[fmt], headers=headers)


class ScoringUnavailable(CredoError):
    status = 503
    type = "https://credo.dev/problems/scoring-unavailable"
    title = "Scoring unavailable"


def _ledger_refusal(
    ctx: ApiContext, who: Principal, body: SubjectQuery, kind: str, exc: CredoError
) -> None:
    """Record a refused query in its own transaction (the query's own was rolled back)."""
    with ctx.transaction() as session:
        audit.record(  # unsealed on the API's sessions, like the allowed queries' entries
            session,
            actor=who.actor,
            action="query.refuse",
            target=f"institution:{who.institution_code}",
            details={
                "kind": kind,
                "status": exc.status,
                "reason": exc.extra.get("reason"),
                "purpose": body.purpose,
                "consent": body.consent_ref.upper()[:32],
            },
        )


def _authorise(ctx: ApiContext, session, who: Principal, body: SubjectQuery, scope: Scope):
    return authorise_query(
        session, who, id_type=body.id_type, id_number=body.id_number, purpose=body.purpose,
        consent_ref=body.consent_ref, scope=scope, keyring=ctx.keyring,
        profile=ctx.settings.jurisdiction,
    )  # fmt: skip


@router.post(
    "/scores",
    response_model=ScoreResult,
    summary="Score a subject",
    description=(
        "The champion model's score, grade, probability of default and reason codes for the "
        "subject identified in the body. Needs the querier role and a valid consent of this "
        "subject to this institution for this purpose covering the score. Writes an inquiry "
        "(hard for new credit decisions) that the subject sees in their report. The score is "
        "computed on the file as it stood before this query's own inquiry. A fraud alert the "
        "subject placed is in `fraud_alert`: confirm who is applying before extending credit."
    ),
    responses=responses(401, 403, 404, 413, 422, 429, 503),
)
def post_score(body: ScoreQuery, ctx: Context, who: Caller) -> Response:
    try:
        # one transaction: the consent, the inquiry, the score and the ledger entries, all
        # written or none (the key was checked by `Caller`, before the body is looked at)
        with ctx.transaction() as session:
            query = _authorise(ctx, session, who, body, Scope.score)
            segment = query.subject.subject_type.value
            as_of = query.at.date()
            model, features = online.champion_and_features(
                session, segment, query.subject.id, as_of, inquiries_before=query.at
            )
            if model is None:
                raise ScoringUnavailable(f"no {segment} scoring model is published yet")
            s = online.score_subject(
                session, subject_id=query.subject.id, subject_ref=query.subject.ref,
                model=model, as_of=as_of, actor=who.actor, inquiries_before=query.at,
                now=utcnow(), features=features,
            )  # fmt: skip
            result = {
                "query_id": query.query_id, "subject_ref": query.subject.ref,
                "scorable": s is not None, "as_of": as_of, "inquiry": query.inquiry.kind.value,
            }  # fmt: skip
            alert = query.flags.fraud_alert
            if alert is not None:
                result["fraud_alert"] = {
                    "placed_on": alert.placed_at.date(), "expires_on": alert.expires_at.date(),
                    "extended": alert.identity_theft_report_sha256 is not None,
                }  # fmt: skip
            if s is not None:
                result |= {
                    "score": s.score, "grade": s.grade, "pd": round(s.pd, 6),
                    "model": model.label, "model_kind": model.kind, "scored_at": s.scored_at,
                    "reasons": orjson.loads(s.reasons), "input_fingerprint": s.input_fingerprint,
                }  # fmt: skip
    except (Forbidden, NotFound) as exc:
        ctx.metrics.queries.labels("score", f"refused_{exc.status}").inc()
        _ledger_refusal(ctx, who, body, "score", exc)
        raise
    ctx.metrics.queries.labels("score", "served").inc()
    # the body FastAPI would make from `response_model` (the same pydantic serialiser), made
    # here: returned as a model, it would be validated again on another trip through the
    # thread pool
    return Response(ScoreResult(**result).model_dump_json(), media_type="application/json")


@router.post(
    "/reports",
    summary="A subject's credit report",
    description=(
        "The subject's credit report as this institution may see it (identity masked for "
        "institutions), as JSON (schema: docs/report.schema.json), HTML or PDF, in Chinese or "
        "English, as of now or a past date. Needs the querier role and a valid consent covering "
        "the report. Writes an inquiry and a `report.serve` ledger entry; the report id is the "
        "query id."
    ),
    responses={
        200: REPORT_200,
        **responses(401, 403, 404, 413, 422, 429),
    },
)
def post_report(body: ReportQuery, ctx: Context, who: Caller) -> Response:
    try:
        with ctx.transaction() as session:
            query = _authorise(ctx, session, who, body, Scope.report)
            doc = build_report(
                session, query.subject.ref, viewer="institution",
                institution=who.institution_code, purpose=body.purpose, as_of=body.as_of,
                lang=body.lang, actor=who.actor, format=body.format, keyring=ctx.keyring,
                now=query.at, report_id=query.query_id, subject_id=query.subject.id,
                querier=InstitutionData(who.institution_code, who.institution_name,
                                        who.institution_kind),
                flags_now=query.flags,
            )  # fmt: skip
            # rendered inside the transaction: a report that cannot be delivered is not
            # ledgered as served
            payload = render(doc, body.format)
    except (Forbidden, NotFound) as exc:
        ctx.metrics.queries.labels("report", f"refused_{exc.status}").inc()
        _ledger_refusal(ctx, who, body, "report", exc)
        raise
    ctx.metrics.queries.labels("report", "served").inc()
    return report_response(payload, body.format, query.query_id)
