"""Consents: grant, revoke, list, and check that one allows a query.

A consent belongs to one subject and one institution, for one purpose and a scope (report,
score or both), from ``granted_at`` until ``expires_at`` or ``revoked_at``. The signed consent
document stays with the institution; Credo keeps its SHA-256 (``evidence_sha256``) so that the
document shown in a dispute or an inspection can be matched to the record.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from credo.access.models import Consent, Purpose, Scope
from credo.access.policy import (
    ConsentFacts,
    Refusal,
    consent_problem,
    covers,
    not_on_file,
    parse_purpose,
    parse_scope,
)
from credo.audit import service as audit
from credo.core.masking import shown
from credo.core.refs import new_ref
from credo.db import utcnow
from credo.errors import Conflict, Forbidden, Invalid, NotFound
from credo.institution import service as institutions
from credo.institution.models import Institution
from credo.subject.models import Subject

_SHA256 = re.compile(r"[0-9a-f]{64}")


def new_consent_ref() -> str:
    """An opaque random reference such as ``C7K2M9Q4XH3TD``."""
    return new_ref("C")


def facts(c: Consent) -> ConsentFacts:
    """The plain facts of a consent row, for `credo.access.policy`."""
    return ConsentFacts(
        ref=c.ref,
        subject_id=c.subject_id,
        institution_id=c.institution_id,
        purpose=c.purpose,
        scope=c.scope,
        granted_at=c.granted_at,
        expires_at=c.expires_at,
        revoked_at=c.revoked_at,
    )


def status(c: Consent, at: datetime | None = None) -> str:
    """``active``, ``revoked``, ``expired`` or ``not yet valid`` at `at` (default now)."""
    at = at or utcnow()
    if c.revoked_at is not None and c.revoked_at <= at:
        return "revoked"
    if c.expires_at <= at:
        return "expired"
    if c.granted_at > at:
        return "not yet valid"
    return "active"


def refuse(refusal: Refusal) -> Forbidden:
    """The 403 error for a refusal; ``reason`` also goes into the problem document."""
    return Forbidden(refusal.message, reason=refusal.reason)


def subject_by_ref(session: Session, ref: str) -> Subject:
    """The subject with opaque reference `ref` (any case), or NotFound."""
    subject = session.scalar(select(Subject).where(Subject.ref == ref.strip().upper()))
    if subject is None:
        raise NotFound(f"subject {shown(ref)} does not exist")
    return subject


def get(session: Session, *, ref: str) -> Consent:
    """The consent with `ref`, or NotFound."""
    consent = session.scalar(select(Consent).where(Consent.ref == ref.strip().upper()))
    if consent is None:
        raise NotFound(f"consent {shown(ref)} does not exist")
    return consent


def list_all(
    session: Session, *, subject_ref: str | None = None, institution_code: str | None = None
) -> list[Consent]:
    """Consents, newest first, optionally for one subject and/or one institution."""
    stmt = select(Consent).order_by(Consent.granted_at.desc(), Consent.id.desc())
    if subject_ref is not None:
        stmt = stmt.where(Consent.subject_id == subject_by_ref(session, subject_ref).id)
    if institution_code is not None:
        inst = institutions.get_by_code(session, code=institution_code.strip().upper())
        stmt = stmt.where(Consent.institution_id == inst.id)
    return list(session.scalars(stmt))


def grant(
    session: Session,
    *,
    subject_ref: str,
    institution_code: str,
    purpose: str,
    scope: str,
    expires_at: datetime,
    evidence_sha256: str,
    actor: str,
    granted_at: datetime | None = None,
) -> Consent:
    """Record a subject's consent to an institution (audited)."""
    now = utcnow()
    granted_at = granted_at or now
    subject = subject_by_ref(session, subject_ref)
    inst = institutions.get_by_code(session, code=institution_code.strip().upper())
    purpose_enum, scope_enum = parse_purpose(purpose), parse_scope(scope)
    evidence = evidence_sha256.strip().lower()
    if not _SHA256.fullmatch(evidence):
        raise Invalid("evidence must be the hex SHA-256 of the signed consent document")
    for value, what in ((expires_at, "expiry"), (granted_at, "grant time")):
        if value.tzinfo is None:
            raise Invalid(f"{what} must be timezone-aware; got {value.isoformat()}")
    if expires_at <= now:
        raise Invalid(f"expiry must be in the future; got {expires_at:%Y-%m-%d}")
    if expires_at <= granted_at:
        raise Invalid(
            f"expiry ({expires_at:%Y-%m-%d}) must be after the grant ({granted_at:%Y-%m-%d})"
        )
    consent = Consent(
        ref=new_consent_ref(),
        subject_id=subject.id,
        institution_id=inst.id,
        purpose=purpose_enum,
        scope=scope_enum,
        granted_at=granted_at,
        expires_at=expires_at,
        evidence_sha256=evidence,
        created_by=actor,
        created_at=now,
    )
    session.add(consent)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="consent.grant",
        target=f"consent:{consent.ref}",
        details={
            "subject": subject.ref,
            "institution": inst.code,
            "purpose": purpose_enum.value,
            "scope": scope_enum.value,
            "granted_at": granted_at.isoformat(),
            "expires_at": expires_at.isoformat(),
            "evidence_sha256": evidence,
        },
    )
    return consent


def revoke(session: Session, *, ref: str, actor: str, at: datetime | None = None) -> Consent:
    """Revoke a consent from `at` (default now); queries after that are refused (audited)."""
    at = at or utcnow()
    consent = get(session, ref=ref)
    if consent.revoked_at is not None:
        raise Conflict(
            f"consent {consent.ref} was already revoked on {consent.revoked_at:%Y-%m-%d}"
        )
    consent.revoked_at = at
    consent.revoked_by = actor
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="consent.revoke",
        target=f"consent:{consent.ref}",
        details={"revoked_at": at.isoformat()},
    )
    return consent


def check_consent(
    session: Session,
    *,
    subject: Subject,
    institution: Institution,
    purpose: Purpose | str,
    scope: Scope | str,
    at: datetime | None = None,
    consent_ref: str | None = None,
) -> Consent:
    """The consent that allows `institution` to query `subject` for `purpose` and `scope` at
    `at`; Forbidden saying what is missing otherwise.

    With `consent_ref` only that consent is considered; without it any consent on file that
    fits is taken, and the refusal describes the closest one.
    """
    at = at or utcnow()
    purpose, scope = parse_purpose(purpose), parse_scope(scope)
    ask = {
        "subject_id": subject.id,
        "institution_id": institution.id,
        "institution_code": institution.code,
        "purpose": purpose,
        "scope": scope,
        "at": at,
    }
    if consent_ref is not None:
        consent = session.scalar(select(Consent).where(Consent.ref == consent_ref.strip().upper()))
        if consent is None:
            raise refuse(not_on_file(consent_ref.strip().upper(), institution.code))
        refusal = consent_problem(facts(consent), **ask)
        if refusal is not None:
            raise refuse(refusal)
        return consent
    candidates = list(
        session.scalars(
            select(Consent)
            .where(Consent.subject_id == subject.id, Consent.institution_id == institution.id)
            .order_by(Consent.granted_at.desc(), Consent.id.desc())
        )
    )
    problems = [(c, consent_problem(facts(c), **ask)) for c in candidates]
    for c, refusal in problems:
        if refusal is None:
            return c
    if not candidates:
        raise Forbidden(
            f"no consent from this subject to institution {institution.code} is on file",
            reason="no_consent",
        )
    same_purpose = [(c, r) for c, r in problems if c.purpose is purpose]
    if not same_purpose:
        on_file = ", ".join(sorted({c.purpose.value for c in candidates}))
        raise Forbidden(
            f"no consent for {purpose.value} from this subject to institution "
            f"{institution.code} is on file (consents on file are for: {on_file})",
            reason="other_purpose",
        )
    # the closest miss: one that covers the scope (so it failed on time) before one that doesn't
    same_purpose.sort(key=lambda cr: not covers(cr[0].scope, scope))
    raise refuse(same_purpose[0][1])
