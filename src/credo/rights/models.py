"""Tables of the subject's rights over their file (SPEC rules table; seed 000 §3.3-3.4, §10).

* `Dispute` and `DisputeEvent`: a subject contests one record; the furnisher answers, an operator
  decides; every step is an event, so a dispute's whole history can be shown.
* `PersonalStatement` (本人声明): the subject's own words, printed in the report.
* `FileFlag`: a freeze (new hard inquiries refused) or a fraud alert (shown to every querier).
* `OptOut`: a subject's opt-out of prescreening or marketing uses of their file.

Free text a subject writes (dispute reasons, statements) can hold personal data, so it is stored
only encrypted (``*_enc``, `credo.security.keys`), like names and identifier numbers.

Disputed records are named by kind and a stable key rather than by foreign key: a correction
supersedes the disputed version and retention may erase it, while the dispute's history stays.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from credo.db import Base, BigId, UTCDateTime, str_enum, utcnow


def _open_only(name: str, *cols: str, where: str) -> Index:
    return Index(name, *cols, unique=True, sqlite_where=text(where), postgresql_where=text(where))


class DisputeRecordType(enum.StrEnum):
    """What kind of record a dispute contests (the report's ``DisputeMark.record_type``)."""

    #: one field of the subject's identity (name, birth date, phone, address)
    identity = "identity"
    #: an account's furnished attributes (type, dates, limit, status)
    account = "account"
    #: one monthly status of an account
    status = "status"
    public_record = "public_record"
    inquiry = "inquiry"


class DisputeStatus(enum.StrEnum):
    #: filed; waiting for the furnisher
    open = "open"
    #: the furnisher answered (confirm or correct); waiting for an operator's decision
    answered = "answered"
    #: decided; ``outcome`` says how
    closed = "closed"


class DisputeOutcome(enum.StrEnum):
    #: the record was wrong: a correction supersedes it, the subject is re-scored
    corrected = "corrected"
    #: the record is accurate: the mark is removed, the subject may add a statement
    confirmed = "confirmed"
    #: could not be settled: the mark stays with a note
    unresolved = "unresolved"


class FurnisherAnswer(enum.StrEnum):
    confirm = "confirm"
    correct = "correct"


class Dispute(Base):
    """A subject's dispute of one record, from filing to decision."""

    __tablename__ = "dispute"
    __table_args__ = (
        # at most one dispute not yet closed per record
        _open_only("uq_dispute_open_target", "subject_id", "target_key", where="closed_at IS NULL"),
        Index("ix_dispute_status_due", "status", "due_on"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: opaque public reference (``D`` + 12 chars)
    ref: Mapped[str] = mapped_column(String(20), unique=True)
    subject_id: Mapped[int] = mapped_column(BigId, ForeignKey("subject.id"), index=True)
    record_type: Mapped[DisputeRecordType] = mapped_column(str_enum(DisputeRecordType, 16))
    #: stable name of the record across its versions, e.g. ``status:<account id>:2024-05``,
    #: ``account:<account id>``, ``public_record:<institution id>:<kind>:<case ref>``,
    #: ``inquiry:<inquiry id>``, ``identity:<field>``
    target_key: Mapped[str] = mapped_column(String(200))
    #: the row id of the version disputed (no foreign key: it may be superseded or erased)
    record_id: Mapped[int | None] = mapped_column(BigId, default=None)
    #: the account of an account or status dispute
    account_id: Mapped[int | None] = mapped_column(BigId, default=None)
    #: the month of a status dispute
    period: Mapped[date | None] = mapped_column(Date, default=None)
    #: the identity field of an identity dispute (name, birth_date, phone, address)
    field: Mapped[str | None] = mapped_column(String(32), default=None)
    #: the institution that furnished the record and must answer (None: the bureau answers)
    institution_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("institution.id"), index=True, default=None
    )
    #: the subject's reason, encrypted (free text may hold personal data)
    reason_enc: Mapped[bytes] = mapped_column(LargeBinary)
    #: hex SHA-256 of evidence the subject supplied (the document stays with the bureau's intake)
    evidence_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    status: Mapped[DisputeStatus] = mapped_column(
        str_enum(DisputeStatus, 16), default=DisputeStatus.open
    )
    outcome: Mapped[DisputeOutcome | None] = mapped_column(
        str_enum(DisputeOutcome, 16), default=None
    )
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    filed_by: Mapped[str] = mapped_column(String(100))
    #: the last day to close the dispute (profile's dispute days, extended once with new
    #: information where the profile allows)
    due_on: Mapped[date] = mapped_column(Date)
    extended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: set when the dispute was found past its due date and not closed
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    answer: Mapped[FurnisherAnswer | None] = mapped_column(
        str_enum(FurnisherAnswer, 16), default=None
    )
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    answered_by: Mapped[str | None] = mapped_column(String(100), default=None)
    #: JSON of the corrected values the furnisher proposes (``correct``) or the operator applies
    correction: Mapped[str | None] = mapped_column(Text, default=None)
    decided_by: Mapped[str | None] = mapped_column(String(100), default=None)
    #: the decision's note, shown with an unresolved mark
    decision_note: Mapped[str | None] = mapped_column(String(1000), default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: the batch that holds the correction (its rows supersede the disputed version)
    correction_batch_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("furnishing_batch.id"), default=None
    )


class DisputeEvent(Base):
    """One step in a dispute's history: filed, extended, answered, escalated, decided, ..."""

    __tablename__ = "dispute_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dispute_id: Mapped[int] = mapped_column(BigId, ForeignKey("dispute.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    #: free text of the step (furnisher's or operator's note); never the subject's reason
    note: Mapped[str | None] = mapped_column(String(2000), default=None)
    #: hex SHA-256 of evidence attached to this step
    evidence_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    #: JSON details of the step (old and new values of a correction, new due date, ...)
    detail: Mapped[str] = mapped_column(Text, default="{}")


class PersonalStatement(Base):
    """A subject's statement (本人声明). Editing closes the current row and adds a new one."""

    __tablename__ = "personal_statement"
    __table_args__ = (
        _open_only("uq_personal_statement_current", "subject_id", where="removed_at IS NULL"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject_id: Mapped[int] = mapped_column(BigId, ForeignKey("subject.id"), index=True)
    text_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    removed_by: Mapped[str | None] = mapped_column(String(100), default=None)


class FlagKind(enum.StrEnum):
    #: new hard inquiries are refused until the subject lifts it
    freeze = "freeze"
    #: shown in the report header and in score responses
    fraud_alert = "fraud_alert"


class FileFlag(Base):
    """A freeze or a fraud alert on a subject's file."""

    __tablename__ = "file_flag"
    __table_args__ = (
        _open_only("uq_file_flag_active", "subject_id", "kind", where="lifted_at IS NULL"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: opaque public reference (``F`` + 12 chars)
    ref: Mapped[str] = mapped_column(String(20), unique=True)
    subject_id: Mapped[int] = mapped_column(BigId, ForeignKey("subject.id"), index=True)
    kind: Mapped[FlagKind] = mapped_column(str_enum(FlagKind, 16))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    placed_by: Mapped[str] = mapped_column(String(100))
    #: None: until lifted (freezes); fraud alerts always expire (1 year, 7 with a report)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: hex SHA-256 of the identity-theft report behind an extended (7-year) fraud alert
    identity_theft_report_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    #: set when lifted, or when found expired (``lifted_by`` = "expired")
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    lifted_by: Mapped[str | None] = mapped_column(String(100), default=None)


class OptOutUse(enum.StrEnum):
    #: prescreened offers of credit or insurance (FCRA §604(c), §615(d))
    prescreen = "prescreen"
    #: any marketing use of the file
    marketing = "marketing"


class OptOut(Base):
    """A subject's opt-out of one use of their file, until revoked."""

    __tablename__ = "opt_out"
    __table_args__ = (
        _open_only("uq_opt_out_active", "subject_id", "use", where="revoked_at IS NULL"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject_id: Mapped[int] = mapped_column(BigId, ForeignKey("subject.id"), index=True)
    use: Mapped[OptOutUse] = mapped_column(str_enum(OptOutUse, 16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    revoked_by: Mapped[str | None] = mapped_column(String(100), default=None)
