"""Subject access credentials: issue (token shown once), revoke, list, authenticate.

An operator who has verified a person's identity (at a counter, by video, ...) issues them a
credential bound to their subject; it opens ``/v1/me`` and nothing else. A presented token reads
``credo_U<11 chars>_<secret>`` and is checked like an institution API key (`credo.access.tokens`):
only its SHA-256 is stored. Every credential expires (one year by default). The ledger names the
subject by its opaque ref, never by a name or identifier.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from credo.access import tokens
from credo.access.consent import subject_by_ref
from credo.access.models import SubjectAccess
from credo.audit import service as audit
from credo.core.refs import new_ref
from credo.db import utcnow
from credo.errors import Conflict, Invalid, NotFound, Unauthorized
from credo.subject.models import Subject

log = logging.getLogger(__name__)

#: how long a credential is valid unless the operator says otherwise
DEFAULT_VALIDITY = timedelta(days=365)
#: the longest validity an operator may give (the identity check must be repeated after it)
MAX_VALIDITY = timedelta(days=3 * 365)
_TOKEN = tokens.token_pattern("U")
_NOT_RECOGNISED = "subject access credential not recognised"
#: an institution's API key sent to /v1/me: said plainly, the key is not checked
API_KEY_HERE = (
    "this is an institution API key; /v1/me takes a subject access credential "
    "(`credo subject-access issue`)"
)


@dataclass(frozen=True, slots=True)
class SubjectPrincipal:
    """Who is calling /v1/me: one subject, through one of their credentials."""

    credential_id: str
    subject_id: int
    subject_ref: str

    @property
    def actor(self) -> str:
        """The caller as the audit ledger names it (opaque refs only)."""
        return f"subject:{self.subject_ref}/{self.credential_id}"


def new_credential_id() -> str:
    """A random public credential id such as ``U7K2M9Q4XH3T``."""
    return new_ref("U", 11)


def status(cred: SubjectAccess, at: datetime | None = None) -> str:
    """``active``, ``revoked`` or ``expired`` at `at` (default now)."""
    return tokens.status(cred, at or utcnow())


def get(session: Session, *, credential_id: str) -> SubjectAccess:
    """The credential with public id `credential_id`, or NotFound."""
    cid = credential_id.strip().upper()
    cred = session.scalar(select(SubjectAccess).where(SubjectAccess.credential_id == cid))
    if cred is None:
        raise NotFound(f"subject access credential {cid[:16]!r} does not exist")
    return cred


def list_all(session: Session, *, subject_ref: str | None = None) -> list[SubjectAccess]:
    """Credentials, newest first; only one subject's when `subject_ref` is given."""
    stmt = select(SubjectAccess).order_by(SubjectAccess.created_at.desc(), SubjectAccess.id.desc())
    if subject_ref is not None:
        stmt = stmt.where(SubjectAccess.subject_id == subject_by_ref(session, subject_ref).id)
    return list(session.scalars(stmt))


def issue(
    session: Session,
    *,
    subject_ref: str,
    verified_by: str,
    actor: str,
    expires_at: datetime | None = None,
    at: datetime | None = None,
) -> tuple[SubjectAccess, str]:
    """Issue a credential to a verified subject; returns it and its token, shown this once."""
    at = at or utcnow()
    verified_by = " ".join((verified_by or "").split())
    if not 3 <= len(verified_by) <= 200:
        raise Invalid(
            "say how the subject's identity was verified, in 3 to 200 characters "
            "(e.g. 'counter: ID card seen')"
        )
    subject = subject_by_ref(session, subject_ref)
    expires_at = expires_at or at + DEFAULT_VALIDITY
    tokens.check_expiry(expires_at, at)
    if expires_at - at > MAX_VALIDITY:
        raise Invalid(f"expiry must be within {MAX_VALIDITY.days} days; got {expires_at:%Y-%m-%d}")
    cid = new_credential_id()
    token = tokens.new_token(cid)
    cred = SubjectAccess(
        credential_id=cid,
        subject_id=subject.id,
        secret_sha256=tokens.token_sha256(token),
        verified_by=verified_by,
        created_at=at,
        created_by=actor,
        expires_at=expires_at,
    )
    session.add(cred)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="subject_access.issue",
        target=f"subject:{subject.ref}",
        details={
            "credential": cid,
            "verified_by": verified_by,
            "expires_at": expires_at.isoformat(),
        },
    )
    return cred, token


def revoke(
    session: Session, *, credential_id: str, actor: str, at: datetime | None = None
) -> SubjectAccess:
    """Revoke a credential now: /v1/me requests with it get 401 (audited)."""
    at = at or utcnow()
    cred = get(session, credential_id=credential_id)
    if cred.revoked_at is not None and cred.revoked_at <= at:
        raise Conflict(
            f"subject access credential {cred.credential_id} was already revoked on "
            f"{cred.revoked_at:%Y-%m-%d}"
        )
    cred.revoked_at = at
    cred.revoked_by = actor
    session.flush()
    subject_ref = session.scalar(select(Subject.ref).where(Subject.id == cred.subject_id))
    audit.append(
        session,
        actor=actor,
        action="subject_access.revoke",
        target=f"subject:{subject_ref}",
        details={"credential": cred.credential_id},
    )
    return cred


def authenticate(
    session: Session, presented: str | None, *, at: datetime | None = None
) -> SubjectPrincipal:
    """The subject a presented token stands for; Unauthorized when it is not a subject access
    credential, or is wrong, revoked or expired."""
    at = at or utcnow()
    match = _TOKEN.fullmatch(presented) if isinstance(presented, str) else None
    if match is None:
        if tokens.token_letter(presented) == "K":
            raise Unauthorized(API_KEY_HERE)
        raise Unauthorized(_NOT_RECOGNISED)
    cid = match.group(1)
    row = session.execute(
        select(SubjectAccess, Subject.ref)
        .join(Subject, Subject.id == SubjectAccess.subject_id)
        .where(SubjectAccess.credential_id == cid)
    ).first()
    cred, ref = (row[0], row[1]) if row is not None else (None, None)
    try:
        tokens.verify(
            cred,
            presented,
            at=at,
            what=f"subject access credential {cid}",
            not_recognised=_NOT_RECOGNISED,
        )
    except Unauthorized:
        log.warning("authentication failed for subject access credential %s", cid)
        raise
    session.flush()
    return SubjectPrincipal(credential_id=cid, subject_id=cred.subject_id, subject_ref=ref)
