"""Deliberately defective rows, each breaking exactly one validation rule.

Defects are *extra* rows appended to a file, never corruptions of the clean story: a broken
account row would otherwise turn all its statuses into "unknown account" rejections. A status
defect brings its own small support account (an instalment loan with one or two clean statuses)
so that the one bad status is a standalone inconsistency.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

from credo.synth.people import IdRegistry, Subject, fresh_enterprise, fresh_person, subject_row
from credo.synth.reference import Institution
from credo.synth.world import World, period_of

__all__ = ["DEFECT_KINDS", "Defect", "make_defect"]

DEFECT_KINDS: tuple[str, ...] = (
    "bad_prc_checksum",
    "birth_date_mismatch",
    "bad_uscc",
    "future_date",
    "period_after_as_of",
    "negative_amount",
    "too_many_decimals",
    "unknown_currency",
    "closed_nonzero_balance",
    "unknown_account",
    "banned_field",
    "missing_notice",
    "invalid_phone",
    "bad_enum",
    "missing_required",
    "unknown_record_type",
    "impossible_date",
    "dpd_jump",
    "identity_conflict",
)

_PRC_CHECK = "0123456789X"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_LENDER_ONLY = frozenset({"period_after_as_of", "closed_nonzero_balance", "unknown_account"})
_LENDER_ONLY |= {"dpd_jump"}


@dataclass(slots=True)
class Defect:
    """Rows to append, by section; ``rows[bad]`` is the defective one."""

    kind: str
    record_type: str
    field: str
    rows: list[tuple[str, dict]] = field(default_factory=list)
    bad: int = 0


def _flip(number: str, alphabet: str) -> str:
    """Replace the check character by the next one of its alphabet: a checksum failure."""
    last = number[-1]
    return number[:-1] + alphabet[(alphabet.index(last) + 1) % len(alphabet)]


class _Ctx:
    """What a defect maker needs: randomness, the calendar, ids and the current subject."""

    def __init__(
        self, rng: random.Random, world: World, ids: IdRegistry, inst: Institution, subject: Subject
    ) -> None:
        self.rng, self.world, self.ids, self.inst, self.subject = rng, world, ids, inst, subject

    def ref(self, tag: str) -> str:
        return self.world.next_ref(f"{self.inst.code}-{tag}")

    def account(self, months_back: int, **extra: object) -> dict:
        s, w = self.subject, self.world
        row = {
            "record_type": "account",
            "account_ref": self.ref("D"),
            "id_type": s.id_type,
            "id_number": s.id_number,
            "account_type": "installment_loan",
            "opened_on": w.day(w.last - months_back, 3).isoformat(),
            "currency": "CNY",
            "principal": "12000.00",
            "term_months": 12,
            "status": "open",
        }
        row.update(extra)
        return row

    @staticmethod
    def status(ref: str, mi: int, balance: str, due: str, paid: str, dpd: int = 0) -> dict:
        return {
            "record_type": "status",
            "account_ref": ref,
            "period": period_of(mi),
            "balance": balance,
            "amount_due": due,
            "amount_paid": paid,
            "days_past_due": dpd,
        }

    def inquiry(self, **extra: object) -> dict:
        s, w = self.subject, self.world
        row = {
            "record_type": "inquiry",
            "id_type": s.id_type,
            "id_number": s.id_number,
            "inquired_on": w.day(w.last - self.rng.randint(1, 12), 15).isoformat(),
            "purpose": "loan_approval",
            "kind": "hard",
            "inquiry_ref": self.ref("Q"),
        }
        row.update(extra)
        return row

    def public_record(self, **extra: object) -> dict:
        s, w = self.subject, self.world
        filed = w.day(w.last - self.rng.randint(2, 24), 12)
        row = {
            "record_type": "public_record",
            "id_type": s.id_type,
            "id_number": s.id_number,
            "kind": self.inst.record_kinds[0],
            "authority": f"{s.region.city}{s.region.district}"
            + ("人民法院" if self.inst.code == "COURT01" else "税务局"),
            "case_ref": self.ref("CASE"),
            "amount": "8000.00",
            "currency": "CNY",
            "filed_on": filed.isoformat(),
            "subject_notified_on": (filed + timedelta(days=3)).isoformat(),
        }
        row.update(extra)
        return row


def _subject_defect(ctx: _Ctx, kind: str) -> Defect:
    rng, ids, index = ctx.rng, ctx.ids, -1
    if kind == "bad_uscc":
        row = subject_row(fresh_enterprise(rng, ids, index), rng)
        row["id_number"] = _flip(row["id_number"], _USCC_ALPHABET)
        return Defect(kind, "subject", "id_number", [("subject", row)])
    if kind == "identity_conflict":
        # The current subject's identifier under another name: flagged for review.
        row = subject_row(ctx.subject, rng)
        other = fresh_person(rng, ids, index) if ctx.subject.birth_date else None
        row["name"] = other.name if other else fresh_enterprise(rng, ids, index).name
        if row["name"] == ctx.subject.name:
            row["name"] += "某"
        return Defect(kind, "subject", "name", [("subject", row)])
    person = fresh_person(rng, ids, index)
    row = subject_row(person, rng)
    if kind == "bad_prc_checksum":
        row["id_number"] = _flip(row["id_number"], _PRC_CHECK)
        return Defect(kind, "subject", "id_number", [("subject", row)])
    if kind == "birth_date_mismatch":
        assert person.birth_date is not None
        row["birth_date"] = (person.birth_date + timedelta(days=rng.randint(1, 400))).isoformat()
        return Defect(kind, "subject", "birth_date", [("subject", row)])
    # invalid_phone: 12x is no Chinese number range, so the number cannot be valid.
    row["phone"] = f"+8612{rng.randrange(10**9):09d}"
    return Defect(kind, "subject", "phone", [("subject", row)])


def _status_defect(ctx: _Ctx, kind: str) -> Defect:
    last, st = ctx.world.last, ctx.status
    if kind == "unknown_account":
        bad = st(ctx.ref("NX"), last - 1, "5000.00", "500.00", "500.00")
        return Defect(kind, "status", "account_ref", [("status", bad)])
    if kind == "closed_nonzero_balance":
        acct = ctx.account(3, status="closed", closed_on=ctx.world.day(last - 1, 12).isoformat())
        ref = acct["account_ref"]
        rows = [st(ref, last - 3, "12000.00", "0.00", "0.00")]
        rows.append(st(ref, last - 2, "11000.00", "1066.20", "1066.20"))
        bad = st(ref, last - 1, "800.00", "1066.20", "1066.20")
        field_ = "balance"
    else:
        acct = ctx.account(2)
        ref = acct["account_ref"]
        rows = [st(ref, last - 2, "12000.00", "0.00", "0.00")]
        if kind == "period_after_as_of":
            rows.append(st(ref, last - 1, "11000.00", "1066.20", "1066.20"))
            rows.append(st(ref, last, "10030.00", "1066.20", "1066.20"))
            bad, field_ = st(ref, last + 1, "9050.00", "1066.20", "1066.20"), "period"
        elif kind == "negative_amount":
            bad, field_ = st(ref, last - 1, "11000.00", "1066.20", "-1066.20"), "amount_paid"
        elif kind == "missing_notice":
            bad, field_ = (
                st(ref, last - 1, "12000.00", "1066.20", "0.00", 30),
                "subject_notified_on",
            )
        else:  # dpd_jump: 0 days past due last month, 90 now
            bad = st(ref, last - 1, "12000.00", "4264.80", "0.00", 90)
            bad["subject_notified_on"] = ctx.world.day(last - 1, 5).isoformat()
            field_ = "days_past_due"
    out = [("account", acct), *(("status", r) for r in rows), ("status", bad)]
    return Defect(kind, "status", field_, out, bad=len(out) - 1)


def _account_defect(ctx: _Ctx, kind: str) -> Defect:
    # Accounts that never get a status, so nothing else depends on them.
    if kind == "too_many_decimals":
        row = ctx.account(4, principal="12000.125")
        return Defect(kind, "account", "principal", [("account", row)])
    if kind == "unknown_currency":
        return Defect(kind, "account", "currency", [("account", ctx.account(4, currency="RMB"))])
    row = ctx.account(4, account_type="mortgage_x")
    return Defect(kind, "account", "account_type", [("account", row)])


def _inquiry_defect(ctx: _Ctx, kind: str, banned: str) -> Defect:
    as_of = ctx.world.as_of
    if kind == "future_date":
        row = ctx.inquiry(inquired_on=(as_of + timedelta(days=ctx.rng.randint(1, 90))).isoformat())
        return Defect(kind, "inquiry", "inquired_on", [("inquiry", row)])
    if kind == "impossible_date":
        row = ctx.inquiry(inquired_on=f"{as_of.year - 1}-02-30")
        return Defect(kind, "inquiry", "inquired_on", [("inquiry", row)])
    if kind == "missing_required":
        row = ctx.inquiry()
        del row["purpose"]
        return Defect(kind, "inquiry", "purpose", [("inquiry", row)])
    row = ctx.inquiry(**{banned: _BANNED_VALUES[banned]})
    return Defect(kind, "inquiry", banned, [("inquiry", row)])


_BANNED_VALUES = {"religion": "佛教", "blood_type": "A"}


def _public_defect(ctx: _Ctx, kind: str, banned: str) -> Defect:
    as_of, pr = ctx.world.as_of, ctx.public_record
    if kind == "future_date":
        row = pr(filed_on=(as_of + timedelta(days=ctx.rng.randint(1, 90))).isoformat())
        row["subject_notified_on"] = as_of.isoformat()
        return Defect(kind, "public_record", "filed_on", [("public_record", row)])
    if kind == "impossible_date":
        row = pr(filed_on=f"{as_of.year - 1}-02-30")
        return Defect(kind, "public_record", "filed_on", [("public_record", row)])
    changes: dict[str, tuple[str, object]] = {
        "negative_amount": ("amount", "-8000.00"),
        "too_many_decimals": ("amount", "8000.005"),
        "unknown_currency": ("currency", "RMB"),
        "bad_enum": ("kind", "bankruptcy_x"),
        "banned_field": (banned, _BANNED_VALUES[banned]),
    }
    if kind in changes:
        name, value = changes[kind]
        return Defect(kind, "public_record", name, [("public_record", pr(**{name: value}))])
    row = pr()
    name = "authority" if kind == "missing_required" else "subject_notified_on"
    del row[name]  # missing_required or missing_notice
    return Defect(kind, "public_record", name, [("public_record", row)])


def make_defect(
    kind: str,
    *,
    rng: random.Random,
    world: World,
    ids: IdRegistry,
    inst: Institution,
    subject: Subject,
    csv: bool,
) -> Defect | None:
    """Build the rows of one defect of ``kind`` for ``inst``'s file, or None if it cannot hold it.

    A CSV file has a fixed set of columns, so it cannot carry a banned extra field; a public
    source sends no accounts or statuses.
    """
    if kind == "banned_field" and csv:
        return None
    if inst.is_public and kind in _LENDER_ONLY:
        return None
    ctx = _Ctx(rng, world, ids, inst, subject)
    banned = "religion" if rng.random() < 0.5 else "blood_type"
    if kind == "unknown_record_type":
        row = {"record_type": "collateral", "account_ref": ctx.ref("C"), "amount": "1500000.00"}
        return Defect(kind, "collateral", "record_type", [(_tail(inst), row)])
    if kind in ("bad_prc_checksum", "birth_date_mismatch", "bad_uscc", "invalid_phone"):
        return _subject_defect(ctx, kind)
    if kind == "identity_conflict":
        return _subject_defect(ctx, kind)
    if inst.is_public:
        return _public_defect(ctx, kind, banned)
    if kind in ("period_after_as_of", "negative_amount", "closed_nonzero_balance"):
        return _status_defect(ctx, kind)
    if kind in ("unknown_account", "missing_notice", "dpd_jump"):
        return _status_defect(ctx, kind)
    if kind in ("too_many_decimals", "unknown_currency", "bad_enum"):
        return _account_defect(ctx, kind)
    return _inquiry_defect(ctx, kind, banned)


def _tail(inst: Institution) -> str:
    """The last section a file of ``inst`` uses: where stray rows go."""
    return "public_record" if inst.is_public else "inquiry"
