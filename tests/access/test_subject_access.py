"""Subject access credentials (shown once, stored hashed, expiring, revocable) and the free
self-query quota."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from credo.access import keys, subject_access, tokens
from credo.access.self_query import authorise_self_query, free_reports_used
from credo.audit.models import AuditEntry
from credo.db import utcnow
from credo.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from credo.inquiry.models import Inquiry, InquiryKind, InquirySource
from credo.institution.models import Institution, InstitutionKind
from credo.institution.service import BUREAU_CODE, bureau_institution
from furnishing.bureau import ZHANG_ID

VERIFIED = "counter: ID card seen"


def _issue(bureau, subject=None, **kw):
    kw.setdefault("verified_by", VERIFIED)
    return subject_access.issue(
        bureau.session, subject_ref=(subject or bureau.zhang).ref, actor="ops:wang", **kw
    )


def test_issue_shows_the_token_once_and_stores_only_its_hash(bureau):
    cred, token = _issue(bureau)
    assert token.startswith(f"credo_{cred.credential_id}_") and len(token) == 6 + 12 + 1 + 43
    assert cred.credential_id[0] == "U" and len(cred.credential_id) == 12
    assert cred.secret_sha256 == hashlib.sha256(token.encode()).hexdigest()
    row = bureau.session.execute(
        text("SELECT * FROM subject_access WHERE credential_id = :c"), {"c": cred.credential_id}
    ).one()
    secret = token.split("_", 2)[2]  # the secret itself may contain "_"
    assert not any(secret in str(v) for v in row)
    assert (cred.verified_by, cred.created_by) == (VERIFIED, "ops:wang")
    # one year by default
    assert cred.expires_at - cred.created_at == timedelta(days=365)
    entry = bureau.session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
    assert (entry.action, entry.actor, entry.target) == (
        "subject_access.issue", "ops:wang", f"subject:{bureau.zhang.ref}",
    )  # fmt: skip
    assert cred.credential_id in entry.details and VERIFIED in entry.details
    assert secret not in entry.details and ZHANG_ID not in entry.details


def test_authenticate_names_the_subject_and_records_the_use(bureau):
    cred, token = _issue(bureau)
    me = subject_access.authenticate(bureau.session, token)
    assert (me.subject_id, me.subject_ref, me.credential_id) == (
        bureau.zhang.id, bureau.zhang.ref, cred.credential_id,
    )  # fmt: skip
    assert me.actor == f"subject:{bureau.zhang.ref}/{cred.credential_id}"
    assert cred.last_used_at is not None
    assert subject_access.status(cred) == "active"


@pytest.mark.parametrize(
    ("presented", "message"),
    [
        (None, "subject access credential not recognised"),
        ("", "subject access credential not recognised"),
        ("Bearer nonsense", "subject access credential not recognised"),
        ("credo_UAAAAAAAAAAA_" + "x" * 43, "subject access credential not recognised"),
    ],
)
def test_authenticate_refuses_what_is_not_a_credential(bureau, presented, message):
    with pytest.raises(Unauthorized, match=message):
        subject_access.authenticate(bureau.session, presented)


def test_a_wrong_secret_reads_like_an_unknown_credential(bureau):
    _, token = _issue(bureau)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(Unauthorized) as exc:
        subject_access.authenticate(bureau.session, forged)
    assert exc.value.message == "subject access credential not recognised"


def test_keys_and_credentials_do_not_open_each_others_doors(bureau):
    _, token = _issue(bureau)
    with pytest.raises(Unauthorized, match="this is an institution API key"):
        subject_access.authenticate(bureau.session, bureau.token)
    with pytest.raises(Unauthorized, match="this is a subject access credential"):
        keys.authenticate(bureau.session, token)


def test_revoke_then_401_and_a_second_revoke_is_a_conflict(bureau):
    cred, token = _issue(bureau)
    subject_access.revoke(bureau.session, credential_id=cred.credential_id.lower(), actor="ops")
    with pytest.raises(Unauthorized, match=f"{cred.credential_id} was revoked on"):
        subject_access.authenticate(bureau.session, token)
    assert subject_access.status(cred) == "revoked" and cred.revoked_by == "ops"
    with pytest.raises(Conflict, match="already revoked"):
        subject_access.revoke(bureau.session, credential_id=cred.credential_id, actor="ops")
    with pytest.raises(NotFound, match="'UNOPE' does not exist"):
        subject_access.revoke(bureau.session, credential_id="UNOPE", actor="ops")
    actions = bureau.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    assert actions[-2:] == ["subject_access.issue", "subject_access.revoke"]


def test_an_expired_credential_is_refused(bureau):
    expires = utcnow() + timedelta(days=2)
    cred, token = _issue(bureau, expires_at=expires)
    assert subject_access.authenticate(bureau.session, token, at=expires - timedelta(seconds=1))
    with pytest.raises(Unauthorized, match=f"{cred.credential_id} expired on"):
        subject_access.authenticate(bureau.session, token, at=expires)
    assert subject_access.status(cred, expires) == "expired"


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"verified_by": "  "}, "say how the subject's identity was verified"),
        ({"verified_by": "x" * 201}, "in 3 to 200 characters"),
        ({"expires_at": datetime(2001, 1, 1, tzinfo=UTC)}, "expiry must be in the future"),
        ({"expires_at": datetime(2099, 1, 1)}, "expiry must be timezone-aware"),
        ({"expires_at": utcnow() + timedelta(days=4 * 365)}, "expiry must be within 1095 days"),
    ],
)
def test_issue_refuses_bad_input_and_writes_nothing(bureau, kw, message):
    with pytest.raises(Invalid, match=message):
        _issue(bureau, **kw)
    assert subject_access.list_all(bureau.session) == []


def test_issue_to_an_unknown_subject(bureau):
    with pytest.raises(NotFound, match="subject 'snope' does not exist"):
        subject_access.issue(bureau.session, subject_ref="snope", verified_by=VERIFIED, actor="o")


def test_list_newest_first_and_by_subject(bureau):
    a, _ = _issue(bureau, at=utcnow() - timedelta(days=2))
    b, _ = _issue(bureau, bureau.li, at=utcnow() - timedelta(days=1))
    c, _ = _issue(bureau)
    assert [x.credential_id for x in subject_access.list_all(bureau.session)] == [
        c.credential_id, b.credential_id, a.credential_id,
    ]  # fmt: skip
    mine = subject_access.list_all(bureau.session, subject_ref=bureau.zhang.ref.lower())
    assert [x.credential_id for x in mine] == [c.credential_id, a.credential_id]


def test_token_status_of_a_credential_revoked_in_the_future():
    class Row:
        secret_sha256 = "0" * 64
        expires_at = None
        revoked_at = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
        last_used_at = None

    at = datetime(2030, 1, 1, tzinfo=UTC)
    assert tokens.status(Row(), at) == "active until 2030-01-02 03:04Z"
    assert tokens.token_letter("credo_K0123456789A_" + "a" * 43) == "K"
    assert tokens.token_letter("credo_k0123456789A_" + "a" * 43) is None


# --- the free-report quota and the self-query inquiry ---


def _me(bureau, subject=None):
    _, token = _issue(bureau, subject)
    return subject_access.authenticate(bureau.session, token)


def test_self_queries_are_soft_by_the_bureau_and_limited_per_calendar_year(bureau, cn):
    me = _me(bureau)
    at = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    first = authorise_self_query(bureau.session, me, profile=cn, at=at)
    assert first.remaining == 1
    q = first.inquiry
    assert (q.kind, q.source, q.purpose, q.inquired_on) == (
        InquiryKind.soft, InquirySource.subject, "self_query", date(2026, 12, 31),
    )  # fmt: skip
    bureau_row = bureau.session.get(Institution, q.institution_id)
    assert (bureau_row.code, bureau_row.kind) == (BUREAU_CODE, InstitutionKind.bureau)
    assert authorise_self_query(bureau.session, me, profile=cn, at=at).remaining == 0
    before = bureau.session.scalar(select(func.count(Inquiry.id)))
    with pytest.raises(Forbidden) as exc:
        authorise_self_query(bureau.session, me, profile=cn, at=at)
    assert exc.value.extra == {"reason": "free_report_quota", "next_free_report": "2027-01-01"}
    assert "your 2 free reports for 2026" in exc.value.message
    assert "next free report is available on 2027-01-01" in exc.value.message
    assert bureau.session.scalar(select(func.count(Inquiry.id))) == before
    # a new year, a new quota; another subject's quota is their own
    new_year = authorise_self_query(bureau.session, me, profile=cn, at=at + timedelta(hours=1))
    assert new_year.remaining == 1
    assert authorise_self_query(bureau.session, _me(bureau, bureau.li), profile=cn, at=at)
    assert free_reports_used(bureau.session, bureau.zhang.id, 2026) == 2
    assert free_reports_used(bureau.session, bureau.zhang.id, 2027) == 1
    # one bureau institution, created once
    assert bureau.session.scalar(
        select(func.count(Institution.id)).where(Institution.kind == InstitutionKind.bureau)
    ) == 1  # fmt: skip


def test_the_us_profile_gives_one_free_report_a_year(bureau, us):
    me = _me(bureau)
    at = datetime(2027, 3, 1, tzinfo=UTC)
    assert authorise_self_query(bureau.session, me, profile=us, at=at).remaining == 0
    with pytest.raises(Forbidden, match="your 1 free report for 2027"):
        authorise_self_query(bureau.session, me, profile=us, at=at)


def test_the_bureau_code_taken_by_a_member_is_a_conflict(bureau):
    from credo.institution import service as institutions

    institutions.create(bureau.session, code=BUREAU_CODE, name="A bank", kind="bank", actor="t")
    with pytest.raises(Conflict, match=f"institution code {BUREAU_CODE} is registered"):
        bureau_institution(bureau.session)
