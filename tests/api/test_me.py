"""``/v1/me``: a subject's own report (free quota, soft self-query), inquiries and consents,
reachable only with their own subject access credential."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from credo.access import subject_access
from credo.api.app import create_app
from credo.config import Settings
from credo.db import utcnow
from credo.feature.service import subject_features
from credo.inquiry.models import Inquiry, InquiryKind, InquirySource
from credo.subject.models import Subject
from furnishing.bureau import BANK, LI_ID, OTHER_BANK, ZHANG_ID

from .conftest import grant

#: every /v1/me operation, with a consent ref of the right shape where the path needs one
ME = [
    ("GET", "/v1/me/report"),
    ("GET", "/v1/me/inquiries"),
    ("GET", "/v1/me/consents"),
    ("POST", "/v1/me/consents/C000000000000/revoke"),
]


@pytest.fixture
def me(api):
    """Subject access credentials: 张三 (`zhang`), 李四 (`li`), and a revoked and an expired
    one of 张三; added to `api.tokens`."""
    now = utcnow()
    with api.db() as s:
        for name, ref in (("zhang", api.zhang), ("li", api.li)):
            _, api.tokens[name] = subject_access.issue(
                s, subject_ref=ref, verified_by="counter: ID card seen", actor="ops",
                expires_at=now + timedelta(days=700),
            )  # fmt: skip
        cred, api.tokens["zhang_revoked"] = subject_access.issue(
            s, subject_ref=api.zhang, verified_by="video call", actor="ops"
        )
        subject_access.revoke(s, credential_id=cred.credential_id, actor="ops")
        _, api.tokens["zhang_expired"] = subject_access.issue(
            s, subject_ref=api.zhang, verified_by="video call", actor="ops",
            at=now - timedelta(days=30), expires_at=now - timedelta(days=1),
        )  # fmt: skip
    return api


def _call(api, method: str, url: str, who: str | None, **kw):
    fn = api.get if method == "GET" else api.post
    return fn(url, who, **kw)


def _problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    return r.json()


def _count(api, model=Inquiry) -> int:
    with api.db() as s:
        return s.scalar(select(func.count()).select_from(model))


def _subject_id(api, ref: str) -> int:
    with api.db() as s:
        return s.scalar(select(Subject.id).where(Subject.ref == ref))


def _clock(monkeypatch, at: datetime) -> None:
    monkeypatch.setattr("credo.api.routes.me.utcnow", lambda: at)


# -- who may call ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("who", "words"),
    [
        (None, "send your subject access credential as 'Authorization: Bearer <token>'"),
        ("zhang_revoked", "was revoked on"),
        ("zhang_expired", "expired on"),
        ("bank", "this is an institution API key; /v1/me takes a subject access credential"),
    ],
)
def test_every_me_endpoint_refuses_a_caller_without_a_valid_subject_credential(me, who, words):
    inquiries, ledger = _count(me), len(me.ledger("report.serve"))
    for method, url in ME:
        body = _problem(_call(me, method, url, who), 401)
        assert words in body["detail"], (url, body)
    for method, url in ME:
        r = _call(me, method, url, None, headers={"Authorization": "Bearer credo_Unope_x"})
        assert _problem(r, 401)["detail"] == "subject access credential not recognised"
        assert r.headers["www-authenticate"].startswith("Bearer")
    forged = me.tokens["zhang"][:-3] + ("AAA" if not me.tokens["zhang"].endswith("AAA") else "BBB")
    me.tokens["forged"] = forged
    for method, url in ME:
        detail = _problem(_call(me, method, url, "forged"), 401)["detail"]
        assert detail == "subject access credential not recognised"
    assert (_count(me), len(me.ledger("report.serve"))) == (inquiries, ledger)


def test_a_subject_credential_opens_no_institution_endpoint(me):
    consent = me.consent()
    for method, url, kw in [
        ("POST", "/v1/reports", {"json": {"id_type": "prc_id", "id_number": ZHANG_ID,
                                          "purpose": "loan_approval", "consent_ref": consent}}),
        ("POST", "/v1/scores", {"json": {"id_type": "prc_id", "id_number": ZHANG_ID,
                                         "purpose": "loan_approval", "consent_ref": consent}}),
        ("GET", "/v1/consents", {}),
        ("GET", "/v1/inquiries", {}),
        ("POST", f"/v1/consents/{consent}/revoke", {}),
        ("GET", "/v1/furnishing/batches/B0000000000000", {}),
    ]:  # fmt: skip
        body = _problem(_call(me, method, url, "zhang", **kw), 401)
        assert body["detail"].startswith("this is a subject access credential"), url
    assert me.get(f"/v1/consents/{consent}").json()["status"] == "active"


def test_subject_credentials_are_rate_limited(me):
    settings = Settings(api_rate_burst=2, api_rate_per_second=0.01)
    app = create_app(settings=settings, engine=me.engine, keyring=me.keyring)
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {me.tokens['zhang']}"}
        assert [client.get("/v1/me/consents", headers=auth).status_code for _ in range(2)] == [
            200, 200,
        ]  # fmt: skip
        r = client.get("/v1/me/consents", headers=auth)
        body = _problem(r, 429)
        assert "subject access credential U" in body["detail"] and int(r.headers["retry-after"])
        # another subject has a bucket of their own
        li = {"Authorization": f"Bearer {me.tokens['li']}"}
        assert client.get("/v1/me/consents", headers=li).status_code == 200


# -- one subject never reaches another's data --------------------------------------------------
def test_a_subject_sees_only_their_own_report_inquiries_and_consents(me):
    # 李四's file gets an institution's look and two consents; 张三's one consent
    li_consent = me.consent(LI_ID)
    assert me.query("reports", li_consent, LI_ID).status_code == 200
    li_other = me.consent(LI_ID, who="other", purpose="post_loan_management")
    zhang_consent = me.consent()
    report = me.get("/v1/me/report", "zhang").json()
    assert report["identity"]["subject_ref"] == me.zhang
    assert report["identity"]["name"] == "张三" and report["header"]["viewer"] == "subject"
    assert me.li not in orjson.dumps(report).decode() and LI_ID not in orjson.dumps(report).decode()
    li_report = me.get("/v1/me/report", "li").json()
    assert li_report["identity"]["subject_ref"] == me.li and li_report["identity"]["name"] == "李四"

    zhang_id, li_id = _subject_id(me, me.zhang), _subject_id(me, me.li)
    with me.db() as s:
        own = set(s.scalars(select(Inquiry.id).where(Inquiry.subject_id == zhang_id)))
        theirs = set(s.scalars(select(Inquiry.id).where(Inquiry.subject_id == li_id)))
    listed = {q["id"] for q in me.get("/v1/me/inquiries", "zhang").json()["items"]}
    assert listed == own and not listed & theirs
    assert {q["id"] for q in me.get("/v1/me/inquiries", "li").json()["items"]} == theirs

    assert [c["ref"] for c in me.get("/v1/me/consents", "zhang").json()["items"]] == [zhang_consent]
    assert [c["ref"] for c in me.get("/v1/me/consents", "li").json()["items"]] == [
        li_other, li_consent,
    ]  # fmt: skip

    # 张三 cannot revoke 李四's consent: it reads exactly like a ref that does not exist
    for ref in (li_consent, li_consent.lower(), "C000000000000"):
        body = _problem(me.post(f"/v1/me/consents/{ref}/revoke", "zhang"), 404)
        assert body["detail"] == f"you have no consent {ref.upper()} on file"
    assert me.get(f"/v1/consents/{li_consent}").json()["status"] == "active"
    assert me.query("reports", li_consent, LI_ID).status_code == 200

    # a cursor made from 李四's list is no way into it
    page = me.get("/v1/me/inquiries", "li", params={"limit": 1}).json()
    body = _problem(
        me.get("/v1/me/inquiries", "zhang", params={"cursor": page["next_cursor"]}), 422
    )
    assert body["detail"] == "cursor is not one this API issued; start again without it"


# -- the report --------------------------------------------------------------------------------
def test_my_report_is_a_soft_self_query_ledgered_by_opaque_refs(me):
    zhang_id = _subject_id(me, me.zhang)
    me.query("scores", me.consent())  # a hard inquiry today, for the features to count
    today = utcnow().date()
    with me.db() as s:
        before = subject_features(s, zhang_id, today)
    r = me.get("/v1/me/report", "zhang")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-free-reports-remaining"] == "1"
    doc = r.json()
    report_id = r.headers["x-report-id"]
    assert doc["header"]["report_id"] == report_id and doc["header"]["purpose"] == "self_query"
    assert doc["identity"]["name"] == "张三" and doc["identity"]["birth_date"]
    with me.db() as s:
        (q,) = s.scalars(select(Inquiry).where(Inquiry.source == InquirySource.subject)).all()
        after = subject_features(s, zhang_id, today)
    assert (q.subject_id, q.kind, q.purpose, q.inquired_on) == (
        zhang_id, InquiryKind.soft, "self_query", today,
    )  # fmt: skip
    # soft: the hard-inquiry features do not move
    hard = [k for k in before if k.startswith("hard_inquiries")]
    assert hard and {k: after[k] for k in hard} == {k: before[k] for k in hard}
    assert before["hard_inquiries_3m"] == 1
    # it shows in the next report, by the bureau
    nxt = me.get("/v1/me/report", "zhang", params={"lang": "en"}).json()
    mine = [i for i in nxt["inquiries"] if i["purpose"] == "self_query"]
    assert len(mine) == 2 and {i["kind"] for i in mine} == {"soft"}
    assert mine[0]["institution"]["code"] == "CREDO" and mine[0]["institution"]["kind"] == "bureau"
    # and, to an institution, by its kind only
    inst_view = me.query("reports", me.consent()).json()
    bureau_rows = [i for i in inst_view["inquiries"] if i["institution"]["kind"] == "bureau"]
    assert len(bureau_rows) == 2 and bureau_rows[0]["institution"]["code"] is None
    first, _ = (e for e in me.ledger("report.serve") if e.actor.startswith("subject:"))
    details = orjson.loads(first.details)
    assert first.target == f"subject:{me.zhang}" and first.actor.startswith(f"subject:{me.zhang}/U")
    assert (details["viewer"], details["purpose"], details["report_id"]) == (
        "subject", "self_query", report_id,
    )  # fmt: skip
    ledger = " ".join(f"{e.actor} {e.target} {e.details}" for e in me.ledger("report.serve"))
    assert ZHANG_ID not in ledger and "张三" not in ledger


@pytest.mark.parametrize(("fmt", "media"), [("pdf", "application/pdf"), ("html", "text/html")])
def test_my_report_as_pdf_and_html(me, fmt, media):
    r = me.get("/v1/me/report", "zhang", params={"format": fmt, "lang": "en"})
    assert r.status_code == 200 and r.headers["content-type"].startswith(media)
    report_id = r.headers["x-report-id"]
    if fmt == "pdf":
        assert r.content.startswith(b"%PDF")
        assert r.headers["content-disposition"] == (
            f'attachment; filename="credit-report-{report_id}.pdf"'
        )
    else:
        assert "张三" in r.text and "Self query" in r.text
    assert orjson.loads(me.ledger("report.serve")[-1].details)["format"] == fmt


def test_bad_report_parameters_are_422_and_write_nothing(me):
    inquiries = _count(me)
    for params, field in (({"format": "xml"}, "query.format"), ({"lang": "fr"}, "query.lang")):
        body = _problem(me.get("/v1/me/report", "zhang", params=params), 422)
        assert body["errors"][0]["field"] == field
    assert _count(me) == inquiries and me.ledger("report.serve") == []


def test_free_reports_per_calendar_year_across_the_year_boundary(me, monkeypatch):
    year = utcnow().year
    _clock(monkeypatch, datetime(year, 12, 31, 23, 59, tzinfo=UTC))
    remaining = [me.get("/v1/me/report", "zhang").headers["x-free-reports-remaining"]
                 for _ in range(2)]  # fmt: skip
    assert remaining == ["1", "0"]
    inquiries, served = _count(me), len(me.ledger("report.serve"))
    for fmt in ("json", "pdf"):
        body = _problem(me.get("/v1/me/report", "zhang", params={"format": fmt}), 403)
        assert body["reason"] == "free_report_quota"
        assert body["next_free_report"] == f"{year + 1}-01-01"
        assert body["detail"] == (
            f"you have had your 2 free reports for {year}; the next free report is available "
            f"on {year + 1}-01-01"
        )
    # nothing written: no inquiry, no ledger entry
    assert (_count(me), len(me.ledger("report.serve"))) == (inquiries, served)
    # another subject's quota is their own
    assert me.get("/v1/me/report", "li").status_code == 200
    _clock(monkeypatch, datetime(year + 1, 1, 1, 0, 0, 30, tzinfo=UTC))
    r = me.get("/v1/me/report", "zhang")
    assert r.status_code == 200 and r.headers["x-free-reports-remaining"] == "1"
    assert r.json()["header"]["generated_at"].startswith(f"{year + 1}-01-01")


@pytest.mark.parametrize("profile", ["us"])
def test_the_us_profile_gives_one_free_report(me, profile):
    settings = Settings(profile=profile)
    app = create_app(settings=settings, engine=me.engine, keyring=me.keyring)
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {me.tokens['zhang']}"}
        assert client.get("/v1/me/report", headers=auth).headers["x-free-reports-remaining"] == "0"
        r = client.get("/v1/me/report", headers=auth)
        assert r.status_code == 403 and "your 1 free report for" in r.json()["detail"]


# -- inquiries ---------------------------------------------------------------------------------
def test_my_inquiries_newest_first_paginated_and_filtered(me):
    me.query("scores", me.consent())  # BANK_A, hard, today
    me.query("scores", me.consent(who="other", purpose="post_loan_management"),
             who="other", purpose="post_loan_management")  # fmt: skip
    assert me.get("/v1/me/report", "zhang").status_code == 200
    r = me.get("/v1/me/inquiries", "zhang")
    assert r.headers["cache-control"] == "no-store"
    items = r.json()["items"]
    today = utcnow().date().isoformat()
    rows = [(i["inquired_on"], i["institution"]["code"], i["purpose"], i["kind"]) for i in items]
    assert rows == [
        (today, "CREDO", "self_query", "soft"),
        (today, OTHER_BANK, "post_loan_management", "soft"),
        (today, BANK, "loan_approval", "hard"),
        ("2024-05-20", BANK, "loan_approval", "hard"),
    ]  # fmt: skip
    assert items[1]["institution"]["name"] and items[1]["institution"]["kind"] == "bank"
    # one row a page, following the cursor, gives the same rows in the same order
    seen, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = me.get("/v1/me/inquiries", "zhang", params=params).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == items
    old = me.get("/v1/me/inquiries", "zhang", params={"until": "2024-12-31"}).json()["items"]
    assert [i["inquired_on"] for i in old] == ["2024-05-20"]
    new = me.get("/v1/me/inquiries", "zhang", params={"since": today}).json()["items"]
    assert len(new) == 3
    between = {"since": "2024-05-21", "until": "2024-12-31"}
    assert me.get("/v1/me/inquiries", "zhang", params=between).json()["items"] == []


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"since": "2025-02-01", "until": "2025-01-01"}, "since (2025-02-01) is after until"),
        ({"cursor": "bm9wZQ"}, "cursor is not one this API issued"),
        ({"limit": 0}, "query.limit"),
        ({"limit": 501}, "query.limit"),
        ({"since": "yesterday"}, "query.since"),
    ],
)
def test_bad_inquiry_list_parameters_are_422(me, params, words):
    assert words in _problem(me.get("/v1/me/inquiries", "zhang", params=params), 422)["detail"]


# -- consents ----------------------------------------------------------------------------------
def test_list_and_revoke_my_consent_then_the_institution_is_refused(me):
    older = me.consent(purpose="post_loan_management", scope="score")
    consent = me.consent()
    expired = grant(me, me.zhang, granted_at=utcnow() - timedelta(days=40),
                    expires_at=utcnow() + timedelta(seconds=1))  # fmt: skip
    items = me.get("/v1/me/consents", "zhang").json()["items"]
    assert [c["ref"] for c in items] == [expired, consent, older]
    c = items[1]
    assert (c["institution"]["code"], c["purpose"], c["scope"], c["status"]) == (
        BANK, "loan_approval", "both", "active",
    )  # fmt: skip
    assert c["institution"]["name"] and c["revoked_at"] is None and "evidence_sha256" not in c
    page = me.get("/v1/me/consents", "zhang", params={"limit": 2}).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = me.get("/v1/me/consents", "zhang", params={"cursor": page["next_cursor"]}).json()
    assert [c["ref"] for c in rest["items"]] == [older] and rest["next_cursor"] is None

    r = me.post(f"/v1/me/consents/{consent.lower()}/revoke", "zhang")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "revoked" and r.json()["revoked_at"]
    (entry,) = me.ledger("consent.revoke")
    assert entry.actor.startswith(f"subject:{me.zhang}/U") and entry.target == f"consent:{consent}"
    # the institution's next query under it is refused
    body = _problem(me.query("reports", consent), 403)
    assert body["reason"] == "revoked" and f"consent {consent} was revoked on" in body["detail"]
    # a second revoke is a conflict, and changes nothing
    body = _problem(me.post(f"/v1/me/consents/{consent}/revoke", "zhang"), 409)
    assert body["detail"].startswith(f"consent {consent} was already revoked on")
    assert len(me.ledger("consent.revoke")) == 1
    # the other consents are untouched
    assert me.get(f"/v1/consents/{older}").json()["status"] == "active"


@pytest.mark.parametrize("ref", ["C123", "11010519491231002X", "K0000000000000"])
def test_a_malformed_consent_ref_is_422_and_not_echoed(me, ref):
    body = _problem(me.post(f"/v1/me/consents/{ref}/revoke", "zhang"), 422)
    assert ref not in orjson.dumps(body).decode()


# -- the OpenAPI document ----------------------------------------------------------------------
def test_openapi_describes_the_me_operations_and_their_credential(me):
    doc = me.client.get("/openapi.json").json()
    ops = {(m.upper(), p): op for p, item in doc["paths"].items() if p.startswith("/v1/me")
           for m, op in item.items()}  # fmt: skip
    assert set(ops) >= {
        ("GET", "/v1/me/report"), ("GET", "/v1/me/inquiries"), ("GET", "/v1/me/consents"),
        ("POST", "/v1/me/consents/{ref}/revoke"), ("GET", "/v1/me/disputes"),
        ("POST", "/v1/me/disputes"), ("PUT", "/v1/me/statement"), ("DELETE", "/v1/me/freeze"),
        ("GET", "/v1/me/repair-plan"), ("GET", "/v1/me/export"), ("GET", "/v1/me/notifications"),
    }  # fmt: skip
    for key, op in ops.items():
        assert op["summary"] and op["description"], key
        assert op["security"] == [{"SubjectCredential": []}], key
        assert "401" in op["responses"], key
    assert "403" in ops[("GET", "/v1/me/report")]["responses"]
    assert doc["components"]["securitySchemes"]["SubjectCredential"]["scheme"] == "bearer"
    # no personal identifier can be put in a /v1/me URL: path parameters are opaque refs and
    # opt-out uses; nothing names a person
    params = {p["name"] for op in ops.values() for p in op.get("parameters", [])}
    assert {"format", "lang", "limit", "cursor", "since", "until", "ref"} <= params
    assert not params & {"id_number", "id_type", "subject", "subject_ref", "name", "phone"}


@pytest.mark.parametrize(
    ("url", "action"),
    [
        ("/v1/me/inquiries", "inquiries.read"),
        ("/v1/me/consents", "consents.read"),
        ("/v1/me/disputes", "dispute.read"),
        ("/v1/me/freeze", "freeze.read"),
        ("/v1/me/fraud-alert", "fraud_alert.read"),
        ("/v1/me/opt-outs", "opt_outs.read"),
    ],
)
def test_every_read_of_my_data_is_one_ledger_entry(me, url, action):
    """Every read of personal data goes through the audit ledger, the subject's own too."""
    before = len(me.ledger(action))
    r = me.get(url, "zhang")
    assert r.status_code == 200, r.text
    entries = me.ledger(action)
    assert len(entries) == before + 1
    assert entries[-1].target == f"subject:{me.zhang}"
    assert entries[-1].actor.startswith("subject:")
    # a refused read (another's credential revoked) writes no read entry
    assert me.get(url, "zhang_revoked").status_code == 401
    assert len(me.ledger(action)) == before + 1
