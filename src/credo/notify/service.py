"""Reading the outbox (a recipient's own notices, an operator's list) and retrying a failure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from credo.audit import service as audit
from credo.db import utcnow
from credo.errors import Conflict, Invalid, NotFound
from credo.institution.models import Institution
from credo.institution.service import get_by_code
from credo.notify.models import Notification, NotificationStatus, RecipientKind
from credo.subject.models import Subject


def payload(notice: Notification) -> dict[str, Any]:
    """The notice's payload as data."""
    return orjson.loads(notice.payload)


def parse_status(value: str | None) -> NotificationStatus | None:
    """A status filter; Invalid naming the value when it is not one."""
    if value is None:
        return None
    try:
        return NotificationStatus(value.strip().lower())
    except ValueError:
        raise Invalid(
            f"status must be one of {', '.join(NotificationStatus)}; got {value!r}"
        ) from None


def get(session: Session, *, ref: str) -> Notification:
    """The notice `ref`, or NotFound."""
    notice = session.scalar(select(Notification).where(Notification.ref == ref.strip().upper()))
    if notice is None:
        raise NotFound(f"no notice {ref.strip().upper()!r}")
    return notice


def _page(
    stmt: Select, *, limit: int, after: int | None, status: NotificationStatus | None
) -> Select:
    # newest first in the order they were written; keyset on the id, so a page is stable while
    # new notices arrive
    stmt = stmt.order_by(Notification.id.desc()).limit(limit + 1)
    if after is not None:
        stmt = stmt.where(Notification.id < after)
    if status is not None:
        stmt = stmt.where(Notification.status == status)
    return stmt


def page_for_subject(
    session: Session,
    *,
    subject_id: int,
    limit: int,
    after: int | None = None,
    status: NotificationStatus | None = None,
) -> list[Notification]:
    """Up to `limit` + 1 of a subject's own notices, newest first, after the id `after`."""
    stmt = select(Notification).where(Notification.subject_id == subject_id)
    return list(session.scalars(_page(stmt, limit=limit, after=after, status=status)))


def page_for_institution(
    session: Session,
    *,
    institution_id: int,
    limit: int,
    after: int | None = None,
    status: NotificationStatus | None = None,
) -> list[Notification]:
    """Up to `limit` + 1 of an institution's own notices, newest first, after the id `after`."""
    stmt = select(Notification).where(Notification.institution_id == institution_id)
    return list(session.scalars(_page(stmt, limit=limit, after=after, status=status)))


def list_(
    session: Session,
    *,
    status: str | None = None,
    subject_ref: str | None = None,
    institution_code: str | None = None,
    limit: int = 100,
) -> list[tuple[Notification, str]]:
    """The newest notices (operators), each with its recipient (``subject:REF`` or
    ``institution:CODE``); filters by status, subject and institution."""
    if limit < 1:
        raise Invalid(f"limit must be at least 1; got {limit}")
    wanted = parse_status(status)
    recipient = (
        select(Notification, Subject.ref, Institution.code)
        .outerjoin(Subject, Subject.id == Notification.subject_id)
        .outerjoin(Institution, Institution.id == Notification.institution_id)
    )
    if subject_ref is not None:
        subject_id = session.scalar(select(Subject.id).where(Subject.ref == subject_ref.upper()))
        if subject_id is None:
            raise NotFound(f"no subject {subject_ref.upper()!r}")
        recipient = recipient.where(Notification.subject_id == subject_id)
    if institution_code is not None:
        inst = get_by_code(session, code=institution_code.strip().upper())
        recipient = recipient.where(Notification.institution_id == inst.id)
    rows = session.execute(_page(recipient, limit=limit, after=None, status=wanted)).all()
    return [
        (
            n,
            f"subject:{ref}"
            if n.recipient_kind is RecipientKind.subject
            else f"institution:{code}",
        )
        for n, ref, code in rows[:limit]
    ]


def retry(session: Session, *, ref: str, actor: str, now: datetime | None = None) -> Notification:
    """Put a failed notice back in the queue, due now, with its attempts counted afresh
    (audited). Only a failed notice can be retried: a pending one is queued already, a
    delivered one was received."""
    notice = get(session, ref=ref)
    if notice.status is not NotificationStatus.failed:
        raise Conflict(
            f"notice {notice.ref} is {notice.status.value}; only a failed notice can be retried"
        )
    previous = notice.attempts
    notice.status = NotificationStatus.pending
    notice.attempts = 0
    notice.next_attempt_at = now or utcnow()
    session.flush()
    audit.append(
        session, actor=actor, action="notify.retry", target=f"notification:{notice.ref}",
        details={"kind": notice.kind, "previous_attempts": previous,
                 "last_error": notice.last_error},
    )  # fmt: skip
    return notice
