"""One error hierarchy for the whole system.

Domain code raises these; the API renders them once as RFC 9457 problem+json and the CLI as
one red line. Messages never carry a raw personal identifier: callers mask first.
"""

from __future__ import annotations

from typing import Any


class CredoError(Exception):
    """Base error with an HTTP status and a short machine-readable type."""

    status: int = 500
    type: str = "about:blank"
    title: str = "Internal error"

    def __init__(self, message: str, *, status: int | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.extra = extra

    def to_problem(self) -> dict[str, Any]:
        """The RFC 9457 problem document for this error."""
        return {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.message,
            **self.extra,
        }


class NotFound(CredoError):
    status = 404
    type = "https://credo.dev/problems/not-found"
    title = "Not found"


class Conflict(CredoError):
    status = 409
    type = "https://credo.dev/problems/conflict"
    title = "Conflict"


class Invalid(CredoError):
    status = 422
    type = "https://credo.dev/problems/invalid"
    title = "Invalid input"


class Unauthorized(CredoError):
    """Credentials missing, unknown, revoked or expired (an API would add WWW-Authenticate)."""

    status = 401
    type = "https://credo.dev/problems/unauthorized"
    title = "Unauthorized"


class Forbidden(CredoError):
    status = 403
    type = "https://credo.dev/problems/forbidden"
    title = "Forbidden"


class FormatError(Invalid):
    """A furnishing file that is not the Credo format at all."""

    type = "https://credo.dev/problems/not-furnishing-format"
    title = "Not a furnishing file"


class IntegrityError(CredoError):
    """Stored data failed an integrity check (audit ledger, encryption tag)."""

    status = 500
    type = "https://credo.dev/problems/integrity"
    title = "Integrity check failed"
