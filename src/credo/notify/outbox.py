"""Writing notices into the outbox (delivery: `credo.notify.deliver`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from credo.audit.service import refuse_raw_identifiers
from credo.core.refs import new_ref
from credo.db import utcnow
from credo.notify.models import Notification, RecipientKind


def enqueue(
    session: Session,
    *,
    kind: str,
    payload: dict[str, Any],
    subject_id: int | None = None,
    institution_id: int | None = None,
    now: datetime | None = None,
) -> Notification:
    """Add one notice for a subject or an institution (exactly one of the two ids).

    It is part of the caller's transaction: rolled back with it, committed with it. The payload
    is checked like a ledger entry: a raw identifier number in it raises at once.
    """
    if (subject_id is None) == (institution_id is None):
        raise ValueError("a notice goes to exactly one subject or one institution")
    refuse_raw_identifiers(payload, "notice payload")
    now = now or utcnow()
    notice = Notification(
        ref=new_ref("N"),
        recipient_kind=RecipientKind.subject
        if subject_id is not None
        else RecipientKind.institution,
        subject_id=subject_id,
        institution_id=institution_id,
        kind=kind,
        payload=orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode(),
        created_at=now,
        next_attempt_at=now,
    )
    session.add(notice)
    return notice
