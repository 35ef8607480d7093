"""Notices in the outbox, as their recipients see them."""

from __future__ import annotations

from fastapi import APIRouter

me_router = APIRouter(prefix="/v1/me", tags=["subject access (/v1/me)"])
institution_router = APIRouter(prefix="/v1/notifications", tags=["notifications"])
routers = (me_router, institution_router)
