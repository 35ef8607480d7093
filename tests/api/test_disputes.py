"""Disputes through the API: subjects file and follow (/v1/me/disputes), furnishers answer
(/v1/disputes), operators decide and escalate (/v1/operator/disputes); who may reach what."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

import orjson
import pytest
from sqlalchemy import func, select

from credo.access import keys, subject_access
from credo.account.models import Account, StatusRecord
from credo.db import utcnow
from credo.notify.models import Notification
from credo.rights.models import Dispute, DisputeEvent
from furnishing.bureau import BANK, OTHER_BANK

T0 = datetime(2024, 7, 2, 9, 0, tzinfo=UTC)
DOC = hashlib.sha256(b"bank statement").hexdigest()
MAY = {"record_type": "status", "institution": BANK, "account_ref": "CC-1", "period": "2024-05",
       "reason": "I paid May in full on time."}  # fmt: skip
A_REF = "D000000000000"

#: every /v1/me dispute operation (a ref of the right shape where the path needs one)
ME = [
    ("GET", "/v1/me/disputes", None),
    ("POST", "/v1/me/disputes", MAY),
    ("GET", f"/v1/me/disputes/{A_REF}", None),
    ("POST", f"/v1/me/disputes/{A_REF}/information", {"evidence_sha256": DOC}),
]
FURNISHER = [
    ("GET", "/v1/disputes", None),
    ("POST", f"/v1/disputes/{A_REF}/answer", {"answer": "confirm"}),
]
OPERATOR = [
    ("GET", "/v1/operator/disputes", None),
    ("POST", "/v1/operator/disputes/escalate", None),
    ("POST", f"/v1/operator/disputes/{A_REF}/decision", {"outcome": "confirmed"}),
]


@pytest.fixture
def dz(api, monkeypatch):
    """The API with subject credentials for 张三 and 李四, an operator key, a furnisher key of
    BANK_B, and the dispute routes' clock at T0 (`dz.extra["clock"]` moves it)."""
    now = utcnow()
    with api.db() as s:
        for name, ref in (("zhang", api.zhang), ("li", api.li)):
            _, api.tokens[name] = subject_access.issue(
                s, subject_ref=ref, verified_by="counter", actor="ops",
                expires_at=now + timedelta(days=700),
            )  # fmt: skip
        for name, inst, role in (("operator", "CREDO", "operator"), ("furnisher_b", OTHER_BANK,
                                                                     "furnisher")):  # fmt: skip
            _, api.tokens[name] = keys.create_key(s, institution_code=inst, roles=[role],
                                                  actor="test")  # fmt: skip
    clock = {"now": T0}
    monkeypatch.setattr("credo.api.routes.disputes.utcnow", lambda: clock["now"])
    api.extra["clock"] = clock
    return api


def _at(api, when: datetime) -> None:
    api.extra["clock"]["now"] = when


def _call(api, method: str, url: str, who: str | None, body=None):
    if method == "GET":
        return api.get(url, who)
    return api.post(url, who, json=body) if body is not None else api.post(url, who)


def _problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    return r.json()


def _counts(api) -> tuple[int, int, int]:
    with api.db() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(m))
            for m in (Dispute, DisputeEvent, Notification)
        )  # type: ignore[return-value]


def _file(api, body=MAY, who="zhang") -> dict:
    r = api.post("/v1/me/disputes", who, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _notices(api, kind: str) -> list[dict]:
    with api.db() as s:
        rows = s.scalars(select(Notification).where(Notification.kind == kind))
        return [{"subject": n.subject_id, "institution": n.institution_id,
                 **orjson.loads(n.payload)} for n in rows]  # fmt: skip


# -- who may call ----------------------------------------------------------------------------------
def test_me_dispute_routes_take_only_a_subject_credential(dz):
    before = _counts(dz)
    for method, url, body in ME:
        assert (
            "subject access credential"
            in _problem(_call(dz, method, url, None, body), 401)["detail"]
        )
        detail = _problem(_call(dz, method, url, "bank", body), 401)["detail"]
        assert detail.startswith("this is an institution API key"), url
    assert _counts(dz) == before


def test_institution_dispute_routes_refuse_a_subject_credential_and_the_wrong_role(dz):
    before = _counts(dz)
    for method, url, body in FURNISHER + OPERATOR:
        detail = _problem(_call(dz, method, url, "zhang", body), 401)["detail"]
        assert detail.startswith("this is a subject access credential"), url
        _problem(_call(dz, method, url, None, body), 401)
    for method, url, body in FURNISHER:
        for who in ("bank", "operator"):
            assert _problem(_call(dz, method, url, who, body), 403)["reason"] == "role"
    for method, url, body in OPERATOR:
        for who in ("bank", "furnisher"):
            assert _problem(_call(dz, method, url, who, body), 403)["reason"] == "role"
    assert _counts(dz) == before


def test_a_subject_never_reaches_another_subjects_dispute(dz):
    mine = _file(dz)
    before = _counts(dz)
    # 李四 cannot see, read or add to 张三's dispute: it reads like an unknown ref
    assert dz.get("/v1/me/disputes", "li").json()["items"] == []
    for method, url, body in ME[2:]:
        theirs = _problem(_call(dz, method, url.replace(A_REF, mine["ref"]), "li", body), 404)
        unknown = _problem(_call(dz, method, url, "li", body), 404)
        assert theirs["reason"] == unknown["reason"] == "dispute_not_found"
        assert theirs["detail"].replace(mine["ref"], A_REF) == unknown["detail"]
    # nor dispute 张三's record by naming it
    body = _problem(dz.post("/v1/me/disputes", "li", json=MAY), 404)
    assert body["reason"] == "record_not_found"
    assert _counts(dz) == before
    assert [d["ref"] for d in dz.get("/v1/me/disputes", "zhang").json()["items"]] == [mine["ref"]]


def test_a_furnisher_sees_and_answers_only_its_own_disputes(dz):
    d = _file(dz)
    assert dz.get("/v1/disputes", "furnisher_b").json()["items"] == []
    before = _counts(dz)
    r = dz.post(f"/v1/disputes/{d['ref']}/answer", "furnisher_b", json={"answer": "confirm"})
    assert _problem(r, 404)["reason"] == "dispute_not_found"
    assert _counts(dz) == before


# -- the lifecycle ---------------------------------------------------------------------------------
def test_confirmed_lifecycle(dz):
    d = _file(dz)
    assert (d["status"], d["due_on"], d["institution"]) == ("open", "2024-07-22", BANK)
    assert d["reason"] == MAY["reason"] and [e["kind"] for e in d["history"]] == ["filed"]
    # the furnisher sees it with what its record says now and the subject's reason
    [seen] = dz.get("/v1/disputes", "furnisher").json()["items"]
    assert seen["ref"] == d["ref"] and seen["subject_ref"] == dz.zhang
    assert seen["record"]["account_ref"] == "CC-1" and seen["record"]["period"] == "2024-05"
    assert seen["record"]["balance"] == "1500.00" and seen["reason"] == MAY["reason"]
    assert [e.target for e in dz.ledger("dispute.read")] == ["disputes"]
    _at(dz, T0 + timedelta(days=3))
    r = dz.post(f"/v1/disputes/{d['ref']}/answer", "furnisher",
                json={"answer": "confirm", "note": "paid on 06-12",
                      "evidence_sha256": DOC})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "answered"
    r = dz.post(f"/v1/disputes/{d['ref']}/answer", "furnisher", json={"answer": "confirm"})
    assert _problem(r, 409)["reason"] == "dispute_already_answered"
    [queued] = dz.get("/v1/operator/disputes?status=answered", "operator").json()["items"]
    assert (queued["ref"], queued["answer"], queued["overdue"]) == (d["ref"], "confirm", False)
    _at(dz, T0 + timedelta(days=5))
    r = dz.post(f"/v1/operator/disputes/{d['ref']}/decision", "operator",
                json={"outcome": "confirmed", "note": "furnisher's records checked"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["outcome"]) == ("closed", "confirmed")
    mine = dz.get(f"/v1/me/disputes/{d['ref']}", "zhang").json()
    assert [(e["kind"], e["by"]) for e in mine["history"]] == [
        ("filed", "subject"), ("answered", "furnisher"), ("decided", "bureau"),
    ]  # fmt: skip
    assert mine["closed_at"].startswith("2024-07-07")
    decided = [n for n in _notices(dz, "dispute.decided") if n["subject"]]
    assert decided[0]["outcome"] == "confirmed" and "statement" in decided[0]["statement"]
    assert len(_notices(dz, "dispute.received")) == 2
    for action in ("dispute.file", "dispute.answer", "dispute.decide"):
        assert [e.target for e in dz.ledger(action)] == [d["ref"]], action
    # closed: the furnisher's list no longer has it, deciding again is 409 and changes nothing
    assert dz.get("/v1/disputes", "furnisher").json()["items"] == []
    before = _counts(dz)
    r = dz.post(f"/v1/operator/disputes/{d['ref']}/decision", "operator",
                json={"outcome": "unresolved", "note": "again"})  # fmt: skip
    assert _problem(r, 409)["reason"] == "dispute_closed"
    r = dz.post(f"/v1/me/disputes/{d['ref']}/information", "zhang", json={"evidence_sha256": DOC})
    assert _problem(r, 409)["reason"] == "dispute_closed"
    assert _counts(dz) == before


def test_unresolved_lifecycle_keeps_the_note(dz):
    d = _file(dz, {"record_type": "account", "institution": BANK, "account_ref": "CC-1",
                   "reason": "This card was never mine."})  # fmt: skip
    url = f"/v1/operator/disputes/{d['ref']}/decision"
    body = _problem(dz.post(url, "operator", json={"outcome": "unresolved"}), 422)
    assert body["errors"][0]["field"] == "note"
    r = dz.post(url, "operator", json={"outcome": "unresolved", "note": "no agreement reached"})
    assert r.status_code == 200, r.text
    mine = dz.get(f"/v1/me/disputes/{d['ref']}", "zhang").json()
    assert (mine["outcome"], mine["decision_note"]) == ("unresolved", "no agreement reached")
    [n] = [n for n in _notices(dz, "dispute.decided") if n["subject"]]
    assert n["note"] == "no agreement reached"


def test_corrected_lifecycle_supersedes_the_record(dz):
    d = _file(dz)
    r = dz.post(f"/v1/disputes/{d['ref']}/answer", "furnisher",
                json={"answer": "correct", "correction": {"balance": "1400.00"}})  # fmt: skip
    assert r.status_code == 200, r.text
    r = dz.post(f"/v1/operator/disputes/{d['ref']}/decision", "operator",
                json={"outcome": "corrected", "note": "balance corrected"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "corrected"
    with dz.db() as s:
        dispute = s.scalar(select(Dispute).where(Dispute.ref == d["ref"]))
        acc = s.scalar(select(Account.id).where(Account.account_ref == "CC-1"))
        versions = list(s.scalars(
            select(StatusRecord).where(StatusRecord.account_id == acc,
                                       StatusRecord.period == date(2024, 5, 1))
            .order_by(StatusRecord.version)
        ))  # fmt: skip
    assert [(v.version, v.balance_cents, v.superseded_at is None) for v in versions] == [
        (1, 150000, False), (2, 140000, True),
    ]  # fmt: skip
    assert dispute.correction_batch_id is not None
    assert versions[0].superseded_by_batch_id == dispute.correction_batch_id


def test_a_corrected_decision_without_any_correction_is_422(dz):
    d = _file(dz)
    before = _counts(dz)
    r = dz.post(f"/v1/operator/disputes/{d['ref']}/decision", "operator",
                json={"outcome": "corrected"})  # fmt: skip
    assert _problem(r, 422)["errors"][0]["field"] == "correction"
    assert _counts(dz) == before


# -- deadlines (cn; the us deadline: test_disputes_us.py) ------------------------------------------
def test_cn_deadline_is_20_days_new_information_does_not_extend_it(dz):
    d = _file(dz)
    assert d["due_on"] == "2024-07-22"
    _at(dz, T0 + timedelta(days=3))
    info = dz.post(
        f"/v1/me/disputes/{d['ref']}/information", "zhang", json={"evidence_sha256": DOC}
    )
    assert (info.json()["due_on"], info.json()["extended"]) == ("2024-07-22", False)
    assert info.json()["history"][-1]["evidence_sha256"] == DOC
    _at(dz, datetime(2024, 7, 23, tzinfo=UTC))
    assert dz.post("/v1/operator/disputes/escalate", "operator").json()["escalated"] == [d["ref"]]


# -- bad input -------------------------------------------------------------------------------------
def test_a_second_open_dispute_is_409_naming_the_first(dz):
    d = _file(dz)
    before = _counts(dz)
    body = _problem(dz.post("/v1/me/disputes", "zhang", json={**MAY, "reason": "again"}), 409)
    assert (body["reason"], body["dispute"]) == ("dispute_already_open", d["ref"])
    assert d["ref"] in body["detail"]
    assert _counts(dz) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reason": "   "}, "reason"),
        ({"reason": "x" * 2001}, "reason"),
        ({"reason": "x" * 4001}, "body.reason"),
        ({"period": None}, "period"),
        ({"period": "May 2024"}, "body.period"),
        ({"record_type": "loan"}, "body.record_type"),
        ({"field": "name"}, "field"),
        ({"colour": "red"}, "body.colour"),
        ({"evidence_sha256": "abc"}, "body.evidence_sha256"),
    ],
)
def test_bad_filings_are_422_naming_the_field_and_change_nothing(dz, change, field):
    before = _counts(dz)
    body = _problem(dz.post("/v1/me/disputes", "zhang", json={**MAY, **change}), 422)
    assert field in [e["field"] for e in body["errors"]], body
    assert _counts(dz) == before


def test_an_unknown_record_is_404_record_not_found(dz):
    before = _counts(dz)
    body = _problem(dz.post("/v1/me/disputes", "zhang", json={**MAY, "account_ref": "NOPE"}), 404)
    assert body["reason"] == "record_not_found"
    assert _counts(dz) == before


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/v1/disputes/{ref}/answer", {"answer": "maybe"}),
        ("/v1/disputes/{ref}/answer", {"answer": "correct"}),
        ("/v1/disputes/{ref}/answer", {"answer": "correct", "correction": {"colour": "red"}}),
        ("/v1/operator/disputes/{ref}/decision", {"outcome": "forgiven"}),
        ("/v1/operator/disputes/{ref}/decision", {"outcome": "confirmed",
                                                  "correction": {"balance": "1"}}),
    ],
)  # fmt: skip
def test_invalid_answers_and_decisions_are_422_and_change_nothing(dz, url, body):
    d = _file(dz)
    before = _counts(dz)
    who = "furnisher" if url.startswith("/v1/disputes") else "operator"
    _problem(dz.post(url.format(ref=d["ref"]), who, json=body), 422)
    assert _counts(dz) == before
    assert dz.get(f"/v1/me/disputes/{d['ref']}", "zhang").json()["status"] == "open"


def test_lists_are_paginated_by_cursor(dz):
    refs = [_file(dz, {**MAY, "period": p})["ref"] for p in ("2024-04", "2024-05", "2024-06")]
    page = dz.get("/v1/me/disputes?limit=2", "zhang").json()
    assert [d["ref"] for d in page["items"]] == refs[::-1][:2]
    rest = dz.get(f"/v1/me/disputes?limit=2&cursor={page['next_cursor']}", "zhang").json()
    assert [d["ref"] for d in rest["items"]] == [refs[0]] and rest["next_cursor"] is None
    page = dz.get("/v1/operator/disputes?limit=2", "operator").json()
    rest = dz.get(f"/v1/operator/disputes?limit=2&cursor={page['next_cursor']}", "operator")
    assert [d["ref"] for d in page["items"] + rest.json()["items"]] == refs
    _problem(dz.get("/v1/me/disputes?cursor=bogus", "zhang"), 422)


# -- the mark in reports -------------------------------------------------------------------------
def test_a_dispute_is_marked_in_the_subjects_and_the_institutions_reports_until_settled(dz):
    d = _file(dz)
    consent = dz.consent()
    mine = dz.get("/v1/me/report", "zhang").json()
    theirs = dz.query("reports", consent).json()
    for doc in (mine, theirs):
        [mark] = doc["disputes"]
        assert (mark["record_type"], mark["status"], mark["opened_on"]) == (
            "status", "open", "2024-07-02",
        )  # fmt: skip
        [card] = doc["accounts"]
        assert card["disputed"] is True
    dz.post(f"/v1/operator/disputes/{d['ref']}/decision", "operator", json={"outcome": "confirmed"})
    settled = dz.query("reports", consent).json()
    assert settled["disputes"] == [] and settled["accounts"][0]["disputed"] is False
    # an unresolved dispute keeps its mark, with the note
    again = _file(dz, {**MAY, "reason": "still wrong"})
    dz.post(f"/v1/operator/disputes/{again['ref']}/decision", "operator",
            json={"outcome": "unresolved", "note": "no agreement"})  # fmt: skip
    [mark] = dz.query("reports", consent).json()["disputes"]
    assert (mark["status"], mark["note"]) == ("unresolved", "no agreement")
