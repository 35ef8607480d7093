"""Response bodies of the notification lists (``/v1/me/notifications``, ``/v1/notifications``).

A notice names things by their public references only (subject ref, dispute ref, report id);
docs/notifications.md lists the kinds and their payloads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from credo.api.schemas import Page


class NotificationOut(BaseModel):
    """One notice to the caller."""

    ref: str = Field(description="the notice's reference (webhook header `X-Credo-Notice`)")
    kind: str = Field(description="what happened, e.g. dispute.decided, report.corrected")
    created_at: datetime = Field(description="when the change it reports was made")
    status: Literal["pending", "delivered", "failed"] = Field(
        description="pending: not delivered yet (retried with backoff); failed: given up"
    )
    delivered_at: datetime | None
    payload: dict[str, Any] = Field(description="public references; shape depends on kind")


class NotificationPage(Page):
    items: list[NotificationOut]
