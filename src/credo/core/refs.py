"""Opaque public references of stored things (subjects, consents, disputes, notices...)."""

from __future__ import annotations

import secrets

#: Crockford base32: no I, L, O, U, so a reference read aloud or retyped survives
REF_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ref(prefix: str, length: int = 12) -> str:
    """A random reference such as ``D7K2M9Q4XH3TD``: `prefix` and `length` random characters.

    Never derived from personal data; 12 characters carry 60 random bits.
    """
    return prefix + "".join(secrets.choice(REF_ALPHABET) for _ in range(length))
