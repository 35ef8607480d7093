"""A subject's credit repair plan: the actions they can take and the score each would reach.

`repair_plan` loads the subject's records and their segment's champion, plays each action out
on the records (`credo.repair.scenario`), and scores every resulting feature row with the
champion itself -- the estimator the registry rebuilds from its stored spec, called the way
`credo.scoring.service.score_subjects` calls it -- so a predicted score is the score the
subject would get once the records show the action (tested by furnishing the records and
re-scoring). Actions that would not raise the score are left out; the rest are ordered by
gain, largest first.

The plan offers only what the subject can do: pay, wait, pay on time, apply less. It never
offers to remove accurate negative information, and says so in a fixed note (`NOTE`).
`serve` is the plan as a read of personal data: one ledger entry per plan served.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from credo.audit import service as audit
from credo.errors import Conflict, Invalid, NotFound
from credo.feature.catalog import BUREAU_CATALOG
from credo.feature.pit import FEATURES, add_months
from credo.feature.service import load_frames
from credo.repair.scenario import (
    Features,
    Scenario,
    SubjectRows,
    features_after,
    latest_statuses,
    overdue_cents,
    paydown_cents,
)
from credo.scoring import registry
from credo.scoring import service as scoring
from credo.subject.models import Subject

LANGS = ("zh", "en")
#: utilisation levels offered, each only when the subject is at or above it
UTILISATION_LEVELS = (0.5, 0.3, 0.1)
INQUIRY_MONTHS = (3, 6, 12)
CURRENT_MONTHS = (6, 12, 24)
#: the horizon of the combined action ("all of the above")
ALL_MONTHS = 12

#: said in every plan, whatever its actions
NOTE = {
    "zh": (
        "本计划只列出您本人可以采取的行动及其对评分的预计影响。准确的负面信息在保存期限届满前"
        "不能删除，任何人都不能替您删除；如您认为某条记录有误，请对该记录提出异议。预计评分假设"
        "其他信息不变，且评分模型不变。"
    ),
    "en": (
        "This plan lists only actions you can take yourself and their expected effect on your "
        "score. Accurate negative information cannot be removed before its retention period "
        "ends, and no one can remove it for you; if a record is wrong, dispute it. Predicted "
        "scores assume everything else on your file, and the scoring model, stay the same."
    ),
}


@dataclass(frozen=True)
class FeatureChange:
    """One feature an action moves."""

    feature: str
    label: str
    before: float | None
    after: float | None


@dataclass(frozen=True)
class Outcome:
    """A score with its grade, PD and reasons (the four costliest factors)."""

    score: float
    grade: str
    pd: float
    reasons: list[dict[str, Any]]


@dataclass(frozen=True)
class Action:
    """One thing the subject can do, and where it would take their score."""

    code: str
    text_zh: str
    text_en: str
    #: months until the predicted score is reached (0: as soon as the records show it)
    months: int
    #: what the subject pays now, in yuan (None: nothing to pay)
    amount: float | None
    scenario: Scenario
    changes: list[FeatureChange]
    outcome: Outcome
    gain: float

    def text(self, lang: str) -> str:
        return self.text_zh if lang == "zh" else self.text_en


@dataclass(frozen=True)
class RepairPlan:
    """What `repair_plan` returns."""

    subject_ref: str
    segment: str
    model: str
    as_of: date
    lang: str
    current: Outcome
    actions: list[Action] = field(default_factory=list)

    @property
    def note(self) -> str:
        return NOTE[self.lang]


def _subject(session: Session, subject_id: int) -> Subject:
    subject = session.get(Subject, subject_id)
    if subject is None:
        raise NotFound(f"no subject {subject_id} on file")
    return subject


def subject_rows(session: Session, subject_id: int) -> SubjectRows:
    """The subject's current records, as the feature function reads them."""
    frames = load_frames(session, subject_id=subject_id)
    return SubjectRows(
        accounts=tuple(frames.accounts.rows()),
        statuses=tuple(frames.statuses.rows()),
        inquiries=tuple(frames.inquiries.rows()),
        public_records=tuple(frames.public_records.rows()),
    )


def score_features(model, rows: list[Features]) -> list[Outcome]:
    """Score feature rows with a loaded model as `score_subjects` does (same frame, same calls)."""
    schema = dict.fromkeys(FEATURES, pl.Float64)
    _, scores, pds, grades, reasons = scoring.predict(model, pl.DataFrame(rows, schema=schema))
    return [
        Outcome(score=float(scores[i]), grade=str(grades[i]), pd=float(pds[i]),
                reasons=[{"code": r.code, "feature": r.feature, "value": r.value,
                          "text_zh": r.text_zh, "text_en": r.text_en} for r in reasons[i]])
        for i in range(len(rows))
    ]  # fmt: skip


def _money(cents: int, lang: str) -> str:
    return f"¥{cents / 100:,.2f}" if lang == "zh" else f"CNY {cents / 100:,.2f}"


def _candidates(rows: SubjectRows, as_of: date, base: Features) -> list[tuple]:
    """(code, zh, en, months, amount cents, scenario) of every action the subject could take;
    `rows` as known at `as_of`."""
    out: list[tuple] = []
    util = base["revolving_utilisation"]
    levels = [lv for lv in UTILISATION_LEVELS if util is not None and util >= lv]
    for lv in levels:
        pay = paydown_cents(rows, as_of, lv)
        pct = round(lv * 100)
        out.append((
            f"UTIL-{pct}",
            f"偿还循环授信欠款{_money(pay, 'zh')}，将循环授信使用率降至{pct}%以下",
            f"Pay {_money(pay, 'en')} off revolving balances to bring revolving utilisation "
            f"below {pct}%",
            0, pay, Scenario(utilisation_below=lv),
        ))  # fmt: skip
    overdue = sum(overdue_cents(s) for s in latest_statuses(rows.statuses).values())
    if overdue:
        out.append((
            "OVERDUE-CLEAR",
            f"还清当前逾期金额{_money(overdue, 'zh')}，本月按时足额还款",
            f"Pay the {_money(overdue, 'en')} overdue now, so that this month is reported "
            "paid in full",
            0, overdue, Scenario(clear_overdue=True),
        ))  # fmt: skip
    for n in INQUIRY_MONTHS:
        out.append((
            f"INQ-{n}M",
            f"{n}个月内不申请新的贷款或信用卡（不产生新的贷款审批类查询）",
            f"Make no new applications for credit (no new hard inquiries) for {n} months",
            n, None, Scenario(no_inquiry_months=n),
        ))  # fmt: skip
    for n in CURRENT_MONTHS:
        out.append((
            f"CURRENT-{n}M",
            f"未来{n}个月所有账户按时足额还款",
            f"Pay every account on time and in full for the next {n} months",
            n, None, Scenario(current_months=n),
        ))  # fmt: skip
    combined = Scenario(
        utilisation_below=levels[-1] if levels else None, clear_overdue=bool(overdue),
        no_inquiry_months=ALL_MONTHS, current_months=ALL_MONTHS,
    )  # fmt: skip
    pay = (paydown_cents(rows, as_of, levels[-1]) if levels else 0) + overdue
    steps_zh, steps_en = [], []
    if levels:
        pct = round(levels[-1] * 100)
        steps_zh.append(f"将循环授信使用率降至{pct}%以下")
        steps_en.append(f"bring revolving utilisation below {pct}%")
    if overdue:
        steps_zh.append("还清当前逾期")
        steps_en.append("pay the amount overdue now")
    out.append((
        f"ALL-{ALL_MONTHS}M",
        "以上全部：" + "，".join([*steps_zh, f"{ALL_MONTHS}个月内不申请新的信贷",
                                 f"{ALL_MONTHS}个月内所有账户按时足额还款"]),
        "All of the above: " + ", ".join([*steps_en,
                                          f"no new credit applications for {ALL_MONTHS} months",
                                          f"every account paid on time for {ALL_MONTHS} months"]),
        ALL_MONTHS, pay or None, combined,
    ))  # fmt: skip
    return out


def _changes(before: Features, after: Features, lang: str) -> list[FeatureChange]:
    out = []
    for name in FEATURES:
        if before[name] != after[name]:
            spec = BUREAU_CATALOG.get(name)
            out.append(FeatureChange(name, spec.zh if lang == "zh" else spec.en, before[name],
                                     after[name]))  # fmt: skip
    return out


def repair_plan(
    session: Session, subject_id: int, *, as_of: date | None = None, lang: str = "zh"
) -> RepairPlan:
    """The subject's repair plan on their segment's champion, actions by gain (largest first).

    404 when the subject has no credit account by `as_of` (no score to improve); 409 when
    their segment has no champion model.
    """
    if lang not in LANGS:
        raise Invalid(f"lang must be zh or en; got {lang!r}")
    as_of = as_of or date.today()
    subject = _subject(session, subject_id)
    segment = subject.subject_type.value
    version = registry.champion(session, segment)
    if version is None:
        raise Conflict(
            f"there is no {segment} champion model, so there is no score to plan for; the bureau "
            "must publish one first (credo model publish)"
        )
    rows = subject_rows(session, subject_id)
    if not any(a[3] <= as_of for a in rows.accounts):
        raise NotFound(
            f"subject {subject.ref} has no credit account on file by {as_of}: there is no score "
            "to improve"
        )
    model = registry.load(version)
    known = rows.known_at(as_of)
    base = known.features(as_of)
    candidates = _candidates(known, as_of, base)
    scenario_features = [features_after(known, as_of, c[5]) for c in candidates]
    current, *predicted = score_features(model, [base, *scenario_features])
    actions = []
    #: per family, the best gain of a less demanding action (candidates come easiest first)
    best: dict[str, float] = {}
    for (code, zh, en, months, amount, scenario), feats, outcome in zip(
        candidates, scenario_features, predicted, strict=True
    ):
        changes = _changes(base, feats, lang)
        gain = outcome.score - current.score
        family = code.split("-")[0]
        # no gain, or no more than an easier action of the same kind (pay less, wait less);
        # "all of the above" only when it beats every single action
        floor = max(best.values(), default=0.0) if family == "ALL" else best.get(family, 0.0)
        if not changes or gain <= floor + 1e-9:
            continue
        best[family] = gain
        actions.append(Action(
            code=code, text_zh=zh, text_en=en, months=months,
            amount=None if amount is None else amount / 100, scenario=scenario,
            changes=changes, outcome=outcome, gain=gain,
        ))  # fmt: skip
    actions.sort(key=lambda a: (-a.gain, a.months, a.code))
    return RepairPlan(subject.ref, segment, version.label, as_of, lang, current, actions)


def serve(
    session: Session,
    subject_id: int,
    *,
    actor: str,
    channel: str,
    as_of: date | None = None,
    lang: str = "zh",
) -> RepairPlan:
    """The repair plan as a read of personal data: one ledger entry (``repair_plan.serve``)."""
    plan = repair_plan(session, subject_id, as_of=as_of, lang=lang)
    audit.record(
        session, actor=actor, action="repair_plan.serve", target=f"subject:{plan.subject_ref}",
        details={"channel": channel, "model": plan.model, "as_of": plan.as_of.isoformat(),
                 "lang": lang, "actions": [a.code for a in plan.actions]},
    )  # fmt: skip
    return plan


def later(plan: RepairPlan, action: Action) -> date:
    """The date the action's predicted score is for."""
    return add_months(plan.as_of, action.months)


def to_dict(plan: RepairPlan) -> dict[str, Any]:
    """The plan as plain JSON values (the API body and ``--json``)."""
    lang = plan.lang

    def outcome(o: Outcome) -> dict[str, Any]:
        return {"score": o.score, "grade": o.grade, "pd": round(o.pd, 6)}

    return {
        "subject": plan.subject_ref, "segment": plan.segment, "model": plan.model,
        "as_of": plan.as_of.isoformat(), "lang": lang,
        "current": {**outcome(plan.current),
                    "reasons": [{"code": r["code"], "feature": r["feature"], "value": r["value"],
                                 "text": r[f"text_{lang}"]} for r in plan.current.reasons]},
        "actions": [{
            "code": a.code, "text": a.text(lang), "months": a.months,
            "reached_on": later(plan, a).isoformat(), "amount": a.amount,
            **outcome(a.outcome), "gain": round(a.gain, 6),
            "changes": [{"feature": c.feature, "label": c.label, "from": c.before,
                         "to": c.after} for c in a.changes],
        } for a in plan.actions],
        "note": plan.note,
    }  # fmt: skip
