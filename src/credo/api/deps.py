"""What every route needs: the app's context (database, key ring, limits) and the caller.

Sessions are opened by the routes themselves with ``ctx.transaction()`` so that the commit
happens before the response is sent: an answer that says "done" is never followed by a failed
commit.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from credo.access.keys import KeyCache, Principal, authenticate
from credo.api.limits import RateLimiter
from credo.api.metrics import Metrics
from credo.config import Settings
from credo.db import transaction, utcnow
from credo.errors import Unauthorized
from credo.security.keys import KeyRing


@dataclass
class ApiContext:
    """Everything the routes share, built once per app."""

    engine: Engine
    sessions: sessionmaker[Session]
    keyring: KeyRing
    settings: Settings
    limiter: RateLimiter
    metrics: Metrics
    #: keys checked in the last ``settings.api_key_cache_seconds`` (at most 1 s)
    keys: KeyCache

    def transaction(self) -> AbstractContextManager[Session]:
        """One transaction: committed when the block ends, rolled back on any error."""
        return transaction(self.sessions)


async def context(request: Request) -> ApiContext:
    return request.app.state.ctx


Context = Annotated[ApiContext, Depends(context)]

_bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="credo_<key id>_<secret>",
    description="An institution's API key (`credo key create`), sent as `Bearer <token>`.",
)


async def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The bearer token sent, unchecked; 401 when there is none. (Async and without the
    database, so it costs the request no trip through the thread pool.)"""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("send the API key as 'Authorization: Bearer <key>'")
    return credentials.credentials


Token = Annotated[str, Depends(bearer_token)]


def _authenticate(ctx: ApiContext, token: str) -> Principal:
    with ctx.transaction() as session:
        return authenticate(session, token, cache=ctx.keys)


async def principal(ctx: Context, token: Token) -> Principal:
    """The institution calling, from its bearer token; 401 when the key is missing, wrong,
    revoked or expired; 429 when the key is over its rate limit. A dependency, so that an
    unauthenticated caller is refused before its body is looked at. A key this process
    checked less than ``api_key_cache_seconds`` ago is not read again (`KeyCache`). Async: a
    key found in the cache costs the request no trip through the thread pool; the database
    read, when needed, runs there."""
    who = ctx.keys.get(token, utcnow())
    if who is None:
        who = await run_in_threadpool(_authenticate, ctx, token)
    ctx.limiter.take(who.key_id)
    return who


Caller = Annotated[Principal, Depends(principal)]
