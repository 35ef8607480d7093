"""Opaque public references of stored things (subjects, consents, disputes, notices...)."""

from __future__ import annotations

import secrets

#: Crockford base32: no I, L, O, U, so a reference read aloud or retyped survives
REF_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ref(prefix: str, length: int = 12) -> str:
    """A random reference such as ``D7K2M9Q4XH3TD``: `prefix` and `length` random characters.

    Never derived from personal data; 12 characters carry 60 random bits, drawn at once (one
    system call, not one per character: a first file creates a reference per new subject).
    """
    bits = secrets.randbits(5 * length)
    return prefix + "".join(REF_ALPHABET[(bits >> (5 * i)) & 31] for i in range(length))
