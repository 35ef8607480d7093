"""POST /v1/furnishing/batches (JSON Lines or CSV as the raw body) and GET .../batches/{ref}."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from credo.access import keys
from credo.api.app import create_app
from credo.config import Settings
from credo.scoring.models import SubjectScore
from furnishing.bureau import (
    OTHER_BANK,
    WANG_ID,
    ZHANG_ID,
    account,
    inquiry,
    person,
    status,
    table_counts,
    write_csv,
    write_jsonl,
)

NDJSON = {"content-type": "application/x-ndjson"}
WANG = "王五"


def _rows() -> list[dict]:
    """王五 with a card; a status of 张三's card; one line with a bad identity number."""
    return [
        person(WANG_ID, WANG, date(1978, 1, 30)),
        account("CC-9", WANG_ID, opened_on="2024-02-01"),
        status("CC-9", "2024-06", balance="800.00"),
        status("CC-1", "2024-07", balance="1600.00"),
        inquiry(ZHANG_ID[:-1] + "0", "2024-07-02"),  # fails the checksum: quarantined
    ]


def _upload(api, body: bytes, headers=NDJSON, who="furnisher", **params):
    return api.post("/v1/furnishing/batches", who, content=body, headers=headers, params=params)


def test_furnish_a_json_lines_file_and_read_the_batch_back(api, tmp_path):
    path = write_jsonl(tmp_path / "b.jsonl", _rows(), as_of=date(2024, 7, 31))
    r = _upload(api, path.read_bytes())
    assert r.status_code == 201, r.text
    out = r.json()
    assert (out["institution"], out["file_format"], out["as_of"]) == (
        "BANK_A",
        "jsonl",
        "2024-07-31",
    )
    assert (out["lines"], out["accepted"], out["rejected"]) == (5, 4, 1)
    # the bad line is reported by its line and reason, the number masked
    assert out["errors"] and ZHANG_ID[:-1] not in r.text and WANG_ID not in r.text
    # the subjects it touched are re-scored by the champion (王五 and 张三; not the bad line)
    assert out["rescored"] == {"scored": 2, "models": [api.champion]}
    with api.db() as s:
        assert s.query(SubjectScore).filter_by(trigger="furnishing").count() == 2
    got = api.get(f"/v1/furnishing/batches/{out['batch_id']}", "furnisher")
    assert got.status_code == 200, got.text
    batch = got.json()
    for k in ("batch_id", "institution", "file_format", "file_sha256", "as_of", "lines",
              "accepted", "corrections", "duplicates", "rejected", "flagged"):  # fmt: skip
        assert batch[k] == out[k], k
    assert batch["status"] and batch["received_at"] and batch["finished_at"]
    # the new subject can now be consented to and queried
    consent = api.consent(WANG_ID)
    assert api.query("scores", consent, id_number=WANG_ID).json()["scorable"] is True
    (entry,) = [e for e in api.ledger("furnish.batch") if e.actor != "test"]
    assert (
        entry.actor.startswith("api:BANK_A/K") and out["batch_id"] in entry.target + entry.details
    )


def test_furnish_a_csv_file_with_the_batch_date_as_a_parameter(api, tmp_path):
    path = write_csv(tmp_path / "b.csv", _rows()[:3])
    r = _upload(api, path.read_bytes(), {"content-type": "text/csv; charset=utf-8"},
                as_of="2024-07-31")  # fmt: skip
    assert r.status_code == 201, r.text
    out = r.json()
    assert (out["file_format"], out["as_of"], out["accepted"], out["rejected"]) == (
        "csv", "2024-07-31", 3, 0,
    )  # fmt: skip


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/plain", "multipart/form-data; boundary=x", None]
)
def test_other_media_types_are_415(api, tmp_path, content_type):
    body = write_jsonl(tmp_path / "b.jsonl", _rows()).read_bytes()
    headers = {"content-type": content_type} if content_type else {}
    before = _counts(api)
    r = api.post("/v1/furnishing/batches", "furnisher", content=body, headers=headers)
    assert r.status_code == 415, r.text
    assert r.headers["content-type"] == "application/problem+json"
    p = r.json()
    assert p["title"] == "Unsupported media type" and p["status"] == 415
    assert "application/x-ndjson" in p["detail"]
    assert _counts(api) == before


def _counts(api) -> dict[str, int]:
    with api.db() as s:
        return table_counts(s)


def test_a_file_that_is_not_a_furnishing_file_is_422_and_writes_nothing(api, tmp_path):
    before = _counts(api)
    cases = [
        (b"hello\nworld\n", NDJSON),
        (b'{"record_type": "subject"}\n', NDJSON),  # no header line
        (b"a,b,c\n1,2,3\n", {"content-type": "text/csv"}),
        (b"record_type,id_type\rx\n", {"content-type": "text/csv"}),  # was a 500 (csv.Error)
        # a header naming another institution: BANK_A cannot furnish for BANK_B
        (write_jsonl(tmp_path / "b.jsonl", _rows(), institution=OTHER_BANK).read_bytes(), NDJSON),
        (b"", NDJSON),
    ]
    for body, headers in cases:
        r = _upload(api, body, headers)
        assert r.status_code == 422, (body[:40], r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"]
    assert _counts(api) == before


def test_furnishing_needs_the_furnisher_role_and_sees_only_its_own_batches(api, tmp_path):
    body = write_jsonl(tmp_path / "b.jsonl", _rows()).read_bytes()
    r = _upload(api, body, who="bank")
    assert r.status_code == 403 and r.json()["reason"] == "role"
    assert _upload(api, body, who=None).status_code == 401
    ref = _upload(api, body).json()["batch_id"]
    assert api.get(f"/v1/furnishing/batches/{ref}", "bank").status_code == 403
    # a furnisher of BANK_B: BANK_A's batch answers like one that does not exist
    with api.db() as s:
        _, token = keys.create_key(
            s, institution_code=OTHER_BANK, roles=["furnisher"], actor="test"
        )
    api.tokens["b_furnisher"] = token
    theirs = api.get(f"/v1/furnishing/batches/{ref}", "b_furnisher")
    unknown = api.get(f"/v1/furnishing/batches/{ref[::-1]}", "b_furnisher")
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json()["detail"].replace(ref, "X") == unknown.json()["detail"].replace(
        ref[::-1], "X"
    )
    # something that is not a batch id at all
    r = api.get(f"/v1/furnishing/batches/{ZHANG_ID}", "furnisher")
    assert r.status_code == 422 and ZHANG_ID not in r.text
    # the querier role cannot furnish either way round: a furnisher key cannot query
    assert api.query("reports", "C000000000000", who="furnisher").json()["reason"] == "role"


def test_an_upload_over_its_limit_is_413_declared_or_streamed(engine, api, keyring, tmp_path):
    small = Settings(api_max_upload_bytes=2048)
    client = TestClient(create_app(settings=small, engine=engine, keyring=keyring))
    before = _counts(api)
    body = write_jsonl(tmp_path / "b.jsonl", _rows() * 5).read_bytes()
    assert len(body) > 2048
    headers = {**api.auth("furnisher"), **NDJSON}
    r = client.post("/v1/furnishing/batches", content=body, headers=headers)
    assert r.status_code == 413, r.text
    assert r.json()["type"] == "https://credo.dev/problems/too-large"

    def chunks():
        for i in range(0, len(body), 512):
            yield body[i : i + 512]

    r = client.post("/v1/furnishing/batches", content=chunks(), headers=headers)
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "https://credo.dev/problems/too-large"
    assert r.json()["instance"] == r.headers["x-request-id"]
    assert _counts(api) == before
    # a file under the limit goes through
    ok = write_jsonl(tmp_path / "ok.jsonl", _rows()[:1]).read_bytes()
    assert client.post("/v1/furnishing/batches", content=ok, headers=headers).status_code == 201


def test_a_batch_stands_when_re_scoring_fails(api, tmp_path, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("scorer down")

    monkeypatch.setattr("credo.scoring.service.rescore_furnished", broken)
    path = write_jsonl(tmp_path / "b.jsonl", _rows()[:3])
    r = _upload(api, path.read_bytes())
    assert r.status_code == 201, r.text
    assert r.json()["accepted"] == 3 and r.json()["rescored"] is None
    assert api.get(f"/v1/furnishing/batches/{r.json()['batch_id']}", "furnisher").status_code == 200
    assert any("re-scoring" in rec.getMessage() for rec in caplog.records)
