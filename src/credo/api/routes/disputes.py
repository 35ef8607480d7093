"""Disputes over the API: subjects file (``/v1/me/disputes``), furnishers answer
(``/v1/disputes``), operators decide (``/v1/operator/disputes``).

A subject reaches only their own disputes and a furnisher only those it must answer: any other
ref answers 404 in the same words as an unknown one. The lifecycle and its rules live in
`credo.rights.disputes`; these routes authenticate, shape and ledger reads.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from credo.access.keys import require_role
from credo.access.models import Role
from credo.api.deps import Caller, Context
from credo.api.dispute_schemas import (
    DISPUTE_REF,
    AnswerCreate,
    DecisionCreate,
    DisputeCreate,
    DisputeOut,
    DisputePage,
    EscalationOut,
    EventOut,
    FurnisherDisputeOut,
    FurnisherDisputePage,
    InformationCreate,
    OperatorDisputeOut,
    OperatorDisputePage,
)
from credo.api.problems import responses
from credo.api.routes.me import Me, record_read
from credo.api.routes.records import Cursor, Limit, decode_cursor, encode_cursor
from credo.audit import service as audit
from credo.db import utcnow
from credo.institution.models import Institution
from credo.rights import disputes as service
from credo.rights.models import Dispute, DisputeStatus
from credo.subject.models import Subject

me_router = APIRouter(prefix="/v1/me", tags=["subject access (/v1/me)"])
furnisher_router = APIRouter(prefix="/v1/disputes", tags=["disputes"])
operator_router = APIRouter(prefix="/v1/operator/disputes", tags=["disputes"])
routers = (me_router, furnisher_router, operator_router)

DisputeRef = Annotated[str, Path(pattern=DISPUTE_REF, description="the dispute's ref")]
#: personal data: no shared cache may keep a copy
_NO_STORE = {"Cache-Control": "no-store"}


def _codes(session: Session, ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    rows = session.execute(select(Institution.id, Institution.code).where(Institution.id.in_(ids)))
    return dict(rows.all())


def _subject_refs(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(select(Subject.id, Subject.ref).where(Subject.id.in_(ids)))
    return dict(rows.all())


def _next(rows: list[Dispute], limit: int) -> str | None:
    return encode_cursor(rows[limit - 1].id) if len(rows) > limit else None


def _history(session: Session, d: Dispute) -> list[EventOut]:
    return [
        EventOut(at=e.at, kind=e.kind, by=service.by_whom(e), note=e.note,
                 evidence_sha256=e.evidence_sha256, detail=service.events_detail(e))
        for e in service.history(session, dispute=d)
    ]  # fmt: skip


def _mine(ctx, session: Session, d: Dispute, codes: dict[int, str], *, full: bool) -> DisputeOut:
    return DisputeOut(
        ref=d.ref, record_type=d.record_type.value, institution=codes.get(d.institution_id),
        period=f"{d.period:%Y-%m}" if d.period else None, field=d.field, status=d.status.value,
        outcome=d.outcome.value if d.outcome else None, filed_at=d.filed_at, due_on=d.due_on,
        extended=d.extended_at is not None, escalated=d.escalated_at is not None,
        answer=d.answer.value if d.answer else None, decision_note=d.decision_note,
        closed_at=d.closed_at, reason=service.reason(d, ctx.keyring),
        evidence_sha256=d.evidence_sha256, history=_history(session, d) if full else None,
    )  # fmt: skip


# -- the subject ---------------------------------------------------------------------------------
@me_router.get(
    "/disputes",
    response_model=DisputePage,
    summary="My disputes",
    description="Every dispute you filed, newest first, with its status and due date.",
    responses=responses(401, 422, 429),
)
def my_disputes(
    ctx: Context, me: Me, response: Response, limit: Limit = 100, cursor: Cursor = None
) -> DisputePage:
    after = decode_cursor(cursor)
    with ctx.transaction() as session:
        rows = service.list_for_subject(
            session, subject_id=me.subject_id, limit=limit + 1, after=after
        )
        codes = _codes(session, {d.institution_id for d in rows})
        items = [_mine(ctx, session, d, codes, full=False) for d in rows[:limit]]
        record_read(session, me, "dispute.read", len(items))
    response.headers.update(_NO_STORE)
    return DisputePage(items=items, next_cursor=_next(rows, limit))


@me_router.post(
    "/disputes",
    status_code=status.HTTP_201_CREATED,
    response_model=DisputeOut,
    summary="Dispute a record of my report",
    description=(
        "Name the record by what your report shows: `status` by institution, account_ref and "
        "period (YYYY-MM); `account` by institution and account_ref; `public_record` by "
        "institution and case_ref (and kind); `inquiry` by its id in `GET /v1/me/inquiries`; "
        "`identity` by field (name, birth_date, phone, address). The record is marked disputed "
        "in every report at once; the furnisher (the bureau for identity and your own report "
        "inquiries) must answer, and the dispute closes by `due_on` (20 days in the `cn` "
        "profile, 30 in `us`). A record that is not on your file is 404 `record_not_found`; a "
        "record with an open dispute is 409 `dispute_already_open` naming it."
    ),
    responses=responses(401, 404, 409, 413, 422, 429),
)
def file_dispute(body: DisputeCreate, ctx: Context, me: Me, response: Response) -> DisputeOut:
    name = service.RecordName(
        record_type=body.record_type, institution=body.institution, account_ref=body.account_ref,
        period=body.period, case_ref=body.case_ref, kind=body.kind, inquiry_id=body.inquiry_id,
        field=body.field,
    )  # fmt: skip
    with ctx.transaction() as session:
        d = service.file(
            session, keyring=ctx.keyring, subject_id=me.subject_id, name=name,
            reason=body.reason, evidence_sha256=body.evidence_sha256,
            profile=ctx.settings.jurisdiction, actor=me.actor, now=utcnow(),
        )  # fmt: skip
        out = _mine(ctx, session, d, _codes(session, {d.institution_id}), full=True)
    response.headers.update(_NO_STORE)
    return out


@me_router.get(
    "/disputes/{ref}",
    response_model=DisputeOut,
    summary="One of my disputes, with its history",
    responses=responses(401, 404, 422, 429),
)
def my_dispute(ref: DisputeRef, ctx: Context, me: Me, response: Response) -> DisputeOut:
    """The dispute with its whole history: filed, extended, answered, escalated, decided, each
    with when and who (the subject, the furnisher, or the bureau). Another subject's dispute
    answers 404 like an unknown reference."""
    with ctx.transaction() as session:
        d = service.get_for_subject(session, subject_id=me.subject_id, ref=ref)
        out = _mine(ctx, session, d, _codes(session, {d.institution_id}), full=True)
        audit.record(session, actor=me.actor, action="dispute.read", target=d.ref)
    response.headers.update(_NO_STORE)
    return out


@me_router.post(
    "/disputes/{ref}/information",
    response_model=DisputeOut,
    summary="Bring new information to my dispute",
    description=(
        "Hand the document to the bureau and send its SHA-256 here. In the `us` profile the "
        "first new information before the due date extends it once by 15 days; in `cn` it is "
        "recorded without extension. A closed dispute is 409 `dispute_closed`."
    ),
    responses=responses(401, 404, 409, 422, 429),
)
def add_information(
    ref: DisputeRef, body: InformationCreate, ctx: Context, me: Me, response: Response
) -> DisputeOut:
    with ctx.transaction() as session:
        d = service.get_for_subject(session, subject_id=me.subject_id, ref=ref)
        service.add_information(
            session, dispute=d, evidence_sha256=body.evidence_sha256,
            profile=ctx.settings.jurisdiction, actor=me.actor, now=utcnow(),
        )  # fmt: skip
        out = _mine(ctx, session, d, _codes(session, {d.institution_id}), full=True)
    response.headers.update(_NO_STORE)
    return out


# -- the furnisher -------------------------------------------------------------------------------
def _furnisher_out(ctx, session: Session, d: Dispute, subject_ref: str) -> FurnisherDisputeOut:
    return FurnisherDisputeOut(
        ref=d.ref, subject_ref=subject_ref, record_type=d.record_type.value,
        status=d.status.value, filed_at=d.filed_at, due_on=d.due_on,
        escalated=d.escalated_at is not None, reason=service.reason(d, ctx.keyring),
        evidence_sha256=d.evidence_sha256, record=service.current_record(session, d),
        answer=d.answer.value if d.answer else None,
    )  # fmt: skip


@furnisher_router.get(
    "",
    response_model=FurnisherDisputePage,
    summary="Disputes this institution must answer",
    description=(
        "The disputes not yet closed of records this institution furnished, oldest first, each "
        "with the subject's reason and what the record says now. Needs the furnisher role. "
        "Reading the reasons is recorded in the ledger."
    ),
    responses=responses(401, 403, 422, 429),
)
def furnisher_disputes(
    ctx: Context,
    who: Caller,
    response: Response,
    limit: Limit = 100,
    cursor: Cursor = None,
    status: Annotated[Literal["open", "answered"] | None, Query(description="only these")] = None,
) -> FurnisherDisputePage:
    require_role(who, Role.furnisher)
    after = decode_cursor(cursor)
    with ctx.transaction() as session:
        rows = service.open_for_institution(
            session, institution_id=who.institution_id,
            status=DisputeStatus(status) if status else None, limit=limit + 1, after=after,
        )  # fmt: skip
        refs = _subject_refs(session, {d.subject_id for d in rows})
        items = [_furnisher_out(ctx, session, d, refs[d.subject_id]) for d in rows[:limit]]
        if items:
            audit.record(session, actor=who.actor, action="dispute.read", target="disputes",
                         details={"disputes": [i.ref for i in items]})  # fmt: skip
    response.headers.update(_NO_STORE)
    return FurnisherDisputePage(items=items, next_cursor=_next(rows, limit))


@furnisher_router.post(
    "/{ref}/answer",
    response_model=FurnisherDisputeOut,
    summary="Answer a dispute",
    description=(
        "`confirm`: the record is accurate; `correct`: it is wrong, and `correction` holds the "
        "right values of its fields (checked now, applied when an operator decides "
        "`corrected`). Evidence by SHA-256. Needs the furnisher role; a dispute this "
        "institution does not answer is 404. Answering twice is 409 "
        "`dispute_already_answered`, a closed dispute 409 `dispute_closed`."
    ),
    responses=responses(401, 403, 404, 409, 413, 422, 429),
)
def answer_dispute(
    ref: DisputeRef, body: AnswerCreate, ctx: Context, who: Caller
) -> FurnisherDisputeOut:
    require_role(who, Role.furnisher)
    with ctx.transaction() as session:
        d = service.get_for_institution(session, institution_id=who.institution_id, ref=ref)
        service.answer(
            session, dispute=d, answer=body.answer, correction=body.correction,
            evidence_sha256=body.evidence_sha256, note=body.note, actor=who.actor, now=utcnow(),
        )  # fmt: skip
        subject_ref = _subject_refs(session, {d.subject_id})[d.subject_id]
        return _furnisher_out(ctx, session, d, subject_ref)


# -- the operator --------------------------------------------------------------------------------
def _operator_out(d: Dispute, subject_ref: str, codes: dict[int, str], today) -> OperatorDisputeOut:
    return OperatorDisputeOut(
        ref=d.ref, subject_ref=subject_ref, record_type=d.record_type.value,
        institution=codes.get(d.institution_id), status=d.status.value,
        outcome=d.outcome.value if d.outcome else None, filed_at=d.filed_at, due_on=d.due_on,
        overdue=d.closed_at is None and d.due_on < today, escalated_at=d.escalated_at,
        answer=d.answer.value if d.answer else None,
        correction=service.correction_of(d), decision_note=d.decision_note,
        closed_at=d.closed_at,
    )  # fmt: skip


def _operator_page(session: Session, rows: list[Dispute], limit: int) -> OperatorDisputePage:
    today = utcnow().date()
    refs = _subject_refs(session, {d.subject_id for d in rows})
    codes = _codes(session, {d.institution_id for d in rows})
    items = [_operator_out(d, refs[d.subject_id], codes, today) for d in rows[:limit]]
    return OperatorDisputePage(items=items, next_cursor=_next(rows, limit))


@operator_router.get(
    "",
    response_model=OperatorDisputePage,
    summary="The dispute queue",
    description=(
        "Disputes oldest first; by default every one not closed. `status` picks one status "
        "(closed included), `institution` one furnisher, `overdue=true` only those past their "
        "due date. Needs the operator role."
    ),
    responses=responses(401, 403, 404, 422, 429),
)
def operator_queue(
    ctx: Context,
    who: Caller,
    limit: Limit = 100,
    cursor: Cursor = None,
    status: Annotated[
        Literal["open", "answered", "closed"] | None, Query(description="only this status")
    ] = None,
    institution: Annotated[
        str | None, Query(max_length=32, pattern=r"^[0-9A-Za-z_.-]+$", description="code")
    ] = None,
    overdue: Annotated[bool, Query(description="only disputes past their due date")] = False,
) -> OperatorDisputePage:
    require_role(who, Role.operator)
    after = decode_cursor(cursor)
    with ctx.transaction() as session:
        rows = service.queue(
            session, today=utcnow().date(), status=DisputeStatus(status) if status else None,
            institution_code=institution, overdue_only=overdue, limit=limit + 1, after=after,
        )  # fmt: skip
        return _operator_page(session, rows, limit)


@operator_router.post(
    "/escalate",
    response_model=EscalationOut,
    summary="Escalate overdue disputes now",
    description=(
        "Marks every dispute past its due date and not closed as escalated (once each), with "
        "an event, a ledger entry and a notice to its furnisher. Needs the operator role."
    ),
    responses=responses(401, 403, 429),
)
def operator_escalate(ctx: Context, who: Caller) -> EscalationOut:
    require_role(who, Role.operator)
    now = utcnow()
    with ctx.transaction() as session:
        found = service.escalate_overdue(session, today=now.date(), actor=who.actor, now=now)
        total = len(service.overdue(session, today=now.date()))
        return EscalationOut(escalated=[d.ref for d in found], overdue=total)


@operator_router.post(
    "/{ref}/decision",
    response_model=OperatorDisputeOut,
    summary="Decide a dispute",
    description=(
        "`corrected`: the correction (given here, else the furnisher's) supersedes the record "
        "with history, the subject is re-scored and recent queriers are told; `confirmed`: the "
        "mark is removed and the subject may add a statement; `unresolved` (a `note` is "
        "required): the mark stays with the note. A closed dispute is 409 `dispute_closed`. "
        "Needs the operator role."
    ),
    responses=responses(401, 403, 404, 409, 413, 422, 429),
)
def operator_decide(
    ref: DisputeRef, body: DecisionCreate, ctx: Context, who: Caller
) -> OperatorDisputeOut:
    require_role(who, Role.operator)
    with ctx.transaction() as session:
        d = service.get(session, ref=ref)
        service.decide(
            session, dispute=d, outcome=body.outcome, note=body.note, correction=body.correction,
            keyring=ctx.keyring, settings=ctx.settings, actor=who.actor, now=utcnow(),
        )  # fmt: skip
        return _operator_page(session, [d], 1).items[0]
