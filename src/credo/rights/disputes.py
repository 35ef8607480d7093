"""Disputes: a subject contests one record, its furnisher answers, an operator decides.

Lifecycle (SPEC rules table; 征信业管理条例 Art. 25, FCRA §611)::

    file ──> open ──answer──> answered ──decide──> closed (corrected | confirmed | unresolved)
               └────────────────decide──────────────┘
    add_information: new evidence from the subject; in `us` it extends ``due_on`` once
    escalate_overdue: not closed past ``due_on`` -> ``escalated_at`` (listed by `overdue`)

The subject names the record by what their own report shows them (`RecordName`); it is resolved
to the subject's own current record or refused with a 404 that reads the same whether the
record belongs to someone else or to no one. Every step writes a `DisputeEvent`, a ledger entry
and (where someone must know) a notice in the outbox. Services flush, never commit.

Errors carry a stable machine ``code`` in their problem document (see docs/disputes.md).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from credo.audit import service as audit
from credo.config import Profile, Settings
from credo.core.masking import shown
from credo.core.refs import new_ref
from credo.errors import Conflict, NotFound
from credo.institution.models import Institution
from credo.notify.outbox import enqueue
from credo.rights.corrections import apply_correction, validate_correction
from credo.rights.dispute_records import (
    CONTROL,
    RecordName,
    current_record,
    invalid,
    record_not_found,
    resolve,
)
from credo.rights.models import (
    Dispute,
    DisputeEvent,
    DisputeOutcome,
    DisputeRecordType,
    DisputeStatus,
    FurnisherAnswer,
)
from credo.subject.models import Subject

__all__ = [
    "RecordName",
    "add_information",
    "answer",
    "by_whom",
    "correction_of",
    "current_record",
    "decide",
    "escalate_overdue",
    "events_detail",
    "file",
    "get",
    "get_for_institution",
    "get_for_subject",
    "history",
    "list_for_subject",
    "open_for_institution",
    "overdue",
    "queue",
    "reason",
    "record_not_found",
]

#: longest reason a subject may give (characters, after trimming)
REASON_MAX = 2000
#: longest note of an answer or a decision (the decision's column holds 1000)
ANSWER_NOTE_MAX = 2000
DECISION_NOTE_MAX = 1000
_REF = re.compile(r"D[0-9A-Z]{12}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def dispute_not_found(ref: str) -> NotFound:
    text = str(ref).strip().upper()
    return NotFound(
        f"no dispute {text if _REF.fullmatch(text) else shown(ref)}", reason="dispute_not_found"
    )


# -- checks on free text -------------------------------------------------------------------------
def check_reason(reason: object) -> str:
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise invalid("reason", "reason must say what is wrong with the record; it is empty")
    if len(text) > REASON_MAX:
        raise invalid("reason", f"reason is {len(text)} characters; at most {REASON_MAX}")
    if CONTROL.search(text):  # a NUL, or an escape sequence for the operator's terminal
        raise invalid("reason", "reason holds control characters")
    return text


def check_note(
    note: object, *, limit: int, required: bool = False, what: str = "note"
) -> str | None:
    text = note.strip() if isinstance(note, str) else None
    if not text:
        if required:
            raise invalid(what, f"{what} is required here and must not be empty")
        return None
    if len(text) > limit:
        raise invalid(what, f"{what} is {len(text)} characters; at most {limit}")
    if CONTROL.search(text):
        raise invalid(what, f"{what} holds control characters")
    return text


def check_sha256(value: object, what: str = "evidence_sha256") -> str | None:
    if value is None:
        return None
    text = str(value).strip().lower()
    if not _SHA256.fullmatch(text):
        raise invalid(what, f"{what} must be 64 hexadecimal characters (a SHA-256)")
    return text


# -- reading -------------------------------------------------------------------------------------
def get(session: Session, *, ref: str) -> Dispute:
    """The dispute `ref`, or 404 ``dispute_not_found``."""
    d = session.scalar(select(Dispute).where(Dispute.ref == str(ref).strip().upper()))
    if d is None:
        raise dispute_not_found(ref)
    return d


def get_for_subject(session: Session, *, subject_id: int, ref: str) -> Dispute:
    """One of the subject's own disputes; another subject's reads like an unknown ref."""
    d = session.scalar(select(Dispute).where(Dispute.ref == str(ref).strip().upper()))
    if d is None or d.subject_id != subject_id:
        raise dispute_not_found(ref)
    return d


def get_for_institution(session: Session, *, institution_id: int, ref: str) -> Dispute:
    """A dispute this institution must answer; any other reads like an unknown ref."""
    d = session.scalar(select(Dispute).where(Dispute.ref == str(ref).strip().upper()))
    if d is None or d.institution_id != institution_id:
        raise dispute_not_found(ref)
    return d


def reason(d: Dispute, keyring) -> str:
    """The subject's reason, decrypted (callers ledger the read when it is not the subject)."""
    return keyring.decrypt(d.reason_enc, column="dispute.reason")


def history(session: Session, *, dispute: Dispute) -> list[DisputeEvent]:
    """Every step of `dispute`, oldest first."""
    stmt = select(DisputeEvent).where(DisputeEvent.dispute_id == dispute.id)
    return list(session.scalars(stmt.order_by(DisputeEvent.at, DisputeEvent.id)))


def _page(stmt: Select, limit: int | None, after: int | None, *, newest_first: bool) -> Select:
    if after is not None:
        stmt = stmt.where(Dispute.id < after if newest_first else Dispute.id > after)
    stmt = stmt.order_by(Dispute.id.desc() if newest_first else Dispute.id)
    return stmt if limit is None else stmt.limit(limit)


def list_for_subject(
    session: Session, *, subject_id: int, limit: int | None = None, after: int | None = None
) -> list[Dispute]:
    """The subject's disputes, newest first (keyset on the id)."""
    stmt = select(Dispute).where(Dispute.subject_id == subject_id)
    return list(session.scalars(_page(stmt, limit, after, newest_first=True)))


def open_for_institution(
    session: Session,
    *,
    institution_id: int,
    status: DisputeStatus | None = None,
    limit: int | None = None,
    after: int | None = None,
) -> list[Dispute]:
    """The disputes not yet closed that this institution must answer, oldest first."""
    stmt = select(Dispute).where(
        Dispute.institution_id == institution_id, Dispute.closed_at.is_(None)
    )
    if status is not None:
        stmt = stmt.where(Dispute.status == status)
    return list(session.scalars(_page(stmt, limit, after, newest_first=False)))


def queue(
    session: Session,
    *,
    today: date,
    status: DisputeStatus | None = None,
    institution_code: str | None = None,
    overdue_only: bool = False,
    limit: int | None = None,
    after: int | None = None,
) -> list[Dispute]:
    """The operators' queue, oldest first: by default every dispute not closed."""
    stmt = select(Dispute)
    if status is None:
        stmt = stmt.where(Dispute.closed_at.is_(None))
    else:
        stmt = stmt.where(Dispute.status == status)
    if institution_code is not None:
        inst = session.scalar(select(Institution.id).where(Institution.code == institution_code))
        if inst is None:
            raise NotFound(
                f"no institution {shown(institution_code)}", reason="unknown_institution"
            )
        stmt = stmt.where(Dispute.institution_id == inst)
    if overdue_only:
        stmt = stmt.where(Dispute.closed_at.is_(None), Dispute.due_on < today)
    return list(session.scalars(_page(stmt, limit, after, newest_first=False)))


def overdue(session: Session, *, today: date) -> list[Dispute]:
    """Disputes not closed whose last day has passed, most overdue first."""
    stmt = select(Dispute).where(Dispute.closed_at.is_(None), Dispute.due_on < today)
    return list(session.scalars(stmt.order_by(Dispute.due_on, Dispute.id)))


# -- writing -------------------------------------------------------------------------------------
def _event(
    session: Session, d: Dispute, kind: str, *, actor: str, now: datetime, note: str | None = None,
    evidence_sha256: str | None = None, detail: dict | None = None,
) -> DisputeEvent:  # fmt: skip
    ev = DisputeEvent(
        dispute_id=d.id, at=now, actor=actor, kind=kind, note=note,
        evidence_sha256=evidence_sha256,
        detail=orjson.dumps(detail or {}, option=orjson.OPT_SORT_KEYS).decode(),
    )  # fmt: skip
    session.add(ev)
    return ev


def _subject_ref(session: Session, d: Dispute) -> str:
    return session.scalar(select(Subject.ref).where(Subject.id == d.subject_id))


def _notify(
    session: Session, d: Dispute, kind: str, now: datetime, *, institution: bool, **extra: Any
) -> None:
    """`kind` to the subject, and to the furnisher too when `institution` and there is one."""
    payload = {"dispute": d.ref, "record_type": d.record_type.value, **extra}
    enqueue(session, kind=kind, payload=payload, subject_id=d.subject_id, now=now)
    if institution and d.institution_id is not None:
        to_furnisher = {**payload, "subject_ref": _subject_ref(session, d)}
        enqueue(session, kind=kind, payload=to_furnisher, institution_id=d.institution_id, now=now)


def _ensure_not_closed(d: Dispute) -> None:
    if d.status is DisputeStatus.closed:
        raise Conflict(
            f"dispute {d.ref} was closed on {d.closed_at:%Y-%m-%d} ({d.outcome.value}); "
            "file a new dispute if there is more to contest",
            reason="dispute_closed",
        )


def file(
    session: Session,
    *,
    keyring,
    subject_id: int,
    name: RecordName,
    reason: str,
    evidence_sha256: str | None = None,
    profile: Profile,
    actor: str,
    now: datetime,
) -> Dispute:
    """File the subject's dispute of one of their records; due in ``profile.dispute_days``."""
    text = check_reason(reason)
    evidence = check_sha256(evidence_sha256)
    target = resolve(session, subject_id=subject_id, name=name)
    existing = session.scalar(
        select(Dispute.ref).where(
            Dispute.subject_id == subject_id,
            Dispute.target_key == target.target_key,
            Dispute.closed_at.is_(None),
        )
    )
    if existing is not None:
        raise _already_open(existing)
    d = Dispute(
        ref=new_ref("D"), subject_id=subject_id, record_type=target.record_type,
        target_key=target.target_key, record_id=target.record_id, account_id=target.account_id,
        period=target.period, field=target.field, institution_id=target.institution_id,
        reason_enc=keyring.encrypt(text, column="dispute.reason"), evidence_sha256=evidence,
        status=DisputeStatus.open, filed_at=now, filed_by=actor,
        due_on=now.date() + timedelta(days=profile.dispute_days),
    )  # fmt: skip
    try:
        # two filings racing past the check above meet the partial unique index here
        with session.begin_nested():
            session.add(d)
            session.flush()
    except IntegrityError:
        raise _already_open(
            session.scalar(
                select(Dispute.ref).where(
                    Dispute.subject_id == subject_id,
                    Dispute.target_key == target.target_key,
                    Dispute.closed_at.is_(None),
                )
            )
            or "(another)"
        ) from None
    _event(session, d, "filed", actor=actor, now=now, evidence_sha256=evidence,
           detail={"due_on": d.due_on.isoformat(), "record_type": d.record_type.value})  # fmt: skip
    audit.record(
        session, actor=actor, action="dispute.file", target=d.ref,
        details={"subject": _subject_ref(session, d), "record_type": d.record_type.value,
                 "record_id": d.record_id, "institution_id": d.institution_id,
                 "due_on": d.due_on.isoformat(), "profile": profile.code},
    )  # fmt: skip
    _notify(session, d, "dispute.received", now, institution=True, due_on=d.due_on.isoformat())
    session.flush()
    return d


def _already_open(ref: str) -> Conflict:
    return Conflict(
        f"this record already has an open dispute, {ref}; add information to it instead",
        reason="dispute_already_open",
        dispute=ref,
    )


def parse_answer(value: object) -> FurnisherAnswer:
    try:
        return FurnisherAnswer(value)
    except ValueError:
        raise invalid("answer", "answer must be confirm or correct") from None


def parse_outcome(value: object) -> DisputeOutcome:
    try:
        return DisputeOutcome(value)
    except ValueError:
        allowed = ", ".join(DisputeOutcome)
        raise invalid("outcome", f"outcome must be one of {allowed}") from None


def _validated_correction(d: Dispute, correction: object, profile: Profile | None) -> dict:
    if not isinstance(correction, dict) or not correction:
        raise invalid("correction", "correction must be an object of the corrected fields")
    return validate_correction(d.record_type, correction, field=d.field, profile=profile)


def _kept(d: Dispute, correction: dict | None) -> str | None:
    """The correction as stored on the dispute: none for identity (personal values)."""
    if correction is None or d.record_type is DisputeRecordType.identity:
        return None
    return orjson.dumps(correction, option=orjson.OPT_SORT_KEYS).decode()


def _shown_values(d: Dispute, correction: dict | None) -> dict | None:
    """The correction as an event shows it: identity values are replaced by the field names."""
    if correction is None or d.record_type is not DisputeRecordType.identity:
        return correction
    return dict.fromkeys(correction, "(corrected)")


def answer(
    session: Session,
    *,
    dispute: Dispute,
    answer: str,
    correction: dict | None = None,
    evidence_sha256: str | None = None,
    note: str | None = None,
    profile: Profile | None = None,
    actor: str,
    now: datetime,
) -> Dispute:
    """The furnisher's answer: ``confirm`` the record, or ``correct`` it with a correction."""
    choice = parse_answer(answer)
    evidence = check_sha256(evidence_sha256)
    text = check_note(note, limit=ANSWER_NOTE_MAX)
    if choice is FurnisherAnswer.correct:
        if correction is None:
            raise invalid("correction", "correction is required with a correct answer")
        correction = _validated_correction(dispute, correction, profile)
    elif correction is not None:
        raise invalid("correction", "a confirm answer carries no correction")
    _ensure_not_closed(dispute)
    if correction is not None and dispute.record_type is DisputeRecordType.identity:
        # identity values are personal data and this column is not encrypted: the bureau gives
        # an identity correction with its decision, where it is applied and not kept
        raise invalid("correction", "an identity correction is given with the decision")
    if dispute.status is DisputeStatus.answered:
        raise Conflict(
            f"dispute {dispute.ref} was answered on {dispute.answered_at:%Y-%m-%d} "
            f"({dispute.answer.value}); an operator decides next",
            reason="dispute_already_answered",
        )
    dispute.status = DisputeStatus.answered
    dispute.answer = choice
    dispute.answered_at = now
    dispute.answered_by = actor
    if correction is not None:
        dispute.correction = _kept(dispute, correction)
    _event(session, dispute, "answered", actor=actor, now=now, note=text, evidence_sha256=evidence,
           detail={"answer": choice.value, "correction": correction})  # fmt: skip
    audit.record(
        session, actor=actor, action="dispute.answer", target=dispute.ref,
        details={"answer": choice.value, "fields": sorted(correction or {}),
                 "evidence_sha256": evidence},
    )  # fmt: skip
    session.flush()
    return dispute


def add_information(
    session: Session,
    *,
    dispute: Dispute,
    evidence_sha256: str,
    profile: Profile,
    actor: str,
    now: datetime,
) -> Dispute:
    """New information from the subject (a document, by its SHA-256). Where the profile allows
    (``us``: 15 days), the first one brought before the due date extends it once."""
    evidence = check_sha256(evidence_sha256)
    if evidence is None:
        raise invalid("evidence_sha256", "evidence_sha256 of the new document is required")
    _ensure_not_closed(dispute)
    detail: dict[str, Any] = {}
    if (
        profile.dispute_extension_days > 0
        and dispute.extended_at is None
        and now.date() <= dispute.due_on
    ):
        detail["due_on_was"] = dispute.due_on.isoformat()
        dispute.due_on += timedelta(days=profile.dispute_extension_days)
        dispute.extended_at = now
        detail["due_on"] = dispute.due_on.isoformat()
    _event(session, dispute, "information", actor=actor, now=now, evidence_sha256=evidence,
           detail=detail)  # fmt: skip
    audit.record(
        session, actor=actor, action="dispute.information", target=dispute.ref,
        details={"evidence_sha256": evidence, "extended_to": detail.get("due_on"),
                 "profile": profile.code},
    )  # fmt: skip
    if dispute.institution_id is not None:
        enqueue(
            session, kind="dispute.information", institution_id=dispute.institution_id, now=now,
            payload={"dispute": dispute.ref, "evidence_sha256": evidence,
                     "due_on": dispute.due_on.isoformat()},
        )  # fmt: skip
    session.flush()
    return dispute


def escalate_overdue(
    session: Session, *, today: date, actor: str = "system:escalation", now: datetime
) -> list[Dispute]:
    """Mark every dispute not closed and past its due date as escalated (once each); returns
    the ones escalated by this call."""
    found = list(
        session.scalars(
            select(Dispute)
            .where(
                Dispute.closed_at.is_(None),
                Dispute.due_on < today,
                Dispute.escalated_at.is_(None),
            )
            .order_by(Dispute.due_on, Dispute.id)
        )
    )
    for d in found:
        d.escalated_at = now
        days = (today - d.due_on).days
        _event(session, d, "escalated", actor=actor, now=now,
               detail={"due_on": d.due_on.isoformat(), "days_overdue": days})  # fmt: skip
        audit.record(session, actor=actor, action="dispute.escalate", target=d.ref,
                     details={"due_on": d.due_on.isoformat(), "days_overdue": days})  # fmt: skip
        if d.institution_id is not None:
            enqueue(session, kind="dispute.overdue", institution_id=d.institution_id, now=now,
                    payload={"dispute": d.ref, "due_on": d.due_on.isoformat()})  # fmt: skip
    session.flush()
    return found


def decide(
    session: Session,
    *,
    dispute: Dispute,
    outcome: str,
    note: str | None = None,
    correction: dict | None = None,
    keyring,
    settings: Settings,
    actor: str,
    now: datetime,
) -> Dispute:
    """An operator's decision, which closes the dispute.

    ``corrected`` applies the correction (the operator's, else the furnisher's ``correct``
    answer) through `credo.rights.corrections.apply_correction`; ``confirmed`` removes the mark
    (the subject may add a personal statement); ``unresolved`` keeps the mark with `note`.
    """
    result = parse_outcome(outcome)
    text = check_note(note, limit=DECISION_NOTE_MAX, required=result is DisputeOutcome.unresolved)
    if correction is not None and result is not DisputeOutcome.corrected:
        raise invalid("correction", f"a {result.value} decision carries no correction")
    _ensure_not_closed(dispute)
    batch_id = batch_ref = applied = None
    if result is DisputeOutcome.corrected:
        if correction is not None:
            correction = _validated_correction(dispute, correction, settings.jurisdiction)
        elif dispute.correction:
            correction = orjson.loads(dispute.correction)
        else:
            raise invalid(
                "correction",
                "a corrected decision needs a correction: the furnisher proposed none, give it",
            )
        applied = apply_correction(
            session, dispute=dispute, correction=correction, actor=actor, keyring=keyring,
            settings=settings, now=now,
        )  # fmt: skip
        batch_id, batch_ref = applied.batch_id, applied.batch_ref
        dispute.correction = _kept(dispute, correction)
        dispute.correction_batch_id = batch_id
    dispute.status = DisputeStatus.closed
    dispute.outcome = result
    dispute.decided_by = actor
    dispute.decision_note = text
    dispute.closed_at = now
    # public references only: the history is shown to the subject and the furnisher
    detail: dict[str, Any] = {"outcome": result.value,
                              "correction": _shown_values(dispute, correction)}  # fmt: skip
    if applied is not None:
        detail.update(correction_batch=batch_ref, rescored=applied.score is not None,
                      institutions_notified=len(applied.notified_institutions))  # fmt: skip
    _event(session, dispute, "decided", actor=actor, now=now, note=text, detail=detail)
    audit.record(
        session, actor=actor, action="dispute.decide", target=dispute.ref,
        details={"outcome": result.value, "fields": sorted(correction or {}),
                 "correction_batch": batch_ref, "on_time": now.date() <= dispute.due_on},
    )  # fmt: skip
    extra: dict[str, Any] = {"outcome": result.value, "note": text}
    if result is DisputeOutcome.confirmed:
        extra["statement"] = (
            "the record was confirmed accurate; you may add a personal statement to your "
            "report with PUT /v1/me/statement"
        )
    _notify(session, dispute, "dispute.decided", now, institution=True, **extra)
    session.flush()
    return dispute


def events_detail(ev: DisputeEvent) -> dict[str, Any]:
    """The JSON details of one step."""
    return orjson.loads(ev.detail or "{}")


def correction_of(d: Dispute) -> dict[str, Any] | None:
    """The correction proposed by the furnisher or applied by the decision."""
    return orjson.loads(d.correction) if d.correction else None


def by_whom(event: DisputeEvent) -> str:
    """Who took a step, as the subject may be told: subject, furnisher or bureau (operators
    call with an institution's key too, so only an answer through the API is the furnisher's)."""
    if event.actor.startswith("subject:"):
        return "subject"
    if event.kind == "answered" and event.actor.startswith("api:"):
        return "furnisher"
    return "bureau"
