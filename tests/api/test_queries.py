"""POST /v1/scores and POST /v1/reports: consents, inquiries, what the file shows, the ledger."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import orjson
import pytest
from pypdf import PdfReader
from sqlalchemy import func, select, update

from credo.access.flows import NO_FILE, NO_FILE_UNDER_CONSENT
from credo.access.models import Consent, Purpose
from credo.access.policy import INQUIRY_KIND, UNLAWFUL_PURPOSES
from credo.db import utcnow
from credo.feature.service import subject_features
from credo.inquiry.models import Inquiry, InquirySource
from credo.report.service import build_report
from credo.scoring import registry
from credo.scoring.models import SubjectScore
from credo.subject.models import Subject
from furnishing.bureau import (
    ACME_USCC,
    BANK,
    LI_ADDRESS,
    LI_ID,
    LI_NAME,
    LI_PHONE,
    LI_PHONE_E164,
    OTHER_BANK,
    ZHANG_ID,
    ZHANG_NAME,
)

from .conftest import STRANGER, grant

#: what an institution may query for in the cn profile (marketing is refused there for anyone:
#: tests/rights/test_controls_enforcement.py)
QUERY_PURPOSES = [
    p.value for p in Purpose if p is not Purpose.self_query and p not in UNLAWFUL_PURPOSES["cn"]
]


def _api_inquiries(api) -> list[Inquiry]:
    with api.db() as s:
        return list(
            s.scalars(select(Inquiry).where(Inquiry.source == InquirySource.api)
                      .order_by(Inquiry.id))
        )  # fmt: skip


def _inquiry_count(api) -> int:
    with api.db() as s:
        return s.scalar(select(func.count()).select_from(Inquiry))


def _subject_id(api, ref: str) -> int:
    with api.db() as s:
        return s.scalar(select(Subject.id).where(Subject.ref == ref))


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


# -- scores ------------------------------------------------------------------------------------
def test_a_score_with_its_model_reasons_and_a_hard_inquiry(api):
    consent = api.consent()
    r = api.query("scores", consent)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["subject_ref"] == api.zhang and body["scorable"] is True
    assert body["model"] == api.champion and body["model_kind"] == "scorecard"
    assert body["inquiry"] == "hard" and body["query_id"].startswith("Q")
    assert isinstance(body["score"], float) and 0 < body["pd"] < 1 and body["grade"]
    assert body["as_of"] == utcnow().date().isoformat()
    assert body["reasons"] and {"code", "points", "text_en", "text_zh"} <= set(body["reasons"][0])
    (inq,) = _api_inquiries(api)
    assert (inq.kind.value, inq.purpose) == ("hard", "loan_approval")
    assert inq.inquired_on == utcnow().date()
    (entry,) = api.ledger("query.authorise")
    assert body["query_id"] in entry.details and entry.target == f"subject:{api.zhang}"
    (computed,) = api.ledger("score.compute")
    assert computed.target == f"subject:{api.zhang}" and '"trigger":"request"' in computed.details


def test_the_score_is_computed_before_its_own_inquiry_and_counts_the_earlier_ones(api):
    consent = api.consent()
    zhang_id = _subject_id(api, api.zhang)

    def inputs(body) -> dict:
        with api.db() as s:
            row = s.scalar(
                select(SubjectScore).where(
                    SubjectScore.input_fingerprint == body["input_fingerprint"]
                )
            )
            return orjson.loads(row.inputs)

    # the furnished inquiry of 2024-05-20 is long past the 12-month window
    first = api.query("scores", consent).json()
    assert inputs(first)["hard_inquiries_3m"] == 0 == inputs(first)["hard_inquiries_12m"]
    # a soft look (another purpose, another consent) does not count
    soft = api.consent(purpose="post_loan_management")
    assert api.query("scores", soft, purpose="post_loan_management").json()["inquiry"] == "soft"
    second = api.query("scores", consent).json()
    assert inputs(second)["hard_inquiries_3m"] == 1  # the first score's inquiry, not its own
    third = api.query("reports", consent)
    assert third.status_code == 200
    fourth = api.query("scores", consent).json()
    assert inputs(fourth)["hard_inquiries_3m"] == 3 == inputs(fourth)["hard_inquiries_12m"]
    # the scorecard charges points for them
    assert first["score"] > second["score"] > fourth["score"]
    assert first["input_fingerprint"] != second["input_fingerprint"]
    # the file now holds every hard inquiry, including the fourth query's own
    with api.db() as s:
        feats = subject_features(s, zhang_id, utcnow().date())
    assert feats["hard_inquiries_3m"] == 4


def test_scoring_someone_without_a_credit_file(api, tmp_path):
    from furnishing.bureau import WANG_ID, person, write_jsonl

    path = write_jsonl(tmp_path / "wang.jsonl", [person(WANG_ID, "王五", date(1978, 1, 30))])
    r = api.post(
        "/v1/furnishing/batches", "furnisher", content=path.read_bytes(),
        headers={"content-type": "application/x-ndjson"},
    )  # fmt: skip
    assert r.status_code == 201 and r.json()["accepted"] == 1, r.text
    consent = api.consent(WANG_ID)
    body = api.query("scores", consent, id_number=WANG_ID).json()
    assert body["scorable"] is False and body["score"] is None and body["model"] is None
    assert body["inquiry"] == "hard"  # the query was made all the same


def test_no_published_model_is_503_and_writes_no_inquiry(api):
    # the enterprise segment has no champion
    consent = api.consent(ACME_USCC, id_type="uscc")
    before = _inquiry_count(api)
    r = api.query("scores", consent, id_number=ACME_USCC, id_type="uscc")
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == "no enterprise scoring model is published yet"
    # retire the person champion: persons cannot be scored either
    with api.db() as s:
        registry.retire(s, registry.champion(s, "person"), actor="test")
    assert api.query("scores", api.consent()).status_code == 503
    assert _inquiry_count(api) == before
    assert not api.ledger("query.authorise")


# -- inquiries by purpose --------------------------------------------------------------------
def test_every_purpose_writes_the_inquiry_of_its_kind_seen_in_the_next_report(api):
    for purpose in QUERY_PURPOSES:
        consent = api.consent(purpose=purpose)
        kind = "scores" if purpose.startswith(("loan", "post")) else "reports"
        r = api.query(kind, consent, purpose=purpose)
        assert r.status_code == 200, (purpose, r.text)
    made = _api_inquiries(api)
    assert [(q.purpose, q.kind) for q in made] == [
        (p, INQUIRY_KIND[Purpose(p)]) for p in QUERY_PURPOSES
    ]
    assert {
        q.kind.value for q in made if q.purpose in ("marketplace_risk", "post_loan_management")
    } == {"soft"}
    # the next report lists them all (BANK_A's own inquiries, so BANK_A is named)
    consent = api.consent()
    doc = api.query("reports", consent).json()
    today = utcnow().date().isoformat()
    listed = [(q["purpose"], q["kind"]) for q in doc["inquiries"] if q["inquired_on"] == today]
    expected = [(p, INQUIRY_KIND[Purpose(p)].value) for p in QUERY_PURPOSES]
    # newest first; the report query's own inquiry is on top
    assert listed == [("loan_approval", "hard"), *reversed(expected)]
    assert all(q["institution"]["code"] == BANK for q in doc["inquiries"])
    assert doc["summary"]["inquiries"]


def test_another_institutions_inquiry_shows_by_kind_only(api):
    api.query("scores", api.consent(who="other"), who="other")
    doc = api.query("reports", api.consent()).json()
    theirs = [q for q in doc["inquiries"] if q["institution"]["code"] is None]
    assert len(theirs) == 1 and theirs[0]["institution"]["kind"] == "bank"
    assert OTHER_BANK not in orjson.dumps(doc).decode()


# -- reports -----------------------------------------------------------------------------------
def test_a_json_report_and_its_ledger_entries(api):
    consent = api.consent()
    r = api.query("reports", consent)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    report_id = r.headers["x-report-id"]
    doc = r.json()
    assert doc["header"]["report_id"] == report_id
    assert doc["header"]["viewer"] == "institution" and doc["header"]["institution"]["code"] == BANK
    assert doc["header"]["purpose"] == "loan_approval" and doc["header"]["lang"] == "zh"
    assert doc["identity"]["subject_ref"] == api.zhang
    assert [a["account_ref"] for a in doc["accounts"]] == ["CC-1"]  # its own account, in full
    (served,) = api.ledger("report.serve")
    details = orjson.loads(served.details)
    assert details["report_id"] == report_id and served.target == f"subject:{api.zhang}"
    assert details["institution"] == BANK and details["format"] == "json"
    assert served.actor.startswith(f"api:{BANK}/K")
    (authorised,) = api.ledger("query.authorise")
    assert orjson.loads(authorised.details)["query_id"] == report_id
    (inq,) = _api_inquiries(api)
    assert inq.kind.value == "hard"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_html_and_pdf_reports_in_both_languages(api, lang):
    consent = api.consent()
    titles = {
        "zh": ["个人信用报告", "查询记录", "张*"],
        "en": ["Personal credit report", "Inquiries"],
    }
    html = api.query("reports", consent, format="html", lang=lang)
    assert html.status_code == 200 and html.headers["content-type"] == "text/html; charset=utf-8"
    assert "<html" in html.text and all(t in html.text for t in titles[lang])
    pdf = api.query("reports", consent, format="pdf", lang=lang)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    report_id = pdf.headers["x-report-id"]
    assert pdf.headers["content-disposition"] == (
        f'attachment; filename="credit-report-{report_id}.pdf"'
    )
    text = _pdf_text(pdf.content)
    for title in titles[lang]:
        assert title in text
    assert report_id in text.replace("\n", "")
    for secret in (ZHANG_ID, ZHANG_NAME):
        assert secret not in text and secret not in html.text
    served = [orjson.loads(e.details) for e in api.ledger("report.serve")]
    assert [(d["format"], d["lang"]) for d in served] == [("html", lang), ("pdf", lang)]
    assert served[1]["report_id"] == report_id


def test_an_institution_sees_the_identity_masked_and_no_contacts(api):
    """Compared with what bureau staff see (credo.report.service, viewer operator)."""
    consent = api.consent(LI_ID, who="other")
    r = api.query("reports", consent, id_number=LI_ID, who="other")
    assert r.status_code == 200, r.text
    mine = r.json()
    with api.db() as s:
        staff = build_report(s, api.li, viewer="operator", actor="test", keyring=api.keyring)
    ident, staff_ident = mine["identity"], staff["identity"]
    assert ident["name"] == staff_ident["name"] == "李*"
    assert ident["id_number"] == staff_ident["id_number"] == LI_ID[:4] + "*" * 10 + LI_ID[-4:]
    assert ident["birth_date"] == staff_ident["birth_date"] == "1990-**-**"
    assert ident["gender"] is None
    # staff see the contact details masked; an institution does not see them at all
    assert staff_ident["contacts"] and ident["contacts"] == []
    # BANK_A's loan: staff see who reported it; BANK_B sees a bank, and the ref masked
    (staff_acc,), (acc,) = staff["accounts"], mine["accounts"]
    assert staff_acc["institution"]["code"] == BANK
    assert acc["institution"] == {"code": None, "name": None, "kind": "bank"}
    assert acc["account_ref"] != "LOAN-1" and acc["account_ref"] == staff_acc["account_ref"]
    text = r.text
    for secret in (LI_ID, LI_NAME, LI_PHONE, LI_PHONE_E164, LI_ADDRESS, BANK):
        assert secret not in text


def test_an_as_of_report_shows_the_file_as_it_was(api):
    consent = api.consent()
    today = api.query("reports", consent).json()
    then = api.query("reports", consent, as_of="2024-07-10").json()
    before = api.query("reports", consent, as_of="2023-01-10").json()
    assert (today["header"]["historical"], then["header"]["historical"]) == (False, True)
    assert then["header"]["as_of"] == "2024-07-10"
    today_date = utcnow().date().isoformat()
    # the API's inquiries of today are not in the past report; the furnished one is
    assert today_date in [q["inquired_on"] for q in today["inquiries"]]
    assert [(q["inquired_on"], q["purpose"]) for q in then["inquiries"]] == [
        ("2024-05-20", "loan_approval")
    ]
    assert [a["account_ref"] for a in then["accounts"]] == ["CC-1"]
    assert then["accounts"][0]["latest"]["period"] == "2024-06"
    # the card was opened on 2023-01-15: not there on 2023-01-10
    assert before["accounts"] == [] and before["inquiries"] == []
    # each one is an inquiry of its own, and a ledger entry with its as-of date
    assert len(_api_inquiries(api)) == 3
    assert [orjson.loads(e.details)["as_of"] for e in api.ledger("report.serve")] == [
        today_date, "2024-07-10", "2023-01-10",
    ]  # fmt: skip


def test_an_as_of_date_in_the_future_or_long_ago_is_refused_before_anything_is_written(api):
    consent = api.consent()
    tomorrow = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    for as_of in (tomorrow, "1899-12-31", "0001-01-01"):
        r = api.query("reports", consent, as_of=as_of)
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["errors"]] == ["body.as_of"]
    assert _inquiry_count(api) == 2  # the two furnished ones
    assert not api.ledger("query.authorise") and not api.ledger("report.serve")
    # the earliest date allowed: an empty file
    assert api.query("reports", consent, as_of="1900-01-01").json()["accounts"] == []


# -- refusals ------------------------------------------------------------------------------------
def test_the_consent_matrix(api):
    """Every way a consent can fail to allow a query: 403 with its reason, nothing written."""
    now = utcnow()
    other_inst = api.consent(who="other")
    loan = api.consent()
    score_only = api.consent(scope="score")
    report_only = api.consent(scope="report")
    revoked = api.consent()
    assert api.post(f"/v1/consents/{revoked}/revoke").status_code == 200
    future = api.consent(granted_at=(now + timedelta(days=1)).isoformat())
    expired = grant(api, api.zhang)
    with api.db() as s:
        s.execute(
            update(Consent).where(Consent.ref == expired)
            .values(granted_at=now - timedelta(days=40), expires_at=now - timedelta(days=10))
        )  # fmt: skip
    cases = [
        # (kind, consent, overrides, reason)
        ("reports", other_inst, {}, "no_consent"),
        ("scores", other_inst, {}, "no_consent"),
        ("reports", "C000000000000", {}, "no_consent"),
        ("reports", loan, {"purpose": "credit_card_approval"}, "other_purpose"),
        ("scores", loan, {"purpose": "post_loan_management"}, "other_purpose"),
        ("reports", score_only, {}, "scope"),
        ("scores", report_only, {}, "scope"),
        ("reports", revoked, {}, "revoked"),
        ("scores", revoked, {}, "revoked"),
        ("reports", expired, {}, "expired"),
        ("scores", expired, {}, "expired"),
        ("reports", future, {}, "not_yet_valid"),
    ]
    before = _inquiry_count(api)
    for kind, ref, overrides, reason in cases:
        r = api.query(kind, ref, **overrides)
        assert r.status_code == 403, (kind, reason, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["reason"] == reason, (kind, reason, body)
        assert body["type"] == "https://credo.dev/problems/forbidden" and body["title"]
        assert body["detail"] and body["status"] == 403
        assert ZHANG_ID not in r.text and LI_ID not in r.text
    # another institution's consent reads exactly like an unknown one
    unknown = "C" + other_inst[1:][::-1]
    a = api.query("reports", other_inst).json()
    b = api.query("reports", unknown).json()
    assert a["detail"].replace(other_inst, "X") == b["detail"].replace(unknown, "X")
    assert _inquiry_count(api) == before
    refused = [orjson.loads(e.details) for e in api.ledger("query.refuse")]
    assert [(d["kind"], d["reason"]) for d in refused[: len(cases)]] == [
        (k[:-1], reason) for k, _, _, reason in cases
    ]
    assert all(d["status"] == 403 for d in refused)
    # and the allowed ones still go through
    assert api.query("reports", loan).status_code == 200
    assert api.query("scores", score_only).status_code == 200


def test_an_unknown_subject_is_404_in_the_same_words_whoever_asks(api):
    consent = api.consent()
    # a valid number nobody furnished; 张三's number under other id types; and 李四, who has a
    # file here but not under this consent: a consent must not let anyone test who has a file
    asks = [("prc_id", STRANGER), ("passport", "E12345678"), ("other", ZHANG_ID),
            ("prc_id", LI_ID)]  # fmt: skip
    queries = []
    for id_type, number in asks:
        for kind in ("reports", "scores"):
            r = api.query(kind, consent, id_number=number, id_type=id_type)
            assert r.status_code == 404, r.text
            queries.append({k: v for k, v in r.json().items() if k != "instance"})
            assert number not in r.text
    assert all(b == queries[0] for b in queries)
    assert queries[0]["detail"] == NO_FILE_UNDER_CONSENT
    bodies = []
    for id_type, number in asks[:3]:
        r = api.post("/v1/consents", json={
            "id_type": id_type, "id_number": number, "purpose": "loan_approval",
            "expires_at": (utcnow() + timedelta(days=3)).isoformat(),
            "evidence_sha256": "ab" * 32,
        })  # fmt: skip
        assert r.status_code == 404
        bodies.append({k: v for k, v in r.json().items() if k != "instance"})
        assert number not in r.text
    assert all(b == bodies[0] for b in bodies)
    assert bodies[0]["detail"] == NO_FILE and bodies[0]["status"] == 404
    refused = [orjson.loads(e.details) for e in api.ledger("query.refuse")]
    assert {d["status"] for d in refused} == {404} and len(refused) == 8
    assert not _api_inquiries(api)
