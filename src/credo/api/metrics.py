"""Prometheus metrics and request ids.

`Instrument` is ASGI middleware that gives every request an id (``X-Request-ID`` in the
response, ``instance`` in problem documents) and records its count and latency by route
*template* (``/v1/consents/{ref}``), never by the path asked for, so no value sent by a client
becomes a label. Each app has its own registry, so several apps in one process (tests) do not
collide.

It also answers what nothing inside could: an unexpected error is logged here with its trace
and answered with a bare problem+json 500 carrying the request id (Starlette's own last-resort
handler sits outside every middleware, where the response would lose its ``X-Request-ID``).
"""

from __future__ import annotations

import json
import logging
import secrets
import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credo.api.problems import PROBLEM_JSON, internal_error

log = logging.getLogger(__name__)
access_log = logging.getLogger("credo.api.access")

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


class Metrics:
    """The API's metrics, in one registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "credo_http_requests", "HTTP requests answered",
            ["method", "route", "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "credo_http_request_duration_seconds", "Time to answer an HTTP request",
            ["method", "route"], buckets=_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.queries = Counter(
            "credo_queries", "Report and score queries by outcome",
            ["kind", "outcome"], registry=self.registry,
        )  # fmt: skip
        self.furnished = Counter(
            "credo_furnished_records", "Records furnished through the API by outcome",
            ["outcome"], registry=self.registry,
        )  # fmt: skip


class Instrument:
    """Request id + count and latency per route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        answered = False
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status = message["status"]
                answered = True
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if answered:  # too late for a problem document: let the server cut the response
                raise
            # the trace stays on the server; the caller gets the request id to quote
            log.exception("request %s failed", request_id)
            await _internal_error(send_with_id, request_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "(unmatched)"
            method = scope.get("method", "")
            method = method if method in _METHODS else "other"  # the client's word: bounded
            elapsed = time.perf_counter() - started
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(elapsed)
            # the access log names the route template, never the path or query string sent:
            # whatever a client puts in a URL, an identifier included, stays out of the log
            access_log.info(
                '%s - "%s %s" %d %.1fms %s', _client(scope), method, template, status,
                elapsed * 1000, request_id,
            )  # fmt: skip


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "-"


async def _internal_error(send: Send, request_id: str) -> None:
    body = json.dumps(internal_error(request_id)).encode()
    await send({
        "type": "http.response.start", "status": 500,
        "headers": [(b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode())],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})
