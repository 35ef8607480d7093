"""Masking of personal data for logs, error messages, audit views and reports.

Every function here is total: whatever it is given, it returns a string (``mask_value`` also
passes ``None`` through) and never raises, so it can be used inside error handlers. Masks are
deliberately lossy; they show enough for a person to recognise their own record and no more.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import phonenumbers

__all__ = [
    "mask_address",
    "mask_date",
    "mask_id",
    "mask_name",
    "mask_phone",
    "mask_value",
]

_MAX_PLAIN = 60
_ADDRESS_KEEP = 6


def _text(value: object) -> str:
    """Return ``str(value)``, or ``"<unprintable>"`` when its ``__str__`` raises."""
    if isinstance(value, str):
        return value
    try:
        return str(value)
    except Exception:  # masking must never raise, whatever __str__ does
        return "<unprintable>"


def mask_id(s: object) -> str:
    """Mask an identifier: first 4 and last 4 characters when long, 1 and 1 when short."""
    s = _text(s).strip()
    n = len(s)
    if n >= 10:
        return s[:4] + "*" * (n - 8) + s[-4:]
    if n >= 5:
        return s[0] + "*" * (n - 2) + s[-1]
    return "*" * n


def _is_cjk(ch: str) -> bool:
    """Whether ``ch`` is a CJK ideograph (or other East Asian wide letter)."""
    return unicodedata.east_asian_width(ch) in ("W", "F") and ch.isalpha()


def mask_name(s: object) -> str:
    """Mask a person or company name: CJK keeps the first character, Latin each initial."""
    s = _text(s).strip()
    if not s:
        return ""
    if any(_is_cjk(ch) for ch in s):
        chars = [ch for ch in s if not ch.isspace()]
        if len(chars) <= 1:
            return "*"
        return chars[0] + "*" * (len(chars) - 1)
    words = s.split()
    if len(words) == 1 and len(words[0]) == 1:
        return "*"
    return " ".join(w[0] + "***" for w in words)


def mask_phone(s: object) -> str:
    """Mask a phone number: ``+86138****5678`` for E.164, else only the last 4 digits."""
    s = _text(s).strip()
    if s.startswith("+"):
        try:
            parsed = phonenumbers.parse(s, None)
        except Exception:  # not parseable: fall through to the generic mask
            parsed = None
        if parsed is not None:
            national = phonenumbers.national_significant_number(parsed)
            if len(national) >= 8:
                stars = "*" * (len(national) - 7)
                return f"+{parsed.country_code}{national[:3]}{stars}{national[-4:]}"
    if len(s) <= 4:
        return "*" * len(s)
    return "*" * (len(s) - 4) + s[-4:]


def mask_address(s: object) -> str:
    """Mask an address: keep at most the first 6 characters, then ``***``.

    Short addresses keep only their first half, so that no address is shown in full.
    """
    s = _text(s).strip()
    keep = min(_ADDRESS_KEEP, len(s) // 2)
    return s[:keep] + "***"


def mask_date(s: object) -> str:
    """Mask a date down to its year: ``1990-**-**``."""
    s = _text(s).strip()
    year = s[:4]
    if len(year) == 4 and year.isdigit():
        return f"{year}-**-**"
    return "****-**-**"


def _truncate(s: object) -> str:
    """Return ``str(s)`` cut to 60 characters, ending with an ellipsis when cut."""
    s = _text(s)
    if len(s) <= _MAX_PLAIN:
        return s
    return s[: _MAX_PLAIN - 1] + "…"


_BY_FIELD: dict[str, Callable[[object], str]] = {
    "id_number": mask_id,
    "name": mask_name,
    "phone": mask_phone,
    "address": mask_address,
    "birth_date": mask_date,
}


#: fields whose values are personal data: shown masked wherever a value is echoed
PERSONAL_FIELDS = frozenset(_BY_FIELD)


def mask_value(field: str, value: object) -> str | None:
    """Mask ``value`` according to the kind of personal data ``field`` names."""
    if value is None:
        return None
    try:
        return _BY_FIELD.get(field, _truncate)(value)
    except Exception:  # belt and braces: a mask must never break the caller
        return "***"


def shown(value: object) -> str:
    """A value echoed in an error message: quoted when it looks like a code or reference, masked
    when it could be an identifier or phone number typed into the wrong field."""
    text = str(value)
    if len(text) > 40 or re.search(r"\d{7,}", text):
        return mask_id(text)
    return repr(text)
