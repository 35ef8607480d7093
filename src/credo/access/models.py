"""API keys of member institutions, subjects' access credentials, and subjects' consents.

An API key is stored only as the SHA-256 of its secret; the secret is shown once when the key
is created or rotated. A consent records that a subject agreed, for one institution and one
purpose, to have the report, the score or both looked at until it expires or is revoked; the
signed consent document itself stays with the institution, only its SHA-256 is kept.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from credo.db import Base, BigId, UTCDateTime, str_enum, utcnow


class Role(enum.StrEnum):
    #: sends furnishing files and records
    furnisher = "furnisher"
    #: queries reports and scores, with a consent and a purpose
    querier = "querier"
    #: the bureau's own staff: queues, models, audit
    operator = "operator"


class Purpose(enum.StrEnum):
    """Why an institution queries a subject (the reason printed in the report's inquiry list)."""

    loan_approval = "loan_approval"
    credit_card_approval = "credit_card_approval"
    guarantee_review = "guarantee_review"
    insurance_underwriting = "insurance_underwriting"
    marketplace_risk = "marketplace_risk"
    post_loan_management = "post_loan_management"
    self_query = "self_query"
    #: prescreened offers of credit or insurance (barred by the subject's prescreen opt-out)
    prescreen = "prescreen"
    #: marketing use of the file: not lawful in the cn profile; barred by a marketing opt-out
    marketing = "marketing"


class Scope(enum.StrEnum):
    """What a consent lets the institution see (and what a query asks for)."""

    report = "report"
    score = "score"
    both = "both"


class ApiKey(Base):
    """One API key of an institution.

    Only ``secret_sha256`` is stored. A plain, unsalted SHA-256 is enough here, unlike for
    passwords: the secret is 32 random bytes (256 bits), so nobody can guess or brute-force it
    from a leaked hash, and salts or slow hashes (bcrypt, Argon2) only defend low-entropy
    secrets. A fast hash keeps authentication at microseconds per request, and being unkeyed it
    survives a rotation of the encryption master secret.
    """

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: public identifier, part of the presented token and shown in lists (``K`` + 11 chars)
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    institution_id: Mapped[int] = mapped_column(BigId, ForeignKey("institution.id"), index=True)
    #: hex SHA-256 of the whole presented token
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    #: comma-separated, sorted `Role` values; see `role_set`
    roles: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: may lie in the future: a rotated key keeps working until the end of its grace period
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    revoked_by: Mapped[str | None] = mapped_column(String(100), default=None)
    #: updated at most once a minute, so that busy keys do not write on every request
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: the key this one replaced (``credo key rotate``)
    rotated_from_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("api_key.id"), default=None
    )

    @property
    def role_set(self) -> frozenset[Role]:
        """The key's roles as a set."""
        return frozenset(Role(r) for r in self.roles.split(",") if r)


class Consent(Base):
    """A subject's consent to one institution, for one purpose and scope, for a time."""

    __tablename__ = "consent"
    __table_args__ = (Index("ix_consent_subject_institution", "subject_id", "institution_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: opaque public reference (``C`` + 12 chars), quoted by the institution with each query
    ref: Mapped[str] = mapped_column(String(20), unique=True)
    subject_id: Mapped[int] = mapped_column(BigId, ForeignKey("subject.id"))
    institution_id: Mapped[int] = mapped_column(BigId, ForeignKey("institution.id"), index=True)
    purpose: Mapped[Purpose] = mapped_column(str_enum(Purpose))
    scope: Mapped[Scope] = mapped_column(str_enum(Scope, 8))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    revoked_by: Mapped[str | None] = mapped_column(String(100), default=None)
    #: hex SHA-256 of the signed consent document (kept by the institution, not here)
    evidence_sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SubjectAccess(Base):
    """A subject's access credential to ``/v1/me``, issued by an operator who verified who the
    subject is. Stored like `ApiKey`: only the SHA-256 of the token; it always expires."""

    __tablename__ = "subject_access"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: public identifier, part of the presented token and shown in lists (``U`` + 11 chars)
    credential_id: Mapped[str] = mapped_column(String(16), unique=True)
    subject_id: Mapped[int] = mapped_column(BigId, ForeignKey("subject.id"), index=True)
    #: hex SHA-256 of the whole presented token
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    #: how the operator verified the subject's identity, e.g. "counter: ID card seen"
    verified_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    revoked_by: Mapped[str | None] = mapped_column(String(100), default=None)
    #: updated at most once a minute, like `ApiKey.last_used_at`
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
