"""Authorising an institution's report or score query: role, consent, inquiry, ledger.

This is the one call the API makes before serving a report or a score. The order of the checks
is deliberate: the consent ref is checked against the calling institution *before* the
identifier is looked up, so an institution without a consent of its own cannot learn from a
404 whether somebody has a credit file here.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from credo.access.consent import check_consent, refuse
from credo.access.keys import Principal, require_role
from credo.access.models import Consent, Purpose, Role, Scope
from credo.access.policy import inquiry_kind, not_on_file, parse_purpose, parse_scope
from credo.audit import service as audit
from credo.core.normalize import ID_TYPES, normalize_identifier
from credo.db import utcnow
from credo.errors import Forbidden, Invalid, NotFound
from credo.inquiry.models import Inquiry, InquirySource
from credo.institution.models import Institution
from credo.security.keys import KeyRing
from credo.security.service import bind_index_key
from credo.subject.models import Subject
from credo.subject.resolution import id_blind

log = logging.getLogger(__name__)

_REF_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
#: the same words whether the identifier is unknown here or anywhere else
NO_FILE = "no credit file matches the identifier given"


@dataclass(frozen=True, slots=True)
class AuthorisedQuery:
    """An allowed query: who it is about, the consent that allows it, the inquiry it wrote."""

    #: unique id of this query (use it as the report id); also seeds the inquiry's content hash
    query_id: str
    subject: Subject
    consent: Consent
    inquiry: Inquiry
    purpose: Purpose
    scope: Scope
    at: datetime


def new_query_id() -> str:
    """An opaque random query id such as ``Q7K2M9Q4XH3TD5W8``."""
    return "Q" + "".join(secrets.choice(_REF_ALPHABET) for _ in range(15))


def find_subject(session: Session, keyring: KeyRing, *, id_type: str, id_number: str) -> Subject:
    """The subject with this identifier (by blind index; the number is never stored), or
    NotFound with a message that does not say whether the person is known elsewhere."""
    if id_type not in ID_TYPES:
        # the value is not echoed: a misplaced identifier number must not reach logs
        raise Invalid(f"unknown id_type; expected one of {', '.join(ID_TYPES)}")
    try:
        number = normalize_identifier(id_type, id_number)
    except ValueError as exc:  # the message shows the number masked
        raise Invalid(str(exc)) from None
    bind_index_key(session, keyring)
    blind = id_blind(keyring, id_type, number)
    subject = session.scalar(select(Subject).where(Subject.id_blind == blind))
    if subject is None:
        raise NotFound(NO_FILE)
    return subject


def authorise_query(
    session: Session,
    principal: Principal,
    *,
    id_type: str,
    id_number: str,
    purpose: Purpose | str,
    consent_ref: str,
    scope: Scope | str,
    keyring: KeyRing,
    at: datetime | None = None,
) -> AuthorisedQuery:
    """Allow `principal` to see the report or score of the subject with this identifier, or
    raise: Forbidden (no querier role; consent missing, of another subject, purpose or scope,
    expired, revoked), NotFound (no such file), Invalid (bad purpose, scope or identifier).

    An allowed query writes one inquiry (hard or soft by purpose, see `INQUIRY_KIND`) and one
    ledger entry ``query.authorise``; neither carries the identifier.
    """
    try:
        return _authorise(
            session, principal, id_type=id_type, id_number=id_number, purpose=purpose,
            consent_ref=consent_ref, scope=scope, keyring=keyring, at=at or utcnow(),
        )  # fmt: skip
    except (Forbidden, NotFound, Invalid) as exc:
        # messages never carry an identifier (see credo.access.policy), so they can be logged
        log.info("query refused for %s: %s", principal.actor, exc.message)
        raise


def _authorise(
    session: Session,
    principal: Principal,
    *,
    id_type: str,
    id_number: str,
    purpose: Purpose | str,
    consent_ref: str,
    scope: Scope | str,
    keyring: KeyRing,
    at: datetime,
) -> AuthorisedQuery:
    require_role(principal, Role.querier)
    purpose, scope = parse_purpose(purpose), parse_scope(scope)
    ref = (consent_ref or "").strip().upper()
    institution = session.get(Institution, principal.institution_id)
    consent = session.scalar(select(Consent).where(Consent.ref == ref)) if ref else None
    if consent is None or consent.institution_id != principal.institution_id:
        raise refuse(not_on_file(ref or "(none)", institution.code))
    subject = find_subject(session, keyring, id_type=id_type, id_number=id_number)
    consent = check_consent(
        session,
        subject=subject,
        institution=institution,
        purpose=purpose,
        scope=scope,
        at=at,
        consent_ref=ref,
    )
    query_id = new_query_id()
    kind = inquiry_kind(purpose)
    inquiry = Inquiry(
        subject_id=subject.id,
        institution_id=institution.id,
        inquired_on=at.date(),
        purpose=purpose.value,
        kind=kind,
        source=InquirySource.api,
        # unique per institution by construction: the query id is random
        content_hash=hashlib.sha256(f"api-query|{query_id}".encode()).hexdigest(),
        recorded_at=at,
    )
    session.add(inquiry)
    session.flush()
    audit.record(  # written at commit: the ledger lock is not held while the query is served
        session,
        actor=principal.actor,
        action="query.authorise",
        target=f"subject:{subject.ref}",
        details={
            "query_id": query_id,
            "institution": institution.code,
            "key_id": principal.key_id,
            "purpose": purpose.value,
            "scope": scope.value,
            "consent": consent.ref,
            "inquiry": kind.value,
        },
    )
    log.info("query %s authorised for %s (%s, %s)", query_id, principal.actor, purpose, kind)
    return AuthorisedQuery(
        query_id=query_id,
        subject=subject,
        consent=consent,
        inquiry=inquiry,
        purpose=purpose,
        scope=scope,
        at=at,
    )
