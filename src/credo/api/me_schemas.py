"""Response bodies of the subject's own endpoints (``/v1/me``).

A subject sees the institutions that looked at them and hold their consents by code and name;
nothing here names another subject.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from credo.api.schemas import Page


class InstitutionOut(BaseModel):
    """An institution as the subject sees it."""

    code: str
    name: str
    kind: str = Field(description="bank, consumer_finance, ..., bureau (your own reports)")


class MyInquiry(BaseModel):
    """One look at the subject's file: who, when, why, hard or soft."""

    id: int
    inquired_on: date
    institution: InstitutionOut
    purpose: str = Field(description="why they looked; self_query for your own reports")
    kind: Literal["hard", "soft"] = Field(description="hard inquiries count in credit scores")


class MyConsent(BaseModel):
    """One of the subject's consents to an institution."""

    ref: str = Field(description="the consent's reference; revoke it by this")
    institution: InstitutionOut
    purpose: str
    scope: str = Field(description="report, score or both")
    granted_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    status: str = Field(description="active, expired, revoked or not yet valid")


class MyInquiryPage(Page):
    items: list[MyInquiry]


class MyConsentPage(Page):
    items: list[MyConsent]
