"""The pure access rules: scope coverage, role parsing, which refusal comes first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from credo.access.models import Purpose, Role, Scope
from credo.access.policy import ConsentFacts, consent_problem, covers, parse_roles
from credo.errors import Invalid

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def facts(**kw) -> ConsentFacts:
    base = {
        "ref": "C1", "subject_id": 1, "institution_id": 10, "purpose": Purpose.loan_approval,
        "scope": Scope.both, "granted_at": NOW - timedelta(days=1),
        "expires_at": NOW + timedelta(days=1), "revoked_at": None,
    }  # fmt: skip
    return ConsentFacts(**{**base, **kw})


def problem(c: ConsentFacts, **kw):
    ask = {
        "subject_id": 1, "institution_id": 10, "institution_code": "BANK01",
        "purpose": Purpose.loan_approval, "scope": Scope.report, "at": NOW,
    }  # fmt: skip
    return consent_problem(c, **{**ask, **kw})


@pytest.mark.parametrize(
    ("granted", "asked", "ok"),
    [(Scope.both, Scope.report, True), (Scope.both, Scope.score, True),
     (Scope.both, Scope.both, True), (Scope.report, Scope.report, True),
     (Scope.report, Scope.score, False), (Scope.score, Scope.both, False)],
)  # fmt: skip
def test_covers(granted, asked, ok):
    assert covers(granted, asked) is ok


def test_parse_roles():
    assert parse_roles(["querier", "querier", "operator"]) == {Role.querier, Role.operator}
    assert parse_roles("furnisher") == {Role.furnisher}
    with pytest.raises(Invalid, match="give at least one role"):
        parse_roles([])


def test_a_fitting_consent_has_no_problem_up_to_the_last_instant():
    assert problem(facts()) is None
    assert problem(facts(), at=NOW + timedelta(days=1) - timedelta(microseconds=1)) is None
    assert problem(facts(), at=NOW + timedelta(days=1)).reason == "expired"


def test_another_institution_hides_everything_else():
    bad = facts(institution_id=99, subject_id=2, purpose=Purpose.self_query, revoked_at=NOW)
    r = problem(bad)
    assert (r.reason, r.message) == ("no_consent", "no consent C1 given to institution BANK01")


def test_refusals_come_in_order_subject_purpose_scope_time():
    c = facts(subject_id=2, purpose=Purpose.self_query, scope=Scope.score, revoked_at=NOW)
    assert problem(c).reason == "other_subject"
    assert problem(facts(purpose=Purpose.self_query, scope=Scope.score)).reason == "other_purpose"
    assert problem(facts(scope=Scope.score, revoked_at=NOW)).reason == "scope"
    assert problem(facts(revoked_at=NOW, expires_at=NOW)).reason == "revoked"
    assert problem(facts(revoked_at=NOW + timedelta(hours=1))) is None  # revocation scheduled
    assert problem(facts(granted_at=NOW + timedelta(hours=1))).reason == "not_yet_valid"
