"""Notices in the outbox, as their recipients see them.

A subject (subject access credential) reads its own notices at ``/v1/me/notifications``, an
institution (API key, any role) its own at ``/v1/notifications``: the caller's identity is the
only filter on whose notices are read, and nothing in a path or query can name another
recipient. Newest first, keyset cursor pagination like every other list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from credo.api.deps import Caller, Context
from credo.api.notify_schemas import NotificationOut, NotificationPage
from credo.api.problems import responses
from credo.api.routes.me import Me
from credo.api.routes.records import Cursor, Limit, decode_cursor, encode_cursor
from credo.notify import service
from credo.notify.models import Notification

me_router = APIRouter(prefix="/v1/me", tags=["subject access (/v1/me)"])
institution_router = APIRouter(prefix="/v1/notifications", tags=["notifications"])
routers = (me_router, institution_router)

Status = Annotated[
    Literal["pending", "delivered", "failed"] | None,
    Query(description="only notices in this delivery status"),
]


def _page(rows: list[Notification], limit: int) -> NotificationPage:
    items = [
        NotificationOut(
            ref=n.ref,
            kind=n.kind,
            created_at=n.created_at,
            status=n.status.value,
            delivered_at=n.delivered_at,
            payload=service.payload(n),
        )
        for n in rows[:limit]
    ]
    nxt = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return NotificationPage(items=items, next_cursor=nxt)


def _list(
    ctx: Context,
    response: Response,
    page: Callable[..., list[Notification]],
    *,
    limit: int,
    cursor: str | None,
    status: str | None,
    **recipient: int,
) -> NotificationPage:
    """One page of the recipient's notices, read by `page` (a `service.page_for_*`)."""
    after = decode_cursor(cursor)
    with ctx.transaction() as session:
        rows = page(
            session, limit=limit, after=after, status=service.parse_status(status), **recipient
        )
    # personal data: no shared cache may keep a copy
    response.headers["Cache-Control"] = "no-store"
    return _page(rows, limit)


@me_router.get(
    "/notifications",
    response_model=NotificationPage,
    summary="My notifications",
    description=(
        "The notices the bureau sent or will send you, newest first: a dispute received or "
        "decided, a report corrected, a freeze or fraud alert placed or lifted. Each names "
        "things by reference (your dispute's ref, the corrected report's id); `status` says "
        "whether it has been delivered through the bureau's messaging channel yet."
    ),
    responses=responses(401, 422, 429),
)
def my_notifications(
    ctx: Context,
    me: Me,
    response: Response,
    limit: Limit = 100,
    cursor: Cursor = None,
    status: Status = None,
) -> NotificationPage:
    return _list(
        ctx, response, service.page_for_subject, limit=limit, cursor=cursor, status=status,
        subject_id=me.subject_id,
    )  # fmt: skip


@institution_router.get(
    "",
    response_model=NotificationPage,
    summary="This institution's notifications",
    description=(
        "The notices sent or to be sent to this institution, newest first: disputes received "
        "on records it furnished, reports corrected for subjects it queried recently. They are "
        "also POSTed to the institution's webhook when one is registered (see "
        "docs/notifications.md); this list is the way to catch up after an outage. Any role "
        "may read it."
    ),
    responses=responses(401, 422, 429),
)
def institution_notifications(
    ctx: Context,
    who: Caller,
    response: Response,
    limit: Limit = 100,
    cursor: Cursor = None,
    status: Status = None,
) -> NotificationPage:
    return _list(
        ctx, response, service.page_for_institution, limit=limit, cursor=cursor, status=status,
        institution_id=who.institution_id,
    )  # fmt: skip
