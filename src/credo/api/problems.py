"""Every error the API answers is an RFC 9457 problem document (``application/problem+json``).

Domain errors (`credo.errors.CredoError`) carry their own status, type and words. Validation
errors name the field and say what is wrong with it but never echo the value sent: a
misplaced identity number must not come back in a response or reach a log. Anything
unexpected is logged with its trace on the server and answered with a bare 500 that names
only the request id; a database that did not answer (lost connection, cancelled statement,
serialization failure, deadlock) with a 503 and ``Retry-After``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from credo.core.masking import mask_id
from credo.errors import CredoError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://credo.dev/problems/"

#: titles of the HTTP statuses the framework itself raises (unknown route, wrong method, ...)
_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


def problem(
    status: int,
    detail: str,
    *,
    type: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response."""
    body = {
        "type": type or f"{PROBLEM_BASE}http-{status}",
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def echo(value: object) -> str:
    """A value sent by the client, as an error message may repeat it: masked when it could be
    an identity or phone number (a run of 7 digits, or long), as it is otherwise."""
    text = str(value)
    if len(text) > 40 or re.search(r"\d{7,}", text):
        return mask_id(text)
    return text


def _field(loc: tuple | list) -> str:
    """``("body", "id_number")`` -> ``body.id_number``; list indexes as ``[0]``. A field name
    is the client's too (an unknown key): one that looks like an identifier is masked."""
    out = ""
    for part in loc:
        part = part if isinstance(part, int) else echo(part)
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    """What is wrong, field by field, without the values sent."""
    return [{"field": _field(e.get("loc", ())), "message": e.get("msg", "invalid")}
            for e in exc.errors()]  # fmt: skip


async def _credo_error(request: Request, exc: CredoError) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="credo"'} if exc.status == 401 else None
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers = {"Retry-After": str(retry_after)}
    if exc.status >= 500:
        log.error("request %s failed: %s", _request_id(request), exc.message)
    body = exc.to_problem()
    body["instance"] = _request_id(request)
    return JSONResponse(body, status_code=exc.status, media_type=PROBLEM_JSON, headers=headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = validation_errors(exc)
    fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
    return problem(
        422,
        f"the request is not valid: {fields}",
        type=f"{PROBLEM_BASE}invalid",
        errors=errors,
        instance=_request_id(request),
    )


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "Error")
    return problem(
        exc.status_code, detail, headers=getattr(exc, "headers", None),
        type=getattr(exc, "problem_type", None), instance=_request_id(request),
    )  # fmt: skip


def internal_error(request_id: str | None) -> dict[str, Any]:
    """The problem document of an unexpected error: nothing about it but the request id."""
    return {
        "type": f"{PROBLEM_BASE}internal",
        "title": _TITLES[500],
        "status": 500,
        "detail": "the server could not complete the request; quote the instance id to the bureau",
        "instance": request_id,
    }


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # normally `credo.api.metrics.Instrument` answers these first, with the request id header
    log.exception("request %s failed", _request_id(request))
    return JSONResponse(internal_error(_request_id(request)), status_code=500,
                        media_type=PROBLEM_JSON)  # fmt: skip


#: SQLSTATE classes of a database error worth retrying as it is: connection exception (08),
#: transaction rollback (40: serialization failure, deadlock), insufficient resources (53:
#: too many connections), operator intervention (57: statement cancelled, server shutting down)
_TRANSIENT_CLASSES = ("08", "40", "53", "57")
#: SQLite's own transient errors (another writer holds the database)
_SQLITE_TRANSIENT = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED"})


def transient_database_error(exc: BaseException) -> bool:
    """Whether `exc` is a database failure the same request may not meet again: a connection
    lost (a restart or failover), a statement cancelled, a serialization failure or deadlock,
    a busy SQLite file. Anything else (a missing table, a program limit, ...) is a bug or a
    lasting fault and stays a 500."""
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig
    if isinstance(exc, psycopg.Error):
        state = exc.sqlstate
        # no SQLSTATE: the client's own failure to talk to the server (connection lost)
        return state is None or state[:2] in _TRANSIENT_CLASSES
    return getattr(exc, "sqlite_errorname", None) in _SQLITE_TRANSIENT


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if not transient_database_error(exc):
        return await _unexpected(request, exc)
    # The class only: a driver's message can quote parameters. A request whose connection was
    # lost while committing may have been carried out; the caller cannot tell (docs/api.md).
    log.warning("request %s: database unavailable (%s)", _request_id(request),
                type(getattr(exc, "orig", None) or exc).__name__)  # fmt: skip
    return problem(
        503,
        "the database did not answer the request; retry it",
        type=f"{PROBLEM_BASE}database-unavailable",
        headers={"Retry-After": "1"},
        instance=_request_id(request),
    )


def install(app: FastAPI) -> None:
    """Render every error of `app` as problem+json."""
    app.add_exception_handler(CredoError, _credo_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # SQLAlchemy's, and psycopg's own from the statements run on it directly (credo.dbraw)
    app.add_exception_handler(sa_exc.DBAPIError, _database_error)
    app.add_exception_handler(psycopg.Error, _database_error)
    app.add_exception_handler(Exception, _unexpected)


#: OpenAPI description of the problem document, referenced by every route's error responses
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": ["string", "null"]},
        "reason": {
            "type": "string",
            "description": "stable machine code of the problem, e.g. no_consent, file_frozen, "
            "free_report_quota, dispute_already_open, record_not_found",
        },
        "dispute": {
            "type": "string",
            "description": "the dispute already open on the record (dispute_already_open)",
        },
        "errors": {
            "type": "array",
            "description": "one entry per invalid field (422)",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the error statuses a route can answer."""
    return {
        s: {
            "description": _TITLES.get(s, "Error"),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for s in statuses
    }
