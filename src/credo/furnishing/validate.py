"""Row validation and cleaning for the furnishing format: pure functions, no database.

`RowValidator.validate(raw)` turns one decoded row (a dict of field -> value) into a clean,
normalised record or a list of `Problem`s naming the field, the reason and the masked value.
Rules that need stored state (unknown account, closed-account balance, delinquency aging,
identity conflicts) live in `rules.py` as functions over plain values.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from hashlib import sha256
from typing import Any

from credo.account.models import AccountStatus, AccountType
from credo.config import Profile
from credo.core.checksums import is_known_currency, prc_id_info
from credo.core.masking import PERSONAL_FIELDS, mask_value
from credo.core.normalize import (
    normalize_identifier,
    normalize_name,
    normalize_phone,
    parse_amount_cents,
    parse_date,
    parse_int,
    parse_period,
    to_ascii,
)
from credo.furnishing.format import ENUMS, FIELDS

#: identifiers normalised per batch before the cache starts afresh
_ID_CACHE_SIZE = 100_000

LIMIT_TYPES = frozenset(
    {
        AccountType.revolving_loan,
        AccountType.credit_card,
        AccountType.bnpl,
        AccountType.marketplace_credit,
    }
)


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a row cannot be stored."""

    field: str | None
    reason: str
    value: str | None = None


def _pickled_as_tuple(cls):
    """Pickle a slotted record as its class and field values: 3x faster than the default
    state dict, and records cross a process boundary by the million
    (`credo.furnishing.checking`)."""
    if len(cls.__slots__) < 2:  # attrgetter of one name gives the value, not a tuple
        raise TypeError(f"{cls.__name__}: needs at least two fields")
    get = operator.attrgetter(*cls.__slots__)

    def reduce(self):
        if type(self) is not cls:  # a subclass's own fields would be lost
            raise TypeError(f"{type(self).__name__} does not pickle as {cls.__name__}")
        return cls, get(self)

    cls.__reduce__ = reduce
    return cls


@_pickled_as_tuple
@dataclass(slots=True)
class SubjectRec:
    subject_type: str
    id_type: str
    id_number: str
    name: str
    birth_date: date | None
    phone: str | None
    address: str | None
    gender: str | None
    region: str | None


@_pickled_as_tuple
@dataclass(slots=True)
class AccountRec:
    account_ref: str
    id_type: str
    id_number: str
    account_type: str
    opened_on: date
    closed_on: date | None
    currency: str
    credit_limit_cents: int | None
    principal_cents: int | None
    term_months: int | None
    status: str
    subject_notified_on: date | None


@_pickled_as_tuple
@dataclass(slots=True)
class StatusRec:
    account_ref: str
    period: date
    balance_cents: int
    amount_due_cents: int
    amount_paid_cents: int
    days_past_due: int
    subject_notified_on: date | None


def status_content_hash(balance: int, due: int, paid: int, dpd: int, notified) -> str:
    """The content hash of a monthly status (cents, days past due, notice date or its
    ``YYYY-MM-DD`` text): equal hash, duplicate; else a correction. One definition for the
    row-by-row store (`credo.furnishing.store.status_hash`) and the columnar lane, which
    computes it while validating (in the check worker for a large file)."""
    return sha256(
        f"{balance}\x1f{due}\x1f{paid}\x1f{dpd}\x1f{'' if notified is None else notified}".encode()
    ).hexdigest()


@_pickled_as_tuple
@dataclass(slots=True)
class PublicRecordRec:
    id_type: str
    id_number: str
    kind: str
    authority: str
    case_ref: str
    amount_cents: int | None
    currency: str | None
    filed_on: date
    resolved_on: date | None
    subject_notified_on: date | None


@_pickled_as_tuple
@dataclass(slots=True)
class InquiryRec:
    id_type: str
    id_number: str
    inquired_on: date
    purpose: str
    kind: str
    inquiry_ref: str | None


Record = SubjectRec | AccountRec | StatusRec | PublicRecordRec | InquiryRec


class _Row:
    """Field access for one row that collects problems instead of stopping at the first."""

    __slots__ = ("problems", "raw")

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.problems: list[Problem] = []

    def fail(self, field: str | None, reason: str, value: Any = None) -> None:
        masked = None if value is None else mask_value(field or "", value)
        if masked is not None and field in PERSONAL_FIELDS:
            # a parser's message may quote the value ("not a real date: '1985-02-30'"): the
            # reason is stored and returned, so a personal value appears in it masked only
            raw = str(value)
            reason = reason.replace(repr(raw), repr(masked)).replace(raw, masked)
        self.problems.append(Problem(field, reason, masked))

    def get(self, name: str, parse: Callable[[Any], Any] | None = None, *, required: bool = False):
        value = self.raw.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.fail(name, "required field is missing")
            return None
        if parse is None:
            if not isinstance(value, str):
                self.fail(name, f"must be text; got {type(value).__name__}", value)
                return None
            return to_ascii(value)
        try:
            return parse(value)
        except (ValueError, TypeError, ArithmeticError) as exc:
            self.fail(name, str(exc), value)
            return None

    def enum(self, name: str, key: str | None = None, *, required: bool = True) -> str | None:
        value = self.get(name, required=required)
        if value is None:
            return None
        allowed = ENUMS[key or name]
        folded = value.upper() if name == "gender" else value.lower()
        if folded not in allowed:
            self.fail(name, f"must be one of {', '.join(allowed)}", value)
            return None
        return folded


class RowValidator:
    """Validates rows of one batch against its as-of date and jurisdiction profile."""

    def __init__(self, *, as_of: date, profile: Profile, holder_known: bool = False) -> None:
        """`holder_known`: the caller already knows whose record it is (a dispute correction of
        a record on file), so account and public-record rows are not asked for the holder's
        ``id_type`` / ``id_number``; the records come back with both None."""
        self.as_of = as_of
        self.holder_known = holder_known
        self.profile = profile
        self.as_of_period = as_of.replace(day=1)
        self._banned = frozenset(f.casefold() for f in profile.banned_fields)
        self._known = {
            rt: frozenset((*req, *opt, "record_type")) for rt, (req, opt) in FIELDS.items()
        }
        #: the fast path for plain status rows is only sound when no known field is banned
        self._status_fast_ok = not (self._banned & {f.casefold() for f in self._known["status"]})
        self._negative_before = profile.negative_notice == "before"
        #: every known field name, when none of them is banned: a row with only these keys
        #: and no nested values cannot hold banned data, and skips the recursive scan
        every = frozenset().union(*self._known.values())
        self._plain_keys = every if not (self._banned & {f.casefold() for f in every}) else None
        #: normalised identifiers of this batch (a holder's number recurs on many rows)
        self._ids: dict[tuple[str, Any], str] = {}
        self._prc: dict[str, Any] = {}
        #: the canonical spellings the inquiry fast path takes as they are
        self._id_types = frozenset(ENUMS["id_type"])
        self._purposes = frozenset(ENUMS["purpose"])
        self._inquiry_kinds = frozenset(ENUMS["kind:inquiry"])

    @property
    def status_lane_ok(self) -> bool:
        """Whether plain status rows may skip the per-row checks (`credo.furnishing.columnar`):
        not when the profile bans a status field's name."""
        return self._status_fast_ok

    @property
    def negative_notice_before(self) -> bool:
        """Whether negative data needs `subject_notified_on` (the profile's notice rule)."""
        return self._negative_before

    @property
    def status_fields(self) -> frozenset[str]:
        """The field names a status row may carry (``record_type`` included)."""
        return self._known["status"]

    # -- shared parsers --------------------------------------------------------------
    def _date(self, raw: Any) -> date:
        d = parse_date(raw)
        if d > self.as_of:
            raise ValueError(f"date {d.isoformat()} is after the batch date {self.as_of}")
        return d

    def _amount(self, raw: Any) -> int:
        return parse_amount_cents(raw)

    @staticmethod
    def _currency(raw: Any) -> str:
        code = to_ascii(str(raw)).upper()
        if not is_known_currency(code):
            raise ValueError(f"unknown ISO 4217 currency {code!r}")
        return code

    def _notice(self, row: _Row, negative: bool, what: str) -> date | None:
        notified = row.get("subject_notified_on", self._date)
        if (
            negative
            and notified is None
            and self.profile.negative_notice == "before"
            and "subject_notified_on" not in {p.field for p in row.problems}
        ):
            row.fail(
                "subject_notified_on",
                f"{what} is negative data: the subject must be notified on or before "
                f"the batch date (profile {self.profile.code})",
            )
        return notified

    def _identifier(self, row: _Row) -> tuple[str | None, str | None]:
        if self.holder_known:
            return None, None
        id_type = row.enum("id_type")
        raw = row.get("id_number", required=True)
        if id_type is None or raw is None:
            return id_type, None
        key = (id_type, raw)
        known = self._ids.get(key)
        if known is not None:
            return id_type, known
        try:
            number = normalize_identifier(id_type, raw)
        except ValueError as exc:
            row.fail("id_number", str(exc), raw)
            return id_type, None
        if len(self._ids) >= _ID_CACHE_SIZE:
            self._ids.clear()
        self._ids[key] = number
        return id_type, number

    def _prc_info(self, number: str):
        """`prc_id_info` of a normalised PRC ID, once per batch."""
        info = self._prc.get(number)
        if info is None:
            if len(self._prc) >= _ID_CACHE_SIZE:
                self._prc.clear()
            info = self._prc[number] = prc_id_info(number)
        return info

    def _scan_banned(self, raw: Any, path: str = "") -> str | None:
        if isinstance(raw, dict):
            for key, value in raw.items():
                name = f"{path}{key}"
                if str(key).casefold() in self._banned:
                    return name
                found = self._scan_banned(value, name + ".")
                if found:
                    return found
        elif isinstance(raw, list):
            for i, value in enumerate(raw):
                found = self._scan_banned(value, f"{path}{i}.")
                if found:
                    return found
        return None

    # -- entry point -----------------------------------------------------------------
    def validate(self, raw: dict[str, Any]) -> tuple[str | None, Record | None, list[Problem]]:
        """Validate one row; returns (record_type, clean record or None, problems)."""
        if (
            raw.get("record_type") == "status"
            and self._status_fast_ok
            and raw.keys() <= self._known["status"]
        ):
            rec = self._status_fast(raw)
            if rec is not None:
                return "status", rec, []
        plain = self._plain_keys is not None and raw.keys() <= self._plain_keys
        banned = None
        if not plain or any(type(v) is dict or type(v) is list for v in raw.values()):
            banned = self._scan_banned(raw)
        elif raw.get("record_type") == "inquiry" and raw.keys() <= self._known["inquiry"]:
            rec = self._inquiry_fast(raw)
            if rec is not None:
                return "inquiry", rec, []
        if banned is not None:
            return (
                raw.get("record_type") if isinstance(raw.get("record_type"), str) else None,
                None,
                [Problem(banned, "banned data: may not be collected (征信业管理条例 Art. 14)")],
            )
        rtype = raw.get("record_type")
        if not isinstance(rtype, str) or rtype.strip().lower() not in FIELDS:
            value = None if rtype is None else mask_value("record_type", rtype)
            reason = (
                "required field is missing"
                if rtype is None
                else f"unknown record_type; expected one of {', '.join(FIELDS)}"
            )
            return None, None, [Problem("record_type", reason, value)]
        rtype = rtype.strip().lower()
        row = _Row(raw)
        for key in raw:
            if key not in self._known[rtype]:
                row.fail(key, f"unknown field for record_type {rtype}")
        rec = getattr(self, f"_{rtype}")(row)
        if row.problems:
            return rtype, None, row.problems
        return rtype, rec, []

    # -- record types ----------------------------------------------------------------
    def _subject(self, row: _Row) -> SubjectRec | None:
        subject_type = row.enum("subject_type")
        id_type, id_number = self._identifier(row)
        name = row.get("name", normalize_name, required=True)
        is_person = subject_type == "person"
        birth = row.get("birth_date", self._date, required=is_person)
        phone = row.get("phone", lambda v: normalize_phone(str(v), self.profile.phone_region))
        address = row.get("address")
        gender = row.enum("gender", required=False)
        region = row.get("region")
        if region is not None and not (len(region) == 6 and region.isdigit()):
            row.fail("region", "must be a 6-digit administrative division code", region)
        if subject_type == "enterprise":
            if id_type == "prc_id":
                row.fail("id_type", "an enterprise is identified by uscc or other, not prc_id")
            if birth is not None:
                row.fail("birth_date", "birth_date applies to persons only")
            if gender is not None:
                row.fail("gender", "gender applies to persons only")
        elif is_person and id_type == "uscc":
            row.fail("id_type", "a person is identified by prc_id, passport or other, not uscc")
        if id_type == "prc_id" and id_number is not None:
            info = self._prc_info(id_number)
            if birth is not None and birth != info.birth_date:
                row.fail("birth_date", "does not match the birth date inside the PRC ID", birth)
            if gender is not None and gender != info.gender:
                row.fail("gender", "does not match the gender digit of the PRC ID", gender)
            region = region or info.region
        if address is not None and len(address) > 500:
            row.fail("address", "longer than 500 characters", address)
        if row.problems:
            return None
        return SubjectRec(
            subject_type, id_type, id_number, name, birth, phone, address, gender, region
        )

    def _account(self, row: _Row) -> AccountRec | None:
        ref = row.get("account_ref", required=True)
        if ref is not None and len(ref) > 64:
            row.fail("account_ref", "longer than 64 characters", ref)
        id_type, id_number = self._identifier(row)
        account_type = row.enum("account_type")
        opened = row.get("opened_on", self._date, required=True)
        closed = row.get("closed_on", self._date)
        currency = row.get("currency", self._currency, required=True)
        limit = row.get("credit_limit", self._amount)
        principal = row.get("principal", self._amount)
        term = row.get("term_months", lambda v: parse_int(v, lo=1, hi=600, what="term_months"))
        status = row.enum("status")
        if opened and closed and closed < opened:
            row.fail("closed_on", f"is before opened_on {opened}", closed)
        if status == AccountStatus.closed and closed is None and "closed_on" not in _fields(row):
            row.fail("closed_on", "required when status is closed")
        if status == AccountStatus.open and closed is not None:
            row.fail("closed_on", "an open account has no closed_on", closed)
        if account_type in LIMIT_TYPES and limit is None and "credit_limit" not in _fields(row):
            row.fail("credit_limit", f"required for {account_type}")
        if (
            account_type in (AccountType.installment_loan, AccountType.guarantee)
            and principal is None
            and "principal" not in _fields(row)
        ):
            row.fail("principal", f"required for {account_type}")
        if (
            account_type == AccountType.installment_loan
            and term is None
            and ("term_months" not in _fields(row))
        ):
            row.fail("term_months", "required for installment_loan")
        notified = self._notice(row, status == AccountStatus.charged_off, "a charged-off account")
        if row.problems:
            return None
        return AccountRec(
            ref, id_type, id_number, account_type, opened, closed, currency, limit, principal,
            term, status, notified,
        )  # fmt: skip

    def _status(self, row: _Row) -> StatusRec | None:
        ref = row.get("account_ref", required=True)
        period = row.get("period", parse_period, required=True)
        if period is not None and period > self.as_of_period:
            row.fail("period", f"is after the batch month {self.as_of_period:%Y-%m}", period)
        balance = row.get("balance", self._amount, required=True)
        due = row.get("amount_due", self._amount, required=True)
        paid = row.get("amount_paid", self._amount, required=True)
        dpd = row.get(
            "days_past_due",
            lambda v: parse_int(v, lo=0, hi=3650, what="days_past_due"),
            required=True,
        )
        notified = self._notice(row, bool(dpd), f"{dpd} days past due")
        if row.problems:
            return None
        return StatusRec(ref, period, balance, due, paid, dpd, notified)

    def _status_fast(self, raw: dict[str, Any]) -> StatusRec | None:
        """`_status` without the per-field problem collection, for rows with no problem.

        Uses the same parsers as `_status`; the first value any of them refuses (or a missing
        field) returns None, and the general path then reports every problem of the row. The
        result for an accepted row equals what `_status` returns for it (tested on generated
        rows).
        """
        ref = raw.get("account_ref")
        period, dpd = raw.get("period"), raw.get("days_past_due")
        amounts = (raw.get("balance"), raw.get("amount_due"), raw.get("amount_paid"))
        notified = raw.get("subject_notified_on")
        if type(ref) is not str or period is None or dpd is None or None in amounts:
            return None
        try:
            ref = to_ascii(ref)
            period = parse_period(period)
            balance, due, paid = (parse_amount_cents(a) for a in amounts)
            dpd = parse_int(dpd, lo=0, hi=3650, what="days_past_due")
            if notified is not None:
                notified = self._date(notified)
        except (ValueError, TypeError, ArithmeticError):
            return None
        if not ref or period > self.as_of_period:
            return None
        if dpd and notified is None and self._negative_before:
            return None
        return StatusRec(ref, period, balance, due, paid, dpd, notified)

    def _inquiry_fast(self, raw: dict[str, Any]) -> InquiryRec | None:
        """`_inquiry` for rows in the canonical shape (exact lower-case enumerations, a text
        identifier and date); anything else returns None and takes the general path, which
        reports every problem. Equal to what `_inquiry` returns for the row (tested)."""
        if self.holder_known:
            return None
        id_type, number, on = raw.get("id_type"), raw.get("id_number"), raw.get("inquired_on")
        purpose, kind, ref = raw.get("purpose"), raw.get("kind"), raw.get("inquiry_ref")
        if (
            type(id_type) is not str
            or type(number) is not str
            or type(on) is not str
            or id_type not in self._id_types
            or purpose not in self._purposes
            or kind not in self._inquiry_kinds
        ):
            return None
        if ref is not None:
            if type(ref) is not str:
                return None
            ref = to_ascii(ref) or None
        number = to_ascii(number)
        if not number:
            return None
        normalised = self._ids.get((id_type, number))
        try:
            if normalised is None:
                normalised = normalize_identifier(id_type, number)
                if len(self._ids) >= _ID_CACHE_SIZE:
                    self._ids.clear()
                self._ids[(id_type, number)] = normalised
            inquired = self._date(on)
        except (ValueError, TypeError):
            return None
        return InquiryRec(id_type, normalised, inquired, purpose, kind, ref)

    def _public_record(self, row: _Row) -> PublicRecordRec | None:
        id_type, id_number = self._identifier(row)
        kind = row.enum("kind", "kind:public_record")
        authority = row.get("authority", required=True)
        case_ref = row.get("case_ref", required=True)
        amount = row.get("amount", self._amount)
        currency = row.get("currency", self._currency)
        filed = row.get("filed_on", self._date, required=True)
        resolved = row.get("resolved_on", self._date)
        if amount is not None and currency is None and "currency" not in _fields(row):
            row.fail("currency", "required when amount is given")
        if filed and resolved and resolved < filed:
            row.fail("resolved_on", f"is before filed_on {filed}", resolved)
        for name, value, limit in (("authority", authority, 200), ("case_ref", case_ref, 100)):
            if value is not None and len(value) > limit:
                row.fail(name, f"longer than {limit} characters", value)
        notified = self._notice(row, True, "a public record")
        if row.problems:
            return None
        return PublicRecordRec(
            id_type, id_number, kind, authority, case_ref, amount, currency, filed, resolved,
            notified,
        )  # fmt: skip

    def _inquiry(self, row: _Row) -> InquiryRec | None:
        id_type, id_number = self._identifier(row)
        inquired = row.get("inquired_on", self._date, required=True)
        purpose = row.enum("purpose")
        kind = row.enum("kind", "kind:inquiry")
        ref = row.get("inquiry_ref")
        if row.problems:
            return None
        return InquiryRec(id_type, id_number, inquired, purpose, kind, ref)


def _fields(row: _Row) -> set[str | None]:
    return {p.field for p in row.problems}
