"""Furnishing batches and quarantined rows."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from credo.db import Base, BigId, UTCDateTime, str_enum, utcnow


class BatchStatus(enum.StrEnum):
    completed = "completed"
    #: the file was not the format at all; nothing from it was stored
    failed = "failed"


class FurnishingBatch(Base):
    __tablename__ = "furnishing_batch"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ref: Mapped[str] = mapped_column(String(32), unique=True)
    institution_id: Mapped[int] = mapped_column(BigId, ForeignKey("institution.id"), index=True)
    file_name: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    file_format: Mapped[str] = mapped_column(String(8))
    format_version: Mapped[str] = mapped_column(String(8))
    #: the reporting date of the file: no period or event may lie after it
    as_of: Mapped[date] = mapped_column(Date)
    status: Mapped[BatchStatus] = mapped_column(str_enum(BatchStatus, 16))
    actor: Mapped[str] = mapped_column(String(100))
    profile: Mapped[str] = mapped_column(String(4))
    lines: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    corrections: Mapped[int] = mapped_column(Integer, default=0)
    flagged: Mapped[int] = mapped_column(Integer, default=0)
    #: JSON: rows added / superseded per table, for the ledger and the batch report
    changes: Mapped[str] = mapped_column(Text, default="{}")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class QuarantinedRow(Base):
    """A furnished row that failed validation: where, which field, why. Nothing is dropped."""

    __tablename__ = "quarantined_row"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    batch_id: Mapped[int] = mapped_column(BigId, ForeignKey("furnishing_batch.id"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    record_type: Mapped[str | None] = mapped_column(String(32), default=None)
    field: Mapped[str | None] = mapped_column(String(64), default=None)
    reason: Mapped[str] = mapped_column(String(500))
    #: False: rejected by validation; True: held for identity review (nothing applied)
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the offending value, masked if it could be personal data
    masked_value: Mapped[str | None] = mapped_column(String(200), default=None)
    #: the whole raw line, encrypted, so an operator can inspect it (reads are audited)
    raw_enc: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
