"""A subject's copy of everything the bureau holds about them (PIPL Art. 45; FCRA §609).

`export_subject` returns one JSON-ready document, format ``credo-subject-export/1``
(docs/subject-rights.md describes every section). It is the subject's own data, so it is
decrypted in full: identity, contact details as each furnisher reported them, and the subject's
own words (statements, dispute reasons). Records kept with history (contact details, accounts,
monthly statuses, public records) are given in every version, current and superseded, with when
each was recorded and superseded and by which furnishing batch. Nothing about another subject
is included: rows are selected by the subject's id alone, and identity reviews that compare the
subject with someone else show only their kind and state.

Reading it is one ledger entry, ``subject.export``. Money stays in integer hundredths
(``*_cents``) as it is stored, so the copy is exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from credo.access.models import Consent, SubjectAccess
from credo.account.models import Account, AccountVersion, StatusRecord
from credo.audit import service as audit
from credo.audit.models import AuditEntry
from credo.db import utcnow
from credo.errors import NotFound
from credo.furnishing.models import FurnishingBatch
from credo.inquiry.models import Inquiry
from credo.institution.models import Institution
from credo.notify.models import Notification
from credo.public_record.models import PublicRecord
from credo.rights.controls import STATEMENT_COLUMN
from credo.rights.models import (
    Dispute,
    DisputeEvent,
    FileFlag,
    OptOut,
    PersonalStatement,
)
from credo.scoring.models import ModelVersion, SubjectScore
from credo.security.keys import KeyRing
from credo.subject.models import IdentityReview, Subject, SubjectInfo

FORMAT = "credo-subject-export/1"
#: the associated data dispute reasons are encrypted under (`credo.rights.disputes`)
DISPUTE_REASON_COLUMN = "dispute.reason"


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _json(text: str | None) -> Any:
    return orjson.loads(text) if text else None


class _Names:
    """Institution codes and names and batch refs by id, loaded once per export."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._inst: dict[int, dict[str, str]] = {}
        self._batch: dict[int, str] = {}

    def load(self, institution_ids: Iterable[int | None], batch_ids: Iterable[int | None]) -> None:
        want = {i for i in institution_ids if i is not None} - self._inst.keys()
        if want:
            rows = self.session.execute(
                select(Institution.id, Institution.code, Institution.name, Institution.kind).where(
                    Institution.id.in_(want)
                )
            )
            for i, code, name, kind in rows:
                self._inst[i] = {"code": code, "name": name, "kind": kind.value}
        want = {b for b in batch_ids if b is not None} - self._batch.keys()
        if want:
            rows = self.session.execute(
                select(FurnishingBatch.id, FurnishingBatch.ref).where(FurnishingBatch.id.in_(want))
            )
            self._batch.update(dict(rows.all()))

    def institution(self, institution_id: int | None) -> dict[str, str] | None:
        return self._inst.get(institution_id) if institution_id is not None else None

    def batch(self, batch_id: int | None) -> str | None:
        return self._batch.get(batch_id) if batch_id is not None else None

    def history(self, row) -> dict[str, Any]:
        """The version columns of a record kept with history (`credo.versioning.Versioned`)."""
        return {
            "version": row.version,
            "current": row.superseded_at is None,
            "recorded_at": _iso(row.recorded_at),
            "superseded_at": _iso(row.superseded_at),
            "batch": self.batch(row.batch_id),
            "superseded_by_batch": self.batch(row.superseded_by_batch_id),
        }


def _decrypt(keyring: KeyRing, blob: bytes | None, column: str) -> str | None:
    return keyring.decrypt(blob, column=column) if blob is not None else None


def _identity(s: Subject, keyring: KeyRing) -> dict[str, Any]:
    return {
        "ref": s.ref,
        "subject_type": s.subject_type.value,
        "id_type": s.id_type.value,
        "id_number": keyring.decrypt(s.id_enc, column="subject.id_number"),
        "name": keyring.decrypt(s.name_enc, column="subject.name"),
        "birth_date": _decrypt(keyring, s.birth_date_enc, "subject.birth_date"),
        "gender": s.gender,
        "region": s.region,
        "birth_year": s.birth_year,
        "on_file_since": _iso(s.created_at),
    }


def _contact_details(session, names: _Names, keyring: KeyRing, subject_id: int) -> list[dict]:
    rows = list(
        session.scalars(
            select(SubjectInfo)
            .where(SubjectInfo.subject_id == subject_id)
            .order_by(SubjectInfo.institution_id, SubjectInfo.version)
        )
    )
    names.load((r.institution_id for r in rows),
               (b for r in rows for b in (r.batch_id, r.superseded_by_batch_id)))  # fmt: skip
    return [
        {
            "furnisher": names.institution(r.institution_id),
            "name": keyring.decrypt(r.name_enc, column="subject_info.name"),
            "phone": _decrypt(keyring, r.phone_enc, "subject_info.phone"),
            "address": _decrypt(keyring, r.address_enc, "subject_info.address"),
            **names.history(r),
        }
        for r in rows
    ]


def _accounts(session, names: _Names, subject_id: int) -> list[dict]:
    accounts = list(
        session.scalars(
            select(Account).where(Account.subject_id == subject_id).order_by(Account.id)
        )
    )
    ids = [a.id for a in accounts]
    versions = list(
        session.scalars(
            select(AccountVersion)
            .where(AccountVersion.account_id.in_(ids))
            .order_by(AccountVersion.account_id, AccountVersion.version)
        )
    )
    statuses = list(
        session.scalars(
            select(StatusRecord)
            .where(StatusRecord.account_id.in_(ids))
            .order_by(StatusRecord.account_id, StatusRecord.period, StatusRecord.version)
        )
    )
    names.load(
        (a.institution_id for a in accounts),
        (b for r in (*versions, *statuses) for b in (r.batch_id, r.superseded_by_batch_id)),
    )
    out: dict[int, dict] = {
        a.id: {
            "furnisher": names.institution(a.institution_id),
            "account_ref": a.account_ref,
            "on_file_since": _iso(a.created_at),
            "versions": [],
            "statuses": [],
        }
        for a in accounts
    }
    for v in versions:
        out[v.account_id]["versions"].append(
            {
                "account_type": v.account_type.value,
                "opened_on": _iso(v.opened_on),
                "closed_on": _iso(v.closed_on),
                "currency": v.currency,
                "credit_limit_cents": v.credit_limit_cents,
                "principal_cents": v.principal_cents,
                "term_months": v.term_months,
                "status": v.status.value,
                "subject_notified_on": _iso(v.subject_notified_on),
                **names.history(v),
            }
        )
    for r in statuses:
        out[r.account_id]["statuses"].append(
            {
                "period": r.period.strftime("%Y-%m"),
                "balance_cents": r.balance_cents,
                "amount_due_cents": r.amount_due_cents,
                "amount_paid_cents": r.amount_paid_cents,
                "days_past_due": r.days_past_due,
                "subject_notified_on": _iso(r.subject_notified_on),
                **names.history(r),
            }
        )
    return list(out.values())


def _public_records(session, names: _Names, subject_id: int) -> list[dict]:
    rows = list(
        session.scalars(
            select(PublicRecord)
            .where(PublicRecord.subject_id == subject_id)
            .order_by(PublicRecord.filed_on, PublicRecord.id)
        )
    )
    names.load((r.institution_id for r in rows),
               (b for r in rows for b in (r.batch_id, r.superseded_by_batch_id)))  # fmt: skip
    return [
        {
            "source": names.institution(r.institution_id),
            "kind": r.kind.value,
            "authority": r.authority,
            "case_ref": r.case_ref,
            "amount_cents": r.amount_cents,
            "currency": r.currency,
            "filed_on": _iso(r.filed_on),
            "resolved_on": _iso(r.resolved_on),
            "subject_notified_on": _iso(r.subject_notified_on),
            **names.history(r),
        }
        for r in rows
    ]


def _inquiries(session, names: _Names, subject_id: int) -> list[dict]:
    rows = list(
        session.scalars(
            select(Inquiry)
            .where(Inquiry.subject_id == subject_id)
            .order_by(Inquiry.inquired_on.desc(), Inquiry.id.desc())
        )
    )
    names.load((r.institution_id for r in rows), (r.batch_id for r in rows))
    return [
        {
            "institution": names.institution(r.institution_id),
            "inquired_on": _iso(r.inquired_on),
            "purpose": r.purpose,
            "kind": r.kind.value,
            "source": r.source.value,
            "recorded_at": _iso(r.recorded_at),
            "batch": names.batch(r.batch_id),
        }
        for r in rows
    ]


def _consents(session, names: _Names, subject_id: int) -> list[dict]:
    rows = list(
        session.scalars(
            select(Consent).where(Consent.subject_id == subject_id).order_by(Consent.id.desc())
        )
    )
    names.load((r.institution_id for r in rows), ())
    return [
        {
            "ref": c.ref,
            "institution": names.institution(c.institution_id),
            "purpose": c.purpose.value,
            "scope": c.scope.value,
            "granted_at": _iso(c.granted_at),
            "expires_at": _iso(c.expires_at),
            "revoked_at": _iso(c.revoked_at),
            "evidence_sha256": c.evidence_sha256,
        }
        for c in rows
    ]


def _disputes(session, names: _Names, keyring: KeyRing, subject_id: int) -> list[dict]:
    disputes = list(
        session.scalars(
            select(Dispute).where(Dispute.subject_id == subject_id).order_by(Dispute.id)
        )
    )
    events = list(
        session.scalars(
            select(DisputeEvent)
            .where(DisputeEvent.dispute_id.in_([d.id for d in disputes]))
            .order_by(DisputeEvent.at, DisputeEvent.id)
        )
    )
    accounts = dict(
        session.execute(
            select(Account.id, Account.account_ref).where(Account.subject_id == subject_id)
        ).all()
    )
    names.load((d.institution_id for d in disputes), (d.correction_batch_id for d in disputes))
    by_dispute: dict[int, list[dict]] = {d.id: [] for d in disputes}
    for e in events:
        by_dispute[e.dispute_id].append(
            {
                "at": _iso(e.at),
                "kind": e.kind,
                "actor": e.actor,
                "note": e.note,
                "evidence_sha256": e.evidence_sha256,
                "detail": _json(e.detail),
            }
        )
    return [
        {
            "ref": d.ref,
            "record_type": d.record_type.value,
            "account_ref": accounts.get(d.account_id) if d.account_id is not None else None,
            "period": d.period.strftime("%Y-%m") if d.period else None,
            "field": d.field,
            "furnisher": names.institution(d.institution_id),
            "reason": keyring.decrypt(d.reason_enc, column=DISPUTE_REASON_COLUMN),
            "evidence_sha256": d.evidence_sha256,
            "status": d.status.value,
            "outcome": d.outcome.value if d.outcome else None,
            "filed_at": _iso(d.filed_at),
            "due_on": _iso(d.due_on),
            "extended_at": _iso(d.extended_at),
            "escalated_at": _iso(d.escalated_at),
            "answer": d.answer.value if d.answer else None,
            "answered_at": _iso(d.answered_at),
            "correction": _json(d.correction),
            "decision_note": d.decision_note,
            "closed_at": _iso(d.closed_at),
            "correction_batch": names.batch(d.correction_batch_id),
            "events": by_dispute[d.id],
        }
        for d in disputes
    ]


def _statements(session, keyring: KeyRing, subject_id: int) -> list[dict]:
    rows = session.scalars(
        select(PersonalStatement)
        .where(PersonalStatement.subject_id == subject_id)
        .order_by(PersonalStatement.created_at, PersonalStatement.id)
    )
    return [
        {
            "text": keyring.decrypt(r.text_enc, column=STATEMENT_COLUMN),
            "created_at": _iso(r.created_at),
            "created_by": r.created_by,
            "removed_at": _iso(r.removed_at),
            "removed_by": r.removed_by,
        }
        for r in rows
    ]


def _flags(session, subject_id: int) -> list[dict]:
    rows = session.scalars(
        select(FileFlag)
        .where(FileFlag.subject_id == subject_id)
        .order_by(FileFlag.placed_at, FileFlag.id)
    )
    return [
        {
            "ref": f.ref,
            "kind": f.kind.value,
            "placed_at": _iso(f.placed_at),
            "placed_by": f.placed_by,
            "expires_at": _iso(f.expires_at),
            "identity_theft_report_sha256": f.identity_theft_report_sha256,
            "lifted_at": _iso(f.lifted_at),
            "lifted_by": f.lifted_by,
        }
        for f in rows
    ]


def _opt_outs(session, subject_id: int) -> list[dict]:
    rows = session.scalars(
        select(OptOut).where(OptOut.subject_id == subject_id).order_by(OptOut.created_at, OptOut.id)
    )
    return [
        {
            "use": o.use.value,
            "created_at": _iso(o.created_at),
            "created_by": o.created_by,
            "revoked_at": _iso(o.revoked_at),
            "revoked_by": o.revoked_by,
        }
        for o in rows
    ]


def _notifications(session, subject_id: int) -> list[dict]:
    rows = session.scalars(
        select(Notification)
        .where(Notification.subject_id == subject_id)
        .order_by(Notification.created_at, Notification.id)
    )
    return [
        {
            "ref": n.ref,
            "kind": n.kind,
            "payload": _json(n.payload),
            "created_at": _iso(n.created_at),
            "status": n.status.value,
            "delivered_at": _iso(n.delivered_at),
        }
        for n in rows
    ]


def _scores(session, subject_id: int) -> list[dict]:
    rows = session.execute(
        select(SubjectScore, ModelVersion)
        .join(ModelVersion, ModelVersion.id == SubjectScore.model_version_id)
        .where(SubjectScore.subject_id == subject_id)
        .order_by(SubjectScore.scored_at, SubjectScore.id)
    )
    return [
        {
            "model": v.label,
            "model_kind": v.kind.value,
            "segment": v.segment.value,
            "score": s.score,
            "grade": s.grade,
            "pd": s.pd,
            "reasons": _json(s.reasons),
            "inputs": _json(s.inputs),
            "input_fingerprint": s.input_fingerprint,
            "as_of": _iso(s.as_of),
            "scored_at": _iso(s.scored_at),
            "trigger": s.trigger,
        }
        for s, v in rows
    ]


def _identity_reviews(session, subject_id: int) -> list[dict]:
    # the furnished values under review may be another person's (a possible duplicate): only
    # the kind, the fields concerned and the state are the subject's to see; a review of
    # another subject that names this one as the possible duplicate is theirs too
    rows = session.scalars(
        select(IdentityReview)
        .where(or_(IdentityReview.subject_id == subject_id,
                   IdentityReview.other_subject_id == subject_id))
        .order_by(IdentityReview.created_at, IdentityReview.id)
    )  # fmt: skip
    return [
        {
            "kind": r.kind.value,
            "role": "subject" if r.subject_id == subject_id else "possible_duplicate",
            "fields": [f for f in r.fields.split(",") if f],
            "status": r.status.value,
            "created_at": _iso(r.created_at),
            "resolved_at": _iso(r.resolved_at),
        }
        for r in rows
    ]


def _access_credentials(session, subject_id: int) -> list[dict]:
    # the credentials the bureau issued to the subject: metadata only, never the secret's hash
    rows = session.scalars(
        select(SubjectAccess)
        .where(SubjectAccess.subject_id == subject_id)
        .order_by(SubjectAccess.created_at, SubjectAccess.id)
    )
    return [
        {
            "credential_id": c.credential_id,
            "verified_by": c.verified_by,
            "created_at": _iso(c.created_at),
            "expires_at": _iso(c.expires_at),
            "revoked_at": _iso(c.revoked_at),
            "last_used_at": _iso(c.last_used_at),
        }
        for c in rows
    ]


def _ledger(session, subject_ref: str, dispute_refs: list[str], consent_refs: list[str]):
    # audit_entry's target is indexed (migration 0005): entries about the subject itself, its
    # disputes (filed, answered, escalated, decided, corrected) and its consents
    targets = [f"subject:{subject_ref}", *dispute_refs, *(f"dispute:{r}" for r in dispute_refs),
               *(f"consent:{r}" for r in consent_refs)]  # fmt: skip
    out = []
    for part in (targets[i : i + 500] for i in range(0, len(targets), 500)):
        out += session.execute(
            select(AuditEntry.id, AuditEntry.seq, AuditEntry.at, AuditEntry.actor,
                   AuditEntry.action, AuditEntry.target, AuditEntry.details)
            .where(AuditEntry.target.in_(part))
        ).all()  # fmt: skip
    out.sort(key=lambda r: r.id)
    return [
        {"seq": r.seq, "at": _iso(r.at), "actor": r.actor, "action": r.action,
         "target": r.target, "details": _json(r.details)}
        for r in out
    ]  # fmt: skip


def export_subject(
    session: Session,
    subject_id: int,
    *,
    keyring: KeyRing,
    actor: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Everything held about one subject as a JSON-ready dict (one ``subject.export`` entry)."""
    now = now or utcnow()
    subject = session.get(Subject, subject_id)
    if subject is None:
        raise NotFound("no such subject")
    names = _Names(session)
    doc = {
        "format": FORMAT,
        "generated_at": _iso(now),
        "subject": _identity(subject, keyring),
        "contact_details": _contact_details(session, names, keyring, subject.id),
        "accounts": _accounts(session, names, subject.id),
        "public_records": _public_records(session, names, subject.id),
        "inquiries": _inquiries(session, names, subject.id),
        "consents": _consents(session, names, subject.id),
        "disputes": _disputes(session, names, keyring, subject.id),
        "statements": _statements(session, keyring, subject.id),
        "flags": _flags(session, subject.id),
        "opt_outs": _opt_outs(session, subject.id),
        "notifications": _notifications(session, subject.id),
        "scores": _scores(session, subject.id),
        "identity_reviews": _identity_reviews(session, subject.id),
        "access_credentials": _access_credentials(session, subject.id),
    }
    doc["ledger"] = _ledger(
        session, subject.ref, [d["ref"] for d in doc["disputes"]],
        [c["ref"] for c in doc["consents"]],
    )  # fmt: skip
    counts = {k: len(v) for k, v in doc.items() if isinstance(v, list)}
    audit.record(session, actor=actor, action="subject.export", target=f"subject:{subject.ref}",
                 details={"format": FORMAT, "sections": counts})  # fmt: skip
    return doc
