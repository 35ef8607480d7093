"""authorise_query: role, consent matrix by ref, inquiry of the right kind, ledger, no leaks."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import polars as pl
import pytest
from sqlalchemy import func, select

from credo.access import consent as consents
from credo.access import keys
from credo.access.flows import NO_FILE_UNDER_CONSENT, authorise_query
from credo.access.models import Purpose
from credo.access.policy import INQUIRY_KIND
from credo.audit import service as audit
from credo.audit.models import AuditEntry
from credo.config import get_profile
from credo.core.checksums import make_prc_id
from credo.db import utcnow
from credo.errors import Forbidden, Invalid, NotFound
from credo.feature.service import bulk_features
from credo.inquiry.models import Inquiry, InquiryKind, InquirySource
from furnishing.bureau import BANK, LI_ID, OTHER_BANK, SMALL_BUREAU_SECRETS, ZHANG_ID

#: a valid PRC id that nobody furnished
STRANGER = make_prc_id("110105", date(1970, 1, 1), 5)


def _query(bureau, consent_ref, *, principal=None, id_number=ZHANG_ID, **kw):
    kw.setdefault("purpose", "loan_approval")
    kw.setdefault("scope", "report")
    return authorise_query(
        bureau.session, principal or bureau.principal(), id_type="prc_id", id_number=id_number,
        consent_ref=consent_ref, keyring=bureau.keyring, **kw,
    )  # fmt: skip


def _api_inquiries(session) -> list[Inquiry]:
    return list(session.scalars(select(Inquiry).where(Inquiry.source == InquirySource.api)))


def _refused(bureau, consent_ref, **kw) -> Forbidden:
    before = bureau.session.scalar(select(func.count()).select_from(Inquiry))
    with pytest.raises(Forbidden) as exc:
        _query(bureau, consent_ref, **kw)
    assert exc.value.status == 403
    assert bureau.session.scalar(select(func.count()).select_from(Inquiry)) == before
    return exc.value


@pytest.fixture
def bureau(bureau, keyring):
    bureau.keyring = keyring
    return bureau


def test_an_allowed_query_writes_one_inquiry_and_one_ledger_entry(bureau):
    c = bureau.consent()
    q = _query(bureau, c.ref)
    assert (q.subject.id, q.subject.ref) == (bureau.zhang.id, bureau.zhang.ref)
    assert (q.consent.ref, q.consent.purpose, q.consent.expires_at) == (
        c.ref, c.purpose, c.expires_at,
    )  # fmt: skip
    (inq,) = _api_inquiries(bureau.session)
    assert inq.content_hash == q.inquiry.content_hash and inq.subject_id == bureau.zhang.id
    assert (inq.kind, inq.purpose, inq.inquired_on, inq.recorded_at) == (
        InquiryKind.hard, "loan_approval", q.at.date(), q.at,
    )  # fmt: skip
    assert (q.inquiry.kind, q.inquiry.purpose) == (InquiryKind.hard, "loan_approval")
    audit.write_pending(bureau.session)  # written at commit (audit.record); here before it
    entry = bureau.session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert entry.action == "query.authorise" and entry.target == f"subject:{bureau.zhang.ref}"
    assert entry.actor == bureau.principal().actor
    for word in (q.query_id, c.ref, '"inquiry":"hard"', '"purpose":"loan_approval"'):
        assert word in entry.details


def test_each_query_is_its_own_inquiry(bureau):
    c = bureau.consent()
    a, b = _query(bureau, c.ref), _query(bureau, c.ref.lower())
    assert a.query_id != b.query_id and a.inquiry.content_hash != b.inquiry.content_hash
    assert len(_api_inquiries(bureau.session)) == 2


@pytest.mark.parametrize("purpose", list(Purpose))
def test_the_inquiry_kind_follows_the_purpose_and_only_hard_ones_count(bureau, purpose):
    as_of = utcnow().date()

    def hard_3m() -> int:
        f = bulk_features(bureau.session, as_of)
        return f.filter(pl.col("subject_id") == bureau.zhang.id)["hard_inquiries_3m"].item()

    before = hard_3m()
    c = bureau.consent(purpose=purpose.value)
    # us: the profile where every purpose is lawful (cn refuses marketing, see test_controls)
    q = _query(bureau, c.ref, purpose=purpose.value, profile=get_profile("us"))
    assert q.inquiry.kind is INQUIRY_KIND[purpose]
    assert hard_3m() == before + (1 if INQUIRY_KIND[purpose] is InquiryKind.hard else 0)


def test_the_hard_soft_table():
    hard = {p for p, k in INQUIRY_KIND.items() if k is InquiryKind.hard}
    assert hard == {
        Purpose.loan_approval, Purpose.credit_card_approval, Purpose.guarantee_review,
        Purpose.insurance_underwriting,
    }  # fmt: skip
    assert set(INQUIRY_KIND) == set(Purpose)


# -- the consent matrix, by ref ------------------------------------------------------------------
def test_consent_of_another_institution_reads_like_an_unknown_ref(bureau):
    theirs = bureau.consent(institution=OTHER_BANK)
    err = _refused(bureau, theirs.ref)
    assert err.message == f"no consent {theirs.ref} given to institution {BANK}"
    assert err.extra["reason"] == "no_consent"
    assert _refused(bureau, "C0000000000000").message == (
        f"no consent C0000000000000 given to institution {BANK}"
    )
    assert _refused(bureau, "").message == f"no consent (none) given to institution {BANK}"
    # and the other bank may use it
    assert _query(bureau, theirs.ref, principal=bureau.principal(bureau.other_token))


def test_consent_for_another_purpose(bureau):
    c = bureau.consent(purpose="post_loan_management")
    err = _refused(bureau, c.ref)
    assert err.message == f"consent {c.ref} is for post_loan_management, not loan_approval"
    assert err.extra["reason"] == "other_purpose"


def test_expired_consent(bureau):
    c = bureau.consent(expires_at=utcnow() + timedelta(hours=1))
    err = _refused(bureau, c.ref, at=utcnow() + timedelta(days=1))
    assert err.message == f"consent {c.ref} expired on {c.expires_at:%Y-%m-%d}"


def test_revoked_consent(bureau):
    c = bureau.consent()
    consents.revoke(bureau.session, ref=c.ref, actor="subject")
    err = _refused(bureau, c.ref)
    assert err.message == f"consent {c.ref} was revoked on {c.revoked_at:%Y-%m-%d}"


def test_scope_mismatch(bureau):
    c = bureau.consent(scope="report")
    err = _refused(bureau, c.ref, scope="score")
    assert err.message == f"consent {c.ref} covers the report only, not the score"
    assert err.extra["reason"] == "scope"


def test_another_subjects_number_reads_exactly_like_a_number_with_no_file(bureau):
    li_consent = bureau.consent(bureau.li)
    answers = []
    for number in (ZHANG_ID, STRANGER):  # 张三 has a file here; the stranger has none
        with pytest.raises(NotFound) as exc:
            _query(bureau, li_consent.ref, id_number=number)
        answers.append(exc.value.to_problem())
    assert answers[0] == answers[1] and answers[0]["detail"] == NO_FILE_UNDER_CONSENT
    assert _api_inquiries(bureau.session) == []
    assert _query(bureau, li_consent.ref, id_number=LI_ID).subject.id == bureau.li.id


def test_an_unknown_subject_is_404_with_a_generic_message(bureau):
    c = bureau.consent()
    with pytest.raises(NotFound) as exc:
        _query(bureau, c.ref, id_number=STRANGER)
    assert exc.value.status == 404 and exc.value.message == NO_FILE_UNDER_CONSENT
    assert STRANGER not in str(exc.value.to_problem())
    assert _api_inquiries(bureau.session) == []


def test_without_a_consent_of_its_own_an_institution_cannot_probe_for_files(bureau):
    for number in (ZHANG_ID, STRANGER):
        err = _refused(bureau, "C0000000000000", id_number=number)
        assert err.message == f"no consent C0000000000000 given to institution {BANK}"


def test_a_key_without_the_querier_role_is_403(bureau):
    _, token = keys.create_key(
        bureau.session, institution_code=BANK, roles=["furnisher"], actor="t"
    )
    c = bureau.consent()
    err = _refused(bureau, c.ref, principal=keys.authenticate(bureau.session, token))
    assert "does not have the querier role (it has: furnisher)" in err.message


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"purpose": "curiosity"}, "unknown purpose 'curiosity'; expected one of loan_approval"),
        ({"scope": "all"}, "unknown scope 'all'; expected one of report, score, both"),
        ({"id_number": ZHANG_ID[:-1] + ("0" if ZHANG_ID[-1] != "0" else "1")},
         "fails the GB 11643 checksum"),
    ],
    ids=["purpose", "scope", "checksum"],
)  # fmt: skip
def test_bad_input_is_422_and_masks_the_identifier(bureau, kwargs, message):
    c = bureau.consent()
    with pytest.raises(Invalid, match=message) as exc:
        _query(bureau, c.ref, **kwargs)
    assert ZHANG_ID[:-1] not in exc.value.message


def test_no_raw_identifier_in_the_ledger_or_the_logs(bureau, caplog):
    caplog.set_level(logging.DEBUG)
    c = bureau.consent()
    _query(bureau, c.ref)
    _refused(bureau, "C0000000000000")
    with pytest.raises(NotFound):
        _query(
            bureau, c.ref, id_number=make_prc_id("110105", utcnow().date().replace(year=1971), 7)
        )
    with pytest.raises(Invalid, match="unknown id_type; expected"):
        authorise_query(
            bureau.session, bureau.principal(), id_type=ZHANG_ID, id_number=ZHANG_ID,
            purpose="loan_approval", consent_ref=c.ref, scope="report", keyring=bureau.keyring,
        )  # fmt: skip
    assert f"query refused for {bureau.principal().actor}: no consent C0000000000000" in (
        caplog.text
    )
    assert NO_FILE_UNDER_CONSENT in caplog.text
    ledger = " ".join(
        f"{e.actor} {e.target} {e.details}" for e in bureau.session.scalars(select(AuditEntry))
    )
    for secret in [*SMALL_BUREAU_SECRETS, STRANGER, bureau.token, bureau.token[19:]]:
        assert secret not in ledger
        assert secret not in caplog.text
