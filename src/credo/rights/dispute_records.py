"""Naming a disputed record the way the subject sees it, and showing it as its furnisher does.

A subject names the record by what their own report shows them (`RecordName`); `resolve` finds
the subject's own current record or answers 404 ``record_not_found`` in the same words whether
the record belongs to someone else or to no one. `current_record` is what the furnisher sees
when it answers: the record as on file now, its own account numbers in full.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from credo.account.models import Account, AccountVersion, StatusRecord
from credo.core.masking import shown
from credo.errors import Invalid, NotFound
from credo.inquiry.models import Inquiry
from credo.institution.models import Institution, InstitutionKind
from credo.public_record.models import PublicRecord, PublicRecordKind
from credo.rights.models import Dispute, DisputeRecordType
from credo.subject.models import Subject, SubjectInfo

#: identity fields a subject may dispute
IDENTITY_FIELDS = ("name", "birth_date", "phone", "address")
#: what names a record of each type: (required, optional)
NAMED_BY: dict[DisputeRecordType, tuple[tuple[str, ...], tuple[str, ...]]] = {
    DisputeRecordType.status: (("institution", "account_ref", "period"), ()),
    DisputeRecordType.account: (("institution", "account_ref"), ()),
    DisputeRecordType.public_record: (("institution", "case_ref"), ("kind",)),
    DisputeRecordType.inquiry: (("inquiry_id",), ()),
    DisputeRecordType.identity: (("field",), ()),
}
_PERIOD = re.compile(r"(\d{4})-(\d{2})")
#: control characters other than tab and newline (PostgreSQL refuses NUL in text outright)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


# -- errors --------------------------------------------------------------------------------------
def _a(word: str) -> str:
    """``a status``, ``an account``, ``an inquiry``, ``an identity``."""
    return ("an " if word[0] in "aeiou" else "a ") + word.replace("_", " ")


def invalid(field: str, message: str) -> Invalid:
    return Invalid(
        message, reason="invalid_" + field, errors=[{"field": field, "message": message}]
    )


def record_not_found(what: str) -> NotFound:
    return NotFound(f"{what} is not on your file", reason="record_not_found")


# -- naming the record ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RecordName:
    """A record as the subject names it, by what their report shows them.

    * ``status``: ``institution`` (code) + ``account_ref`` + ``period`` (YYYY-MM)
    * ``account``: ``institution`` + ``account_ref``
    * ``public_record``: ``institution`` (the source) + ``case_ref`` (+ ``kind`` when one
      source has two records under one case reference)
    * ``inquiry``: ``inquiry_id``, the ``id`` of ``GET /v1/me/inquiries``
    * ``identity``: ``field``: name, birth_date, phone or address
    """

    record_type: str
    institution: str | None = None
    account_ref: str | None = None
    period: str | None = None
    case_ref: str | None = None
    kind: str | None = None
    inquiry_id: int | None = None
    field: str | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """The subject's own record a dispute is about, resolved."""

    record_type: DisputeRecordType
    target_key: str
    record_id: int | None
    institution_id: int | None
    account_id: int | None = None
    period: date | None = None
    field: str | None = None


def parse_record_type(value: object) -> DisputeRecordType:
    try:
        return DisputeRecordType(value)
    except ValueError:
        allowed = ", ".join(DisputeRecordType)
        raise invalid(
            "record_type", f"record_type must be one of {allowed}; got {shown(value)}"
        ) from None


def parse_period(value: object) -> date:
    """``YYYY-MM`` as the first day of that month."""
    match = _PERIOD.fullmatch(str(value).strip())
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1900:
        raise invalid("period", f"period must be a month as YYYY-MM; got {shown(value)}")
    return date(int(match.group(1)), int(match.group(2)), 1)


def _check_named(name: RecordName, rtype: DisputeRecordType) -> dict[str, Any]:
    required, optional = NAMED_BY[rtype]
    given = {
        f.name: getattr(name, f.name)
        for f in fields(name)
        if f.name != "record_type" and getattr(name, f.name) not in (None, "")
    }
    for key in required:
        if key not in given:
            raise invalid(key, f"{key} is required to name {_a(rtype.value)} record")
    for key in given:
        if key not in required + optional:
            raise invalid(key, f"{key} does not name {_a(rtype.value)} record; leave it out")
    for key, value in given.items():
        if isinstance(value, str) and (len(value) > 100 or CONTROL.search(value)):
            raise invalid(key, f"{key} is not a value your report shows")
    return given


def _own_account(session: Session, subject_id: int, code: str, account_ref: str) -> Account:
    acc = session.scalar(
        select(Account)
        .join(Institution, Institution.id == Account.institution_id)
        .where(Institution.code == code, Account.account_ref == account_ref)
    )
    if acc is None or acc.subject_id != subject_id:
        raise record_not_found(f"account {shown(account_ref)} of {shown(code)}")
    return acc


def resolve(session: Session, *, subject_id: int, name: RecordName) -> Target:
    """The subject's own current record named by `name`; 404 ``record_not_found`` otherwise
    (in the same words whether it is someone else's or nobody's)."""
    rtype = parse_record_type(name.record_type)
    given = _check_named(name, rtype)
    if rtype in (DisputeRecordType.status, DisputeRecordType.account):
        acc = _own_account(session, subject_id, given["institution"], given["account_ref"])
        if rtype is DisputeRecordType.account:
            version = session.scalar(
                select(AccountVersion.id).where(
                    AccountVersion.account_id == acc.id, AccountVersion.superseded_at.is_(None)
                )
            )
            if version is None:
                raise record_not_found(f"account {shown(acc.account_ref)}")
            return Target(rtype, f"account:{acc.id}", version, acc.institution_id, acc.id)
        period = parse_period(given["period"])
        status_id = session.scalar(
            select(StatusRecord.id).where(
                StatusRecord.account_id == acc.id,
                StatusRecord.period == period,
                StatusRecord.superseded_at.is_(None),
            )
        )
        if status_id is None:
            raise record_not_found(f"a {period:%Y-%m} status of account {shown(acc.account_ref)}")
        key = f"status:{acc.id}:{period:%Y-%m}"
        return Target(rtype, key, status_id, acc.institution_id, acc.id, period)
    if rtype is DisputeRecordType.public_record:
        return _public_record(session, subject_id, given)
    if rtype is DisputeRecordType.inquiry:
        return _inquiry(session, subject_id, given["inquiry_id"])
    return _identity(session, subject_id, given["field"])


def _public_record(session: Session, subject_id: int, given: dict[str, Any]) -> Target:
    stmt = (
        select(PublicRecord)
        .join(Institution, Institution.id == PublicRecord.institution_id)
        .where(
            Institution.code == given["institution"],
            PublicRecord.case_ref == given["case_ref"],
            PublicRecord.subject_id == subject_id,
            PublicRecord.superseded_at.is_(None),
        )
    )
    if "kind" in given:
        try:
            kind = PublicRecordKind(given["kind"])
        except ValueError:
            allowed = ", ".join(PublicRecordKind)
            raise invalid("kind", f"kind must be one of {allowed}") from None
        stmt = stmt.where(PublicRecord.kind == kind)
    rows = list(session.scalars(stmt))
    if not rows:
        raise record_not_found(f"public record {shown(given['case_ref'])}")
    if len(rows) > 1:
        raise invalid("kind", "two public records share this case reference; give their kind")
    pr = rows[0]
    key = f"public_record:{pr.institution_id}:{pr.kind.value}:{pr.case_ref}"
    return Target(DisputeRecordType.public_record, key, pr.id, pr.institution_id)


def _inquiry(session: Session, subject_id: int, inquiry_id: object) -> Target:
    if not isinstance(inquiry_id, int) or not 0 < inquiry_id < 2**63:
        raise invalid("inquiry_id", "inquiry_id is the id of an inquiry in your inquiry list")
    row = session.execute(
        select(Inquiry, Institution.kind)
        .join(Institution, Institution.id == Inquiry.institution_id)
        .where(Inquiry.id == inquiry_id)
    ).first()
    if row is None or row[0].subject_id != subject_id:
        raise record_not_found(f"inquiry {inquiry_id}")
    q, kind = row
    # the subject's own reports are the bureau's inquiries: the bureau answers for them
    answerer = None if kind is InstitutionKind.bureau else q.institution_id
    return Target(DisputeRecordType.inquiry, f"inquiry:{q.id}", q.id, answerer)


def _identity(session: Session, subject_id: int, field: str) -> Target:
    if field not in IDENTITY_FIELDS:
        raise invalid("field", f"field must be one of {', '.join(IDENTITY_FIELDS)}")
    subject = session.get(Subject, subject_id)
    if field == "birth_date" and subject.birth_date_enc is None:
        raise record_not_found("a birth date")
    if field in ("phone", "address"):
        column = SubjectInfo.phone_enc if field == "phone" else SubjectInfo.address_enc
        held = session.scalar(
            select(SubjectInfo.id)
            .where(
                SubjectInfo.subject_id == subject_id,
                SubjectInfo.superseded_at.is_(None),
                column.is_not(None),
            )
            .limit(1)
        )
        if held is None:
            raise record_not_found(f"a {field}")
    # the identity is the bureau's merge of what every furnisher sent: the bureau answers
    return Target(DisputeRecordType.identity, f"identity:{field}", subject_id, None, field=field)


def current_record(session: Session, dispute: Dispute) -> dict[str, Any] | None:
    """What the disputed record says now, as its furnisher sees it (None: no longer on file;
    identity records are the bureau's and are not shown here)."""
    rtype = dispute.record_type
    if rtype in (DisputeRecordType.status, DisputeRecordType.account):
        acc = session.get(Account, dispute.account_id) if dispute.account_id else None
        if acc is None or acc.subject_id != dispute.subject_id:
            return None  # erased since (retention removes a negative account whole)
        if rtype is DisputeRecordType.account:
            v = session.scalar(
                select(AccountVersion).where(
                    AccountVersion.account_id == acc.id, AccountVersion.superseded_at.is_(None)
                )
            )
            return v and {
                "account_ref": acc.account_ref, "account_type": v.account_type.value,
                "opened_on": v.opened_on.isoformat(),
                "closed_on": v.closed_on.isoformat() if v.closed_on else None,
                "status": v.status.value, "currency": v.currency,
                "credit_limit": _money(v.credit_limit_cents),
                "principal": _money(v.principal_cents), "term_months": v.term_months,
                "version": v.version,
            }  # fmt: skip
        s = session.scalar(
            select(StatusRecord).where(
                StatusRecord.account_id == acc.id,
                StatusRecord.period == dispute.period,
                StatusRecord.superseded_at.is_(None),
            )
        )
        return s and {
            "account_ref": acc.account_ref, "period": f"{s.period:%Y-%m}",
            "balance": _money(s.balance_cents), "amount_due": _money(s.amount_due_cents),
            "amount_paid": _money(s.amount_paid_cents), "days_past_due": s.days_past_due,
            "version": s.version,
        }  # fmt: skip
    if rtype is DisputeRecordType.public_record:
        _, inst_id, kind, case_ref = dispute.target_key.split(":", 3)
        pr = session.scalar(
            select(PublicRecord).where(
                PublicRecord.institution_id == int(inst_id),
                PublicRecord.kind == PublicRecordKind(kind),
                PublicRecord.case_ref == case_ref,
                PublicRecord.superseded_at.is_(None),
            )
        )
        return pr and {
            "kind": pr.kind.value, "authority": pr.authority, "case_ref": pr.case_ref,
            "amount": _money(pr.amount_cents), "currency": pr.currency,
            "filed_on": pr.filed_on.isoformat(),
            "resolved_on": pr.resolved_on.isoformat() if pr.resolved_on else None,
            "version": pr.version,
        }  # fmt: skip
    if rtype is DisputeRecordType.inquiry:
        q = session.get(Inquiry, dispute.record_id)
        return q and {
            "inquired_on": q.inquired_on.isoformat(),
            "purpose": q.purpose,
            "kind": q.kind.value,
        }
    return None


def _money(cents: int | None) -> str | None:
    if cents is None:
        return None
    sign, (units, rest) = ("-" if cents < 0 else ""), divmod(abs(cents), 100)
    return f"{sign}{units}.{rest:02d}"
