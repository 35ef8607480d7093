"""Bearer credentials shared by institution API keys and subject access credentials.

A presented token reads ``credo_<public id>_<secret>``; the public id starts with a letter that
says what the credential is (``K`` an institution's API key, ``U`` a subject's access
credential) and is followed by 11 Crockford base32 characters. The public id finds the row;
the SHA-256 of the whole token is then compared in constant time with the stored hash. The token
itself is never stored, logged or put in an error message.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from credo.errors import Invalid, Unauthorized

TOKEN_PREFIX = "credo_"
#: Crockford base32: no I, L, O, U
#: last_used_at is refreshed at most this often, so that busy credentials do not write every time
TOUCH_EVERY = timedelta(minutes=1)
_ID_CHARS = "[0-9A-HJKMNP-TV-Z]{11}"
_ANY_TOKEN = re.compile(rf"credo_([A-Z]){_ID_CHARS}_[A-Za-z0-9_-]{{43}}")


class Credential(Protocol):
    """The columns a stored credential has (`ApiKey`, `SubjectAccess`)."""

    secret_sha256: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


C = TypeVar("C", bound=Credential)


def token_sha256(token: str) -> str:
    """The stored form of a presented token: hex SHA-256 (see `ApiKey` for why not slower)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(public_id: str) -> str:
    """A fresh token for the credential `public_id`: shown once, stored only hashed."""
    return f"{TOKEN_PREFIX}{public_id}_{secrets.token_urlsafe(32)}"


def token_pattern(letter: str) -> re.Pattern[str]:
    """The shape of a token whose public id starts with `letter` (group 1: the public id)."""
    return re.compile(rf"credo_({letter}{_ID_CHARS})_[A-Za-z0-9_-]{{43}}")


def token_letter(presented: object) -> str | None:
    """The kind letter of anything shaped like a Credo token (``K``, ``U``), else None."""
    match = _ANY_TOKEN.fullmatch(presented) if isinstance(presented, str) else None
    return match.group(1) if match else None


def check_expiry(expires_at: datetime | None, at: datetime) -> None:
    """Invalid unless `expires_at` is None or a timezone-aware time after `at`."""
    if expires_at is None:
        return
    if expires_at.tzinfo is None:
        raise Invalid(f"expiry must be timezone-aware; got {expires_at.isoformat()}")
    if expires_at <= at:
        raise Invalid(f"expiry must be in the future; got {expires_at:%Y-%m-%d %H:%M}Z")


def status(row: Credential, at: datetime) -> str:
    """``active``, ``revoked``, ``expired`` or ``active until <time>`` (revoked in future)."""
    if row.revoked_at is not None:
        if row.revoked_at <= at:
            return "revoked"
        return f"active until {row.revoked_at:%Y-%m-%d %H:%M}Z"
    if row.expires_at is not None and row.expires_at <= at:
        return "expired"
    return "active"


def verify(row: C | None, presented: str, *, at: datetime, what: str, not_recognised: str) -> C:
    """`row` when `presented` is its token and it is neither revoked nor expired at `at`;
    Unauthorized otherwise. Refreshes ``last_used_at`` (at most every `TOUCH_EVERY`)."""
    # compare even when the public id is unknown, so both failures take the same time
    expected = row.secret_sha256 if row is not None else "0" * 64
    if not hmac.compare_digest(expected, token_sha256(presented)) or row is None:
        raise Unauthorized(not_recognised)
    # from here on the caller has proven it holds the secret: telling it why is safe
    if row.revoked_at is not None and row.revoked_at <= at:
        raise Unauthorized(f"{what} was revoked on {row.revoked_at:%Y-%m-%d}")
    if row.expires_at is not None and row.expires_at <= at:
        raise Unauthorized(f"{what} expired on {row.expires_at:%Y-%m-%d}")
    if row.last_used_at is None or at - row.last_used_at >= TOUCH_EVERY:
        row.last_used_at = at
    return row
