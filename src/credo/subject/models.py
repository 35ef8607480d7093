"""Subject, per-furnisher identity information, identity review queue.

Names, identifier numbers, birth dates, phones and addresses are stored only encrypted
(``*_enc``, see `credo.security.keys`); lookups go through keyed blind indexes (``*_blind``).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from credo.db import Base, BigId, UTCDateTime, str_enum, utcnow
from credo.versioning import Versioned


class SubjectType(enum.StrEnum):
    person = "person"
    enterprise = "enterprise"


class IdType(enum.StrEnum):
    prc_id = "prc_id"
    uscc = "uscc"
    passport = "passport"
    other = "other"


class Subject(Base):
    """A person or enterprise, keyed by the blind index of its normalised identifier."""

    __tablename__ = "subject"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: opaque public reference (never derived from personal data)
    ref: Mapped[str] = mapped_column(String(20), unique=True)
    subject_type: Mapped[SubjectType] = mapped_column(str_enum(SubjectType))
    id_type: Mapped[IdType] = mapped_column(str_enum(IdType))
    #: HMAC of "id_type:normalised id_number"
    id_blind: Mapped[str] = mapped_column(String(64), unique=True)
    id_enc: Mapped[bytes] = mapped_column(LargeBinary)
    name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    birth_date_enc: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    #: HMAC of "normalised name|birth date", for candidate duplicate detection
    name_dob_blind: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    #: protected attributes: kept for fairness measurement only, never model features
    gender: Mapped[str | None] = mapped_column(String(1), default=None)
    region: Mapped[str | None] = mapped_column(String(6), default=None)
    birth_year: Mapped[int | None] = mapped_column(Integer, default=None)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    batch_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("furnishing_batch.id"), default=None
    )


class SubjectInfo(Versioned, Base):
    """Identity and contact details as one furnisher reported them (history kept)."""

    __tablename__ = "subject_info"
    __table_args__ = (
        Index(
            "uq_subject_info_current",
            "subject_id",
            "institution_id",
            unique=True,
            sqlite_where=text("superseded_at IS NULL"),
            postgresql_where=text("superseded_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject_id: Mapped[int] = mapped_column(BigId, ForeignKey("subject.id"), index=True)
    institution_id: Mapped[int] = mapped_column(BigId, ForeignKey("institution.id"))
    name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    phone_blind: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    address_enc: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)


class ReviewKind(enum.StrEnum):
    #: the same identifier arrived with a different name or birth date
    identity_conflict = "identity_conflict"
    #: a new identifier whose name + birth date or phone matches another subject
    possible_duplicate = "possible_duplicate"


class ReviewStatus(enum.StrEnum):
    open = "open"
    resolved = "resolved"


class IdentityReview(Base):
    """A record held for an operator's decision instead of being merged silently."""

    __tablename__ = "identity_review"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[ReviewKind] = mapped_column(str_enum(ReviewKind))
    status: Mapped[ReviewStatus] = mapped_column(str_enum(ReviewStatus), default=ReviewStatus.open)
    subject_id: Mapped[int] = mapped_column(BigId, ForeignKey("subject.id"), index=True)
    other_subject_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("subject.id"), default=None
    )
    batch_id: Mapped[int] = mapped_column(BigId, ForeignKey("furnishing_batch.id"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    #: comma-separated field names that differ or match
    fields: Mapped[str] = mapped_column(String(200))
    #: encrypted JSON of the furnished values, for the reviewer (reads are audited)
    detail_enc: Mapped[bytes] = mapped_column(LargeBinary)
    resolution: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
