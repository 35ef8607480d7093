"""Request size limits and per-key rate limits.

`BodyLimit` is ASGI middleware: a declared ``Content-Length`` over the limit is refused before a
byte is read, and a chunked body is counted as it streams and cut off at the limit, so no
request can make the server buffer more than the limit. Furnishing uploads have their own,
larger limit.

`RateLimiter` is a token bucket per API key, held in the server process: each key may send
`burst` requests at once and `rate` per second sustained; the next request over that is
answered 429 with ``Retry-After``. With several server processes each has its own buckets, so
the effective limit is multiplied by the number of workers (docs/operations.md).
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credo.api.problems import PROBLEM_BASE, PROBLEM_JSON
from credo.errors import CredoError


class TooLarge(CredoError):
    status = 413
    type = f"{PROBLEM_BASE}too-large"
    title = "Request body too large"


class TooManyRequests(CredoError):
    status = 429
    type = f"{PROBLEM_BASE}rate-limited"
    title = "Too many requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class _BodyTooLarge(HTTPException):
    """Raised by the counting `receive` when a streamed body passes the limit.

    An HTTPException on purpose: FastAPI turns any other error raised while it reads a body
    into a 400 "error parsing the body", but passes HTTPExceptions on to the handlers
    (`credo.api.problems`), which answer this one 413. A route that streams the body itself
    (furnishing) sees it the same way.
    """

    problem_type = TooLarge.type

    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=_too_large(limit))


def _too_large(limit: int) -> str:
    return f"the request body is larger than the {limit:,} bytes allowed here"


class BodyLimit:
    """Refuse request bodies over `max_bytes` (over `upload_bytes` under `upload_prefix`)."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, upload_bytes: int, upload_prefix: str
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes
        self.upload_prefix = upload_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = (
            self.upload_bytes
            if scope.get("path", "").startswith(self.upload_prefix)
            else self.max_bytes
        )
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = False  # the server rejects a malformed length itself
            if too_big:
                await _refuse(scope, send, limit)
                return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _BodyTooLarge:
            # raised where no handler saw it (outside a route): answer here
            if started:
                raise
            await _refuse(scope, send, limit)


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    problem = TooLarge(_too_large(limit)).to_problem()
    problem["instance"] = (scope.get("state") or {}).get("request_id")
    body = json.dumps(problem).encode()
    await send({
        "type": "http.response.start",
        "status": 413,
        "headers": [(b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close")],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Token buckets by key id: `burst` at once, `rate` per second sustained."""

    def __init__(self, rate: float, burst: int, clock=time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        """Spend one token of `key`'s bucket, or raise TooManyRequests with the wait."""
        now = self.clock()
        with self._lock:
            b = self._buckets.get(key)
            if b is None:
                b = self._buckets[key] = _Bucket(float(self.burst), now)
            b.tokens = min(float(self.burst), b.tokens + (now - b.stamp) * self.rate)
            b.stamp = now
            if b.tokens >= 1.0:
                b.tokens -= 1.0
                return
            wait = math.ceil((1.0 - b.tokens) / self.rate)
        raise TooManyRequests(
            f"API key {key} is over its limit of {self.rate:g} requests per second "
            f"(bursts of {self.burst}); retry after {wait} s",
            retry_after=wait,
        )
