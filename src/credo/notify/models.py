"""The notification outbox.

A notice is written in the same transaction as the change it reports (a dispute decided, a
report corrected, a freeze placed), so it exists exactly when the change does; a delivery worker
sends it later through a channel and retries on failure. The payload names things by their
public references (subject ref, dispute ref, report id) and never holds a raw identifier.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from credo.db import Base, BigId, UTCDateTime, str_enum, utcnow


class RecipientKind(enum.StrEnum):
    subject = "subject"
    institution = "institution"


class NotificationStatus(enum.StrEnum):
    #: waiting for (another) delivery attempt at ``next_attempt_at``
    pending = "pending"
    delivered = "delivered"
    #: gave up after the maximum number of attempts; ``last_error`` says why
    failed = "failed"


class Notification(Base):
    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: opaque public reference (``N`` + 12 chars)
    ref: Mapped[str] = mapped_column(String(20), unique=True)
    recipient_kind: Mapped[RecipientKind] = mapped_column(str_enum(RecipientKind, 16))
    subject_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("subject.id"), index=True, default=None
    )
    institution_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("institution.id"), index=True, default=None
    )
    #: what happened, e.g. ``dispute.received``, ``dispute.decided``, ``report.corrected``,
    #: ``freeze.placed``, ``freeze.lifted``
    kind: Mapped[str] = mapped_column(String(40))
    #: JSON body of the notice (public references only)
    payload: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[NotificationStatus] = mapped_column(
        str_enum(NotificationStatus, 16), default=NotificationStatus.pending
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: the channel that delivered it (or last tried): ``log``, ``webhook``
    channel: Mapped[str | None] = mapped_column(String(16), default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
