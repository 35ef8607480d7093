"""Keys, roles, bad input, size and rate limits, problem documents, and no leaks anywhere."""

from __future__ import annotations

import logging
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from credo.access import keys
from credo.access.models import ApiKey
from credo.api.app import create_app
from credo.config import Settings
from credo.db import utcnow
from credo.inquiry.models import Inquiry
from furnishing.bureau import BANK, LI_ID, ZHANG_ID

from .conftest import EVIDENCE, IDS, STRANGER

PROBLEM_KEYS = {"type", "title", "status", "detail"}
#: 张三's number with a wrong check digit, and cut short: malformed, but still personal
BAD_IDS = [ZHANG_ID[:-1] + ("0" if ZHANG_ID[-1] != "0" else "1"), ZHANG_ID[:-2]]


def assert_problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert set(body) >= PROBLEM_KEYS and body["status"] == status
    assert body["type"].startswith("https://credo.dev/problems/")
    assert body["title"] and body["detail"]
    assert body.get("instance") == r.headers["x-request-id"]
    for word in ("Traceback", 'File "', "sqlalchemy", "credo.api", "credo.access", "Error:"):
        assert word not in r.text
    return body


def _query_body(**kw) -> dict:
    return {
        "id_type": "prc_id",
        "id_number": ZHANG_ID,
        "purpose": "loan_approval",
        "consent_ref": "C000000000000",
        **kw,
    }


# -- authentication ----------------------------------------------------------------------------
def test_a_missing_wrong_revoked_or_expired_key_is_401(api):
    good = api.tokens["bank"]
    key_id = good.split("_")[1]
    with api.db() as s:
        key, expiring = keys.create_key(
            s, institution_code=BANK, roles=["querier"], actor="test",
            expires_at=utcnow() + timedelta(days=1),
        )  # fmt: skip
        s.flush()
        s.execute(update(ApiKey).where(ApiKey.id == key.id)
                  .values(expires_at=utcnow() - timedelta(seconds=1)))  # fmt: skip
    cases = [
        ({}, "send the API key"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "send the API key"),
        ({"Authorization": "Bearer"}, "send the API key"),
        ({"Authorization": "Bearer not-a-key"}, "API key not recognised"),
        ({"Authorization": f"Bearer {good[:-4]}AAAA"}, "API key not recognised"),
        ({"Authorization": f"Bearer {good.replace(key_id, 'K' + 'A' * 11)}"}, "not recognised"),
        ({"Authorization": f"Bearer {api.tokens['revoked']}"}, "was revoked"),
        ({"Authorization": f"Bearer {expiring}"}, "expired"),
    ]
    for headers, words in cases:
        for r in (
            api.client.post("/v1/reports", json=_query_body(), headers=headers),
            api.client.get("/v1/inquiries", headers=headers),
        ):
            body = assert_problem(r, 401)
            assert words in body["detail"], (headers, body)
            assert r.headers["www-authenticate"] == 'Bearer realm="credo"'
            secret = headers.get("Authorization", "").split("_")[-1]
            assert len(secret) < 8 or secret not in r.text
    # even a malformed body is refused for the key first
    r = api.client.post("/v1/scores", json={"nonsense": 1})
    assert_problem(r, 401)


def test_a_key_with_both_roles_may_query_and_furnish(api):
    with api.db() as s:
        _, token = keys.create_key(
            s, institution_code=BANK, roles=["querier", "furnisher"], actor="test"
        )
    api.tokens["both"] = token
    assert api.get("/v1/inquiries", "both").status_code == 200
    r = api.post("/v1/furnishing/batches", "both", content=b"",
                 headers={"content-type": "text/csv"})  # fmt: skip
    assert r.status_code == 422  # empty, but past the role check


def test_a_role_the_key_does_not_have_is_403(api):
    for url in ("/v1/scores", "/v1/reports"):
        body = assert_problem(api.post(url, "furnisher", json=_query_body()), 403)
        assert body["reason"] == "role" and "does not have the querier role" in body["detail"]
    body = assert_problem(
        api.post("/v1/furnishing/batches", content=b"x", headers={"content-type": "text/csv"}), 403
    )
    assert body["reason"] == "role"
    refused = api.ledger("query.refuse")
    assert len(refused) == 2 and all('"reason":"role"' in e.details for e in refused)


# -- bad input -------------------------------------------------------------------------------
def test_a_malformed_query_is_422_naming_the_field_without_echoing_the_value(api):
    consent = api.consent()
    cases = [
        # (body, fields named)
        ({**_query_body(consent_ref=consent), "consent_ref": None}, ["body.consent_ref"]),
        ({k: v for k, v in _query_body(consent_ref=consent).items() if k != "purpose"},
         ["body.purpose"]),
        (_query_body(consent_ref=consent, id_number=BAD_IDS[0]), ["body.id_number"]),
        (_query_body(consent_ref=consent, id_number=BAD_IDS[1]), ["body.id_number"]),
        (_query_body(consent_ref=consent, id_number=int(ZHANG_ID[:-1])), ["body.id_number"]),
        (_query_body(consent_ref=ZHANG_ID), ["body.consent_ref"]),
        (_query_body(consent_ref=consent, purpose=ZHANG_ID), ["body.purpose"]),
        (_query_body(consent_ref=consent, id_type=ZHANG_ID), ["body.id_type"]),
        (_query_body(consent_ref=consent, purpose="self_query"), ["body.purpose"]),
        ({**_query_body(consent_ref=consent), "name": "张三"}, ["body.name"]),
        ({**_query_body(consent_ref=consent), ZHANG_ID: "x"},
         [f"body.{ZHANG_ID[:4]}{'*' * 10}{ZHANG_ID[-4:]}"]),
        ([_query_body(consent_ref=consent)], ["body"]),
    ]  # fmt: skip
    for body, fields in cases:
        r = api.post("/v1/reports", json=body)
        problem = assert_problem(r, 422)
        assert [e["field"] for e in problem["errors"]] == fields, (body, problem)
        assert all(e["message"] for e in problem["errors"])
        if fields[0] == "body.id_number":
            assert "**" not in r.text  # not even masked
        for secret in (ZHANG_ID, ZHANG_ID[:-1], *BAD_IDS, "张三"):
            assert secret not in r.text, (body, r.text)
    for extra in ({"format": "docx"}, {"lang": "fr"}, {"as_of": "2024-13-01"}):
        r = api.post("/v1/reports", json=_query_body(consent_ref=consent, **extra))
        assert [e["field"] for e in assert_problem(r, 422)["errors"]] == [
            f"body.{next(iter(extra))}"
        ]
    # not JSON at all, or not sent as JSON
    r = api.post("/v1/scores", content=b'{"id_type": "prc_id", "id_number": "110',
                 headers={"content-type": "application/json"})  # fmt: skip
    assert assert_problem(r, 422)["errors"][0]["message"] == "JSON decode error"
    assert "110" not in r.json()["detail"]
    r = api.post("/v1/scores", content=b"id_number=" + ZHANG_ID.encode(),
                 headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert_problem(r, 422)
    assert ZHANG_ID not in r.text
    with api.db() as s:
        assert s.scalar(select(func.count()).select_from(Inquiry)) == 2  # the furnished ones


def test_unknown_routes_and_methods_are_problems_too(api):
    body = assert_problem(api.get("/v1/nothing-here"), 404)
    assert body["title"] == "Not found"
    body = assert_problem(api.client.delete("/v1/consents", headers=api.auth()), 405)
    assert body["title"] == "Method not allowed"


# -- size limits -----------------------------------------------------------------------------
def test_a_body_over_the_limit_is_413_declared_or_streamed(api):
    consent = api.consent()
    limit = api.settings.api_max_body_bytes
    padded = _query_body(consent_ref=consent, id_number=ZHANG_ID + " " * limit)
    import json

    raw = json.dumps(padded).encode()
    r = api.post("/v1/reports", content=raw, headers={"content-type": "application/json"})
    body = assert_problem(r, 413)
    assert body["type"] == "https://credo.dev/problems/too-large"
    assert f"{limit:,} bytes" in body["detail"]

    def chunks():  # no Content-Length: sent chunked
        for i in range(0, len(raw), 4096):
            yield raw[i : i + 4096]

    r = api.post("/v1/reports", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in r.request.headers
    body = assert_problem(r, 413)
    assert body["type"] == "https://credo.dev/problems/too-large"
    # nothing was queried; a body under the limit, chunked too, is served
    assert not api.ledger("query.authorise")
    ok = json.dumps(_query_body(consent_ref=consent)).encode()
    r = api.post("/v1/reports", content=iter([ok[:20], ok[20:]]),
                 headers={"content-type": "application/json"})  # fmt: skip
    assert r.status_code == 200, r.text


# -- rate limits -------------------------------------------------------------------------------
def test_a_key_over_its_rate_is_429_with_retry_after(api):
    tight = Settings(api_rate_burst=2, api_rate_per_second=0.01)
    client = TestClient(create_app(settings=tight, engine=api.engine, keyring=api.keyring))
    bank, other = api.auth("bank"), api.auth("other")
    assert [client.get("/v1/inquiries", headers=bank).status_code for _ in range(2)] == [200, 200]
    r = client.get("/v1/inquiries", headers=bank)
    body = assert_problem(r, 429)
    assert body["type"] == "https://credo.dev/problems/rate-limited"
    # one token at 0.01 per second: 100 s, less what refilled while the test ran
    assert 90 <= int(r.headers["retry-after"]) <= 100
    # any route, same bucket; another key has its own
    assert client.post("/v1/reports", headers=bank, json=_query_body()).status_code == 429
    assert client.get("/v1/inquiries", headers=other).status_code == 200
    # health checks and metrics are not behind a key
    assert client.get("/healthz").status_code == 200


# -- errors nobody expected ------------------------------------------------------------------
def test_an_unexpected_error_is_a_bare_500_with_the_request_id(api, monkeypatch, caplog):
    consent = api.consent()

    def boom(*args, **kwargs):
        raise RuntimeError("renderer exploded")

    monkeypatch.setattr("credo.api.routes.queries.render", boom)
    with caplog.at_level(logging.ERROR, logger="credo.api"):
        r = api.query("reports", consent)
    body = assert_problem(r, 500)
    assert "renderer exploded" not in r.text and "RuntimeError" not in r.text
    (record,) = [rec for rec in caplog.records if rec.name.startswith("credo.api")]
    assert body["instance"] in record.getMessage() and record.exc_info is not None
    # the query was rolled back with the answer: no inquiry, no report served
    assert not api.ledger("query.authorise") and not api.ledger("report.serve")
    metrics = api.get("/metrics", None).text
    assert (
        'credo_http_requests_total{method="POST",route="/v1/reports",status="500"} 1.0' in metrics
    )


# -- no identifier in any answer or log ------------------------------------------------------
def test_no_identifier_reaches_a_response_or_a_log(api, caplog, tmp_path):
    from furnishing.bureau import inquiry, write_jsonl

    caplog.set_level(logging.DEBUG)
    consent = api.consent()
    answers = []

    def send(r):
        answers.append(r)
        return r

    # allowed queries, in every format
    for fmt in ("json", "html"):
        send(api.query("reports", consent, format=fmt))
    send(api.query("scores", consent))
    # refused and bad ones, identifiers everywhere they do not belong
    send(api.query("reports", consent, id_number=LI_ID))
    send(api.query("reports", consent, id_number=STRANGER))
    send(api.query("scores", api.consent(who="other"), id_number=ZHANG_ID))
    for bad in BAD_IDS:
        send(api.query("reports", consent, id_number=bad))
        send(api.post("/v1/consents", json={"id_type": "prc_id", "id_number": bad}))
    send(api.query("reports", ZHANG_ID))
    send(api.query("reports", consent, purpose=ZHANG_ID))
    send(api.query("reports", consent, id_type=LI_ID))
    send(api.query("reports", consent, as_of=ZHANG_ID))
    send(api.post("/v1/reports", json={**_query_body(consent_ref=consent), LI_ID: 1}))
    send(api.post("/v1/consents", json={
        "id_type": "prc_id", "id_number": STRANGER, "purpose": "loan_approval",
        "expires_at": (utcnow() + timedelta(days=1)).isoformat(), "evidence_sha256": EVIDENCE,
    }))  # fmt: skip
    send(api.get("/v1/consents", params={"purpose": ZHANG_ID, "cursor": LI_ID}))
    send(api.get(f"/v1/consents/{ZHANG_ID}"))
    send(api.get(f"/v1/furnishing/batches/{ZHANG_ID}", "furnisher"))
    send(api.post("/v1/furnishing/batches", "furnisher", content=b"x",
                  headers={"content-type": f"text/{ZHANG_ID}"}))  # fmt: skip
    path = write_jsonl(tmp_path / "b.jsonl", [inquiry(BAD_IDS[0]), inquiry(STRANGER)])
    send(api.post("/v1/furnishing/batches", "furnisher", content=path.read_bytes(),
                  headers={"content-type": "application/x-ndjson"}))  # fmt: skip
    send(api.client.get("/v1/inquiries", headers={"Authorization": f"Bearer {ZHANG_ID}"}))
    statuses = sorted({r.status_code for r in answers})
    assert statuses == [200, 201, 401, 403, 404, 415, 422], statuses
    secrets = [*IDS, *BAD_IDS, ZHANG_ID[:-1]]
    for r in answers:
        for secret in secrets:
            assert secret not in r.text, (r.request.url, r.text)
            assert all(secret not in v for v in r.headers.values())
    # the server's logs: everything but the test client's own request lines
    server = [rec for rec in caplog.records if not rec.name.startswith(("httpx", "httpcore"))]
    assert any(rec.name == "credo.access.flows" for rec in server)
    for rec in server:
        text = logging.Formatter().format(rec)  # with the trace, if any
        for secret in secrets:
            assert secret not in text, (rec.name, text)


def test_a_key_revoked_while_the_server_runs_is_refused_within_a_second(api):
    """The server keeps a checked key for at most `api_key_cache_seconds` (1 s): after that a
    revocation made elsewhere (the CLI) is refused."""
    cache = api.client.app.state.ctx.keys
    assert 0 < cache.ttl <= 1.0
    moment = [1000.0]
    cache._clock = lambda: moment[0]
    with api.db() as s:
        key, token = keys.create_key(s, institution_code=BANK, roles=["querier"], actor="test")
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/v1/inquiries", headers=headers).status_code == 200
    with api.db() as s:
        keys.revoke_key(s, key_id=key.key_id, actor="test")
    moment[0] += cache.ttl
    r = api.client.get("/v1/inquiries", headers=headers)
    assert "was revoked" in assert_problem(r, 401)["detail"]
