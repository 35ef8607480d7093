"""/healthz, /readyz, /metrics and the OpenAPI document."""

from __future__ import annotations

import os
import re
import sqlite3

import psycopg
import pytest
from anyio import to_thread
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from credo import db
from credo.api import app as app_module
from credo.api import problems
from credo.api.app import create_app
from credo.config import Settings
from credo.db import make_engine
from furnishing.bureau import ZHANG_ID


def test_liveness_and_readiness(api):
    r = api.get("/healthz", None)
    assert r.status_code == 200 and r.json() == {"status": "ok", "checks": {}}
    r = api.get("/readyz", None)
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "checks": {"database": "ok", "schema": "ok"}}


def test_not_ready_on_an_unmigrated_or_unreachable_database(tmp_path, keyring):
    empty = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    client = TestClient(create_app(settings=Settings(), engine=empty, keyring=keyring))
    r = client.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unavailable" and body["checks"]["database"] == "ok"
    assert body["checks"]["schema"].startswith("at None, expected ")
    assert client.get("/healthz").status_code == 200  # alive all the same
    empty.dispose()
    # nothing listens on port 1: the connection is refused at once
    nowhere = make_engine("postgresql+psycopg://credo@127.0.0.1:1/credo")
    client = TestClient(create_app(settings=Settings(), engine=nowhere, keyring=keyring))
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"] == {"database": "unreachable (OperationalError)"}
    assert "Traceback" not in r.text and "127.0.0.1" not in r.text


def _samples(text: str) -> list:
    return [s for fam in text_string_to_metric_families(text) for s in fam.samples]


def test_metrics_count_requests_by_route_template_never_the_raw_path(api):
    consent = api.consent()
    api.get(f"/v1/consents/{consent}")
    api.get(f"/v1/consents/{consent.lower()}")
    api.get(f"/v1/consents/{ZHANG_ID}")  # 422: not a consent ref
    api.get(f"/v1/no/such/{ZHANG_ID}")
    api.query("reports", consent)
    api.query("scores", "C000000000000")
    api.client.request(f"X{ZHANG_ID}", "/v1/inquiries", headers=api.auth())  # 405
    r = api.get("/metrics", None)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=")
    text = r.text
    assert consent not in text and consent.lower() not in text and ZHANG_ID not in text
    requests = {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for s in _samples(text)
        if s.name == "credo_http_requests_total"
    }
    assert requests[("GET", "/v1/consents/{ref}", "200")] == 2
    assert requests[("GET", "/v1/consents/{ref}", "422")] == 1
    assert requests[("GET", "(unmatched)", "404")] == 1
    assert requests[("POST", "/v1/consents", "201")] == 1
    assert requests[("POST", "/v1/reports", "200")] == 1
    assert requests[("POST", "/v1/scores", "403")] == 1
    # a method is the client's word too: those it does not know are counted as "other"
    assert requests[("other", "/v1/inquiries", "405")] == 1
    assert {m for m, _, _ in requests} == {"GET", "POST", "other"}
    routes = {s.labels["route"] for s in _samples(text) if "route" in s.labels}
    assert all(r == "(unmatched)" or r.startswith("/") for r in routes)
    assert all(re.fullmatch(r"[a-z0-9/{}_()-]+", r) for r in routes), routes
    latency = [
        s
        for s in _samples(text)
        if s.name == "credo_http_request_duration_seconds_count"
        and s.labels["route"] == "/v1/reports"
    ]
    assert latency and latency[0].value == 1
    queries = {
        (s.labels["kind"], s.labels["outcome"]): s.value
        for s in _samples(text)
        if s.name == "credo_queries_total"
    }
    assert queries == {("report", "served"): 1, ("score", "refused_403"): 1}


def test_furnished_records_are_counted(api, tmp_path):
    from furnishing.bureau import inquiry, write_jsonl

    path = write_jsonl(tmp_path / "b.jsonl", [inquiry(), inquiry(ZHANG_ID[:-1] + "0")])
    r = api.post("/v1/furnishing/batches", "furnisher", content=path.read_bytes(),
                 headers={"content-type": "application/x-ndjson"})  # fmt: skip
    assert r.status_code == 201, r.text
    furnished = {
        s.labels["outcome"]: s.value
        for s in _samples(api.get("/metrics", None).text)
        if s.name == "credo_furnished_records_total"
    }
    assert furnished == {"accepted": r.json()["accepted"], "rejected": r.json()["rejected"]}
    assert furnished["rejected"] == 1


#: institution routes every key may call, whatever its roles (nothing to refuse with 403)
ROLELESS = {"/v1/notifications"}


def test_the_openapi_document_describes_problems_not_framework_errors(api):
    r = api.get("/openapi.json", None)
    assert r.status_code == 200
    doc = r.json()
    schemas = doc["components"]["schemas"]
    assert "Problem" in schemas and "HTTPValidationError" not in schemas
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    paths = doc["paths"]
    assert set(paths) >= {
        "/v1/scores", "/v1/reports", "/v1/consents", "/v1/consents/{ref}",
        "/v1/consents/{ref}/revoke", "/v1/inquiries", "/v1/furnishing/batches",
        "/v1/furnishing/batches/{ref}", "/healthz", "/readyz", "/metrics",
    }  # fmt: skip
    for path, ops in paths.items():
        for method, op in ops.items():
            for status, resp in op["responses"].items():
                if status.startswith(("4", "5")) and path.startswith("/v1/"):
                    assert resp["content"]["application/problem+json"]["schema"] == problem_ref, (
                        method, path, status,
                    )  # fmt: skip
            if path.startswith("/v1/"):
                need = {"401", "429"}
                # only an operation that takes input can find it invalid
                if op.get("parameters") or op.get("requestBody"):
                    need.add("422")
                # /v1/me has no roles, nor has an institution's own notice list: any key reads it
                if not path.startswith("/v1/me/") and path not in ROLELESS:
                    need.add("403")
                assert need <= set(op["responses"]), (method, path)
                assert op.get("security"), (method, path)
    # identifiers travel in bodies only: no path or query parameter is one
    for ops in paths.values():
        for op in ops.values():
            for p in op.get("parameters", []):
                assert p["name"] not in ("id_number", "id_type")
    assert doc["components"]["securitySchemes"]


@pytest.mark.parametrize("settings", [Settings(api_concurrency=3)])
def test_routes_run_as_many_at_once_as_the_setting_allows(api, settings):
    """The routes' thread pool is as large as `api_concurrency` (the pool of connections on
    PostgreSQL is sized by the same setting: more threads than connections would wait, more
    connections than threads were opened and closed on every burst)."""

    async def tokens() -> float:
        return to_thread.current_default_thread_limiter().total_tokens

    assert api.client.portal.call(tokens) == 3


def test_the_servers_postgresql_pool_keeps_a_connection_per_concurrent_request():
    url = os.environ.get("CREDO_TEST_DATABASE_URL")
    if not url:
        pytest.skip("CREDO_TEST_DATABASE_URL not set")
    engine = app_module._engine(Settings(database_url=url, api_concurrency=7))
    try:
        assert engine.dialect.name == "postgresql"
        assert (engine.pool.size(), engine.pool._max_overflow) == (7, 4)
    finally:
        engine.dispose()


def test_a_running_app_keeps_its_startup_objects_out_of_the_collectors_passes(
    engine, keyring, settings
):
    """While an app runs (its lifespan), what existed at startup is frozen out of the cyclic
    collector's passes, so a full pass under load does not walk the whole process; the
    freeze is lifted when the last app of the process stops."""
    import gc

    def app():
        return create_app(settings=settings, engine=engine, keyring=keyring, seal_interval=None)

    assert gc.get_freeze_count() == 0
    with TestClient(app()) as first:
        assert gc.get_freeze_count() > 100_000
        with TestClient(app()) as second:
            assert second.get("/healthz").status_code == 200
        assert gc.get_freeze_count() > 100_000  # the first app still runs
        assert first.get("/healthz").status_code == 200
    assert gc.get_freeze_count() == 0


def _terminate_pooled_backends(api) -> int:
    """End every server backend of the app's pool behind its back (a database restart, as a
    pooled connection sees it); how many were ended."""
    admin = make_engine(api.engine.url.render_as_string(hide_password=False))
    try:
        with admin.connect() as conn:
            ended = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar()
            conn.commit()
    finally:
        admin.dispose()
    return ended


@pytest.mark.parametrize("engine", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)  # fmt: skip
@pytest.mark.parametrize("first", ["raw", "orm"])
def test_a_lost_database_connection_answers_503_and_the_next_request_succeeds(
    api, monkeypatch, first
):
    consent = api.consent()
    assert api.query("scores", consent).status_code == 200
    # pooled connections count as just used: none is pinged at checkout, so a request meets
    # the dead connection, as one does within a second of a database restart
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    assert _terminate_pooled_backends(api) >= 1
    if first == "raw":  # the first statement runs on psycopg directly (credo.dbraw)
        r = api.query("scores", consent)
    else:  # through SQLAlchemy's session, which invalidates the connection itself
        r = api.post(f"/v1/consents/{consent}/revoke")
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "1"
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"].endswith("/database-unavailable") and body["instance"]
    assert "Traceback" not in r.text and "terminat" not in r.text
    # the pool was renewed: the same request now succeeds
    r = api.query("scores", consent)
    assert r.status_code == 200, r.text
    assert len(api.ledger("query.authorise")) == 2


def _sqlite_error(name: str) -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError(name.lower())
    exc.sqlite_errorname = name
    return exc


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (psycopg.OperationalError("server closed the connection unexpectedly"), True),
        (psycopg.errors.SerializationFailure(), True),
        (psycopg.errors.DeadlockDetected(), True),
        (psycopg.errors.QueryCanceled(), True),
        (psycopg.errors.AdminShutdown(), True),
        (psycopg.errors.TooManyConnections(), True),
        (psycopg.errors.ProgramLimitExceeded(), False),  # an OperationalError, but lasting
        (psycopg.errors.UndefinedTable(), False),
        (psycopg.errors.UniqueViolation(), False),
        (sa_exc.OperationalError("SELECT 1", {}, psycopg.errors.QueryCanceled()), True),
        (sa_exc.OperationalError("SELECT 1", {}, psycopg.errors.ProgramLimitExceeded()), False),
        (sa_exc.OperationalError("x", {}, Exception(), connection_invalidated=True), True),
        (sa_exc.OperationalError("x", {}, _sqlite_error("SQLITE_BUSY")), True),
        (sa_exc.OperationalError("x", {}, _sqlite_error("SQLITE_ERROR")), False),  # no such table
        (ValueError("not a database error"), False),
    ],
)
def test_only_transient_database_errors_are_answered_503(exc, transient):
    assert problems.transient_database_error(exc) is transient


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # the table is dropped
def test_a_lasting_database_error_is_a_500_with_its_trace_logged(api, caplog):
    consent = api.consent()
    with api.engine.begin() as conn:  # a bug's effect: a table the code needs is not there
        conn.execute(text("DROP TABLE subject_score"))
    api.client.raise_server_exceptions = False
    r = api.query("scores", consent)
    assert r.status_code == 500, r.text  # SQLite's "no such table" is an OperationalError
    assert r.json()["type"].endswith("/internal")
    assert "subject_score" not in r.text and "Traceback" not in r.text
    assert any(rec.exc_info for rec in caplog.records if "failed" in rec.getMessage())
