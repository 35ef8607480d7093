"""Consents (create, list, read, revoke) and the institution's own inquiries, paginated."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import orjson

from credo.db import utcnow
from furnishing.bureau import LI_ID, ZHANG_ID

from .conftest import EVIDENCE


def _consent_body(**kw) -> dict:
    return {
        "id_type": "prc_id",
        "id_number": ZHANG_ID,
        "purpose": "loan_approval",
        "expires_at": (utcnow() + timedelta(days=30)).isoformat(),
        "evidence_sha256": EVIDENCE,
        **kw,
    }


def _pages(api, url: str, who: str = "bank", **params) -> list[dict]:
    """Every page of a list, following next_cursor."""
    pages, cursor = [], None
    while True:
        q = {**params, **({"cursor": cursor} if cursor else {})}
        r = api.get(url, who, params=q)
        assert r.status_code == 200, r.text
        pages.append(r.json())
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return pages


# -- consents ----------------------------------------------------------------------------------
def test_record_a_consent_and_read_it_back(api):
    expires = (utcnow() + timedelta(days=90)).replace(microsecond=0)
    r = api.post("/v1/consents", json=_consent_body(
        scope="report", expires_at=expires.isoformat(), evidence_sha256=EVIDENCE.upper(),
    ))  # fmt: skip
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["ref"].startswith("C") and len(c["ref"]) == 13
    assert (c["subject_ref"], c["institution"], c["purpose"], c["scope"], c["status"]) == (
        api.zhang, "BANK_A", "loan_approval", "report", "active",
    )  # fmt: skip
    assert datetime.fromisoformat(c["expires_at"]) == expires
    assert c["evidence_sha256"] == EVIDENCE and c["revoked_at"] is None
    assert ZHANG_ID not in r.text
    got = api.get(f"/v1/consents/{c['ref']}")
    assert got.status_code == 200 and got.json() == c
    # refs are case-insensitive
    assert api.get(f"/v1/consents/{c['ref'].lower()}").json() == c
    (entry,) = api.ledger("consent.grant")
    assert entry.target == f"consent:{c['ref']}" and entry.actor.startswith("api:BANK_A/")


def test_revoke_a_consent(api):
    ref = api.consent()
    r = api.post(f"/v1/consents/{ref}/revoke")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "revoked" and r.json()["revoked_at"]
    assert api.get(f"/v1/consents/{ref}").json()["status"] == "revoked"
    again = api.post(f"/v1/consents/{ref}/revoke")
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    assert api.query("scores", ref).json()["reason"] == "revoked"
    assert len(api.ledger("consent.revoke")) == 1


def test_another_institutions_consent_is_not_found_like_an_unknown_one(api):
    theirs = api.consent(who="other")
    unknown = "C" + theirs[1:][::-1]
    answers = []
    for ref in (theirs, unknown):
        for method, url in (("get", f"/v1/consents/{ref}"), ("post", f"/v1/consents/{ref}/revoke")):
            r = getattr(api, method)(url)
            assert r.status_code == 404, r.text
            answers.append(r.json()["detail"].replace(ref, "REF"))
    assert len(set(answers)) == 1 and answers[0] == "no consent REF given to BANK_A"
    # still active for its owner
    assert api.get(f"/v1/consents/{theirs}", "other").json()["status"] == "active"


def test_a_reference_that_is_not_a_consent_ref_is_422_and_not_echoed(api):
    for url in (f"/v1/consents/{ZHANG_ID}", f"/v1/consents/{ZHANG_ID}/revoke"):
        r = api.get(url) if "revoke" not in url else api.post(url)
        assert r.status_code == 422 and ZHANG_ID not in r.text
        assert [e["field"] for e in r.json()["errors"]] == ["path.ref"]


#: (change to a good consent body, the field the 422 names)
BAD_CONSENTS = [
    ({"expires_at": "2030-01-01T00:00:00"}, "body.expires_at"),  # no timezone
    ({"expires_at": "2020-01-01T00:00:00Z"}, "body.expires_at"),  # past
    ({"granted_at": "2030-01-01T00:00:00"}, "body.granted_at"),
    ({"granted_at": "0001-01-01T00:00:00+14:00"}, "body.granted_at"),  # no UTC equivalent
    ({"granted_at": "1899-12-31T23:00:00Z"}, "body.granted_at"),
    ({"expires_at": "9999-12-31T23:59:59-10:00"}, "body.expires_at"),
    ({"evidence_sha256": "not-a-hash"}, "body.evidence_sha256"),
    ({"purpose": "self_query"}, "body.purpose"),
    ({"scope": "everything"}, "body.scope"),
    ({"id_type": "ssn"}, "body.id_type"),
    ({"id_number": ZHANG_ID[:-1] + "0"}, "body.id_number"),  # checksum
    ({"id_number": ZHANG_ID[:-2]}, "body.id_number"),  # length
    ({"evidence": EVIDENCE}, "body.evidence"),  # unknown field
]


def test_a_bad_consent_is_422_naming_the_field(api):
    # one test, not one per case: each case is a request, each test a database on two backends
    for change, field in BAD_CONSENTS:
        r = api.post("/v1/consents", json=_consent_body(**change))
        assert r.status_code == 422, (change, r.text)
        body = r.json()
        assert [e["field"] for e in body["errors"]] == [field], change
        assert field in body["detail"]
        assert ZHANG_ID[:-2] not in r.text
    assert not api.ledger("consent.grant")


def test_a_consent_whose_expiry_is_before_its_grant_is_refused(api):
    grant = utcnow() + timedelta(days=10)
    r = api.post("/v1/consents", json=_consent_body(
        granted_at=grant.isoformat(), expires_at=(grant - timedelta(days=1)).isoformat(),
    ))  # fmt: skip
    assert r.status_code == 422 and "must be after the grant" in r.json()["detail"]


def test_list_consents_newest_first_page_by_page(api):
    made = [api.consent(purpose=p) for p in ("loan_approval", "marketplace_risk")]
    made += [api.consent(LI_ID) for _ in range(3)]
    api.consent(who="other")  # not BANK_A's
    pages = _pages(api, "/v1/consents", limit=2)
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    refs = [c["ref"] for p in pages for c in p["items"]]
    assert refs == made[::-1]
    assert {c["institution"] for p in pages for c in p["items"]} == {"BANK_A"}
    assert pages[-1]["next_cursor"] is None
    one = api.get("/v1/consents", params={"purpose": "marketplace_risk"}).json()
    assert [c["ref"] for c in one["items"]] == [made[1]] and one["next_cursor"] is None
    assert [c["ref"] for c in api.get("/v1/consents", "other").json()["items"]] != refs


def test_list_consents_refuses_a_purpose_it_does_not_know_without_echoing_it(api):
    r = api.get("/v1/consents", params={"purpose": ZHANG_ID})
    assert r.status_code == 422 and ZHANG_ID not in r.text
    assert [e["field"] for e in r.json()["errors"]] == ["query.purpose"]


# -- inquiries -------------------------------------------------------------------------------
def test_list_inquiries_furnished_and_made_through_the_api(api):
    consent = api.consent()
    for _ in range(3):
        assert api.query("scores", consent).status_code == 200
    api.query("scores", api.consent(who="other"), who="other")
    pages = _pages(api, "/v1/inquiries", limit=2)
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    items = [q for p in pages for q in p["items"]]
    today = utcnow().date().isoformat()
    assert [(q["inquired_on"], q["source"], q["kind"]) for q in items] == [
        (today, "api", "hard"), (today, "api", "hard"), (today, "api", "hard"),
        ("2024-06-01", "furnished", "soft"), ("2024-05-20", "furnished", "hard"),
    ]  # fmt: skip
    assert [q["subject_ref"] for q in items] == [api.zhang] * 3 + [api.li, api.zhang]
    ids = [q["id"] for q in items]
    assert ids == sorted(ids, reverse=True)
    # BANK_B sees its own only
    (theirs,) = api.get("/v1/inquiries", "other").json()["items"]
    assert theirs["source"] == "api" and theirs["id"] not in ids


def test_list_inquiries_between_dates(api):
    def dates(**params):
        r = api.get("/v1/inquiries", params=params)
        assert r.status_code == 200, r.text
        return [q["inquired_on"] for q in r.json()["items"]]

    assert dates(since="2024-05-21") == ["2024-06-01"]
    assert dates(until="2024-05-31") == ["2024-05-20"]
    assert dates(since="2024-05-20", until="2024-06-01") == ["2024-06-01", "2024-05-20"]
    assert dates(since="2024-06-02", until="2024-12-31") == []
    r = api.get("/v1/inquiries", params={"since": "2024-06-02", "until": "2024-06-01"})
    assert r.status_code == 422 and "is after until" in r.json()["detail"]
    r = api.get("/v1/inquiries", params={"since": "yesterday"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.since"


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


BAD_CURSORS = [
    "not a cursor",
    _cursor("id:abc"),
    _cursor("row:12"),
    _cursor("id:" + "9" * 40),  # past a BIGINT
    _cursor("id:²"),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    "%%%",
]


def test_a_cursor_this_api_did_not_issue_is_422(api):
    for cursor in BAD_CURSORS:
        for url in ("/v1/inquiries", "/v1/consents"):
            r = api.get(url, params={"cursor": cursor})
            assert r.status_code == 422, (cursor, r.text)
            assert "cursor" in r.json()["detail"]


def test_list_limits(api):
    for limit in (0, 501, "x"):
        r = api.get("/v1/inquiries", params={"limit": limit})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.limit"
    assert len(api.get("/v1/inquiries", params={"limit": 1}).json()["items"]) == 1


def test_consents_and_inquiries_need_the_querier_role(api):
    for method, url, kw in (
        ("post", "/v1/consents", {"json": _consent_body()}),
        ("get", "/v1/consents", {}),
        ("get", "/v1/consents/C000000000000", {}),
        ("post", "/v1/consents/C000000000000/revoke", {}),
        ("get", "/v1/inquiries", {}),
    ):
        r = getattr(api, method)(url, "furnisher", **kw)
        assert r.status_code == 403, (url, r.text)
        assert r.json()["reason"] == "role" and "querier" in r.json()["detail"]


def test_granted_at_in_the_future_is_not_yet_valid(api):
    ref = api.consent(granted_at=(datetime.now(UTC) + timedelta(days=2)).isoformat())
    assert api.get(f"/v1/consents/{ref}").json()["status"] == "not yet valid"
    r = api.query("reports", ref)
    assert r.status_code == 403 and r.json()["reason"] == "not_yet_valid"
    assert orjson.loads(api.ledger("query.refuse")[0].details)["reason"] == "not_yet_valid"


def test_other_bank_cannot_see_bank_a_inquiries(api):
    assert api.get("/v1/inquiries", "other").json() == {"items": [], "next_cursor": None}
