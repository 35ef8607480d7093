"""Disputes over the API: subjects file (``/v1/me/disputes``), furnishers answer
(``/v1/disputes``), operators decide (``/v1/operator/disputes``)."""

from __future__ import annotations

from fastapi import APIRouter

me_router = APIRouter(prefix="/v1/me", tags=["subject access (/v1/me)"])
furnisher_router = APIRouter(prefix="/v1/disputes", tags=["disputes"])
operator_router = APIRouter(prefix="/v1/operator/disputes", tags=["disputes"])
routers = (me_router, furnisher_router, operator_router)
