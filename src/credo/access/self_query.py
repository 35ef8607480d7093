"""A subject's own report: the free-report quota and the soft self-query inquiry it writes.

The law gives subjects a number of free reports per calendar year (`Profile.free_reports_per_year`:
2 in ``cn``, 1 in ``us``). They are counted from the subject's own inquiries written by
``GET /v1/me/report`` (source ``subject``) in the current UTC calendar year; past the quota the
request is refused with the date of the next free report, and nothing is written.

Each inquiry needs an institution: for a subject's own report it is the bureau itself, an
institution row of kind ``bureau`` created (and ledgered) on first use, code `BUREAU_CODE`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from credo.access.flows import new_query_id
from credo.access.models import Purpose
from credo.access.policy import inquiry_kind
from credo.access.subject_access import SubjectPrincipal
from credo.config import Profile
from credo.errors import Forbidden
from credo.inquiry.models import Inquiry, InquirySource
from credo.institution.service import bureau_institution
from credo.subject.models import Subject

#: the bureau's own institution code: the inquirer shown for a subject's own reports


@dataclass(frozen=True, slots=True)
class SelfQuery:
    """An allowed self-query: the report id, the subject, its inquiry, free reports left."""

    query_id: str
    subject: Subject
    inquiry: Inquiry
    remaining: int
    at: datetime


def next_free_report(at: datetime) -> date:
    """When the next year's free reports become available: 1 January of the next year."""
    return date(at.year + 1, 1, 1)


def free_reports_used(session: Session, subject_id: int, year: int) -> int:
    """How many of their own reports the subject pulled in calendar year `year`."""
    return session.scalar(
        select(func.count(Inquiry.id)).where(
            Inquiry.subject_id == subject_id,
            Inquiry.source == InquirySource.subject,
            Inquiry.inquired_on >= date(year, 1, 1),
            Inquiry.inquired_on <= date(year, 12, 31),
        )
    )


def authorise_self_query(
    session: Session, me: SubjectPrincipal, *, profile: Profile, at: datetime
) -> SelfQuery:
    """Allow the subject's own report at `at` and write its soft ``self_query`` inquiry, or
    Forbidden (reason ``free_report_quota``, with ``next_free_report``) past the quota."""
    # serialise one subject's own queries (PostgreSQL), so that two at once cannot both take
    # the last free report; SQLite serialises writers anyway
    subject = session.scalar(select(Subject).where(Subject.id == me.subject_id).with_for_update())
    used = free_reports_used(session, subject.id, at.year)
    quota = profile.free_reports_per_year
    if used >= quota:
        nxt = next_free_report(at)
        raise Forbidden(
            f"you have had your {quota} free report{'s' if quota != 1 else ''} for {at.year}; "
            f"the next free report is available on {nxt.isoformat()}",
            reason="free_report_quota",
            next_free_report=nxt.isoformat(),
        )
    bureau = bureau_institution(session)
    query_id = new_query_id()
    inquiry = Inquiry(
        subject_id=subject.id,
        institution_id=bureau.id,
        inquired_on=at.date(),
        purpose=Purpose.self_query.value,
        kind=inquiry_kind(Purpose.self_query),
        source=InquirySource.subject,
        # unique per institution by construction: the query id is random
        content_hash=hashlib.sha256(f"self-query|{query_id}".encode()).hexdigest(),
        recorded_at=at,
    )
    session.add(inquiry)
    session.flush()
    return SelfQuery(query_id, subject, inquiry, quota - used - 1, at)
