"""Report assembly: a pure function from a `Snapshot` to the report document (format 1.1).

No database, no clock: the report id and the generation time come in as arguments, so the same
snapshot always assembles to the same report. What each viewer sees (docs/report.md):

| field              | subject          | institution                  | operator            |
|--------------------|------------------|------------------------------|---------------------|
| name               | in full          | masked (张*)                 | masked              |
| id number          | 1101**...**1234  | 1101**********1234           | masked              |
|                    | (first 6, last 4)| (first 4, last 4)            |                     |
| birth date         | in full          | year only                    | year only           |
| gender             | shown            | not shown                    | not shown           |
| contact details    | in full          | not shown (never decrypted)  | masked              |
| account numbers    | in full          | its own in full, else masked | masked              |
| other institutions | named            | kind only ("a bank")         | named               |

Repayment grid codes (PBOC style), one per month for the 24 months up to the as-of month (for
an account that ended before it: up to the month it ended, so its last 24 months are shown):
``N`` paid as agreed, ``*`` nothing due, ``1``-``7`` past due in 30-day buckets (1: 1-30 days
... 6: 151-180, 7: more than 180), ``C`` closed, ``B`` charged off (呆账), ``G`` transferred
(转出), ``/`` not open yet or not reported. The closing code is shown in the month the account
closed (without a closing date: its last reported month) and in any later month still reported.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime

from credo.core.masking import mask_address, mask_id, mask_name, mask_phone
from credo.feature.pit import add_months
from credo.report import labels
from credo.report.schema import GRID_MONTHS, SCHEMA_VERSION
from credo.report.snapshot import (
    AccountData,
    DisputeMarkData,
    InquiryData,
    InstitutionData,
    ScoreData,
    Snapshot,
    StatusData,
    Viewer,
)
from credo.scoring.grades import GRADE_BANDS

ACCOUNT_TYPES = labels.codes("account_type")
TERMINAL = {"closed": "C", "charged_off": "B", "transferred": "G"}
INQUIRY_WINDOWS = (1, 3, 6, 12, 24)
#: how much each viewer's snapshot decrypts; a report needs a snapshot that saw at least as much
_RANK = {Viewer.institution: 0, Viewer.operator: 1, Viewer.subject: 2}


def money(cents: int | None) -> str | None:
    """Integer hundredths as a decimal string with two decimals: 123456 -> '1234.56'."""
    if cents is None:
        return None
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(int(cents)), 100)
    return f"{sign}{whole}.{frac:02d}"


def month(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def dpd_code(days_past_due: int) -> str:
    """The grid code of a month past due: 1-30 days -> '1', ..., more than 180 -> '7'."""
    if days_past_due <= 0:
        return "N"
    return str(min(7, (days_past_due - 1) // 30 + 1))


def light_mask_id(s: str) -> str:
    """The subject's own id: first 6 (region) and last 4 characters, like bank statements."""
    s = s.strip()
    if len(s) >= 12:
        return s[:6] + "*" * (len(s) - 10) + s[-4:]
    return mask_id(s)


def grid_months(as_of: date) -> list[date]:
    """First days of the 24 months up to the as-of month, oldest first."""
    last = as_of.replace(day=1)
    return [add_months(last, -k) for k in range(GRID_MONTHS - 1, -1, -1)]


def status_at(account: AccountData, as_of: date) -> str:
    """The account's status on the date: a closing dated after it had not happened yet."""
    if account.status in TERMINAL and account.closed_on is not None and account.closed_on > as_of:
        return "open"
    return account.status


def end_month(account: AccountData, as_of: date) -> date | None:
    """The month a closed, charged-off or transferred account ended (None: still open)."""
    if TERMINAL.get(status_at(account, as_of)) is None:
        return None
    if account.closed_on is not None:
        return account.closed_on.replace(day=1)
    # no closing date furnished: the account ended with its last reported month
    return account.statuses[-1].period if account.statuses else None


def grid(account: AccountData, as_of: date) -> list[dict]:
    """The account's 24 months up to the as-of month (an account that ended: up to the month it
    ended), one cell each: code, days past due and balance (None when not reported)."""
    by_period = {s.period: s for s in account.statuses}
    terminal = TERMINAL.get(status_at(account, as_of))
    end = end_month(account, as_of)
    months = grid_months(min(end, as_of) if end is not None else as_of)
    cells = []
    for m in months:
        s = by_period.get(m)
        if end is not None and m >= end and (s is not None or m == end):
            code = terminal
        elif s is None:
            code = "/"
        elif s.days_past_due > 0:
            code = dpd_code(s.days_past_due)
        else:
            code = "*" if s.amount_due_cents == 0 else "N"
        cells.append(
            {
                "period": month(m),
                "code": code,
                "days_past_due": None if s is None else s.days_past_due,
                "balance": None if s is None else money(s.balance_cents),
            }
        )
    return cells


def _overdue_cents(s: StatusData) -> int:
    # the same definition as the overdue_amount feature: the month's shortfall when past due
    return max(0, s.amount_due_cents - s.amount_paid_cents) if s.days_past_due > 0 else 0


def _institution(
    inst: InstitutionData, viewer: Viewer, querier: InstitutionData | None
) -> dict[str, str | None]:
    # between institutions only desensitised data: another member is shown by its kind
    hidden = (
        viewer is Viewer.institution
        and inst.kind != "public_source"
        and (querier is None or querier.code != inst.code)
    )
    if hidden:
        return {"code": None, "name": None, "kind": inst.kind}
    return {"code": inst.code, "name": inst.name, "kind": inst.kind}


def _identity(snap: Snapshot, viewer: Viewer, querier: InstitutionData | None) -> dict:
    ident = snap.identity
    if viewer is Viewer.subject:
        name, id_number = ident.name, light_mask_id(ident.id_number)
        birth = ident.birth_date.isoformat() if ident.birth_date else None
    else:
        name, id_number = mask_name(ident.name), mask_id(ident.id_number)
        birth = f"{ident.birth_year:04d}-**-**" if ident.birth_year else None
    contacts = []
    if viewer is not Viewer.institution:
        full = viewer is Viewer.subject
        for c in snap.contacts:
            contacts.append(
                {
                    "institution": _institution(c.institution, viewer, querier),
                    "phone": c.phone if full or c.phone is None else mask_phone(c.phone),
                    "address": c.address if full or c.address is None else mask_address(c.address),
                    "reported_on": c.recorded_at.date().isoformat(),
                }
            )
    return {
        "subject_ref": ident.ref,
        "subject_type": ident.subject_type,
        "id_type": ident.id_type,
        "name": name,
        "id_number": id_number,
        "birth_date": birth,
        "gender": ident.gender if viewer is Viewer.subject else None,
        "contacts": contacts,
    }


def _account(
    acc: AccountData,
    snap: Snapshot,
    viewer: Viewer,
    querier: InstitutionData | None,
    disputed: bool = False,
) -> dict:
    cells = grid(acc, snap.as_of)
    reported = [c["days_past_due"] for c in cells if c["days_past_due"] is not None]
    latest = acc.statuses[-1] if acc.statuses else None
    return {
        "institution": _institution(acc.institution, viewer, querier),
        "account_ref": _account_ref(acc, viewer, querier),
        "account_type": acc.account_type,
        "currency": acc.currency,
        "opened_on": acc.opened_on.isoformat(),
        "closed_on": (
            acc.closed_on.isoformat() if acc.closed_on and acc.closed_on <= snap.as_of else None
        ),
        "status": status_at(acc, snap.as_of),
        "credit_limit": money(acc.credit_limit_cents),
        "principal": money(acc.principal_cents),
        "term_months": acc.term_months,
        "latest": None
        if latest is None
        else {
            "period": month(latest.period),
            "balance": money(latest.balance_cents),
            "amount_due": money(latest.amount_due_cents),
            "amount_paid": money(latest.amount_paid_cents),
            "days_past_due": latest.days_past_due,
            "overdue_amount": money(_overdue_cents(latest)),
        },
        "worst_days_past_due": max(reported, default=0),
        "overdue_months": sum(1 for d in reported if d > 0),
        "disputed": disputed,
        "grid": cells,
    }


def _account_ref(acc: AccountData, viewer: Viewer, querier: InstitutionData | None) -> str:
    own = querier is not None and querier.code == acc.institution.code
    show = viewer is Viewer.subject or (viewer is Viewer.institution and own)
    return acc.account_ref if show else mask_id(acc.account_ref)


def _mark(
    m: DisputeMarkData,
    accounts: dict[int, AccountData],
    viewer: Viewer,
    querier: InstitutionData | None,
    lang: str,
) -> dict:
    """A dispute mark, naming the record the way the report shows it to this viewer."""
    what = labels.label("dispute_record_type", m.record_type, lang)
    detail = ""
    acc = accounts.get(m.account_id) if m.account_id is not None else None
    if acc is not None:
        inst = labels.institution_name(_institution(acc.institution, viewer, querier), lang)
        kind = labels.label("account_type", acc.account_type, lang)
        detail = f"{inst} {kind} {_account_ref(acc, viewer, querier)}"
        if m.period is not None:
            detail += f" {month(m.period)}"
    elif m.record_type == "public_record":
        detail = f"{labels.label('public_record_kind', m.kind, lang)} {m.case_ref}"
    elif m.record_type == "inquiry" and m.inquiry_institution is not None:
        inst = labels.institution_name(_institution(m.inquiry_institution, viewer, querier), lang)
        detail = f"{inst} {m.inquired_on.isoformat() if m.inquired_on else ''}".strip()
    elif m.record_type == "identity":
        detail = labels.label("identity_field", m.field, lang)
    return {
        "record_type": m.record_type,
        "record": f"{what}: {detail}" if detail else what,
        "opened_on": m.opened_on.isoformat(),
        "status": m.status,
        "escalated": m.escalated,
        "note": m.note,
    }


def _account_summary(accounts: list[dict], snap: Snapshot) -> dict:
    by_status = dict.fromkeys(("open", "closed", "charged_off", "transferred"), 0)
    groups: dict[tuple[str, str], dict] = {}
    for a, raw in zip(accounts, _sorted(snap.accounts), strict=True):
        by_status[a["status"]] += 1
        g = groups.setdefault(
            (a["account_type"], a["currency"]),
            {"accounts": 0, "open": 0, "limit": None, "balance": 0},
        )
        g["accounts"] += 1
        g["open"] += a["status"] == "open"
        # limits granted now: a closed account's limit is no longer available credit
        if raw.credit_limit_cents is not None and a["status"] == "open":
            g["limit"] = (g["limit"] or 0) + raw.credit_limit_cents
        g["balance"] += raw.statuses[-1].balance_cents if raw.statuses else 0
    by_type = [
        {
            "account_type": t,
            "currency": c,
            "accounts": g["accounts"],
            "open": g["open"],
            "credit_limit": money(g["limit"]),
            "balance": money(g["balance"]),
        }
        for (t, c), g in sorted(
            groups.items(), key=lambda kv: (ACCOUNT_TYPES.index(kv[0][0]), kv[0][1])
        )
    ]
    return {"total": len(accounts), **by_status, "by_type": by_type}


def _overdue_summary(snap: Snapshot, months: list[date]) -> dict:
    amounts: dict[str, int] = {}
    overdue = worst = months_late = very_late = 0
    for acc in snap.accounts:
        if acc.statuses and acc.statuses[-1].days_past_due > 0:
            overdue += 1
            cents = _overdue_cents(acc.statuses[-1])
            amounts[acc.currency] = amounts.get(acc.currency, 0) + cents
        window = [s.days_past_due for s in acc.statuses if s.period >= months[0]]
        worst = max([worst, *window])
        months_late += sum(1 for d in window if d > 0)
        very_late += any(d >= 90 for d in window)
    return {
        "accounts_overdue": overdue,
        "amounts": [{"currency": c, "amount": money(v)} for c, v in sorted(amounts.items())],
        "worst_days_past_due_24m": worst,
        "overdue_months_24m": months_late,
        "accounts_90plus_24m": very_late,
    }


def _public_summary(records: list[dict]) -> dict:
    out = {"total": len(records), "unresolved": sum(r["resolved_on"] is None for r in records)}
    for kind in labels.codes("public_record_kind"):
        out[kind] = sum(r["kind"] == kind for r in records)
    return out


def _inquiry_summary(inquiries: Iterable[InquiryData], as_of: date) -> dict:
    inquiries = list(inquiries)
    out = {}
    for n in INQUIRY_WINDOWS:
        since = add_months(as_of, -n)
        inside = [q for q in inquiries if since < q.inquired_on <= as_of]
        hard = [q for q in inside if q.kind == "hard"]
        out[f"last_{n}m"] = {
            "hard": len(hard),
            "soft": len(inside) - len(hard),
            "hard_institutions": len({q.institution.code for q in hard}),
        }
    return out


def _score_at_pd(pd_: float, offset: float, factor: float) -> float:
    return offset + factor * math.log((1 - pd_) / pd_)


def score_bands(offset: float | None, factor: float | None) -> list[dict]:
    """The score interval of each grade under the model's scaling (grades are PD bands)."""
    if offset is None or factor is None:
        return []
    bands, lower_pd = [], None
    for grade, upper_pd in GRADE_BANDS:
        hi = None if lower_pd is None else round(_score_at_pd(lower_pd, offset, factor), 1)
        lo = None if upper_pd >= 1 else round(_score_at_pd(upper_pd, offset, factor), 1)
        bands.append({"grade": grade, "min_score": lo, "max_score": hi})
        lower_pd = upper_pd
    return bands


def _score(score: ScoreData | None, snap: Snapshot, lang: str) -> dict:
    empty = {
        "available": False,
        "score": None,
        "grade": None,
        "pd": None,
        "model": None,
        "model_kind": None,
        "as_of": None,
        "scored_at": None,
        "reasons": [],
        "range": None,
        "bands": [],
        "unavailable": None,
    }
    if score is None:
        code = "not_scored" if snap.accounts else "no_credit_file"
        return {
            **empty,
            "unavailable": {"code": code, "text": labels.label("no_score", code, lang)},
        }
    value = round(score.score)
    if score.score_range is not None:
        lo, hi = score.score_range
    elif score.offset is not None and score.factor is not None:
        lo = _score_at_pd(0.4, score.offset, score.factor)
        hi = _score_at_pd(0.002, score.offset, score.factor)
    else:
        lo, hi = value - 100, value + 100
    text_key = "text_zh" if lang == "zh" else "text_en"
    return {
        **empty,
        "available": True,
        "score": value,
        "grade": score.grade,
        "pd": round(score.pd, 6),
        "model": score.model,
        "model_kind": score.model_kind,
        "as_of": score.as_of.isoformat(),
        "scored_at": score.scored_at.isoformat(),
        "reasons": [
            {"code": r["code"], "feature": r["feature"], "text": r[text_key]}
            for r in score.reasons[:4]
        ],
        "range": [float(math.floor(min(lo, value))), float(math.ceil(max(hi, value)))],
        "bands": score_bands(score.offset, score.factor),
    }


def _sorted(accounts: list[AccountData]) -> list[AccountData]:
    return sorted(
        accounts,
        key=lambda a: (
            ACCOUNT_TYPES.index(a.account_type),
            a.opened_on,
            a.institution.code,
            a.account_ref,
        ),
    )


def assemble(
    snapshot: Snapshot,
    *,
    viewer: Viewer | str,
    institution: InstitutionData | None,
    purpose: str | None,
    report_id: str,
    generated_at: datetime,
    lang: str,
) -> dict:
    """The report document (format 1.1) for `viewer` from one subject's snapshot."""
    viewer = Viewer(viewer)
    if lang not in labels.LANGS:
        raise ValueError(f"lang must be zh or en; got {lang!r}")
    if _RANK[viewer] > _RANK[snapshot.viewer]:
        raise ValueError(
            f"a snapshot loaded for the {snapshot.viewer.value} viewer lacks what the "
            f"{viewer.value} viewer sees; load it for {viewer.value}"
        )
    snap = snapshot
    months = grid_months(snap.as_of)
    disputed_accounts = {m.account_id for m in snap.disputes if m.account_id is not None}
    disputed_records = {
        (m.source_code, m.kind, m.case_ref)
        for m in snap.disputes
        if m.record_type == "public_record"
    }
    accounts = [
        _account(a, snap, viewer, institution, a.account_id in disputed_accounts)
        for a in _sorted(snap.accounts)
    ]
    records = [
        {
            "kind": r.kind,
            "authority": r.authority,
            "case_ref": r.case_ref,
            "amount": money(r.amount_cents),
            "currency": r.currency,
            "filed_on": r.filed_on.isoformat(),
            "resolved_on": r.resolved_on.isoformat() if r.resolved_on else None,
            "source": _institution(r.institution, viewer, institution),
            "disputed": (r.institution.code, r.kind, r.case_ref) in disputed_records,
        }
        for r in snap.public_records
    ]
    inquiries = [
        {
            "inquired_on": q.inquired_on.isoformat(),
            "institution": _institution(q.institution, viewer, institution),
            "purpose": q.purpose,
            "kind": q.kind,
        }
        for q in snap.inquiries
    ]
    return {
        "schema_version": SCHEMA_VERSION,
        "header": {
            "report_id": report_id,
            "generated_at": generated_at.isoformat(),
            "as_of": snap.as_of.isoformat(),
            "historical": snap.historical,
            "viewer": viewer.value,
            "lang": lang,
            "institution": None
            if institution is None
            else {"code": institution.code, "name": institution.name, "kind": institution.kind},
            "purpose": purpose,
            "fraud_alert": None
            if snap.fraud_alert is None
            else {
                "placed_on": snap.fraud_alert.placed_on.isoformat(),
                "expires_on": snap.fraud_alert.expires_on.isoformat()
                if snap.fraud_alert.expires_on
                else None,
                "extended": snap.fraud_alert.extended,
            },
            "frozen": snap.frozen,
        },
        "identity": _identity(snap, viewer, institution),
        "summary": {
            "accounts": _account_summary(accounts, snap),
            "overdue": _overdue_summary(snap, months),
            "public_records": _public_summary(records),
            "inquiries": _inquiry_summary(snap.inquiries, snap.as_of),
        },
        "accounts": accounts,
        "public_records": records,
        "disputes": [
            _mark(m, {a.account_id: a for a in snap.accounts}, viewer, institution, lang)
            for m in snap.disputes
        ],
        "statements": [
            {"added_on": st.added_on.isoformat(), "text": st.text} for st in snap.statements
        ],
        "inquiries": inquiries,
        "score": _score(snap.score, snap, lang),
    }
