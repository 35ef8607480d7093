"""Authorising an institution's report or score query: role, consent, inquiry, ledger.

This is the one call the API makes before serving a report or a score. No answer tells an
institution whether a number it has no consent for has a credit file here: the consent ref is
checked against the calling institution first, and the identifier is then only compared (by
blind index) with the subject the consent names; a number that is not that subject's answers
404 in the same words whether or not it has a file of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import date, datetime

from psycopg.rows import namedtuple_row
from sqlalchemy import and_, bindparam, insert, or_, select
from sqlalchemy.orm import Session

from credo.access.consent import refuse
from credo.access.keys import Principal, require_role
from credo.access.models import Consent, Purpose, Role, Scope
from credo.access.policy import (
    OPT_OUT_OF,
    ConsentFacts,
    consent_problem,
    frozen_file,
    inquiry_kind,
    not_on_file,
    opted_out,
    parse_purpose,
    parse_scope,
    unlawful_purpose,
)
from credo.audit import service as audit
from credo.config import Profile, get_settings
from credo.core.normalize import ID_TYPES, normalize_identifier
from credo.core.refs import new_ref
from credo.db import UTCDateTime, utcnow
from credo.dbraw import RawStatement, defer, driver, utc
from credo.errors import Forbidden, Invalid, NotFound
from credo.inquiry.models import Inquiry, InquiryKind, InquirySource
from credo.rights import controls
from credo.rights.models import FileFlag, FlagKind, OptOutUse
from credo.security.keys import KeyRing
from credo.security.models import KeyState
from credo.security.service import INDEX_KID, bind_index_key
from credo.subject.models import Subject, SubjectType
from credo.subject.resolution import id_blind

log = logging.getLogger(__name__)

#: the same words whether the identifier is unknown here or anywhere else
NO_FILE = "no credit file matches the identifier given"
#: a query's 404: the same words whether the number has no file here or is another person's
NO_FILE_UNDER_CONSENT = "no credit file covered by this consent matches the identifier given"


@dataclass(frozen=True, slots=True)
class QuerySubject:
    """The subject a query is about (no personal data)."""

    id: int
    ref: str
    subject_type: SubjectType


@dataclass(frozen=True, slots=True)
class QueryInquiry:
    """The inquiry an allowed query wrote."""

    kind: InquiryKind
    purpose: str
    inquired_on: date
    content_hash: str


@dataclass(frozen=True, slots=True)
class AuthorisedQuery:
    """An allowed query: who it is about, the consent that allows it, the inquiry it wrote."""

    #: unique id of this query (use it as the report id); also seeds the inquiry's content hash
    query_id: str
    subject: QuerySubject
    consent: ConsentFacts
    inquiry: QueryInquiry
    purpose: Purpose
    scope: Scope
    at: datetime
    #: the subject's freeze and fraud alert in force at `at` (a score response shows the alert)
    flags: controls.Flags


def new_query_id() -> str:
    """An opaque random query id such as ``Q7K2M9Q4XH3TD5W8``."""
    return new_ref("Q", 15)


def _blind(
    session: Session, keyring: KeyRing, *, id_type: str, id_number: str, kid: str | None = None
) -> str:
    """The blind index of an identifier under index generation `kid` (default: the one the
    database records); Invalid (never echoing it) when it is malformed."""
    if id_type not in ID_TYPES:
        # the value is not echoed: a misplaced identifier number must not reach logs
        raise Invalid(f"unknown id_type; expected one of {', '.join(ID_TYPES)}")
    try:
        number = normalize_identifier(id_type, id_number)
    except ValueError as exc:  # the message shows the number masked
        raise Invalid(str(exc)) from None
    if kid is None:
        bind_index_key(session, keyring)
    else:  # the generation the database records, read with the query (bind_index_key's rule)
        keyring.generation(kid)  # a clear error when that secret is not in the ring
        keyring.index_kid = kid
    return id_blind(keyring, id_type, number)


def find_subject(session: Session, keyring: KeyRing, *, id_type: str, id_number: str) -> Subject:
    """The subject with this identifier (by blind index; the number is never stored), or
    NotFound with a message that does not say whether the person is known elsewhere."""
    blind = _blind(session, keyring, id_type=id_type, id_number=id_number)
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
    profile: Profile | None = None,
) -> AuthorisedQuery:
    """Allow `principal` to see the report or score of the subject with this identifier, or
    raise: Forbidden (no querier role; a purpose the `profile`'s law bars; consent missing, of
    another subject, purpose or scope, expired, revoked; a hard inquiry on a frozen file; a use
    the subject opted out of), NotFound (no such file), Invalid (bad purpose, scope or
    identifier).

    An allowed query writes one inquiry (hard or soft by purpose, see `INQUIRY_KIND`) and one
    ledger entry ``query.authorise``; neither carries the identifier.
    """
    try:
        return _authorise(
            session, principal, id_type=id_type, id_number=id_number, purpose=purpose,
            consent_ref=consent_ref, scope=scope, keyring=keyring, at=at or utcnow(),
            profile=profile or get_settings().jurisdiction,
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
    profile: Profile,
) -> AuthorisedQuery:
    require_role(principal, Role.querier)
    purpose, scope = parse_purpose(purpose), parse_scope(scope)
    unlawful = unlawful_purpose(purpose, profile.code)
    if unlawful is not None:  # about the purpose alone: says nothing about anyone's file
        raise refuse(unlawful)
    ref = (consent_ref or "").strip().upper()
    # One read brings the consent, its subject, the blind-index generation and the subject's
    # flags in force at `at`; the rules below still decide in the same order, and nothing of
    # the subject is used before the consent is shown to be this institution's.
    pg = driver(session)
    if not ref:
        rows = []
    elif pg is not None:  # PostgreSQL: straight on psycopg (credo.dbraw), times made UTC below
        rows = _RAW_CONSENT_SUBJECT_FLAGS.all(
            pg, {"ref": ref, "at": at}, row_factory=namedtuple_row
        )
    else:
        rows = session.execute(_CONSENT_SUBJECT_FLAGS, {"ref": ref, "at": at}).all()
    head = rows[0] if rows else None
    if head is None or head.institution_id != principal.institution_id:
        raise refuse(not_on_file(ref or "(none)", principal.institution_code))
    consent = ConsentFacts(
        ref=head.ref, subject_id=head.subject_id, institution_id=head.institution_id,
        purpose=Purpose(head.purpose), scope=Scope(head.scope), granted_at=utc(head.granted_at),
        expires_at=utc(head.expires_at), revoked_at=utc(head.revoked_at),
    )  # fmt: skip
    # The consent names its subject; the identifier must be that subject's. It is compared by
    # blind index rather than looked up, and a mismatch reads exactly like a number with no
    # file: holding one consent must not let an institution test who else has a file here.
    blind = _blind(session, keyring, id_type=id_type, id_number=id_number, kid=head.index_kid)
    if not hmac.compare_digest(head.id_blind, blind):
        raise NotFound(NO_FILE_UNDER_CONSENT)
    subject = QuerySubject(head.subject_id, head.subject_ref, SubjectType(head.subject_type))
    refusal = consent_problem(
        consent, subject_id=subject.id, institution_id=principal.institution_id,
        institution_code=principal.institution_code, purpose=purpose, scope=scope, at=at,
    )  # fmt: skip
    if refusal is not None:
        raise refuse(refusal)
    # The subject's own controls, checked only once a valid consent of this subject is shown:
    # the institution already knows the person, and learns only that the query is refused.
    kind = inquiry_kind(purpose)
    flags = _flags(rows)
    if kind is InquiryKind.hard and flags.frozen:
        raise refuse(frozen_file(purpose))
    use = OPT_OUT_OF.get(purpose)
    if use is not None and controls.is_opted_out(session, subject.id, OptOutUse(use), at):
        raise refuse(opted_out(purpose))
    query_id = new_query_id()
    inquiry = QueryInquiry(
        kind=kind, purpose=purpose.value, inquired_on=at.date(),
        # unique per institution by construction: the query id is random
        content_hash=hashlib.sha256(f"api-query|{query_id}".encode()).hexdigest(),
    )  # fmt: skip
    row = {"subject_id": subject.id, "institution_id": principal.institution_id,
           "inquired_on": inquiry.inquired_on, "purpose": inquiry.purpose, "kind": kind.value,
           "source": InquirySource.api.value, "content_hash": inquiry.content_hash,
           "recorded_at": at}  # fmt: skip
    if pg is not None:
        defer(pg, _RAW_INSERT_INQUIRY, row)  # with the next reads: the report shows it
    else:  # Core: no ORM bulk machinery for one row
        session.execute(insert(Inquiry.__table__), [row])
    audit.record(  # written at commit (unsealed on the API's sessions: no ledger lock)
        session,
        actor=principal.actor,
        action="query.authorise",
        target=f"subject:{subject.ref}",
        details={
            "query_id": query_id,
            "institution": principal.institution_code,
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
        flags=flags,
    )


def _flags(rows) -> controls.Flags:
    """The freeze and fraud alert in force among the joined flag columns (the rule of
    `credo.rights.controls.active_flags`, applied in the query)."""
    by_kind = {}
    for r in rows:
        if r.flag_kind is not None:
            kind = FlagKind(r.flag_kind)
            by_kind[kind] = FileFlag(
                kind=kind, placed_at=utc(r.flag_placed_at), expires_at=utc(r.flag_expires_at),
                identity_theft_report_sha256=r.flag_report_sha256,
            )  # fmt: skip
    return controls.Flags(
        freeze=by_kind.get(FlagKind.freeze), fraud_alert=by_kind.get(FlagKind.fraud_alert)
    )


def _consent_subject_flags():
    c, s, f, k = (Consent.__table__.c, Subject.__table__.c, FileFlag.__table__.c,
                  KeyState.__table__.c)  # fmt: skip
    at = bindparam("at", type_=UTCDateTime())
    in_force = and_(
        f.subject_id == c.subject_id,
        f.placed_at <= at,
        or_(f.lifted_at.is_(None), f.lifted_at > at),
        or_(f.expires_at.is_(None), f.expires_at > at),
    )
    index_kid = select(k.value).where(k.name == INDEX_KID).scalar_subquery()
    return (
        select(
            c.ref, c.subject_id, c.institution_id, c.purpose, c.scope, c.granted_at,
            c.expires_at, c.revoked_at, s.ref.label("subject_ref"), s.subject_type, s.id_blind,
            index_kid.label("index_kid"), f.kind.label("flag_kind"),
            f.placed_at.label("flag_placed_at"), f.expires_at.label("flag_expires_at"),
            f.identity_theft_report_sha256.label("flag_report_sha256"),
        )
        .join(Subject.__table__, s.id == c.subject_id)
        .outerjoin(FileFlag.__table__, in_force)
        .where(c.ref == bindparam("ref"))
    )  # fmt: skip


_CONSENT_SUBJECT_FLAGS = _consent_subject_flags()
_RAW_CONSENT_SUBJECT_FLAGS = RawStatement(_CONSENT_SUBJECT_FLAGS)
_INQUIRY_COLUMNS = ("subject_id", "institution_id", "inquired_on", "purpose", "kind", "source",
                    "content_hash", "recorded_at")  # fmt: skip
_RAW_INSERT_INQUIRY = RawStatement(
    insert(Inquiry.__table__).values({c: bindparam(c) for c in _INQUIRY_COLUMNS})
)
