"""`credo.repair.plan` on 王五's file (see conftest), on SQLite and PostgreSQL.

The predicted scores are checked against the scoring path itself: the records that realise an
action are furnished (balances paid down, the overdue paid, months paid on time) and the
subject is re-scored with `score_subjects`; waiting is checked by scoring at the later date.
"""

from __future__ import annotations

from datetime import date

import orjson
import pytest
from sqlalchemy import select

from credo.access.flows import find_subject
from credo.audit.models import AuditEntry
from credo.core.checksums import make_prc_id
from credo.errors import Conflict, Invalid, NotFound
from credo.feature.pit import add_months
from credo.feature.service import one_subject_features
from credo.repair import plan as repair
from credo.scoring import registry
from credo.scoring.service import score_subjects
from furnishing.bureau import WANG_ID, person, status

from .conftest import AS_OF, BALANCES, TODAY, furnish, publish_champion

CODES = {"UTIL-50", "UTIL-30", "UTIL-10", "OVERDUE-CLEAR", "INQ-3M", "INQ-6M", "INQ-12M",
         "CURRENT-6M", "CURRENT-12M", "CURRENT-24M", "ALL-12M"}  # fmt: skip


def _rescore(session, subject_id: int, as_of):
    return score_subjects(session, [subject_id], actor="test", as_of=as_of).scores[0]


def _paid_down(amount: float) -> dict[str, str]:
    """The two cards' balances after paying `amount`, split in proportion by hand."""
    total = sum(float(b) for b in BALANCES.values())
    card1 = round(float(BALANCES["CC-W1"]) * (1 - amount / total), 2)
    return {"CC-W1": f"{card1:.2f}", "CC-W2": f"{total - amount - card1:.2f}"}


def test_the_current_score_is_the_scoring_paths(session, bureau):
    plan = repair.repair_plan(session, bureau, as_of=AS_OF, lang="en")
    stored = _rescore(session, bureau, AS_OF)
    assert plan.current.score == stored.score and plan.current.grade == stored.grade
    assert plan.current.pd == pytest.approx(stored.pd, rel=1e-12)
    assert [r["code"] for r in plan.current.reasons] == [
        r["code"] for r in orjson.loads(stored.reasons)
    ]
    assert plan.model == "api-test-scorecard@1" and plan.segment == "person"
    # the features the plan starts from are the single-subject features of the scoring path
    base = one_subject_features(session, bureau, AS_OF)
    for a in plan.actions:
        assert all(c.before == base[c.feature] for c in a.changes)


def test_actions_gain_points_and_are_ordered_by_gain(session, bureau):
    plan = repair.repair_plan(session, bureau, as_of=AS_OF, lang="en")
    codes = [a.code for a in plan.actions]
    assert set(codes) <= CODES and len(codes) == len(set(codes))
    # 王五 has high utilisation, an overdue amount, recent inquiries and a late month: every
    # kind of action is worth something on this champion
    assert {c.split("-")[0] for c in codes} == {"UTIL", "OVERDUE", "INQ", "CURRENT", "ALL"}
    gains = [a.gain for a in plan.actions]
    assert gains == sorted(gains, reverse=True) and min(gains) > 0
    for a in plan.actions:
        assert a.gain == a.outcome.score - plan.current.score and a.changes
    # within a kind, a harder action (pay more, wait longer) is listed only if it gains more
    for kind in ("UTIL", "INQ", "CURRENT"):
        mine = [a for a in plan.actions if a.code.startswith(kind)]
        mine.sort(key=lambda a: (a.months, a.amount or 0))
        assert [a.gain for a in mine] == sorted({a.gain for a in mine})
    # all of the above beats every single action
    assert codes[0] == "ALL-12M"


def test_paying_revolving_balances_down_scores_as_predicted(session, bureau, keyring, cn, tmp_path):
    plan = repair.repair_plan(session, bureau, as_of=AS_OF, lang="en")
    util = [a for a in plan.actions if a.code.startswith("UTIL-")]
    assert util
    for i, action in enumerate(util):
        # a correction of June's statuses with the lower balances, as the bank would furnish
        rows = [status(ref, "2024-06", bal, 45 if ref == "CC-W2" else 0, amount_due=due,
                       amount_paid=paid)
                for (ref, bal), (due, paid) in zip(_paid_down(action.amount).items(),
                                                   (("300.00", "300.00"), ("800.00", "0.00")),
                                                   strict=True)]  # fmt: skip
        furnish(session, keyring, cn, tmp_path / f"util{i}.jsonl", rows)
        stored = _rescore(session, bureau, AS_OF)
        assert stored.score == action.outcome.score, action.code
        assert stored.grade == action.outcome.grade
        after = one_subject_features(session, bureau, AS_OF)
        assert all(after[c.feature] == pytest.approx(c.after, abs=1e-9) for c in action.changes)
        assert after["revolving_utilisation"] < action.scenario.utilisation_below
        # back to the file as it was, for the next level
        original = [status(ref, "2024-06", BALANCES[ref], 45 if ref == "CC-W2" else 0,
                           amount_due=due, amount_paid=paid)
                    for ref, (due, paid) in (("CC-W1", ("300.00", "300.00")),
                                             ("CC-W2", ("800.00", "0.00")))]  # fmt: skip
        furnish(session, keyring, cn, tmp_path / f"back{i}.jsonl", original)


def test_clearing_the_overdue_scores_as_predicted(session, bureau, keyring, cn, tmp_path):
    plan = repair.repair_plan(session, bureau, as_of=AS_OF, lang="zh")
    (action,) = [a for a in plan.actions if a.code == "OVERDUE-CLEAR"]
    assert action.amount == 800.0 and "¥800.00" in action.text_zh
    # card 2 pays the 800.00 overdue in June: June is reported paid in full, 0 days late
    paid = status("CC-W2", "2024-06", "7200.00", 0, amount_due="800.00", amount_paid="800.00")
    furnish(session, keyring, cn, tmp_path / "paid.jsonl", [paid])
    stored = _rescore(session, bureau, AS_OF)
    assert (stored.score, stored.grade) == (action.outcome.score, action.outcome.grade)
    after = one_subject_features(session, bureau, AS_OF)
    assert {c.feature: c.after for c in action.changes} == {
        c.feature: after[c.feature] for c in action.changes
    }
    assert after["overdue_amount"] == 0.0 and after["worst_dpd_12m"] == 30.0  # 2023-11 stays


def _on_time_months(n: int) -> list[dict]:
    rows = []
    for k in range(1, n + 1):
        period = f"{add_months(AS_OF.replace(day=1), k):%Y-%m}"
        for ref, bal in BALANCES.items():
            rows.append(status(ref, period, bal, 0, amount_due="300.00", amount_paid="300.00"))
        rows.append(status("LOAN-W", period, "72500.00", 0, amount_due="3500.00",
                           amount_paid="3500.00"))  # fmt: skip
    return rows


def test_paying_on_time_scores_as_predicted_at_the_later_date(
    session, bureau, keyring, cn, tmp_path, models
):
    publish_champion(session, models["payment"])
    plan = repair.repair_plan(session, bureau, as_of=AS_OF, lang="en")
    current = [a for a in plan.actions if a.code.startswith("CURRENT-")]
    assert current and {a.code.split("-")[0] for a in plan.actions} <= {"CURRENT", "OVERDUE",
                                                                         "ALL"}  # fmt: skip
    # the months after the date, furnished as the bank would report them: paid on time
    later = add_months(AS_OF, 24)
    furnish(session, keyring, cn, tmp_path / "ontime.jsonl", _on_time_months(24),
            as_of=later, today=later)  # fmt: skip
    for action in current:
        stored = _rescore(session, bureau, add_months(AS_OF, action.months))
        assert (stored.score, stored.grade) == (action.outcome.score, action.outcome.grade)


def test_no_new_inquiries_scores_as_predicted_at_the_later_date(session, bureau, models):
    publish_champion(session, models["inquiries"])
    plan = repair.repair_plan(session, bureau, as_of=AS_OF, lang="en")
    waits = [a for a in plan.actions if a.code.startswith("INQ-")]
    assert waits
    for action in waits:
        later = add_months(AS_OF, action.months)
        assert repair.later(plan, action) == later
        stored = _rescore(session, bureau, later)
        assert (stored.score, stored.grade) == (action.outcome.score, action.outcome.grade)
        feats = one_subject_features(session, bureau, later)
        assert all(feats[c.feature] == c.after for c in action.changes)
        assert {c.feature for c in action.changes} <= {"hard_inquiries_3m", "hard_inquiries_6m",
                                                         "hard_inquiries_12m"}  # fmt: skip


def test_all_of_the_above_scores_as_predicted(session, bureau, keyring, cn, tmp_path):
    plan = repair.repair_plan(session, bureau, as_of=AS_OF, lang="en")
    (action,) = [a for a in plan.actions if a.code == "ALL-12M"]
    util = action.scenario.utilisation_below
    lowest = next(a for a in plan.actions if a.code == f"UTIL-{round(util * 100)}")
    assert action.scenario.clear_overdue and util == 0.1
    pay = action.amount - 800.0
    cards = _paid_down(pay)
    june = [status("CC-W1", "2024-06", cards["CC-W1"], 0, amount_due="300.00",
                   amount_paid="300.00"),
            status("CC-W2", "2024-06", f"{float(cards['CC-W2']) - 800:.2f}", 0,
                   amount_due="800.00", amount_paid="800.00")]  # fmt: skip
    furnish(session, keyring, cn, tmp_path / "june.jsonl", june)
    later = add_months(AS_OF, 12)
    months = [r for r in _on_time_months(12) if r["account_ref"] == "LOAN-W"]
    for k in range(1, 13):
        period = f"{add_months(AS_OF.replace(day=1), k):%Y-%m}"
        months += [status(ref, period, cards["CC-W1"] if ref == "CC-W1" else
                          f"{float(cards['CC-W2']) - 800:.2f}", 0,
                          amount_due="300.00" if ref == "CC-W1" else "800.00",
                          amount_paid="300.00" if ref == "CC-W1" else "800.00")
                   for ref in ("CC-W1", "CC-W2")]  # fmt: skip
    furnish(session, keyring, cn, tmp_path / "later.jsonl", months, as_of=later, today=later)
    stored = _rescore(session, bureau, later)
    assert (stored.score, stored.grade) == (action.outcome.score, action.outcome.grade)
    assert action.gain > lowest.gain


def test_the_plan_speaks_the_language_asked_and_keeps_negative_data(session, bureau):
    zh = repair.to_dict(repair.repair_plan(session, bureau, as_of=AS_OF, lang="zh"))
    en = repair.to_dict(repair.repair_plan(session, bureau, as_of=AS_OF, lang="en"))
    assert [a["code"] for a in zh["actions"]] == [a["code"] for a in en["actions"]]
    assert "不能删除" in zh["note"] and "异议" in zh["note"]
    assert "cannot be removed" in en["note"] and "dispute" in en["note"]
    util_zh = next(a for a in zh["actions"] if a["code"].startswith("UTIL-"))
    assert "循环授信使用率降至" in util_zh["text"]
    assert util_zh["changes"][0]["label"] == "循环授信额度使用率"
    for a in en["actions"]:
        changed = {c["feature"] for c in a["changes"]}
        # public records never move, and nothing is offered as deleted
        assert not changed & {"n_public_records", "n_open_public_records"}
        assert not any(w in a["text"].lower() for w in ("remove", "delete", "erase"))
        if a["months"] == 0:
            # paying now: the late month that has ended (2023-11, 30 days) still counts
            assert all(c["to"] >= 1 for c in a["changes"] if c["feature"] == "n_dpd30_12m")


def test_a_subject_without_a_credit_file_has_no_plan(session, bureau, keyring, cn, tmp_path):
    with pytest.raises(NotFound, match="no credit account on file by 2021-12-31"):
        repair.repair_plan(session, bureau, as_of=AS_OF.replace(year=2021, month=12, day=31))
    other = make_prc_id("110105", date(1990, 1, 1), 11)
    furnish(session, keyring, cn, tmp_path / "p.jsonl", [person(other, "赵六", "1990-01-01")])
    nobody = find_subject(session, keyring, id_type="prc_id", id_number=other).id
    with pytest.raises(NotFound) as exc:
        repair.repair_plan(session, nobody, as_of=AS_OF)
    assert other not in exc.value.message and "赵六" not in exc.value.message
    with pytest.raises(NotFound, match="no subject 999999"):
        repair.repair_plan(session, 999999, as_of=AS_OF)


def test_no_champion_is_a_conflict(session, bureau):
    registry.retire(session, registry.champion(session, "person"), actor="test")
    with pytest.raises(Conflict, match="no person champion model"):
        repair.repair_plan(session, bureau, as_of=AS_OF)


def test_a_bad_language_is_refused(session, bureau):
    with pytest.raises(Invalid, match="lang must be zh or en; got 'fr'"):
        repair.repair_plan(session, bureau, as_of=AS_OF, lang="fr")


def test_serving_a_plan_is_one_ledger_entry(session, bureau):
    plan = repair.serve(session, bureau, actor="ops", channel="cli", as_of=AS_OF, lang="en")
    session.commit()
    (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "repair_plan.serve"))
    assert entry.target == f"subject:{plan.subject_ref}" and entry.actor == "ops"
    details = orjson.loads(entry.details)
    assert details["actions"] == [a.code for a in plan.actions] and details["channel"] == "cli"
    assert WANG_ID not in entry.details and str(TODAY) not in entry.details
