"""Inquiry table."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from credo.db import Base, BigId, UTCDateTime, str_enum, utcnow


class InquiryKind(enum.StrEnum):
    #: a query for a new credit decision; counts in the new-credit features
    hard = "hard"
    #: post-loan management, self-queries, prescreening
    soft = "soft"


class InquirySource(enum.StrEnum):
    furnished = "furnished"
    api = "api"
    #: the subject's own report through ``GET /v1/me/report`` (counts against the free quota)
    subject = "subject"


class Inquiry(Base):
    __tablename__ = "inquiry"
    __table_args__ = (UniqueConstraint("institution_id", "content_hash"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject_id: Mapped[int] = mapped_column(BigId, ForeignKey("subject.id"), index=True)
    #: the institution that made the inquiry (for imports: the furnisher of the file)
    institution_id: Mapped[int] = mapped_column(BigId, ForeignKey("institution.id"))
    inquired_on: Mapped[date] = mapped_column(Date)
    purpose: Mapped[str] = mapped_column(String(40))
    kind: Mapped[InquiryKind] = mapped_column(str_enum(InquiryKind, 8))
    source: Mapped[InquirySource] = mapped_column(str_enum(InquirySource, 16))
    content_hash: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("furnishing_batch.id"), default=None
    )
    line_no: Mapped[int | None] = mapped_column(Integer, default=None)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
