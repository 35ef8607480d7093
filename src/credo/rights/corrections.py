"""Applying a dispute's correction: supersede the disputed record with history, re-score, notify.

A correction is written like a furnishing batch of one record (`FurnishingBatch` with
``file_format = "dispute"``): the current version gets ``superseded_at`` and
``superseded_by_batch_id``, the corrected version is inserted with ``version + 1`` and the
content hash furnishing computes, so point-in-time features and as-of reports before the
correction still see the old value (`credo.versioning.version_known_at`). A removal supersedes
with no successor; an inquiry (not versioned) is deleted. The corrected record is checked with
the furnishing validator and its cross-record rules, so a correction can never store what a
furnisher could not.

Corrections are dicts of furnishing field names (money in the currency's units, dates ISO):

* ``status``: balance, amount_due, amount_paid, days_past_due, subject_notified_on;
* ``account``: account_type, opened_on, closed_on, credit_limit, principal, term_months, status,
  subject_notified_on;
* ``public_record``: authority, amount, currency, filed_on, resolved_on, subject_notified_on;
* ``identity``: the one disputed field: name, birth_date, phone or address;
* ``{"remove": true}``: the record is not the subject's (a monthly status, a whole account with
  its statuses, a public record, an inquiry made without authority, a phone or an address).

Nothing here commits: the caller's transaction holds the correction, its ledger entry and its
notices together. No personal value (name, birth date, phone, address, identifier) is put in the
result, the ledger or a notice: they name the fields that changed.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from credo.account.integrity import lock_accounts
from credo.account.models import Account, AccountVersion, StatusRecord
from credo.audit import service as audit
from credo.config import Profile, Settings, get_settings
from credo.core.checksums import is_known_currency, prc_id_info
from credo.core.normalize import (
    normalize_name,
    normalize_phone,
    parse_amount_cents,
    parse_date,
    parse_int,
    to_ascii,
)
from credo.errors import Conflict, Invalid
from credo.furnishing.format import ENUMS, FORMAT_VERSION
from credo.furnishing.models import BatchStatus, FurnishingBatch
from credo.furnishing.rules import AccountState, check_dpd_aging, check_status_against_account
from credo.furnishing.store import (
    account_hash,
    public_record_hash,
    status_hash,
    subject_info_hash,
)
from credo.furnishing.validate import Problem, RowValidator
from credo.inquiry.models import Inquiry, InquirySource
from credo.institution.models import Institution, InstitutionKind
from credo.institution.service import bureau_institution
from credo.notify.outbox import enqueue
from credo.public_record.models import PublicRecord
from credo.rights.models import Dispute, DisputeRecordType
from credo.scoring import registry
from credo.scoring.models import SubjectScore
from credo.scoring.service import score_subjects
from credo.security.keys import KeyRing
from credo.security.service import bind_index_key
from credo.subject.models import IdType, Subject, SubjectInfo, SubjectType
from credo.subject.resolution import name_dob_blind, phone_blind

log = logging.getLogger(__name__)

#: the notice kind sent to recent queriers and to the subject
NOTICE_KIND = "report.corrected"
REMOVE = {"remove": True}
IDENTITY_FIELDS = ("name", "birth_date", "phone", "address")
#: identity fields a correction may remove (a name or birth date can only be corrected)
REMOVABLE_IDENTITY = frozenset({"phone", "address"})
_MONEY = ("balance", "amount_due", "amount_paid", "credit_limit", "principal", "amount")
_DATES = ("opened_on", "closed_on", "filed_on", "resolved_on", "subject_notified_on")

#: correctable fields per record type (identity: exactly the disputed field)
FIELDS: dict[DisputeRecordType, tuple[str, ...]] = {
    DisputeRecordType.status: (
        "balance", "amount_due", "amount_paid", "days_past_due", "subject_notified_on",
    ),
    DisputeRecordType.account: (
        "account_type", "opened_on", "closed_on", "credit_limit", "principal", "term_months",
        "status", "subject_notified_on",
    ),
    DisputeRecordType.public_record: (
        "authority", "amount", "currency", "filed_on", "resolved_on", "subject_notified_on",
    ),
    DisputeRecordType.inquiry: (),
    DisputeRecordType.identity: IDENTITY_FIELDS,
}  # fmt: skip
#: fields a correction may not clear (set to null)
_REQUIRED = frozenset(
    {"balance", "amount_due", "amount_paid", "days_past_due", "account_type", "opened_on",
     "status", "authority", "filed_on", "name", "birth_date"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class CorrectionResult:
    """What a correction did; holds no personal value (identity changes are named, not shown)."""

    batch_id: int
    #: the correction batch's reference: the corrected report reference sent to queriers
    batch_ref: str
    record_type: str
    #: the record was removed rather than corrected
    removed: bool
    #: the fields that changed (``["remove"]`` for a removal)
    fields: list[str]
    #: rows superseded / inserted / deleted / updated in place, per table
    superseded: dict[str, int]
    inserted: dict[str, int]
    deleted: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    #: old and new value of each corrected field of a status, account or public record
    #: (money in units, dates ISO); empty for identity fields and removals
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the removed inquiry as it was: institution code, date, purpose, kind, source
    removed_inquiry: dict[str, str] | None = None
    #: the subject's new score (score, grade, pd, model, as_of), or None with `score_note`
    score: dict[str, Any] | None = None
    score_note: str | None = None
    #: codes of the institutions sent a ``report.corrected`` notice
    notified_institutions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Plan:
    """The rows a correction changes, decided (and validated) before anything is written."""

    #: the institution the correction batch stands for (None: the bureau)
    institution_id: int | None
    fields: list[str]
    supersede: list[Any] = field(default_factory=list)
    insert: list[tuple[type, dict[str, Any]]] = field(default_factory=list)
    delete: list[Any] = field(default_factory=list)
    #: in-place changes of the subject row (name, birth date and their blind index)
    subject_update: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    removed_inquiry: dict[str, str] | None = None


@dataclass(frozen=True)
class _Ctx:
    session: Session
    dispute: Dispute
    correction: dict[str, Any]
    keyring: KeyRing
    profile: Profile
    now: datetime


# -- validation (no database) ----------------------------------------------------------------
def _fail(name: str, reason: str) -> Invalid:
    return Invalid(f"correction field {name!r}: {reason}", field=name)


def _units(cents: int | None) -> str | None:
    return None if cents is None else f"{cents // 100}.{cents % 100:02d}"


def _clean_value(name: str, value: Any, profile: Profile) -> Any:
    """One corrected value normalised to JSON (money as a 2-decimal string, dates ISO)."""
    if name in _MONEY:
        return _units(parse_amount_cents(value))
    if name == "days_past_due":
        return parse_int(value, lo=0, hi=3650, what="days_past_due")
    if name == "term_months":
        return parse_int(value, lo=1, hi=600, what="term_months")
    if name in _DATES:
        return parse_date(value).isoformat()
    if name in ("account_type", "status"):
        if not isinstance(value, str) or value.strip().lower() not in ENUMS[name]:
            raise ValueError(f"must be one of {', '.join(ENUMS[name])}; got {value!r}")
        return value.strip().lower()
    if name == "currency":
        code = to_ascii(value).upper() if isinstance(value, str) else ""
        if not is_known_currency(code):
            raise ValueError(f"must be an ISO 4217 currency code; got {value!r}")
        return code
    if name == "authority":
        text = to_ascii(value) if isinstance(value, str) else ""
        if not text or len(text) > 200:
            raise ValueError("must be text of 1-200 characters")
        return text
    # identity fields: the reasons never repeat the value, which is personal data
    if name == "name":
        try:
            return normalize_name(value)
        except (ValueError, TypeError):
            raise ValueError("is not a valid name (1-200 characters, not only digits)") from None
    if name == "birth_date":
        try:
            return parse_date(value).isoformat()
        except (ValueError, TypeError):
            raise ValueError("is not a date (YYYY-MM-DD)") from None
    if name == "phone":
        try:
            return normalize_phone(value, profile.phone_region)
        except (ValueError, TypeError):
            raise ValueError(
                f"is not a valid phone number (default region {profile.phone_region})"
            ) from None
    if name == "address":
        text = to_ascii(value) if isinstance(value, str) else ""
        if not text or len(text) > 500:
            raise ValueError("must be text of 1-500 characters")
        return text
    raise AssertionError(name)  # pragma: no cover - FIELDS and this function agree


def validate_correction(
    record_type: DisputeRecordType,
    correction: dict[str, Any],
    *,
    field: str | None = None,
    profile: Profile | None = None,
) -> dict[str, Any]:
    """Check a proposed correction for a record of this type; return it normalised.

    Raises `Invalid` naming the field (and the value only if it is not personal data).
    `field` is the disputed identity field (identity corrections must name it); `profile`
    gives the phone region (default: the configured profile). Checks that need the record on
    file (dates against the account, delinquency aging) happen in `apply_correction`.
    """
    record_type = DisputeRecordType(record_type)
    profile = profile or get_settings().jurisdiction
    if not isinstance(correction, dict):
        raise Invalid(
            f"a correction must be an object of fields; got {type(correction).__name__}",
            field="correction",
        )
    if not correction:
        raise Invalid("the correction names no field to correct", field="correction")
    if "remove" in correction:
        if correction["remove"] is not True:
            raise _fail("remove", f"must be true; got {correction['remove']!r}")
        if len(correction) > 1:
            other = sorted(k for k in correction if k != "remove")[0]
            raise _fail(other, "a removal carries no other field")
        if record_type is DisputeRecordType.identity and field not in REMOVABLE_IDENTITY:
            raise _fail("remove", f"an identity {field or 'field'} can be corrected, not removed")
        return dict(REMOVE)
    if record_type is DisputeRecordType.inquiry:
        name = sorted(correction)[0]
        raise _fail(name, 'an inquiry can only be removed ({"remove": true})')
    allowed = FIELDS[record_type]
    for name in sorted(correction, key=str):
        if not isinstance(name, str) or name not in allowed:
            raise _fail(
                str(name),
                f"not a correctable field of a {record_type.value} record; expected one of "
                f"{', '.join(allowed)} or remove",
            )
    if record_type is DisputeRecordType.identity:
        if len(correction) != 1:
            raise Invalid(
                "an identity correction changes exactly one field", field=sorted(correction)[1]
            )
        if field is not None and field not in correction:
            name = next(iter(correction))
            raise _fail(name, f"the dispute is about the {field}, not the {name}")
    out: dict[str, Any] = {}
    for name in allowed:
        if name not in correction:
            continue
        value = correction[name]
        if value is None or (isinstance(value, str) and not value.strip()):
            if name in _REQUIRED:
                raise _fail(name, "cannot be cleared")
            out[name] = None
            continue
        try:
            out[name] = _clean_value(name, value, profile)
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise _fail(name, str(exc)) from None
    return out


# -- planning: load the record, check the corrected version, decide the rows -----------------
def _furnished(ctx: _Ctx, raw: dict[str, Any]):
    """Run a corrected record through the furnishing validator as of the correction's date; the
    holder is the disputed record's, so no identifier is asked for (nor decrypted)."""
    validator = RowValidator(as_of=ctx.now.date(), profile=ctx.profile, holder_known=True)
    _, rec, problems = validator.validate(raw)
    if problems:
        p = problems[0]
        raise Invalid(
            "the corrected record is not valid: "
            + "; ".join(f"{q.field}: {q.reason}" for q in problems),
            field=p.field,
        )
    return rec


def _versioned(ctx: _Ctx, content_hash: str, version: int) -> dict[str, Any]:
    return {"content_hash": content_hash, "version": version, "recorded_at": ctx.now,
            "superseded_at": None, "superseded_by_batch_id": None, "line_no": None}  # fmt: skip


def _diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: {"old": old[k], "new": new[k]} for k in new if old.get(k) != new[k]}


def _iso(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def _account(ctx: _Ctx) -> tuple[Account, AccountVersion | None]:
    acct = ctx.session.get(Account, ctx.dispute.account_id) if ctx.dispute.account_id else None
    if acct is None or acct.subject_id != ctx.dispute.subject_id:
        raise Conflict(f"dispute {ctx.dispute.ref}: the disputed account is not on file")
    version = ctx.session.scalar(
        select(AccountVersion).where(
            AccountVersion.account_id == acct.id, AccountVersion.superseded_at.is_(None)
        )
    )
    return acct, version


def _current_statuses(ctx: _Ctx, account_id: int) -> list[StatusRecord]:
    return list(ctx.session.scalars(
        select(StatusRecord)
        .where(StatusRecord.account_id == account_id, StatusRecord.superseded_at.is_(None))
        .order_by(StatusRecord.period)
    ))  # fmt: skip


def _status_raw(ref: str, s: StatusRecord) -> dict[str, Any]:
    return {"account_ref": ref, "period": f"{s.period:%Y-%m}", "balance": _units(s.balance_cents),
            "amount_due": _units(s.amount_due_cents), "amount_paid": _units(s.amount_paid_cents),
            "days_past_due": s.days_past_due,
            "subject_notified_on": _iso(s.subject_notified_on)}  # fmt: skip


def _plan_status(ctx: _Ctx) -> _Plan:
    acct, version = _account(ctx)
    statuses = _current_statuses(ctx, acct.id)
    by_period = {s.period: s for s in statuses}
    cur = by_period.get(ctx.dispute.period)
    if cur is None or version is None:
        raise Conflict(f"dispute {ctx.dispute.ref}: the disputed monthly status is not on file")
    plan = _Plan(acct.institution_id, sorted(ctx.correction))
    if ctx.correction == REMOVE:
        plan.supersede.append(cur)
        return plan
    old = _status_raw(acct.account_ref, cur)
    raw = {"record_type": "status", **old, **ctx.correction}
    rec = _furnished(ctx, raw)
    state = AccountState(acct.id, version.opened_on, version.closed_on, str(version.status))
    problem = check_status_against_account(rec, state)
    i = statuses.index(cur)
    if problem is None and i > 0:
        problem = check_dpd_aging(statuses[i - 1].period, statuses[i - 1].days_past_due, rec)
    if problem is None and i + 1 < len(statuses):
        nxt = statuses[i + 1]
        problem = check_dpd_aging(rec.period, rec.days_past_due, nxt)
        if problem is not None:  # name the month that disagrees with the corrected one
            problem = Problem(
                "days_past_due",
                f"{rec.days_past_due} in {rec.period:%Y-%m} leaves {nxt.period:%Y-%m} at "
                f"{nxt.days_past_due}, later than time allows (correct {nxt.period:%Y-%m} too)",
            )
    if problem is not None:
        raise _fail(problem.field or "correction", problem.reason)
    h = status_hash(rec)
    if h == cur.content_hash:
        raise Invalid("the correction equals the record on file", field=sorted(ctx.correction)[0])
    plan.supersede.append(cur)
    plan.insert.append((StatusRecord, {
        **_versioned(ctx, h, cur.version + 1), "account_id": acct.id, "period": cur.period,
        "balance_cents": rec.balance_cents, "amount_due_cents": rec.amount_due_cents,
        "amount_paid_cents": rec.amount_paid_cents, "days_past_due": rec.days_past_due,
        "subject_notified_on": rec.subject_notified_on,
    }))  # fmt: skip
    plan.changes = _diff(old, {k: raw[k] for k in ctx.correction})
    plan.fields = sorted(plan.changes)
    return plan


def _plan_account(ctx: _Ctx) -> _Plan:
    acct, version = _account(ctx)
    if version is None:
        raise Conflict(f"dispute {ctx.dispute.ref}: the disputed account is not on file")
    statuses = _current_statuses(ctx, acct.id)
    plan = _Plan(acct.institution_id, sorted(ctx.correction))
    if ctx.correction == REMOVE:
        # an account that is not the subject's (identity fraud): it and its history go
        plan.supersede.extend([version, *statuses])
        return plan
    v = version
    old = {"account_type": v.account_type.value, "opened_on": _iso(v.opened_on),
           "closed_on": _iso(v.closed_on), "currency": v.currency,
           "credit_limit": _units(v.credit_limit_cents), "principal": _units(v.principal_cents),
           "term_months": v.term_months, "status": v.status.value,
           "subject_notified_on": _iso(v.subject_notified_on)}  # fmt: skip
    raw = {"record_type": "account", "account_ref": acct.account_ref,
           **old, **ctx.correction}  # fmt: skip
    rec = _furnished(ctx, raw)
    state = AccountState(acct.id, rec.opened_on, rec.closed_on, rec.status)
    for s in statuses:
        problem = check_status_against_account(s, state)
        if problem is not None:
            name = "opened_on" if problem.field == "period" else "closed_on"
            raise _fail(name, f"the status of {s.period:%Y-%m} disagrees: {problem.reason}")
    h = account_hash(rec)
    if h == v.content_hash:
        raise Invalid("the correction equals the record on file", field=sorted(ctx.correction)[0])
    plan.supersede.append(v)
    plan.insert.append((AccountVersion, {
        **_versioned(ctx, h, v.version + 1), "account_id": acct.id,
        "account_type": rec.account_type, "opened_on": rec.opened_on, "closed_on": rec.closed_on,
        "currency": rec.currency, "credit_limit_cents": rec.credit_limit_cents,
        "principal_cents": rec.principal_cents, "term_months": rec.term_months,
        "status": rec.status, "subject_notified_on": rec.subject_notified_on,
    }))  # fmt: skip
    plan.changes = _diff(old, {k: raw[k] for k in ctx.correction})
    plan.fields = sorted(plan.changes)
    return plan


def _plan_public_record(ctx: _Ctx) -> _Plan:
    s = ctx.session
    disputed = s.get(PublicRecord, ctx.dispute.record_id) if ctx.dispute.record_id else None
    cur = None
    if disputed is not None:  # the current version of the same case (it may be newer)
        cur = s.scalar(select(PublicRecord).where(
            PublicRecord.institution_id == disputed.institution_id,
            PublicRecord.kind == disputed.kind, PublicRecord.case_ref == disputed.case_ref,
            PublicRecord.superseded_at.is_(None)))  # fmt: skip
    if cur is None or cur.subject_id != ctx.dispute.subject_id:
        raise Conflict(f"dispute {ctx.dispute.ref}: the disputed public record is not on file")
    plan = _Plan(cur.institution_id, sorted(ctx.correction))
    if ctx.correction == REMOVE:
        plan.supersede.append(cur)
        return plan
    old = {"authority": cur.authority, "amount": _units(cur.amount_cents),
           "currency": cur.currency, "filed_on": _iso(cur.filed_on),
           "resolved_on": _iso(cur.resolved_on),
           "subject_notified_on": _iso(cur.subject_notified_on)}  # fmt: skip
    raw = {"record_type": "public_record", "kind": cur.kind.value,
           "case_ref": cur.case_ref, **old, **ctx.correction}  # fmt: skip
    rec = _furnished(ctx, raw)
    h = public_record_hash(cur.subject_id, rec)
    if h == cur.content_hash:
        raise Invalid("the correction equals the record on file", field=sorted(ctx.correction)[0])
    plan.supersede.append(cur)
    plan.insert.append((PublicRecord, {
        **_versioned(ctx, h, cur.version + 1), "subject_id": cur.subject_id,
        "institution_id": cur.institution_id, "kind": cur.kind, "authority": rec.authority,
        "case_ref": cur.case_ref, "amount_cents": rec.amount_cents, "currency": rec.currency,
        "filed_on": rec.filed_on, "resolved_on": rec.resolved_on,
        "subject_notified_on": rec.subject_notified_on,
    }))  # fmt: skip
    plan.changes = _diff(old, {k: raw[k] for k in ctx.correction})
    plan.fields = sorted(plan.changes)
    return plan


def _plan_inquiry(ctx: _Ctx) -> _Plan:
    row = ctx.session.get(Inquiry, ctx.dispute.record_id) if ctx.dispute.record_id else None
    if row is None or row.subject_id != ctx.dispute.subject_id:
        raise Conflict(f"dispute {ctx.dispute.ref}: the disputed inquiry is not on file")
    code = ctx.session.scalar(select(Institution.code).where(Institution.id == row.institution_id))
    plan = _Plan(row.institution_id, ["remove"], delete=[row])
    plan.removed_inquiry = {"institution": code, "inquired_on": row.inquired_on.isoformat(),
                            "purpose": row.purpose, "kind": row.kind.value,
                            "source": row.source.value}  # fmt: skip
    return plan


def _plan_identity(ctx: _Ctx) -> _Plan:
    name = ctx.dispute.field
    if name not in IDENTITY_FIELDS:
        raise Conflict(f"dispute {ctx.dispute.ref}: no identity field named {name!r}")
    kr, subject = ctx.keyring, ctx.session.get(Subject, ctx.dispute.subject_id)
    bind_index_key(ctx.session, kr)  # blind indexes with the generation the data uses
    plan = _Plan(None, [name])
    if name in ("name", "birth_date"):
        stored_name = kr.decrypt(subject.name_enc, column="subject.name")
        stored_birth = (
            date.fromisoformat(kr.decrypt(subject.birth_date_enc, column="subject.birth_date"))
            if subject.birth_date_enc
            else None
        )
        if name == "name":
            new_name, birth = ctx.correction["name"], stored_birth
            if new_name == stored_name:
                raise Invalid("the correction equals the record on file", field=name)
            plan.subject_update["name_enc"] = kr.encrypt(new_name, column="subject.name")
        else:
            new_name, birth = stored_name, date.fromisoformat(ctx.correction["birth_date"])
            _check_birth_date(ctx, subject, birth)
            if birth == stored_birth:
                raise Invalid("the correction equals the record on file", field=name)
            plan.subject_update["birth_date_enc"] = kr.encrypt(
                birth.isoformat(), column="subject.birth_date"
            )
            plan.subject_update["birth_year"] = birth.year
        plan.subject_update["name_dob_blind"] = name_dob_blind(kr, new_name, birth)
        return plan
    # phone / address: as the disputed furnisher reported them (all furnishers' when the
    # bureau answers the dispute)
    stmt = select(SubjectInfo).where(
        SubjectInfo.subject_id == subject.id, SubjectInfo.superseded_at.is_(None)
    )
    if ctx.dispute.institution_id is not None:
        stmt = stmt.where(SubjectInfo.institution_id == ctx.dispute.institution_id)
    new_value = None if ctx.correction == REMOVE else ctx.correction[name]
    for info in ctx.session.scalars(stmt.order_by(SubjectInfo.id)):
        values = {
            "name": kr.decrypt(info.name_enc, column="subject_info.name"),
            "phone": kr.decrypt(info.phone_enc, column="subject_info.phone")
            if info.phone_enc
            else None,
            "address": kr.decrypt(info.address_enc, column="subject_info.address")
            if info.address_enc
            else None,
        }
        if values[name] == new_value:
            continue
        values[name] = new_value
        phone, address = values["phone"], values["address"]
        h = subject_info_hash(kr, values["name"], phone, address)
        plan.supersede.append(info)
        plan.insert.append((SubjectInfo, {
            **_versioned(ctx, h, info.version + 1), "subject_id": subject.id,
            "institution_id": info.institution_id, "name_enc": info.name_enc,
            "phone_enc": kr.encrypt(phone, column="subject_info.phone") if phone else None,
            "phone_blind": phone_blind(kr, phone) if phone else None,
            "address_enc": kr.encrypt(address, column="subject_info.address") if address
            else None,
        }))  # fmt: skip
    if not plan.supersede:
        raise Invalid(f"no {name} on file differs from the correction", field=name)
    return plan


def _check_birth_date(ctx: _Ctx, subject: Subject, birth: date) -> None:
    if subject.subject_type is not SubjectType.person:
        raise _fail("birth_date", "applies to persons only")
    if birth > ctx.now.date():
        raise _fail("birth_date", "is in the future")
    if subject.id_type is IdType.prc_id:
        number = ctx.keyring.decrypt(subject.id_enc, column="subject.id_number")
        if prc_id_info(number).birth_date != birth:
            raise _fail("birth_date", "does not match the birth date inside the PRC ID")


_PLANNERS: dict[DisputeRecordType, Callable[[_Ctx], _Plan]] = {
    DisputeRecordType.status: _plan_status,
    DisputeRecordType.account: _plan_account,
    DisputeRecordType.public_record: _plan_public_record,
    DisputeRecordType.inquiry: _plan_inquiry,
    DisputeRecordType.identity: _plan_identity,
}


# -- writing ---------------------------------------------------------------------------------
def _count(rows) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in rows:
        table = row.__tablename__ if not isinstance(row, tuple) else row[0].__tablename__
        out[table] = out.get(table, 0) + 1
    return dict(sorted(out.items()))


def _new_batch(
    session: Session, ctx: _Ctx, plan: _Plan, *, institution_id: int, actor: str, profile: str
) -> FurnishingBatch:
    ref = uuid.uuid4().hex
    changes: dict[str, dict[str, int]] = {}
    for table, n in _count(plan.supersede).items():
        changes.setdefault(table, {"inserted": 0, "superseded": 0})["superseded"] = n
    for table, n in _count(plan.insert).items():
        changes.setdefault(table, {"inserted": 0, "superseded": 0})["inserted"] = n
    # what the batch stands for, without any corrected value (identity values are personal)
    described = orjson.dumps(
        {"dispute": ctx.dispute.ref, "batch": ref, "fields": plan.fields},
        option=orjson.OPT_SORT_KEYS,
    )
    batch = FurnishingBatch(
        ref=ref,
        institution_id=institution_id,
        file_name=f"dispute {ctx.dispute.ref}",
        file_sha256=hashlib.sha256(described).hexdigest(),
        file_format="dispute",
        format_version=FORMAT_VERSION,
        as_of=ctx.now.date(),
        status=BatchStatus.completed,
        actor=actor[:100],
        profile=profile,
        lines=1,
        accepted=0,
        corrections=1,
        changes=orjson.dumps(dict(sorted(changes.items())), option=orjson.OPT_SORT_KEYS).decode(),
        received_at=ctx.now,
        finished_at=ctx.now,
    )
    session.add(batch)
    session.flush()
    return batch


def _write(session: Session, plan: _Plan, batch: FurnishingBatch, ctx: _Ctx) -> None:
    for row in plan.supersede:
        row.superseded_at = ctx.now
        row.superseded_by_batch_id = batch.id
    # the old rows leave the "current" unique indexes before their successors arrive
    session.flush()
    lock_accounts(session, [v["account_id"] for m, v in plan.insert if m is StatusRecord])
    for model, values in plan.insert:
        session.add(model(**values, batch_id=batch.id))
    for row in plan.delete:
        session.delete(row)
    if plan.subject_update:
        subject = session.get(Subject, ctx.dispute.subject_id)
        for name, value in plan.subject_update.items():
            setattr(subject, name, value)
    session.flush()


def _recent_queriers(
    session: Session, subject_id: int, now: datetime, days: int
) -> list[tuple[int, str]]:
    """(id, code) of every member institution that queried the subject through the API in the
    `days` days up to `now`, each once."""
    since = now.date() - timedelta(days=days)
    return list(session.execute(
        select(Institution.id, Institution.code).distinct()
        .join(Inquiry, Inquiry.institution_id == Institution.id)
        .where(Inquiry.subject_id == subject_id, Inquiry.source == InquirySource.api,
               Inquiry.inquired_on >= since, Inquiry.inquired_on <= now.date(),
               Institution.kind != InstitutionKind.bureau)
        .order_by(Institution.code)
    ).all())  # fmt: skip


def _withdraw(session: Session, subject: Subject) -> str:
    """Delete the subject's stored scores when no new one replaces them: they were computed
    from the data the correction changed, and reports show the latest stored score."""
    gone = session.execute(delete(SubjectScore).where(SubjectScore.subject_id == subject.id))
    n = gone.rowcount or 0
    return f"; {n} stored score(s) computed from the corrected data withdrawn" if n else ""


def _rescore(
    session: Session, subject: Subject, *, actor: str, now: datetime
) -> tuple[dict[str, Any] | None, str | None]:
    segment = subject.subject_type.value
    version = registry.champion(session, segment)
    if version is None:
        return None, f"not re-scored: there is no {segment} champion model" + _withdraw(
            session, subject
        )
    # "furnishing": a correction is a furnished change of the file (score_subjects' triggers)
    run = score_subjects(
        session, [subject.id], actor=actor, trigger="furnishing", as_of=now.date(),
        version=version,
    )  # fmt: skip
    if not run.scores:
        return None, "not re-scored: the subject has no credit file left to score" + _withdraw(
            session, subject
        )
    s = run.scores[0]
    return {"score": s.score, "grade": s.grade, "pd": s.pd, "model": run.model,
            "as_of": s.as_of.isoformat()}, None  # fmt: skip


def apply_correction(
    session: Session,
    *,
    dispute: Dispute,
    correction: dict[str, Any],
    actor: str,
    keyring: KeyRing,
    settings: Settings,
    now: datetime,
    profile: Profile | None = None,
) -> CorrectionResult:
    """Apply a validated correction to the disputed record: supersede it with history,
    re-score the subject, notify recent queriers.

    Everything is checked before anything is written: an invalid correction raises `Invalid`
    (a record no longer on file: `Conflict`) and changes nothing. `profile` defaults to the
    configured jurisdiction. Sets ``dispute.correction_batch_id``; the dispute's status,
    outcome and events are the caller's.
    """
    profile = profile or settings.jurisdiction
    record_type = DisputeRecordType(dispute.record_type)
    clean = validate_correction(record_type, correction, field=dispute.field, profile=profile)
    ctx = _Ctx(session, dispute, clean, keyring, profile, now)
    plan = _PLANNERS[record_type](ctx)
    # queriers before the change: an inquiry removed here was still a report served to them
    queriers = _recent_queriers(session, dispute.subject_id, now, settings.dispute_notify_days)

    institution_id = plan.institution_id
    if institution_id is None or record_type is DisputeRecordType.identity:
        institution_id = bureau_institution(session).id
    batch = _new_batch(
        session, ctx, plan, institution_id=institution_id, actor=actor, profile=profile.code
    )
    _write(session, plan, batch, ctx)
    dispute.correction_batch_id = batch.id

    subject = session.get(Subject, dispute.subject_id)
    score, note = _rescore(session, subject, actor=actor, now=now)
    superseded, inserted = _count(plan.supersede), _count(plan.insert)
    deleted = _count(plan.delete)
    updated = {"subject": 1} if plan.subject_update else {}
    removed = clean == REMOVE
    audit.record(
        session, actor=actor, action="dispute.correct", target=f"dispute:{dispute.ref}",
        details={"batch": batch.ref, "record_type": record_type.value, "removed": removed,
                 "fields": plan.fields, "superseded": superseded, "inserted": inserted,
                 "deleted": deleted, "updated": updated, "rescored": score is not None,
                 "notified_institutions": len(queriers)},
    )  # fmt: skip
    payload = {"subject_ref": subject.ref, "dispute": dispute.ref, "corrected_report": batch.ref,
               "corrected_at": now.isoformat(), "record_type": record_type.value}  # fmt: skip
    for institution_id, _ in queriers:
        enqueue(session, kind=NOTICE_KIND, payload=payload, institution_id=institution_id, now=now)
    enqueue(session, kind=NOTICE_KIND, payload=payload, subject_id=subject.id, now=now)
    session.flush()
    log.info("dispute %s corrected by batch %s (%s)", dispute.ref, batch.ref, record_type.value)
    return CorrectionResult(
        batch_id=batch.id, batch_ref=batch.ref, record_type=record_type.value, removed=removed,
        fields=plan.fields, superseded=superseded, inserted=inserted, deleted=deleted,
        updated=updated, changes=plan.changes, removed_inquiry=plan.removed_inquiry,
        score=score, score_note=note, notified_institutions=[code for _, code in queriers],
    )  # fmt: skip
