"""Consents: grant, list, revoke, and the check with the message saying what is missing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from credo.access import consent as consents
from credo.access.models import Purpose, Scope
from credo.audit.models import AuditEntry
from credo.db import utcnow
from credo.errors import Conflict, Forbidden, Invalid, NotFound
from credo.institution.models import Institution
from furnishing.bureau import BANK, OTHER_BANK

from .conftest import EVIDENCE


def _inst(session, code=BANK) -> Institution:
    return session.scalar(select(Institution).where(Institution.code == code))


def _check(bureau, subject=None, code=BANK, **kw):
    kw.setdefault("purpose", "loan_approval")
    kw.setdefault("scope", "report")
    return consents.check_consent(
        bureau.session, subject=subject or bureau.zhang, institution=_inst(bureau.session, code),
        **kw,
    )  # fmt: skip


def _refusal(bureau, **kw) -> Forbidden:
    with pytest.raises(Forbidden) as exc:
        _check(bureau, **kw)
    assert exc.value.status == 403
    return exc.value


def test_grant_records_the_consent_and_a_ledger_entry(bureau):
    c = bureau.consent(purpose="credit_card_approval", scope="score")
    assert c.ref.startswith("C") and len(c.ref) == 13
    assert (c.purpose, c.scope, c.evidence_sha256) == (
        Purpose.credit_card_approval, Scope.score, EVIDENCE,
    )  # fmt: skip
    assert consents.status(c) == "active"
    entry = bureau.session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert (entry.action, entry.target) == ("consent.grant", f"consent:{c.ref}")
    assert bureau.zhang.ref in entry.details and EVIDENCE in entry.details


def test_list_filters_by_subject_and_institution(bureau):
    a = bureau.consent()
    b = bureau.consent(bureau.li)
    c = bureau.consent(institution=OTHER_BANK)
    session = bureau.session
    assert {x.ref for x in consents.list_all(session)} == {a.ref, b.ref, c.ref}
    assert {x.ref for x in consents.list_all(session, subject_ref=bureau.zhang.ref)} == {
        a.ref, c.ref,
    }  # fmt: skip
    assert [x.ref for x in consents.list_all(session, institution_code=OTHER_BANK)] == [c.ref]


def test_revoke_is_recorded_once(bureau):
    c = bureau.consent()
    consents.revoke(bureau.session, ref=c.ref, actor="subject")
    assert consents.status(c) == "revoked" and c.revoked_by == "subject"
    with pytest.raises(Conflict, match=f"consent {c.ref} was already revoked on"):
        consents.revoke(bureau.session, ref=c.ref, actor="subject")
    with pytest.raises(NotFound, match="consent 'CNOPE' does not exist"):
        consents.revoke(bureau.session, ref="CNOPE", actor="subject")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"purpose": "fun"}, Invalid, "unknown purpose 'fun'; expected one of loan_approval, "
         "credit_card_approval, guarantee_review, insurance_underwriting, marketplace_risk, "
         "post_loan_management, self_query"),
        ({"scope": "all"}, Invalid, "unknown scope 'all'; expected one of report, score, both"),
        ({"institution": "NOPE"}, NotFound, "institution 'NOPE' is not registered"),
        ({"expires_at": utcnow() - timedelta(days=1)}, Invalid, "expiry must be in the future"),
    ],
    ids=["purpose", "scope", "institution", "past-expiry"],
)  # fmt: skip
def test_grant_refuses_bad_input(bureau, kwargs, error, message):
    with pytest.raises(error, match=message):
        bureau.consent(**kwargs)


def test_grant_refuses_an_unknown_subject_and_bad_evidence(bureau):
    args = {
        "institution_code": BANK, "purpose": "loan_approval", "scope": "both",
        "expires_at": utcnow() + timedelta(days=1), "actor": "t",
    }  # fmt: skip
    with pytest.raises(NotFound, match="subject 'SNOPE' does not exist"):
        consents.grant(bureau.session, subject_ref="SNOPE", evidence_sha256=EVIDENCE, **args)
    with pytest.raises(Invalid, match="evidence must be the hex SHA-256"):
        consents.grant(bureau.session, subject_ref=bureau.zhang.ref, evidence_sha256="x", **args)


# -- the consent matrix, without a consent ref (any consent on file that fits) -----------------
def test_a_valid_consent_is_returned(bureau):
    c = bureau.consent(scope="both")
    assert _check(bureau, scope="score") is c
    assert _check(bureau, scope="both") is c


def test_no_consent_for_this_institution(bureau):
    bureau.consent(institution=OTHER_BANK)
    err = _refusal(bureau)
    assert err.message == f"no consent from this subject to institution {BANK} is on file"
    assert err.to_problem()["reason"] == "no_consent"


def test_consent_for_another_purpose(bureau):
    bureau.consent(purpose="post_loan_management")
    err = _refusal(bureau)
    assert err.message == (
        f"no consent for loan_approval from this subject to institution {BANK} is on file "
        "(consents on file are for: post_loan_management)"
    )
    assert err.extra["reason"] == "other_purpose"


def test_expired_consent(bureau):
    c = bureau.consent(expires_at=utcnow() + timedelta(days=1))
    err = _refusal(bureau, at=utcnow() + timedelta(days=2))
    assert err.message == f"consent {c.ref} expired on {c.expires_at:%Y-%m-%d}"
    assert err.extra["reason"] == "expired"


def test_revoked_consent(bureau):
    c = bureau.consent()
    consents.revoke(bureau.session, ref=c.ref, actor="subject")
    err = _refusal(bureau)
    assert err.message == f"consent {c.ref} was revoked on {c.revoked_at:%Y-%m-%d}"
    assert err.extra["reason"] == "revoked"


def test_scope_does_not_cover_the_score(bureau):
    c = bureau.consent(scope="report")
    err = _refusal(bureau, scope="score")
    assert err.message == f"consent {c.ref} covers the report only, not the score"
    err = _refusal(bureau, scope="both")
    assert err.message.endswith("not the report and the score")


def test_consent_of_another_subject_does_not_count(bureau):
    bureau.consent(bureau.li)
    err = _refusal(bureau, subject=bureau.zhang)
    assert err.message == f"no consent from this subject to institution {BANK} is on file"


def test_not_yet_valid(bureau):
    c = bureau.consent(granted_at=utcnow() + timedelta(days=3))
    err = _refusal(bureau)
    assert err.message == f"consent {c.ref} takes effect on {c.granted_at:%Y-%m-%d}"


def test_a_valid_consent_wins_over_a_revoked_one(bureau):
    old = bureau.consent()
    consents.revoke(bureau.session, ref=old.ref, actor="subject")
    new = bureau.consent()
    assert _check(bureau) is new


def test_refusal_messages_carry_no_personal_data(bureau):
    c = bureau.consent(scope="report")
    err = _refusal(bureau, scope="score")
    problem = str(err.to_problem())
    assert bureau.zhang.ref not in problem and c.ref in problem
