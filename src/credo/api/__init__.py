"""The institution REST API (FastAPI): reports, scores, consents, inquiries, furnishing."""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str):
    # lazy: importing credo.api must not pull in FastAPI for the CLI's other commands
    if name == "create_app":
        from credo.api.app import create_app

        return create_app
    raise AttributeError(name)
