"""``/v1/me``: a subject's own report, inquiries and consents, with a subject access credential.

A subject authenticates with the credential an operator issued after checking who they are
(``credo subject-access issue``); it names one subject and every route here answers about that
subject only: nothing in a path or query says whose data to read. Credentials are
rate-limited like API keys. An institution's API key here, or a subject's credential on an
institution route, is 401: the token is not a credential of that realm, whatever it holds.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import and_, or_, select

from credo.access import consent as consents
from credo.access import subject_access
from credo.access.models import Consent
from credo.access.self_query import authorise_self_query
from credo.access.subject_access import SubjectPrincipal
from credo.api.deps import Context
from credo.api.limits import TooManyRequests
from credo.api.me_schemas import InstitutionOut, MyConsent, MyConsentPage, MyInquiry, MyInquiryPage
from credo.api.problems import responses
from credo.api.routes.queries import REPORT_200, report_response
from credo.api.routes.records import (
    ConsentRef,
    Cursor,
    Limit,
    decode_cursor,
    encode_cursor,
    within,
)
from credo.audit import service as audit
from credo.db import utcnow
from credo.errors import Forbidden, Invalid, NotFound, Unauthorized
from credo.inquiry.models import Inquiry
from credo.institution.models import Institution
from credo.report.render import render
from credo.report.service import build_report

router = APIRouter(prefix="/v1/me", tags=["subject access (/v1/me)"])

#: personal data: no shared cache may keep a copy
_NO_STORE = {"Cache-Control": "no-store"}

_subject_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="SubjectCredential",
    bearerFormat="credo_U<credential id>_<secret>",
    description=(
        "A subject access credential (`credo subject-access issue`), sent as `Bearer <token>`."
    ),
)


def subject_caller(
    ctx: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_subject_bearer)],
) -> SubjectPrincipal:
    """The subject calling, from their bearer token; 401 when it is missing, not a subject
    access credential, wrong, revoked or expired; 429 over the credential's rate limit."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("send your subject access credential as 'Authorization: Bearer <token>'")
    with ctx.transaction() as session:
        me = subject_access.authenticate(session, credentials.credentials, at=utcnow())
    try:
        ctx.limiter.take(me.credential_id)
    except TooManyRequests as exc:
        raise TooManyRequests(
            f"subject access credential {me.credential_id} is over its limit; "
            f"retry after {exc.retry_after} s",
            retry_after=exc.retry_after,
        ) from None
    return me


Me = Annotated[SubjectPrincipal, Depends(subject_caller)]


def record_read(session, me: SubjectPrincipal, action: str, rows: int | None = None) -> None:
    """Ledger a subject's read of their own data (every read of personal data is one entry)."""
    details = None if rows is None else {"rows": rows}
    audit.record(session, actor=me.actor, action=action, target=f"subject:{me.subject_ref}",
                 details=details)  # fmt: skip


def _institution(inst: Institution) -> InstitutionOut:
    return InstitutionOut(code=inst.code, name=inst.name, kind=inst.kind.value)


@router.get(
    "/report",
    summary="My credit report",
    description=(
        "Your own credit report with your full identity, as JSON (schema: "
        "docs/report.schema.json), HTML or PDF, in Chinese or English. Each report is a soft "
        "`self_query` inquiry (it never lowers a score) and counts against your free reports "
        "for the calendar year (UTC): 2 a year in the `cn` profile, 1 in `us`. Past them the "
        "answer is 403 with reason `free_report_quota` and `next_free_report`, the date the "
        "next one is available; nothing is recorded. `X-Free-Reports-Remaining` says how many "
        "are left this year."
    ),
    responses={
        200: REPORT_200,
        **responses(401, 403, 422, 429),
    },
)
def my_report(
    ctx: Context,
    me: Me,
    format: Annotated[Literal["json", "html", "pdf"], Query(description="what to answer")] = "json",
    lang: Annotated[Literal["zh", "en"], Query(description="labels and texts")] = "zh",
) -> Response:
    at = utcnow()
    try:
        with ctx.transaction() as session:
            query = authorise_self_query(session, me, profile=ctx.settings.jurisdiction, at=at)
            doc = build_report(
                session, me.subject_ref, viewer="subject", purpose="self_query", lang=lang,
                actor=me.actor, format=format, keyring=ctx.keyring,
                now=at, report_id=query.query_id,
            )  # fmt: skip
            # rendered inside the transaction: a report that cannot be delivered is neither
            # ledgered as served nor counted against the quota
            payload = render(doc, format)
    except Forbidden:
        ctx.metrics.queries.labels("self_report", "refused_403").inc()
        raise
    ctx.metrics.queries.labels("self_report", "served").inc()
    return report_response(
        payload, format, query.query_id, **_NO_STORE,
        **{"X-Free-Reports-Remaining": str(query.remaining)},
    )  # fmt: skip


@router.get(
    "/inquiries",
    response_model=MyInquiryPage,
    summary="Who looked at my file",
    description=(
        "Every inquiry on your file, newest first: the institution (code and name), the date, "
        "the purpose and whether it was hard (an application for credit, counted in scores) or "
        "soft. Your own reports show as `self_query` by the bureau. Filter by date with "
        "`since` / `until` (inclusive)."
    ),
    responses=responses(401, 422, 429),
)
def my_inquiries(
    ctx: Context,
    me: Me,
    response: Response,
    limit: Limit = 100,
    cursor: Cursor = None,
    since: date | None = None,
    until: date | None = None,
) -> MyInquiryPage:
    after = decode_cursor(cursor)
    stmt = (
        select(Inquiry, Institution)
        .join(Institution, Institution.id == Inquiry.institution_id)
        .where(Inquiry.subject_id == me.subject_id)
        .order_by(Inquiry.inquired_on.desc(), Inquiry.id.desc())
        .limit(limit + 1)
    )
    stmt = within(stmt, Inquiry.inquired_on, since, until)
    with ctx.transaction() as session:
        if after is not None:
            # newest first is by date, so the cursor's row gives the date to continue from;
            # a row of another subject reads like a cursor this API never issued
            last = session.scalar(
                select(Inquiry.inquired_on).where(
                    Inquiry.id == after, Inquiry.subject_id == me.subject_id
                )
            )
            if last is None:
                raise Invalid("cursor is not one this API issued; start again without it")
            stmt = stmt.where(
                or_(
                    Inquiry.inquired_on < last,
                    and_(Inquiry.inquired_on == last, Inquiry.id < after),
                )
            )
        rows = session.execute(stmt).all()
        record_read(session, me, "inquiries.read", min(len(rows), limit))
    items = [
        MyInquiry(id=q.id, inquired_on=q.inquired_on, institution=_institution(inst),
                  purpose=q.purpose, kind=q.kind.value)
        for q, inst in rows[:limit]
    ]  # fmt: skip
    response.headers.update(_NO_STORE)
    nxt = encode_cursor(rows[limit - 1][0].id) if len(rows) > limit else None
    return MyInquiryPage(items=items, next_cursor=nxt)


def _consent_out(c: Consent, inst: Institution) -> MyConsent:
    return MyConsent(
        ref=c.ref, institution=_institution(inst), purpose=c.purpose.value, scope=c.scope.value,
        granted_at=c.granted_at, expires_at=c.expires_at, revoked_at=c.revoked_at,
        status=consents.status(c, utcnow()),
    )  # fmt: skip


@router.get(
    "/consents",
    response_model=MyConsentPage,
    summary="My consents",
    description=(
        "Every consent you gave to an institution, newest first: purpose, scope (report, score "
        "or both), when it was granted, when it expires or was revoked, and its status."
    ),
    responses=responses(401, 422, 429),
)
def my_consents(
    ctx: Context, me: Me, response: Response, limit: Limit = 100, cursor: Cursor = None
) -> MyConsentPage:
    after = decode_cursor(cursor)
    stmt = (
        select(Consent, Institution)
        .join(Institution, Institution.id == Consent.institution_id)
        .where(Consent.subject_id == me.subject_id)
        .order_by(Consent.id.desc())
        .limit(limit + 1)
    )
    if after is not None:
        stmt = stmt.where(Consent.id < after)
    with ctx.transaction() as session:
        rows = session.execute(stmt).all()
        record_read(session, me, "consents.read", min(len(rows), limit))
    response.headers.update(_NO_STORE)
    nxt = encode_cursor(rows[limit - 1][0].id) if len(rows) > limit else None
    return MyConsentPage(items=[_consent_out(c, i) for c, i in rows[:limit]], next_cursor=nxt)


@router.post(
    "/consents/{ref}/revoke",
    response_model=MyConsent,
    summary="Revoke one of my consents",
    description=(
        "From now on the institution's queries under this consent are refused (403, reason "
        "`revoked`). A consent already revoked is 409; a ref that is not one of your consents "
        "is 404, in the same words whether or not it exists."
    ),
    responses=responses(401, 404, 409, 422, 429),
)
def revoke_my_consent(ref: ConsentRef, ctx: Context, me: Me) -> MyConsent:
    with ctx.transaction() as session:
        c = session.scalar(select(Consent).where(Consent.ref == ref.upper()))
        if c is None or c.subject_id != me.subject_id:
            raise NotFound(f"you have no consent {ref.upper()} on file")
        c = consents.revoke(session, ref=c.ref, actor=me.actor, at=utcnow())
        inst = session.get(Institution, c.institution_id)
        return _consent_out(c, inst)
