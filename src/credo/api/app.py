"""The institution API: one FastAPI app, built by `create_app`.

    credo serve                       # uvicorn, 127.0.0.1:8000
    uvicorn --factory credo.api.app:create_app

Layers, outermost first: request id + metrics (`Instrument`), body size limit (`BodyLimit`),
then the routes, which authenticate the key (`deps.principal`, with its rate limit) and call the
same domain services the CLI calls. Errors of every kind leave as problem+json (`problems`).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, text
from sqlalchemy.orm import sessionmaker

from credo.access.keys import KeyCache
from credo.api import problems
from credo.api.deps import ApiContext, Context
from credo.api.limits import BodyLimit, RateLimiter
from credo.api.metrics import Instrument, Metrics
from credo.api.routes import (
    disputes,
    furnishing,
    me,
    me_controls,
    notifications,
    queries,
    records,
    repair,
)
from credo.api.schemas import Health
from credo.audit import service as audit
from credo.audit.sealer import DEFAULT_INTERVAL, Sealer
from credo.config import Settings, get_settings
from credo.db import get_engine, make_engine
from credo.migrate import current_revision, head_revision
from credo.security import get_keyring
from credo.security.keys import KeyRing

log = logging.getLogger(__name__)

DESCRIPTION = """\
Credit reports and scores for member institutions, only with the subject's consent.

* Authenticate with `Authorization: Bearer <API key>` (`credo key create`).
* Personal identifiers go in request bodies only, never in URLs.
* Every report or score query needs a consent (`POST /v1/consents`) of the subject to your
  institution for the purpose you give; each allowed query writes an inquiry the subject sees.
* Errors are RFC 9457 problem documents (`application/problem+json`).
"""


#: apps of this process whose lifespan is running; the freeze is the process's, so only the
#: last one to stop lifts it
_running_apps = [0]


def create_app(
    *,
    settings: Settings | None = None,
    engine: Engine | None = None,
    keyring: KeyRing | None = None,
    seal_interval: float | None = DEFAULT_INTERVAL,
) -> FastAPI:
    """The API app; defaults come from the ``CREDO_*`` configuration.

    The app writes its audit-ledger entries unsealed; while it runs (its lifespan), a
    background `Sealer` seals them every `seal_interval` seconds (None: no thread, for tests
    that seal themselves).
    """
    settings = settings or get_settings()
    engine = engine or _engine(settings)
    keyring = keyring or get_keyring()
    ctx = ApiContext(
        engine=engine,
        # every request's ledger entries go in unsealed: no request waits for the ledger lock
        sessions=sessionmaker(bind=engine, expire_on_commit=False, info={audit.UNSEALED: True}),
        keyring=keyring,
        settings=settings,
        limiter=RateLimiter(settings.api_rate_per_second, settings.api_rate_burst),
        metrics=Metrics(),
        keys=KeyCache(settings.api_key_cache_seconds),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # the routes run in the thread pool: as many at once as there are pooled connections
        to_thread.current_default_thread_limiter().total_tokens = settings.api_concurrency
        sealer = None
        if seal_interval is not None:
            sealer = Sealer(ctx.sessions, keyring, interval=seal_interval,
                            checkpoint_every=settings.audit_checkpoint_every).start()  # fmt: skip
        # What exists now (modules, the app, its routes and models: ~330,000 objects) lives as
        # long as the server, and the cyclic collector's full pass walked all of it every time
        # it ran under load: 150-210 ms with the whole process stalled, the p99 of a loaded
        # server (one worker at 110 scores/s: p99 229 -> 51 ms). Frozen, a full pass walks
        # only what requests made since. Reference counting frees frozen objects as before.
        _running_apps[0] += 1
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if sealer is not None:
                sealer.stop()
            _running_apps[0] -= 1
            if not _running_apps[0]:  # the last app of the process (tests run several)
                gc.unfreeze()

    app = FastAPI(
        title="Credo institution API",
        version=version("credo"),
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.schema_head = head_revision(engine)
    problems.install(app)
    app.include_router(queries.router)
    app.include_router(records.router)
    app.include_router(furnishing.router)
    app.include_router(me.router)
    app.include_router(me_controls.router)
    app.include_router(repair.router)
    for r in (*disputes.routers, *notifications.routers):
        app.include_router(r)
    _operations(app)
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.api_max_body_bytes,
        upload_bytes=settings.api_max_upload_bytes,
        upload_prefix="/v1/furnishing/",
    )
    app.add_middleware(Instrument, metrics=ctx.metrics)
    app.openapi = lambda: _openapi(app)
    return app


def _engine(settings: Settings) -> Engine:
    """The process-wide engine; on PostgreSQL one of its own whose pool holds a connection for
    each request the server works on at once (`Settings.api_concurrency`, the size of the
    thread pool the routes run in), plus a few for the sealer and key checks. With the
    default pool (5, and 10 more closed again as soon as they are returned) a loaded server
    opened and closed connections all the time: a new backend each time, every statement
    prepared again, and that backend's CPU (more than the queries') on every request."""
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        return get_engine()
    return make_engine(url, pool_size=settings.api_concurrency, max_overflow=4)


def _operations(app: FastAPI) -> None:
    @app.get("/healthz", tags=["operations"], summary="Liveness", response_model=Health)
    def healthz() -> Health:
        return Health(status="ok")

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: database reachable and migrated",
        response_model=Health,
        responses={503: {"description": "not ready", "model": Health}},
    )
    def readyz(ctx: Context, request: Request):
        checks: dict[str, str] = {}
        try:
            with ctx.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
            current, head = current_revision(ctx.engine), request.app.state.schema_head
            checks["schema"] = "ok" if current == head else f"at {current}, expected {head}"
        except Exception as exc:  # any failure means not ready; say which, not the trace
            log.warning("readiness check failed: %s", type(exc).__name__)
            checks.setdefault("database", f"unreachable ({type(exc).__name__})")
        ok = all(v == "ok" for v in checks.values()) and "schema" in checks
        body = Health(status="ok" if ok else "unavailable", checks=checks)
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503)

    text_body = {"content": {"text/plain": {"schema": {"type": "string"}}}}

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics",
             response_class=Response, responses={200: text_body})  # fmt: skip
    def metrics(ctx: Context) -> Response:
        return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _openapi(app: FastAPI) -> dict:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = (
        problems.PROBLEM_SCHEMA
    )
    # FastAPI describes its own 422 as HTTPValidationError; ours is a problem document
    for path in schema.get("paths", {}).values():
        for op in path.values():
            resp = op.get("responses", {})
            if "422" in resp:
                resp["422"] = {
                    "description": "Invalid input",
                    "content": {
                        problems.PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
                    },
                }
    schema["components"]["schemas"].pop("HTTPValidationError", None)
    schema["components"]["schemas"].pop("ValidationError", None)
    app.openapi_schema = schema
    return schema
