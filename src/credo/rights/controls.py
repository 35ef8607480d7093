"""A subject's controls over their file: personal statement, freeze, fraud alert, opt-outs.

Every change is one ledger entry naming the subject by its opaque ref (never the statement's
words); placing or lifting a freeze and placing or removing a fraud alert also leave a notice
to the subject in the outbox. Services flush and never commit; every function takes ``now`` so
that tests (and operators replaying a counter request) can set the clock.

Rules, as the API and the CLI both apply them:

* **statement**: one current statement; setting one replaces it (the old row is closed, not
  updated, so its history stays); 1 to ``settings.statement_max_chars`` characters after
  stripping; the same words again change nothing.
* **freeze**: new hard inquiries are refused (`credo.access.flows.authorise_query`) until the
  subject lifts it; lifting takes effect at once. Placing a freeze on a frozen file is a no-op
  that answers the freeze in place (idempotent, no second entry or notice).
* **fraud alert**: shown with every report and score; expires after `FRAUD_ALERT_YEARS`, or
  `EXTENDED_FRAUD_ALERT_YEARS` when backed by an identity-theft report (its SHA-256). An alert
  in force is kept as it is, except that an identity-theft report turns a 1-year alert into a
  7-year one from now. An alert found expired is closed with ``lifted_by = "expired"``.
* **opt-outs**: of prescreening and of marketing, each until revoked (opt in again).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from credo.access.consent import subject_by_ref
from credo.audit import service as audit
from credo.config import get_settings
from credo.core.refs import new_ref
from credo.db import utcnow
from credo.errors import Invalid, NotFound
from credo.notify.outbox import enqueue
from credo.rights.dispute_records import CONTROL
from credo.rights.models import FileFlag, FlagKind, OptOut, OptOutUse, PersonalStatement
from credo.security.keys import KeyRing
from credo.subject.models import Subject

#: the associated data a statement is encrypted under (the report decrypts with the same)
STATEMENT_COLUMN = "personal_statement.text"
#: an initial fraud alert lasts this long (FCRA §605A(a))
FRAUD_ALERT_YEARS = 1
#: an extended fraud alert, backed by an identity-theft report, lasts this long (§605A(b))
EXTENDED_FRAUD_ALERT_YEARS = 7
#: ``lifted_by`` of a flag closed because it ran out, not because someone lifted it
EXPIRED = "expired"
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Statement:
    """The subject's statement in force, decrypted."""

    text: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class Flags:
    """A subject's flags in force at one moment."""

    freeze: FileFlag | None
    fraud_alert: FileFlag | None

    @property
    def frozen(self) -> bool:
        return self.freeze is not None


@dataclass(frozen=True, slots=True)
class Change:
    """What a placing call did: the row in force, and whether this call created it."""

    row: FileFlag | OptOut
    created: bool


def add_years(at: datetime, years: int) -> datetime:
    """`at` plus whole calendar years (29 February becomes 28 February)."""
    try:
        return at.replace(year=at.year + years)
    except ValueError:
        return at.replace(year=at.year + years, day=28)


def _subject(session: Session, subject_ref: str) -> Subject:
    return subject_by_ref(session, subject_ref)


def _ledger(session: Session, actor: str, action: str, subject: Subject, **details) -> None:
    audit.record(session, actor=actor, action=action, target=f"subject:{subject.ref}",
                 details=details)  # fmt: skip


# -- personal statement -------------------------------------------------------------------------
def _current_statement_row(session: Session, subject_id: int) -> PersonalStatement | None:
    return session.scalar(
        select(PersonalStatement).where(
            PersonalStatement.subject_id == subject_id, PersonalStatement.removed_at.is_(None)
        )
    )


def invalid(field: str, message: str, **extra) -> Invalid:
    """An Invalid naming `field` the way the API's validation errors do."""
    return Invalid(f"{field}: {message}", errors=[{"field": field, "message": message}], **extra)


def check_statement(text: object, max_chars: int | None = None) -> str:
    """The statement's text stripped, or Invalid naming ``text`` and the limit."""
    limit = max_chars or get_settings().statement_max_chars
    if not isinstance(text, str):
        raise invalid("text", "must be a string")
    stripped = text.strip()
    if not stripped:
        raise invalid("text", f"is empty; write 1 to {limit} characters", max_chars=limit)
    if len(stripped) > limit:
        raise invalid(
            "text",
            f"is {len(stripped)} characters long; a statement has at most {limit}",
            max_chars=limit,
        )
    if CONTROL.search(stripped):  # printed on every report: a NUL showed as a box in the PDF
        raise invalid(
            "text", "holds control characters; tabs and new lines are fine", max_chars=limit
        )
    return stripped


def current_statement(session: Session, subject_id: int, *, keyring: KeyRing) -> Statement | None:
    """The statement in force, decrypted; None when there is none."""
    row = _current_statement_row(session, subject_id)
    if row is None:
        return None
    text = keyring.decrypt(row.text_enc, column=STATEMENT_COLUMN)
    return Statement(text=text, created_at=row.created_at, created_by=row.created_by)


def set_statement(
    session: Session,
    *,
    subject_ref: str,
    text: str,
    actor: str,
    keyring: KeyRing,
    now: datetime | None = None,
    max_chars: int | None = None,
) -> tuple[Statement, bool]:
    """Add or replace the subject's statement; (statement in force, whether it changed)."""
    now = now or utcnow()
    clean = check_statement(text, max_chars)
    subject = _subject(session, subject_ref)
    row = _current_statement_row(session, subject.id)
    if row is not None:
        if keyring.decrypt(row.text_enc, column=STATEMENT_COLUMN) == clean:
            return Statement(clean, row.created_at, row.created_by), False
        row.removed_at, row.removed_by = now, actor
        # the partial unique index allows one current row: close the old one first
        session.flush()
    session.add(
        PersonalStatement(
            subject_id=subject.id,
            text_enc=keyring.encrypt(clean, column=STATEMENT_COLUMN),
            created_at=now,
            created_by=actor,
        )
    )
    session.flush()
    # the words are the subject's and may hold personal data: the ledger has only their length
    _ledger(session, actor, "statement.set", subject, chars=len(clean), replaced=row is not None)
    return Statement(clean, now, actor), True


def remove_statement(
    session: Session, *, subject_ref: str, actor: str, now: datetime | None = None
) -> None:
    """Remove the subject's statement (kept in its history); NotFound when there is none."""
    now = now or utcnow()
    subject = _subject(session, subject_ref)
    row = _current_statement_row(session, subject.id)
    if row is None:
        raise NotFound("there is no personal statement on this file", reason="no_statement")
    row.removed_at, row.removed_by = now, actor
    session.flush()
    _ledger(session, actor, "statement.remove", subject)


# -- freeze and fraud alert ---------------------------------------------------------------------
def _in_force(at: datetime):
    return (
        FileFlag.placed_at <= at,
        or_(FileFlag.lifted_at.is_(None), FileFlag.lifted_at > at),
        or_(FileFlag.expires_at.is_(None), FileFlag.expires_at > at),
    )


def active_flags(session: Session, subject_id: int, at: datetime | None = None) -> Flags:
    """The freeze and the fraud alert in force at `at` (default now); one query, no writes."""
    at = at or utcnow()
    rows = session.scalars(
        select(FileFlag).where(FileFlag.subject_id == subject_id, *_in_force(at))
    )
    by_kind = {f.kind: f for f in rows}
    return Flags(freeze=by_kind.get(FlagKind.freeze), fraud_alert=by_kind.get(FlagKind.fraud_alert))


def _open_flag(session: Session, subject_id: int, kind: FlagKind, at: datetime) -> FileFlag | None:
    """The open row of `kind` (not lifted), closing it first when it ran out before `at`."""
    row = session.scalar(
        select(FileFlag).where(
            FileFlag.subject_id == subject_id, FileFlag.kind == kind, FileFlag.lifted_at.is_(None)
        )
    )
    if row is not None and row.expires_at is not None and row.expires_at <= at:
        row.lifted_at, row.lifted_by = row.expires_at, EXPIRED
        session.flush()
        return None
    return row


def flag_out(flag: FileFlag) -> dict:
    """A flag as notices, ledger details and the API show it (no personal data)."""
    return {
        "ref": flag.ref,
        "placed_at": flag.placed_at.isoformat(),
        "expires_at": flag.expires_at.isoformat() if flag.expires_at else None,
        "extended": flag.identity_theft_report_sha256 is not None,
    }


def place_freeze(
    session: Session, *, subject_ref: str, actor: str, now: datetime | None = None
) -> Change:
    """Freeze the file: new hard inquiries are refused until it is lifted. A file already
    frozen keeps its freeze (nothing written)."""
    now = now or utcnow()
    subject = _subject(session, subject_ref)
    row = _open_flag(session, subject.id, FlagKind.freeze, now)
    if row is not None:
        return Change(row, created=False)
    row = FileFlag(ref=new_ref("F"), subject_id=subject.id, kind=FlagKind.freeze,
                   placed_at=now, placed_by=actor)  # fmt: skip
    session.add(row)
    session.flush()
    _ledger(session, actor, "freeze.place", subject, flag=row.ref)
    enqueue(session, kind="freeze.placed", payload=flag_out(row), subject_id=subject.id, now=now)
    return Change(row, created=True)


def lift_freeze(
    session: Session, *, subject_ref: str, actor: str, now: datetime | None = None
) -> FileFlag:
    """Lift the freeze at once; NotFound (reason ``no_freeze``) when the file is not frozen."""
    return _lift_flag(
        session, subject_ref=subject_ref, kind=FlagKind.freeze, actor=actor, now=now,
        action="freeze.lift", notice="freeze.lifted",
        missing=NotFound("this file is not frozen; there is no freeze to lift", reason="no_freeze"),
    )  # fmt: skip


def place_fraud_alert(
    session: Session,
    *,
    subject_ref: str,
    actor: str,
    identity_theft_report_sha256: str | None = None,
    now: datetime | None = None,
) -> Change:
    """Place a fraud alert for 1 year, or 7 with the SHA-256 of an identity-theft report.

    An alert in force is kept (nothing written), unless this call brings a report for a
    1-year alert: that one is closed and a 7-year alert placed from now.
    """
    now = now or utcnow()
    report = None
    if identity_theft_report_sha256 is not None:
        report = identity_theft_report_sha256.strip().lower()
        if not _SHA256.fullmatch(report):
            raise invalid("identity_theft_report_sha256", "must be the hex SHA-256 of the report")
    subject = _subject(session, subject_ref)
    row = _open_flag(session, subject.id, FlagKind.fraud_alert, now)
    if row is not None:
        if report is None or row.identity_theft_report_sha256 is not None:
            return Change(row, created=False)
        row.lifted_at, row.lifted_by = now, actor  # superseded by the extended alert below
        session.flush()
    years = EXTENDED_FRAUD_ALERT_YEARS if report else FRAUD_ALERT_YEARS
    new = FileFlag(
        ref=new_ref("F"), subject_id=subject.id, kind=FlagKind.fraud_alert, placed_at=now,
        placed_by=actor, expires_at=add_years(now, years), identity_theft_report_sha256=report,
    )  # fmt: skip
    session.add(new)
    session.flush()
    details = flag_out(new) | ({"replaces": row.ref} if row is not None else {})
    _ledger(session, actor, "fraud_alert.place", subject, **details)
    enqueue(session, kind="fraud_alert.placed", payload=flag_out(new), subject_id=subject.id,
            now=now)  # fmt: skip
    return Change(new, created=True)


def remove_fraud_alert(
    session: Session, *, subject_ref: str, actor: str, now: datetime | None = None
) -> FileFlag:
    """Remove the fraud alert before it expires; NotFound (``no_fraud_alert``) when none."""
    return _lift_flag(
        session, subject_ref=subject_ref, kind=FlagKind.fraud_alert, actor=actor, now=now,
        action="fraud_alert.remove", notice="fraud_alert.removed",
        missing=NotFound("there is no fraud alert on this file", reason="no_fraud_alert"),
    )  # fmt: skip


def _lift_flag(
    session: Session,
    *,
    subject_ref: str,
    kind: FlagKind,
    actor: str,
    now: datetime | None,
    action: str,
    notice: str,
    missing: NotFound,
) -> FileFlag:
    """Close the subject's flag of `kind` in force now: ledger `action`, notice `notice`;
    raises `missing` when there is none."""
    now = now or utcnow()
    subject = _subject(session, subject_ref)
    row = _open_flag(session, subject.id, kind, now)
    if row is None:
        raise missing
    row.lifted_at, row.lifted_by = now, actor
    session.flush()
    _ledger(session, actor, action, subject, flag=row.ref)
    enqueue(session, kind=notice, payload={**flag_out(row), "lifted_at": now.isoformat()},
            subject_id=subject.id, now=now)  # fmt: skip
    return row


# -- opt-outs -----------------------------------------------------------------------------------
def parse_use(value: object) -> OptOutUse:
    """`value` as an `OptOutUse`, or Invalid naming ``use`` and the allowed ones."""
    try:
        return OptOutUse(value)
    except ValueError:
        allowed = ", ".join(OptOutUse)
        raise invalid("use", f"unknown opt-out use; expected one of {allowed}") from None


def _open_opt_out(session: Session, subject_id: int, use: OptOutUse) -> OptOut | None:
    return session.scalar(
        select(OptOut).where(
            OptOut.subject_id == subject_id, OptOut.use == use, OptOut.revoked_at.is_(None)
        )
    )


def opt_outs(session: Session, subject_id: int) -> dict[OptOutUse, OptOut | None]:
    """The subject's opt-out in force for each use (None: not opted out)."""
    rows = session.scalars(
        select(OptOut).where(OptOut.subject_id == subject_id, OptOut.revoked_at.is_(None))
    )
    found = {r.use: r for r in rows}
    return {use: found.get(use) for use in OptOutUse}


def is_opted_out(session: Session, subject_id: int, use: OptOutUse, at: datetime) -> bool:
    """Whether the subject had opted out of `use` at `at`."""
    stmt = select(OptOut.id).where(
        OptOut.subject_id == subject_id,
        OptOut.use == use,
        OptOut.created_at <= at,
        or_(OptOut.revoked_at.is_(None), OptOut.revoked_at > at),
    )
    return session.scalar(stmt.limit(1)) is not None


def opt_out(
    session: Session, *, subject_ref: str, use: OptOutUse | str, actor: str,
    now: datetime | None = None,
) -> Change:  # fmt: skip
    """Opt the subject out of `use`; an opt-out in force is kept (nothing written)."""
    now = now or utcnow()
    use = parse_use(use)
    subject = _subject(session, subject_ref)
    row = _open_opt_out(session, subject.id, use)
    if row is not None:
        return Change(row, created=False)
    row = OptOut(subject_id=subject.id, use=use, created_at=now, created_by=actor)
    session.add(row)
    session.flush()
    _ledger(session, actor, "opt_out.add", subject, use=use.value)
    return Change(row, created=True)


def opt_in(
    session: Session, *, subject_ref: str, use: OptOutUse | str, actor: str,
    now: datetime | None = None,
) -> OptOut:  # fmt: skip
    """Revoke the subject's opt-out of `use`; NotFound (``no_opt_out``) when there is none."""
    now = now or utcnow()
    use = parse_use(use)
    subject = _subject(session, subject_ref)
    row = _open_opt_out(session, subject.id, use)
    if row is None:
        raise NotFound(f"this file is not opted out of {use.value}", reason="no_opt_out")
    row.revoked_at, row.revoked_by = now, actor
    session.flush()
    _ledger(session, actor, "opt_out.revoke", subject, use=use.value)
    return row
