"""``/v1/me`` controls: statement, freeze, fraud alert, opt-outs and the data download, each
reachable only with the subject's own credential; the freeze, the alert and the opt-outs seen
end to end through ``POST /v1/scores`` and ``POST /v1/reports``."""

# ruff: noqa: F811 (the `me` fixture of test_me, imported, is every test's parameter)

from __future__ import annotations

import hashlib
from datetime import timedelta

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from credo.access import subject_access
from credo.api.app import create_app
from credo.audit.models import AuditEntry
from credo.config import Settings
from credo.db import utcnow
from credo.notify.models import Notification
from credo.rights.models import FileFlag, OptOut, PersonalStatement
from furnishing.bureau import LI_ID, LI_NAME, ZHANG_ID, ZHANG_NAME

from .test_me import me  # noqa: F401 (a fixture)

THEFT_REPORT = hashlib.sha256(b"police report").hexdigest()
#: every route of this module, with a body where it needs one
ROUTES = [
    ("PUT", "/v1/me/statement", {"text": "我的声明"}),
    ("GET", "/v1/me/statement", None),
    ("DELETE", "/v1/me/statement", None),
    ("GET", "/v1/me/freeze", None),
    ("PUT", "/v1/me/freeze", None),
    ("DELETE", "/v1/me/freeze", None),
    ("GET", "/v1/me/fraud-alert", None),
    ("PUT", "/v1/me/fraud-alert", None),
    ("DELETE", "/v1/me/fraud-alert", None),
    ("GET", "/v1/me/opt-outs", None),
    ("PUT", "/v1/me/opt-outs/prescreen", None),
    ("DELETE", "/v1/me/opt-outs/prescreen", None),
    ("GET", "/v1/me/export", None),
]


def _call(api, method: str, url: str, who: str | None, json=None, **kw):
    headers = {**(api.auth(who) if who else {}), **kw.pop("headers", {})}
    return api.client.request(method, url, headers=headers, json=json, **kw)


def _problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    return r.json()


def _state(api) -> tuple[int, int, int, int]:
    """Rows of the controls' tables and ledger entries (to check that nothing changed)."""
    with api.db() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(m))
            for m in (PersonalStatement, FileFlag, OptOut, AuditEntry)
        )


# -- who may call ---------------------------------------------------------------------------------
@pytest.mark.parametrize("who", [None, "bank", "zhang_revoked", "zhang_expired"])
def test_every_control_refuses_a_caller_without_a_valid_subject_credential(me, who):
    before = _state(me)
    for method, url, body in ROUTES:
        assert _call(me, method, url, who, json=body).status_code == 401, (method, url)
    assert _state(me) == before


def test_another_subjects_credential_reaches_only_its_own_file(me):
    assert _call(me, "PUT", "/v1/me/freeze", "zhang").status_code == 201
    assert _call(me, "PUT", "/v1/me/statement", "zhang", {"text": "张三的声明"}).status_code == 201
    me.client.put("/v1/me/opt-outs/marketing", headers=me.auth("zhang"))
    before = _state(me)
    # 李四's credential cannot lift 张三's freeze, read or remove his statement: it sees its own
    assert _problem(_call(me, "DELETE", "/v1/me/freeze", "li"), 404)["reason"] == "no_freeze"
    assert _problem(_call(me, "GET", "/v1/me/statement", "li"), 404)["reason"] == "no_statement"
    assert _call(me, "DELETE", "/v1/me/statement", "li").status_code == 404
    assert _call(me, "DELETE", "/v1/me/opt-outs/marketing", "li").status_code == 404
    assert _call(me, "GET", "/v1/me/freeze", "li").json() == {
        "frozen": False, "ref": None, "placed_at": None,
    }  # fmt: skip
    # nothing changed but one ledger entry: 李四 read his own freeze state
    assert _state(me) == (*before[:3], before[3] + 1)
    assert me.ledger("freeze.read")[-1].target == f"subject:{me.li}"
    assert _call(me, "GET", "/v1/me/freeze", "zhang").json()["frozen"] is True
    assert _call(me, "GET", "/v1/me/statement", "zhang").json()["text"] == "张三的声明"


def test_the_openapi_document_describes_every_control(me):
    doc = me.client.get("/openapi.json").json()
    for method, url, _ in ROUTES:
        path = url.replace("/prescreen", "/{use}")
        op = doc["paths"][path][method.lower()]
        assert op["summary"] and op["description"], url
        assert op["security"] == [{"SubjectCredential": []}] and "401" in op["responses"], url


# -- statement ------------------------------------------------------------------------------------
def test_statement_put_get_replace_delete(me):
    r = _call(me, "PUT", "/v1/me/statement", "zhang", {"text": "  2023年5月的逾期因住院所致。 "})
    assert r.status_code == 201 and r.json()["text"] == "2023年5月的逾期因住院所致。"
    assert r.headers["cache-control"] == "no-store"
    r = _call(me, "PUT", "/v1/me/statement", "zhang", {"text": "已全部结清。"})
    assert r.status_code == 200 and r.json()["text"] == "已全部结清。"
    got = _call(me, "GET", "/v1/me/statement", "zhang")
    assert got.status_code == 200 and got.json()["text"] == "已全部结清。"
    assert got.headers["cache-control"] == "no-store"
    assert len(me.ledger("statement.read")) == 1
    assert _call(me, "DELETE", "/v1/me/statement", "zhang").status_code == 204
    assert _problem(_call(me, "GET", "/v1/me/statement", "zhang"), 404)["reason"] == "no_statement"
    body = _problem(_call(me, "DELETE", "/v1/me/statement", "zhang"), 404)
    assert body["reason"] == "no_statement"
    with me.db() as s:
        assert s.scalar(select(func.count()).select_from(PersonalStatement)) == 2


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"text": "x" * 501}, "text: is 501 characters long; a statement has at most 500"),
        ({"text": "   "}, "text: is empty; write 1 to 500 characters"),
        ({"text": ""}, "text: is empty; write 1 to 500 characters"),
        ({"text": 5}, "the request is not valid: body.text"),
        ({}, "the request is not valid: body.text"),
        ({"text": "ok", "extra": 1}, "the request is not valid: body.extra"),
    ],
)
def test_a_bad_statement_is_422_naming_text_and_changes_nothing(me, body, words):
    _call(me, "PUT", "/v1/me/statement", "zhang", {"text": "原来的声明"})
    before = _state(me)
    problem = _problem(_call(me, "PUT", "/v1/me/statement", "zhang", body), 422)
    assert problem["detail"] == words
    assert problem["errors"][0]["field"] in ("text", "body.text", "body.extra")
    assert _state(me) == before
    assert _call(me, "GET", "/v1/me/statement", "zhang").json()["text"] == "原来的声明"


def test_the_limit_follows_the_setting(engine, keyring, me):
    app = create_app(settings=Settings(statement_max_chars=60), engine=engine, keyring=keyring)
    with TestClient(app) as client:
        r = client.put("/v1/me/statement", headers=me.auth("zhang"), json={"text": "x" * 61})
        assert r.status_code == 422 and r.json()["max_chars"] == 60
        r = client.put("/v1/me/statement", headers=me.auth("zhang"), json={"text": "x" * 60})
        assert r.status_code == 201


# -- freeze ---------------------------------------------------------------------------------------
def test_a_freeze_refuses_hard_inquiries_end_to_end_until_lifted(me):
    loan = me.consent()
    post_loan = me.consent(purpose="post_loan_management")
    r = _call(me, "PUT", "/v1/me/freeze", "zhang")
    assert r.status_code == 201 and r.json()["frozen"] is True
    again = _call(me, "PUT", "/v1/me/freeze", "zhang")
    assert again.status_code == 200 and again.json() == r.json()
    assert len(me.ledger("freeze.place")) == 1
    refusals = len(me.ledger("query.refuse"))
    for kind in ("scores", "reports"):
        body = _problem(me.query(kind, loan), 403)
        assert body["reason"] == "file_frozen"
        assert body["detail"] == (
            "the subject has frozen their credit file: new hard inquiries (loan_approval) are "
            "refused until the subject lifts the freeze"
        )
        for secret in (ZHANG_ID, ZHANG_NAME, me.zhang):
            assert secret not in orjson.dumps(body).decode()
    entries = me.ledger("query.refuse")[refusals:]
    assert [orjson.loads(e.details)["reason"] for e in entries] == ["file_frozen"] * 2
    # soft queries still work, and so does the subject's own report
    assert me.query("scores", post_loan, purpose="post_loan_management").status_code == 200
    assert _call(me, "GET", "/v1/me/report", "zhang").status_code == 200
    # 李四's file is not frozen
    assert me.query("scores", me.consent(LI_ID), LI_ID).status_code == 200
    assert _call(me, "DELETE", "/v1/me/freeze", "zhang").status_code == 204
    r = me.query("scores", loan)
    assert r.status_code == 200 and r.json()["inquiry"] == "hard"
    assert _call(me, "GET", "/v1/me/freeze", "zhang").json()["frozen"] is False
    body = _problem(_call(me, "DELETE", "/v1/me/freeze", "zhang"), 404)
    assert body["reason"] == "no_freeze"
    with me.db() as s:
        kinds = sorted(s.scalars(select(Notification.kind)))
    assert kinds == ["freeze.lifted", "freeze.placed"]


# -- fraud alert ----------------------------------------------------------------------------------
def test_a_fraud_alert_is_in_score_responses(me):
    consent = me.consent()
    assert me.query("scores", consent).json()["fraud_alert"] is None
    assert _call(me, "GET", "/v1/me/fraud-alert", "zhang").json()["active"] is False
    r = _call(me, "PUT", "/v1/me/fraud-alert", "zhang")
    assert r.status_code == 201
    alert = r.json()
    assert alert["active"] is True and alert["extended"] is False
    today = utcnow().date()
    score = me.query("scores", consent).json()
    assert score["fraud_alert"] == {
        "placed_on": today.isoformat(),
        "expires_on": today.replace(year=today.year + 1).isoformat(),
        "extended": False,
    }
    # a report makes it a 7-year alert
    r = _call(me, "PUT", "/v1/me/fraud-alert", "zhang",
              {"identity_theft_report_sha256": THEFT_REPORT})  # fmt: skip
    assert r.status_code == 201 and r.json()["extended"] is True
    assert me.query("scores", consent).json()["fraud_alert"]["expires_on"] == (
        today.replace(year=today.year + 7).isoformat()
    )
    assert _call(me, "PUT", "/v1/me/fraud-alert", "zhang").status_code == 200
    # 李四 has none
    assert me.query("scores", me.consent(LI_ID), LI_ID).json()["fraud_alert"] is None
    assert _call(me, "DELETE", "/v1/me/fraud-alert", "zhang").status_code == 204
    assert me.query("scores", consent).json()["fraud_alert"] is None
    body = _problem(_call(me, "DELETE", "/v1/me/fraud-alert", "zhang"), 404)
    assert body["reason"] == "no_fraud_alert"


def test_a_bad_report_hash_is_422_and_places_nothing(me):
    before = _state(me)
    for body in ({"identity_theft_report_sha256": "abc"}, {"report": THEFT_REPORT}):
        _problem(_call(me, "PUT", "/v1/me/fraud-alert", "zhang", body), 422)
    assert _state(me) == before


# -- opt-outs -------------------------------------------------------------------------------------
def test_opt_outs_are_enforced_end_to_end(me):
    prescreen = me.consent(purpose="prescreen")
    assert me.query("scores", prescreen, purpose="prescreen").json()["inquiry"] == "soft"
    r = _call(me, "PUT", "/v1/me/opt-outs/prescreen", "zhang")
    assert r.status_code == 201 and r.json()["opted_out"] is True
    assert _call(me, "PUT", "/v1/me/opt-outs/prescreen", "zhang").status_code == 200
    listing = _call(me, "GET", "/v1/me/opt-outs", "zhang").json()["items"]
    assert [(i["use"], i["opted_out"]) for i in listing] == [
        ("prescreen", True), ("marketing", False),
    ]  # fmt: skip
    for kind in ("scores", "reports"):
        body = _problem(me.query(kind, prescreen, purpose="prescreen"), 403)
        assert body["reason"] == "opted_out"
    assert _call(me, "DELETE", "/v1/me/opt-outs/prescreen", "zhang").status_code == 204
    assert me.query("reports", prescreen, purpose="prescreen").status_code == 200
    body = _problem(_call(me, "DELETE", "/v1/me/opt-outs/prescreen", "zhang"), 404)
    assert body["reason"] == "no_opt_out"


def test_an_unknown_use_is_422(me):
    before = _state(me)
    for method in ("PUT", "DELETE"):
        body = _problem(_call(me, method, "/v1/me/opt-outs/email", "zhang"), 422)
        assert body["errors"][0]["field"] == "path.use"
    assert _state(me) == before


def test_marketing_is_refused_in_cn_and_allowed_with_consent_in_us(me, engine, keyring):
    consent = me.consent(purpose="marketing", scope="both")
    body = _problem(me.query("scores", consent, purpose="marketing"), 403)
    assert body["reason"] == "purpose_not_lawful"
    us = create_app(settings=Settings(profile="us"), engine=engine, keyring=keyring)
    with TestClient(us) as client:
        query = {"id_type": "prc_id", "id_number": ZHANG_ID, "purpose": "marketing",
                 "consent_ref": consent}  # fmt: skip
        r = client.post("/v1/scores", headers=me.auth("bank"), json=query)
        assert r.status_code == 200 and r.json()["inquiry"] == "soft"
        r = client.post("/v1/reports", headers=me.auth("bank"), json=query)
        assert r.status_code == 200 and r.json()["header"]["purpose"] == "marketing"
        client.put("/v1/me/opt-outs/marketing", headers=me.auth("zhang"))
        r = client.post("/v1/scores", headers=me.auth("bank"), json=query)
        assert r.status_code == 403 and r.json()["reason"] == "opted_out"


# -- data download --------------------------------------------------------------------------------
def test_the_export_is_a_json_attachment_of_my_data_only(me):
    me.query("scores", me.consent())  # a score and an inquiry on file
    _call(me, "PUT", "/v1/me/statement", "zhang", {"text": "已全部结清。"})
    _call(me, "PUT", "/v1/me/statement", "li", {"text": "李四的声明"})
    r = _call(me, "GET", "/v1/me/export", "zhang")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["content-disposition"].startswith(
        f'attachment; filename="credo-export-{me.zhang}-'
    )
    doc = r.json()
    assert doc["format"] == "credo-subject-export/1"
    assert (doc["subject"]["id_number"], doc["subject"]["name"]) == (ZHANG_ID, ZHANG_NAME)
    (score,) = doc["scores"]
    assert score["model"] == me.champion and score["reasons"]
    assert [s["text"] for s in doc["statements"]] == ["已全部结清。"]
    for secret in (LI_ID, LI_NAME, me.li, "李四的声明"):
        assert secret not in r.text
    (entry,) = me.ledger("subject.export")
    assert entry.target == f"subject:{me.zhang}" and entry.actor.startswith(f"subject:{me.zhang}/")


def test_a_credential_issued_later_sees_the_same_file(me):
    _call(me, "PUT", "/v1/me/freeze", "zhang")
    with me.db() as s:
        _, me.tokens["zhang2"] = subject_access.issue(
            s, subject_ref=me.zhang, verified_by="counter", actor="ops",
            expires_at=utcnow() + timedelta(days=30),
        )  # fmt: skip
    assert _call(me, "GET", "/v1/me/freeze", "zhang2").json()["frozen"] is True
    assert _call(me, "DELETE", "/v1/me/freeze", "zhang2").status_code == 204
