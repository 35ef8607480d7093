"""Public record table."""

from __future__ import annotations

import enum
from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from credo.db import Base, BigId, str_enum
from credo.versioning import Versioned


class PublicRecordKind(enum.StrEnum):
    court_judgment = "court_judgment"
    #: 失信被执行人 — a judgment debtor on the enforcement list
    enforcement = "enforcement"
    tax_arrears = "tax_arrears"
    admin_penalty = "admin_penalty"
    #: kept longer in the ``us`` profile (FCRA §605(a)(1)); stored as text, so no migration
    bankruptcy = "bankruptcy"


class PublicRecord(Versioned, Base):
    __tablename__ = "public_record"
    __table_args__ = (
        Index(
            "uq_public_record_current",
            "institution_id",
            "kind",
            "case_ref",
            unique=True,
            sqlite_where=text("superseded_at IS NULL"),
            postgresql_where=text("superseded_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject_id: Mapped[int] = mapped_column(BigId, ForeignKey("subject.id"), index=True)
    institution_id: Mapped[int] = mapped_column(BigId, ForeignKey("institution.id"))
    kind: Mapped[PublicRecordKind] = mapped_column(str_enum(PublicRecordKind))
    authority: Mapped[str] = mapped_column(String(200))
    case_ref: Mapped[str] = mapped_column(String(100))
    amount_cents: Mapped[int | None] = mapped_column(BigInteger, default=None)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    filed_on: Mapped[date] = mapped_column(Date)
    resolved_on: Mapped[date | None] = mapped_column(Date, default=None)
    subject_notified_on: Mapped[date | None] = mapped_column(Date, default=None)
