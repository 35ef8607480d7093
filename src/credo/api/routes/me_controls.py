"""A subject's controls over their file: statement, freeze, fraud alert, opt-outs, export."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/me", tags=["subject access (/v1/me)"])
