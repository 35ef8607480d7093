"""An institution's own consents and inquiries: create, list (paginated), revoke.

Lists are newest first and paginated by an opaque cursor (keyset on the row id, so a page is
stable while new rows arrive). An institution sees only its own rows; a consent ref of another
institution answers exactly like an unknown one.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from sqlalchemy import Select, select

from credo.access import consent as consents
from credo.access.flows import find_subject
from credo.access.keys import require_role
from credo.access.models import Consent, Purpose, Role
from credo.api.deps import Caller, Context
from credo.api.problems import responses
from credo.api.schemas import (
    CONSENT_REF,
    ConsentCreate,
    ConsentOut,
    ConsentPage,
    InquiryOut,
    InquiryPage,
    QueryPurpose,
)
from credo.db import utcnow
from credo.errors import Invalid, NotFound
from credo.inquiry.models import Inquiry
from credo.subject.models import Subject

router = APIRouter(prefix="/v1", tags=["consents and inquiries"])

Limit = Annotated[int, Query(ge=1, le=500, description="rows per page")]
Cursor = Annotated[
    str | None, Query(max_length=64, description="`next_cursor` of the previous page")
]
ConsentRef = Annotated[str, Path(pattern=CONSENT_REF, description="the consent's ref")]


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The row id a cursor continues after; Invalid for anything this API did not issue."""
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        # ASCII digits only, and within a BIGINT: a larger number would fail in the database
        if kind != "id" or not (value.isascii() and value.isdigit()) or len(value) > 18:
            raise ValueError
        return int(value)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise Invalid("cursor is not one this API issued; start again without it") from None


def within(stmt: Select, column, since: date | None, until: date | None) -> Select:
    """`stmt` limited to rows whose `column` lies in [since, until] (either end open);
    Invalid when the range is empty."""
    if since and until and since > until:
        raise Invalid(f"since ({since}) is after until ({until})")
    if since is not None:
        stmt = stmt.where(column >= since)
    if until is not None:
        stmt = stmt.where(column <= until)
    return stmt


def _next(rows: list, limit: int) -> str | None:
    """The cursor after a page fetched with one row more than asked for."""
    return encode_cursor(rows[limit - 1][0].id) if len(rows) > limit else None


def _consent_out(c: Consent, subject_ref: str, institution: str) -> ConsentOut:
    return ConsentOut(
        ref=c.ref, subject_ref=subject_ref, institution=institution, purpose=c.purpose.value,
        scope=c.scope.value, granted_at=c.granted_at, expires_at=c.expires_at,
        revoked_at=c.revoked_at, status=consents.status(c), evidence_sha256=c.evidence_sha256,
    )  # fmt: skip


@router.post(
    "/consents",
    status_code=status.HTTP_201_CREATED,
    response_model=ConsentOut,
    summary="Record a subject's consent",
    description=(
        "Record the consent this institution collected from the subject, with the SHA-256 of "
        "the signed document as evidence. The returned `ref` goes into report and score "
        "queries. Needs the querier role. The subject must have a credit file (404 otherwise, "
        "worded the same whether or not the person is known anywhere)."
    ),
    responses=responses(401, 403, 404, 413, 422, 429),
)
def create_consent(body: ConsentCreate, ctx: Context, who: Caller) -> ConsentOut:
    require_role(who, Role.querier)
    with ctx.transaction() as session:
        subject = find_subject(session, ctx.keyring, id_type=body.id_type, id_number=body.id_number)
        c = consents.grant(
            session, subject_ref=subject.ref, institution_code=who.institution_code,
            purpose=body.purpose, scope=body.scope.value, expires_at=body.expires_at,
            evidence_sha256=body.evidence_sha256, actor=who.actor, granted_at=body.granted_at,
        )  # fmt: skip
        return _consent_out(c, subject.ref, who.institution_code)


@router.get(
    "/consents",
    response_model=ConsentPage,
    summary="This institution's consents",
    responses=responses(401, 403, 422, 429),
)
def list_consents(
    ctx: Context,
    who: Caller,
    limit: Limit = 100,
    cursor: Cursor = None,
    purpose: Annotated[QueryPurpose | None, Query(description="only consents for this")] = None,
) -> ConsentPage:
    require_role(who, Role.querier)
    after = decode_cursor(cursor)
    stmt = (
        select(Consent, Subject.ref)
        .join(Subject, Subject.id == Consent.subject_id)
        .where(Consent.institution_id == who.institution_id)
        .order_by(Consent.id.desc())
        .limit(limit + 1)
    )
    if purpose is not None:
        stmt = stmt.where(Consent.purpose == Purpose(purpose))
    if after is not None:
        stmt = stmt.where(Consent.id < after)
    with ctx.transaction() as session:
        rows = session.execute(stmt).all()
    items = [_consent_out(c, ref, who.institution_code) for c, ref in rows[:limit]]
    return ConsentPage(items=items, next_cursor=_next(rows, limit))


def _own_consent(session, who, ref: str) -> Consent:
    c = session.scalar(select(Consent).where(Consent.ref == ref.upper()))
    if c is None or c.institution_id != who.institution_id:
        raise NotFound(f"no consent {ref.upper()} given to {who.institution_code}")
    return c


@router.get(
    "/consents/{ref}",
    response_model=ConsentOut,
    summary="One of this institution's consents",
    responses=responses(401, 403, 404, 422, 429),
)
def get_consent(ref: ConsentRef, ctx: Context, who: Caller) -> ConsentOut:
    require_role(who, Role.querier)
    with ctx.transaction() as session:
        c = _own_consent(session, who, ref)
        subject_ref = session.scalar(select(Subject.ref).where(Subject.id == c.subject_id))
        return _consent_out(c, subject_ref, who.institution_code)


@router.post(
    "/consents/{ref}/revoke",
    response_model=ConsentOut,
    summary="Revoke a consent",
    description="From now on, queries under this consent are refused (403, reason `revoked`).",
    responses=responses(401, 403, 404, 409, 422, 429),
)
def revoke_consent(ref: ConsentRef, ctx: Context, who: Caller) -> ConsentOut:
    require_role(who, Role.querier)
    with ctx.transaction() as session:
        c = _own_consent(session, who, ref)
        c = consents.revoke(session, ref=c.ref, actor=who.actor, at=utcnow())
        subject_ref = session.scalar(select(Subject.ref).where(Subject.id == c.subject_id))
        return _consent_out(c, subject_ref, who.institution_code)


@router.get(
    "/inquiries",
    response_model=InquiryPage,
    summary="This institution's own queries",
    description=(
        "Every inquiry this institution made, newest first: through this API and as furnished. "
        "Filter by date with `since` / `until` (inclusive)."
    ),
    responses=responses(401, 403, 422, 429),
)
def list_inquiries(
    ctx: Context,
    who: Caller,
    limit: Limit = 100,
    cursor: Cursor = None,
    since: date | None = None,
    until: date | None = None,
) -> InquiryPage:
    require_role(who, Role.querier)
    after = decode_cursor(cursor)
    stmt = (
        select(Inquiry, Subject.ref)
        .join(Subject, Subject.id == Inquiry.subject_id)
        .where(Inquiry.institution_id == who.institution_id)
        .order_by(Inquiry.id.desc())
        .limit(limit + 1)
    )
    stmt = within(stmt, Inquiry.inquired_on, since, until)
    if after is not None:
        stmt = stmt.where(Inquiry.id < after)
    with ctx.transaction() as session:
        rows = session.execute(stmt).all()
    items = [
        InquiryOut(id=q.id, subject_ref=ref, inquired_on=q.inquired_on, recorded_at=q.recorded_at,
                   purpose=q.purpose, kind=q.kind.value, source=q.source.value)
        for q, ref in rows[:limit]
    ]  # fmt: skip
    return InquiryPage(items=items, next_cursor=_next(rows, limit))
