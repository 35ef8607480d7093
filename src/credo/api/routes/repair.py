"""A subject's credit repair plan (``/v1/me/repair-plan``)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/me", tags=["subject access (/v1/me)"])
