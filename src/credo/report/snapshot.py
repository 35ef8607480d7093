"""Everything one subject's credit report needs, loaded as plain data as of a date.

A report as of a past date is the report as it would have looked then. Two clocks decide what
goes in (the same two as `docs/features.md`):

* **knowledge time** -- the end of the as-of day (UTC): only versions recorded by then and not
  superseded by then, so a correction furnished later shows the old value, and a record
  furnished later is absent;
* **event time** -- statuses with a period up to the as-of month, accounts opened, public records
  filed and inquiries made on or before the as-of date (inquiries: within the disclosure window
  of the profile, two years by default).

The score is the latest stored `SubjectScore` scored by the end of the as-of day (for a report
as of now: the latest stored), with its model version; none when the subject was never scored
by then. Reports never compute a score themselves: what the bureau served is what it shows.

Only what the viewer may see is decrypted: contact details only for the subject and for bureau
staff, the full birth date only for the subject. Personal values are kept out of ``repr`` so a
snapshot in a traceback or log line shows no personal data.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

import orjson
from psycopg.rows import namedtuple_row
from sqlalchemy import Select, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from credo.account.models import Account, AccountVersion, StatusRecord
from credo.config import Profile, get_settings
from credo.db import UTCDateTime
from credo.dbraw import RawStatement, driver, pipelined, utc
from credo.errors import NotFound
from credo.feature.pit import add_months
from credo.inquiry.models import Inquiry
from credo.institution.models import Institution
from credo.public_record.models import PublicRecord
from credo.retention.rules import expired_in_account, public_record_expired
from credo.rights.controls import Flags, active_flags
from credo.rights.models import Dispute, DisputeOutcome, PersonalStatement
from credo.scoring.models import ModelVersion, SubjectScore
from credo.security.keys import KeyRing
from credo.subject.models import Subject, SubjectInfo
from credo.versioning import version_known_at


class Viewer(enum.StrEnum):
    """Who a report is for; decides what is decrypted and how identity is masked."""

    #: the data subject themself
    subject = "subject"
    #: a member institution querying with the subject's consent
    institution = "institution"
    #: bureau staff (disputes, data quality, customer service)
    operator = "operator"


@dataclass(frozen=True, slots=True)
class InstitutionData:
    code: str
    name: str
    kind: str


@dataclass(frozen=True, slots=True)
class IdentityData:
    ref: str
    subject_type: str
    id_type: str
    name: str = field(repr=False)
    id_number: str = field(repr=False)
    #: decrypted for the subject viewer only
    birth_date: date | None = field(repr=False)
    birth_year: int | None = field(repr=False)
    gender: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class ContactData:
    """Contact details one furnisher reported (decrypted for subject and operator only)."""

    institution: InstitutionData
    phone: str | None = field(repr=False)
    address: str | None = field(repr=False)
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class StatusData:
    period: date
    balance_cents: int
    amount_due_cents: int
    amount_paid_cents: int
    days_past_due: int


@dataclass(slots=True)
class AccountData:
    account_id: int
    institution: InstitutionData
    account_ref: str
    account_type: str
    opened_on: date
    closed_on: date | None
    currency: str
    credit_limit_cents: int | None
    principal_cents: int | None
    term_months: int | None
    status: str
    #: every status known, periods ascending, up to the as-of month
    statuses: list[StatusData] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PublicRecordData:
    institution: InstitutionData
    kind: str
    authority: str
    case_ref: str
    amount_cents: int | None
    currency: str | None
    filed_on: date
    resolved_on: date | None


@dataclass(frozen=True, slots=True)
class InquiryData:
    institution: InstitutionData
    inquired_on: date
    purpose: str
    kind: str


@dataclass(frozen=True, slots=True)
class ScoreData:
    score: float
    grade: str
    pd: float
    #: stored reasons: code, feature, value, points, text_en, text_zh
    reasons: list[dict[str, Any]]
    model: str
    model_kind: str
    as_of: date
    scored_at: datetime
    #: the model's scaling (offset, factor) and attainable range, for the gauge
    offset: float | None
    factor: float | None
    score_range: tuple[float, float] | None


@dataclass(frozen=True, slots=True)
class DisputeMarkData:
    """A record the subject disputes: open, waiting for a decision, or closed unresolved."""

    record_type: str
    #: ``open``, ``answered`` (the furnisher replied) or ``unresolved``
    status: str
    opened_on: date
    escalated: bool
    #: the operator's note on an unresolved dispute
    note: str | None
    account_id: int | None = None
    period: date | None = None
    #: public records: the furnisher's code, the kind and the case reference
    source_code: str | None = None
    kind: str | None = None
    case_ref: str | None = None
    #: inquiries: when and by whom
    inquired_on: date | None = None
    inquiry_institution: InstitutionData | None = None
    #: identity: which field
    field: str | None = None


@dataclass(frozen=True, slots=True)
class StatementData:
    added_on: date
    text: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class FraudAlertData:
    placed_on: date
    expires_on: date | None
    #: a 7-year alert backed by an identity-theft report
    extended: bool


@dataclass(slots=True)
class Snapshot:
    """One subject's records as known at the end of `as_of` (or now)."""

    identity: IdentityData
    as_of: date
    #: True when the report is as of a past date (knowledge cut at `known_at`)
    historical: bool
    known_at: datetime | None
    inquiry_years: int
    viewer: Viewer
    contacts: list[ContactData] = field(default_factory=list)
    accounts: list[AccountData] = field(default_factory=list)
    public_records: list[PublicRecordData] = field(default_factory=list)
    inquiries: list[InquiryData] = field(default_factory=list)
    score: ScoreData | None = None
    disputes: list[DisputeMarkData] = field(default_factory=list)
    statements: list[StatementData] = field(default_factory=list)
    fraud_alert: FraudAlertData | None = None
    #: new hard inquiries are refused while the subject keeps the file frozen
    frozen: bool = False


def end_of_day(d: date) -> datetime:
    """The last microsecond of `d` in UTC: what the bureau knew "as of" that date."""
    return datetime.combine(d + timedelta(days=1), time(0), tzinfo=UTC) - timedelta(microseconds=1)


def _institution(row) -> InstitutionData:
    return InstitutionData(row.code, row.name, str(row.kind))


def load_snapshot(
    session: Session,
    subject_id: int,
    *,
    as_of: date | None,
    keyring: KeyRing,
    viewer: Viewer = Viewer.institution,
    inquiry_years: int = 2,
    now: datetime | None = None,
    profile: Profile | None = None,
    flags_now: Flags | None = None,
) -> Snapshot:
    """Load one subject's report data as of `as_of` (None: now) with up to ten queries.

    `flags_now`: the subject's flags in force at `now`, when the caller read them already (an
    authorised query did); used for a report as of now only.
    """
    viewer = Viewer(viewer)
    now = now or datetime.now(UTC)
    today = now.date()
    historical = as_of is not None and as_of < today
    as_of = as_of or today
    known_at = end_of_day(as_of) if historical else None
    # a report as of now on PostgreSQL: eight reads in one round trip on psycopg (credo.dbraw)
    pg = driver(session) if known_at is None else None
    raw = _read_now(pg, subject_id, as_of, inquiry_years, now) if pg is not None else {}
    if pg is not None:
        subject = raw["subject"][0] if raw["subject"] else None
    else:
        subject = session.execute(_SUBJECT, {"sid": subject_id}).first()
    if subject is None:
        raise NotFound("no subject with this id")
    identity = _identity(subject, keyring, viewer)
    snap = Snapshot(identity, as_of, historical, known_at, inquiry_years, viewer)
    if viewer is not Viewer.institution:
        snap.contacts = _contacts(session, subject_id, keyring, known_at, viewer)
    profile = profile or get_settings().jurisdiction
    snap.accounts = _accounts(session, subject_id, as_of, known_at, profile, raw)
    snap.public_records = _public_records(session, subject_id, as_of, known_at, profile, raw)
    snap.inquiries = _inquiries(session, subject_id, as_of, known_at, inquiry_years, raw)
    snap.score = _score(session, subject_id, as_of, known_at, raw)
    # disputes, statements and flags: as they stood at the knowledge cut, or now
    at = known_at or now
    snap.disputes = _disputes(session, subject_id, at, raw.get("disputes"))
    snap.statements = _statements(session, subject_id, keyring, at, raw.get("statements"))
    snap.fraud_alert, snap.frozen = _flags(
        session, subject_id, at, flags_now if known_at is None else None
    )
    return snap


# Statements built once, with bound parameters (building them cost more than running them);
# `historical` selects the knowledge-time variant (a report as of a past date).
_S = Subject.__table__.c
_SUBJECT = select(
    _S.ref, _S.subject_type, _S.id_type, _S.name_enc, _S.id_enc, _S.birth_date_enc,
    _S.birth_year, _S.gender,
).where(_S.id == bindparam("sid"))  # fmt: skip


def _known(historical: bool):
    return bindparam("known_at", type_=UTCDateTime()) if historical else None


def _identity(subject: Any, keyring: KeyRing, viewer: Viewer) -> IdentityData:
    birth = None
    if viewer is Viewer.subject and subject.birth_date_enc is not None:
        birth = date.fromisoformat(
            keyring.decrypt(subject.birth_date_enc, column="subject.birth_date")
        )
    return IdentityData(
        ref=subject.ref,
        subject_type=str(subject.subject_type),
        id_type=str(subject.id_type),
        name=keyring.decrypt(subject.name_enc, column="subject.name"),
        id_number=keyring.decrypt(subject.id_enc, column="subject.id_number"),
        birth_date=birth,
        birth_year=subject.birth_year,
        gender=subject.gender if viewer is Viewer.subject else None,
    )


def _contacts(
    session: Session, subject_id: int, keyring: KeyRing, known_at: datetime | None, viewer: Viewer
) -> list[ContactData]:
    stmt = version_known_at(
        select(
            SubjectInfo.phone_enc,
            SubjectInfo.address_enc,
            SubjectInfo.recorded_at,
            Institution.code,
            Institution.name,
            Institution.kind,
        )
        .join(Institution, Institution.id == SubjectInfo.institution_id)
        .where(SubjectInfo.subject_id == subject_id),
        SubjectInfo,
        known_at,
    ).order_by(SubjectInfo.recorded_at.desc(), Institution.code)
    out = []
    for r in session.execute(stmt):
        if r.phone_enc is None and r.address_enc is None:
            continue
        phone = keyring.decrypt(r.phone_enc, column="subject_info.phone") if r.phone_enc else None
        address = (
            keyring.decrypt(r.address_enc, column="subject_info.address") if r.address_enc else None
        )
        out.append(ContactData(_institution(r), phone, address, r.recorded_at))
    return out


@lru_cache
def _accounts_stmt(historical: bool) -> Select:
    return version_known_at(
        select(
            Account.id,
            Account.account_ref,
            AccountVersion.account_type,
            AccountVersion.opened_on,
            AccountVersion.closed_on,
            AccountVersion.currency,
            AccountVersion.credit_limit_cents,
            AccountVersion.principal_cents,
            AccountVersion.term_months,
            AccountVersion.status,
            Institution.code,
            Institution.name,
            Institution.kind,
        )
        .join(AccountVersion, AccountVersion.account_id == Account.id)
        .join(Institution, Institution.id == Account.institution_id)
        .where(
            Account.subject_id == bindparam("sid"), AccountVersion.opened_on <= bindparam("as_of")
        ),
        AccountVersion,
        _known(historical),
    )


@lru_cache
def _statuses_stmt(historical: bool) -> Select:
    return version_known_at(
        select(
            StatusRecord.account_id,
            StatusRecord.period,
            StatusRecord.balance_cents,
            StatusRecord.amount_due_cents,
            StatusRecord.amount_paid_cents,
            StatusRecord.days_past_due,
        ).where(
            StatusRecord.account_id.in_(bindparam("account_ids", expanding=True)),
            StatusRecord.period <= bindparam("month"),
        ),
        StatusRecord,
        _known(historical),
    ).order_by(StatusRecord.account_id, StatusRecord.period)


def _accounts(
    session: Session, subject_id: int, as_of: date, known_at: datetime | None, profile: Profile,
    raw: dict[str, list] | None = None,
) -> list[AccountData]:  # fmt: skip
    historical = known_at is not None
    params = {"sid": subject_id, "as_of": as_of, "known_at": known_at}
    rows = raw["accounts"] if raw else session.execute(_accounts_stmt(historical), params)
    accounts = {
        r.id: AccountData(
            account_id=r.id,
            institution=_institution(r),
            # str(): an enum member through the session, its value through psycopg
            account_type=str(r.account_type),
            account_ref=r.account_ref,
            opened_on=r.opened_on,
            closed_on=r.closed_on,
            currency=r.currency,
            credit_limit_cents=r.credit_limit_cents,
            principal_cents=r.principal_cents,
            term_months=r.term_months,
            status=str(r.status),
        )
        for r in rows
    }
    if not accounts:
        return []
    if raw:  # every account of the subject's statuses; those of accounts not shown are left
        for r in raw["statuses"]:
            a = accounts.get(r[0])
            if a is not None:
                a.statuses.append(StatusData(*r[1:]))
    else:
        params = {"account_ids": list(accounts), "month": as_of.replace(day=1),
                  "known_at": known_at}  # fmt: skip
        for r in session.execute(_statuses_stmt(historical), params):
            accounts[r.account_id].statuses.append(StatusData(*r[1:]))
    # negative data expired at the as-of date is not shown, even before the retention job
    # erases it: the same rule as the job (docs/retention.md)
    kept = []
    for a in accounts.values():
        whole, months = expired_in_account(
            a.status, a.closed_on, [(s.period, s.days_past_due) for s in a.statuses], profile,
            as_of=as_of,
        )  # fmt: skip
        if not whole:
            a.statuses = [s for s in a.statuses if s.period not in months]
            kept.append(a)
    return kept


@lru_cache
def _public_records_stmt(historical: bool) -> Select:
    return version_known_at(
        select(
            PublicRecord.kind,
            PublicRecord.authority,
            PublicRecord.case_ref,
            PublicRecord.amount_cents,
            PublicRecord.currency,
            PublicRecord.filed_on,
            PublicRecord.resolved_on,
            Institution.code,
            Institution.name,
            Institution.kind.label("inst_kind"),
        )
        .join(Institution, Institution.id == PublicRecord.institution_id)
        .where(
            PublicRecord.subject_id == bindparam("sid"), PublicRecord.filed_on <= bindparam("as_of")
        ),
        PublicRecord,
        _known(historical),
    ).order_by(PublicRecord.filed_on.desc(), PublicRecord.case_ref)


def _public_records(
    session: Session, subject_id: int, as_of: date, known_at: datetime | None, profile: Profile,
    raw: dict[str, list] | None = None,
) -> list[PublicRecordData]:  # fmt: skip
    stmt = _public_records_stmt(known_at is not None)
    params = {"sid": subject_id, "as_of": as_of, "known_at": known_at}
    rows = raw["public_records"] if raw else session.execute(stmt, params)
    # expired records are not shown (docs/retention.md)
    return [
        PublicRecordData(
            InstitutionData(r.code, r.name, str(r.inst_kind)),
            str(r.kind),
            r.authority,
            r.case_ref,
            r.amount_cents,
            r.currency,
            r.filed_on,
            # a resolution dated after the as-of date had not happened yet
            r.resolved_on if r.resolved_on is not None and r.resolved_on <= as_of else None,
        )
        for r in rows
        if not public_record_expired(r.kind, r.filed_on, r.resolved_on, profile, as_of=as_of)
    ]


@lru_cache
def _inquiries_stmt(historical: bool) -> Select:
    stmt = (
        select(
            Inquiry.inquired_on,
            Inquiry.purpose,
            Inquiry.kind,
            Institution.code,
            Institution.name,
            Institution.kind.label("inst_kind"),
        )
        .join(Institution, Institution.id == Inquiry.institution_id)
        .where(
            Inquiry.subject_id == bindparam("sid"),
            Inquiry.inquired_on > bindparam("since"),
            Inquiry.inquired_on <= bindparam("as_of"),
        )
        .order_by(Inquiry.inquired_on.desc(), Inquiry.id.desc())
    )
    if historical:
        stmt = stmt.where(Inquiry.recorded_at <= _known(True))
    return stmt


def _inquiries(
    session: Session, subject_id: int, as_of: date, known_at: datetime | None, years: int,
    raw: dict[str, list] | None = None,
) -> list[InquiryData]:  # fmt: skip
    since = add_months(as_of, -12 * years)
    stmt = _inquiries_stmt(known_at is not None)
    params = {"sid": subject_id, "since": since, "as_of": as_of, "known_at": known_at}
    rows = raw["inquiries"] if raw else session.execute(stmt, params)
    return [
        InquiryData(
            InstitutionData(r.code, r.name, str(r.inst_kind)),
            r.inquired_on,
            r.purpose,
            str(r.kind),
        )
        for r in rows
    ]


@lru_cache
def _score_stmt(historical: bool) -> Select:
    stmt = (
        select(
            SubjectScore.score,
            SubjectScore.grade,
            SubjectScore.pd,
            SubjectScore.reasons,
            SubjectScore.as_of,
            SubjectScore.scored_at,
            ModelVersion.id.label("version_id"),
            ModelVersion.spec_sha256,
            ModelVersion.name,
            ModelVersion.version,
            ModelVersion.kind,
        )
        .join(ModelVersion, ModelVersion.id == SubjectScore.model_version_id)
        .where(
            SubjectScore.subject_id == bindparam("sid"), SubjectScore.as_of <= bindparam("as_of")
        )
        .order_by(SubjectScore.scored_at.desc(), SubjectScore.id.desc())
        .limit(1)
    )
    if historical:
        stmt = stmt.where(SubjectScore.scored_at <= _known(True))
    return stmt


#: (version id, spec hash) -> the gauge's (offset, factor, score range) from the model's spec
_GAUGES: dict[tuple[int, str], tuple] = {}


def _gauge(session: Session, version_id: int, spec_sha256: str) -> tuple:
    """The scaling and score range of a model version, read from its spec once per version."""
    key = (version_id, spec_sha256)
    if key in _GAUGES:
        return _GAUGES[key]
    spec = session.scalar(select(ModelVersion.spec).where(ModelVersion.id == version_id))
    offset = factor = score_range = None
    try:
        data = orjson.loads(spec)
        scaling = data.get("scaling") or {}
        offset, factor = scaling.get("offset"), scaling.get("factor")
        if data.get("score_range"):
            score_range = (float(data["score_range"][0]), float(data["score_range"][1]))
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError, IndexError):
        pass  # the gauge falls back to the grade bands; the score itself is stored
    if len(_GAUGES) > 64:
        _GAUGES.clear()
    _GAUGES[key] = (offset, factor, score_range)
    return _GAUGES[key]


def _score(
    session: Session, subject_id: int, as_of: date, known_at: datetime | None,
    raw: dict[str, list] | None = None,
) -> ScoreData | None:  # fmt: skip
    params = {"sid": subject_id, "as_of": as_of, "known_at": known_at}
    if raw:
        s = raw["score"][0] if raw["score"] else None
    else:
        s = session.execute(_score_stmt(known_at is not None), params).first()
    if s is None:
        return None
    name, version, kind = s.name, s.version, s.kind
    offset, factor, score_range = _gauge(session, s.version_id, s.spec_sha256)
    return ScoreData(
        score=s.score,
        grade=s.grade,
        pd=s.pd,
        reasons=orjson.loads(s.reasons),
        model=f"{name}@{version}",
        model_kind=str(kind),
        as_of=s.as_of,
        scored_at=utc(s.scored_at),
        offset=offset,
        factor=factor,
        score_range=score_range,
    )


_AT = bindparam("at", type_=UTCDateTime())
_D = Dispute.__table__.c
_DISPUTES = (
    select(
        _D.record_type,
        _D.target_key,
        _D.account_id,
        _D.period,
        _D.field,
        _D.outcome,
        _D.filed_at,
        _D.escalated_at,
        _D.answered_at,
        _D.closed_at,
        _D.decision_note,
        Institution.code,
        Institution.name,
        Institution.kind,
        Inquiry.inquired_on,
    )
    .outerjoin(Institution, Institution.id == Dispute.institution_id)
    .outerjoin(
        Inquiry,
        and_(
            Dispute.record_type == "inquiry",
            Inquiry.id == Dispute.record_id,
            Inquiry.subject_id == bindparam("sid"),
        ),
    )
    .where(Dispute.subject_id == bindparam("sid"), Dispute.filed_at <= _AT)
    .order_by(Dispute.filed_at, Dispute.id)
)
_STATEMENTS = (
    select(PersonalStatement.created_at, PersonalStatement.text_enc)
    .where(
        PersonalStatement.subject_id == bindparam("sid"),
        PersonalStatement.created_at <= _AT,
        or_(PersonalStatement.removed_at.is_(None), PersonalStatement.removed_at > _AT),
    )
    .order_by(PersonalStatement.created_at.desc())
)
_STATUSES_NOW = version_known_at(
    select(StatusRecord.account_id, StatusRecord.period, StatusRecord.balance_cents,
           StatusRecord.amount_due_cents, StatusRecord.amount_paid_cents,
           StatusRecord.days_past_due)
    .join(Account, Account.id == StatusRecord.account_id)
    .where(Account.subject_id == bindparam("sid"), StatusRecord.period <= bindparam("month")),
    StatusRecord, None,
).order_by(StatusRecord.account_id, StatusRecord.period)  # fmt: skip
_RAW_NOW = {
    "subject": RawStatement(_SUBJECT),
    "accounts": RawStatement(_accounts_stmt(False)),
    # the statuses of all the subject's accounts (`_accounts` keeps those it shows): no
    # second round trip for the account ids
    "statuses": RawStatement(_STATUSES_NOW),
    "public_records": RawStatement(_public_records_stmt(False)),
    "inquiries": RawStatement(_inquiries_stmt(False)),
    "score": RawStatement(_score_stmt(False)),
    "disputes": RawStatement(_DISPUTES),
    "statements": RawStatement(_STATEMENTS),
}


def _read_now(
    pg: Any, subject_id: int, as_of: date, inquiry_years: int, now: datetime
) -> dict[str, list]:
    """The report's reads for a report as of now, in one round trip on psycopg: rows by name
    (the statuses as plain tuples, the rest with attribute access)."""
    params = {"sid": subject_id, "as_of": as_of, "month": as_of.replace(day=1),
              "since": add_months(as_of, -12 * inquiry_years), "at": now}  # fmt: skip
    names = list(_RAW_NOW)
    rows = pipelined(pg, (
        (_RAW_NOW[n], params) if n == "statuses" else (_RAW_NOW[n], params, namedtuple_row)
        for n in names
    ))  # fmt: skip
    return dict(zip(names, rows, strict=True))


def _by(moment: datetime | None, at: datetime) -> bool:
    """Whether something dated `moment` had happened by `at`."""
    return moment is not None and moment <= at


def _disputes(
    session: Session, subject_id: int, at: datetime, raw: list | None = None
) -> list[DisputeMarkData]:
    """Disputes open at `at`, and those closed as unresolved by then: their mark stays. A
    dispute closed as corrected or confirmed leaves no mark. `raw`: the rows of `_DISPUTES`
    read already on psycopg (enums as their values, times in the connection's zone)."""
    out = []
    if raw is None:
        raw = session.execute(_DISPUTES, {"sid": subject_id, "at": at}).all()
    for d in raw:
        closed = _by(d.closed_at, at)
        if closed and d.outcome != DisputeOutcome.unresolved:
            continue
        if closed:
            status = "unresolved"
        elif _by(d.answered_at, at):
            status = "answered"
        else:
            status = "open"
        code = d.code
        source = InstitutionData(code, d.name, str(d.kind)) if code is not None else None
        pr_kind = case_ref = None
        record_type = str(d.record_type)
        if record_type == "public_record":
            # target key: public_record:<institution id>:<kind>:<case ref>
            _, _, pr_kind, case_ref = d.target_key.split(":", 3)
        is_inquiry = record_type == "inquiry"
        out.append(
            DisputeMarkData(
                record_type=record_type,
                status=status,
                opened_on=utc(d.filed_at).date(),
                escalated=_by(d.escalated_at, at),
                note=d.decision_note if closed else None,
                account_id=d.account_id,
                period=d.period,
                source_code=code,
                kind=pr_kind,
                case_ref=case_ref,
                inquired_on=d.inquired_on if is_inquiry else None,
                inquiry_institution=source if is_inquiry else None,
                field=d.field,
            )
        )
    return out


def _statements(
    session: Session, subject_id: int, keyring: KeyRing, at: datetime, raw: list | None = None
) -> list[StatementData]:
    """The personal statement on file at `at` (`raw`: the rows of `_STATEMENTS`, read
    already on psycopg)."""
    if raw is None:
        raw = session.execute(_STATEMENTS, {"sid": subject_id, "at": at}).all()
    return [
        StatementData(utc(created).date(), keyring.decrypt(enc, column="personal_statement.text"))
        for created, enc in raw
    ]


def _flags(
    session: Session, subject_id: int, at: datetime, known: Flags | None = None
) -> tuple[FraudAlertData | None, bool]:
    """The fraud alert in force at `at` and whether the file was frozen then (the rule of
    `credo.rights.controls.active_flags`, which query authorisation uses too); `known`: the
    flags at `at`, read already."""
    flags = known if known is not None else active_flags(session, subject_id, at)
    alert = flags.fraud_alert
    if alert is None:
        return None, flags.frozen
    return (
        FraudAlertData(
            placed_on=alert.placed_at.date(),
            expires_on=alert.expires_at.date() if alert.expires_at else None,
            extended=alert.identity_theft_report_sha256 is not None,
        ),
        flags.frozen,
    )
