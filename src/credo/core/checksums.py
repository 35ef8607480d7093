"""Check digits and structure of Chinese identifiers, and ISO 4217 currency codes.

PRC resident identity numbers (GB 11643-1999) and unified social credit codes (GB 32100-2015)
are checked with python-stdnum's ``stdnum.cn.ric`` and ``stdnum.cn.uscc`` check-digit code.

Decision: :func:`prc_id_info` does **not** call ``stdnum.cn.ric.validate``. That function also
requires the six-digit county code to have existed in the holder's birth year, but numbers issued
after a re-districting legitimately carry the newer county code with an older birth date, so
real people would be rejected. We check the province level only (the first two digits), which
never changes.

Error messages never contain the raw number: it is masked with
:func:`credo.core.masking.mask_id`, because these messages end up in logs and API responses.
"""

from __future__ import annotations

import functools
import random
import unicodedata
from dataclasses import dataclass
from datetime import date

import pycountry
from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength, ValidationError

from credo.core.masking import mask_id

__all__ = [
    "PROVINCE_CODES",
    "PrcIdInfo",
    "is_known_currency",
    "make_prc_id",
    "make_uscc",
    "prc_id_info",
    "validate_uscc",
]

# Province-level codes of GB/T 2260 as listed in stdnum's cn/loc data (11-82), plus 83 (residence
# permits of Taiwan residents) and 91 (foreigners' permanent residence), which stdnum lacks.
PROVINCE_CODES = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37"}
    | {"41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54"}
    | {"61", "62", "63", "64", "65", "71", "81", "82", "83", "91"}
)

_EARLIEST_BIRTH = date(1900, 1, 1)

# GB 11714-1997 organisation code: weights of the 8 body characters, check = 11 - sum mod 11.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_USCC_REGIONS = ("110108", "110105", "310115", "440305", "330106", "510107", "320102", "420106")


@dataclass(frozen=True, slots=True)
class PrcIdInfo:
    """What a valid PRC resident identity number says about its holder."""

    number: str  # the 18-character form
    birth_date: date
    gender: str  # "M" or "F"
    region: str  # the 6-digit administrative division code


def _compact(value: str) -> str:
    """NFKC-fold, drop spaces and hyphens, uppercase."""
    folded = unicodedata.normalize("NFKC", value)
    return "".join(ch for ch in folded if not ch.isspace() and ch != "-").upper()


def _ric_check(body17: str) -> str:
    """Return the GB 11643 check character for 17 digits."""
    # stdnum's calc_check_digit takes all 18 characters and ignores the last (the check digit
    # it computes), so any character completes the body.
    return ric.calc_check_digit(body17 + "0")


def prc_id_info(number: str, *, today: date | None = None) -> PrcIdInfo:
    """Validate a PRC resident identity number and return what it encodes.

    Parameters
    ----------
    number : str
        An 18-character number (17 digits and a check digit or ``X``) or a 15-digit
        first-generation number, which is converted to 18 characters.
    today : date, optional
        The reference date for the "not in the future" check; defaults to ``date.today()``.

    Returns
    -------
    PrcIdInfo
        The 18-character number, birth date, gender and region code.

    Raises
    ------
    ValueError
        If the number is malformed, fails the checksum, has an unknown province code or an
        impossible, future or pre-1900 birth date. The message shows the number masked.
    """
    if not isinstance(number, str):
        raise ValueError(f"prc_id must be a string; got {type(number).__name__}")
    s = _compact(number)
    masked = mask_id(s)
    if len(s) == 15:
        if not (s.isascii() and s.isdigit()):
            raise ValueError(f"prc_id {masked} must be 15 digits")
        body = s[:6] + "19" + s[6:]
        s = body + _ric_check(body)
    elif len(s) == 18:
        body, check = s[:17], s[17]
        if not (body.isascii() and body.isdigit()) or check not in "0123456789X":
            raise ValueError(f"prc_id {masked} must be 17 digits followed by a digit or X")
        if check != _ric_check(body):
            raise ValueError(f"prc_id {masked} fails the GB 11643 checksum")
    else:
        raise ValueError(f"prc_id {masked} must have 18 (or 15) characters; got {len(s)}")

    if s[:2] not in PROVINCE_CODES:
        raise ValueError(f"prc_id {masked} carries an unknown province code")
    try:
        birth = date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        raise ValueError(f"prc_id {masked} carries an impossible birth date") from None
    if birth < _EARLIEST_BIRTH:
        raise ValueError(f"prc_id {masked} carries a birth date before 1900")
    if birth > (today or date.today()):
        raise ValueError(f"prc_id {masked} carries a birth date in the future")
    gender = "M" if int(s[16]) % 2 else "F"
    return PrcIdInfo(number=s, birth_date=birth, gender=gender, region=s[:6])


def validate_uscc(code: str) -> str:
    """Validate a unified social credit code (GB 32100-2015) and return it compact, uppercase.

    Raises
    ------
    ValueError
        On a wrong length, characters outside the GB 32100 alphabet or a failed checksum;
        the message shows the code masked.
    """
    if not isinstance(code, str):
        raise ValueError(f"uscc must be a string; got {type(code).__name__}")
    compact = uscc.compact(unicodedata.normalize("NFKC", code))
    masked = mask_id(compact)
    try:
        return uscc.validate(compact)
    except InvalidLength:
        raise ValueError(f"uscc {masked} must have 18 characters; got {len(compact)}") from None
    except InvalidFormat:
        raise ValueError(
            f"uscc {masked} must be 8 digits then 10 characters of the GB 32100 alphabet"
        ) from None
    except InvalidChecksum:
        raise ValueError(f"uscc {masked} fails the GB 32100 checksum") from None
    except ValidationError:
        raise ValueError(f"uscc {masked} is not a valid unified social credit code") from None


@functools.cache
def _currency_codes() -> frozenset[str]:
    """The ISO 4217 alpha-3 codes known to pycountry, loaded on first use."""
    return frozenset(c.alpha_3 for c in pycountry.currencies)


def is_known_currency(code: str) -> bool:
    """Whether ``code`` is an ISO 4217 alpha-3 currency code (exact, uppercase)."""
    return isinstance(code, str) and code in _currency_codes()


def make_prc_id(region: str, birth: date, seq: int) -> str:
    """Build a valid 18-character PRC identity number (for tests and synthetic data)."""
    if not (isinstance(region, str) and len(region) == 6 and region.isdigit()):
        raise ValueError(f"region must be 6 digits; got {region!r}")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= 999:
        raise ValueError(f"seq must be an integer in 0-999; got {seq!r}")
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    return body + _ric_check(body)


def _org_code_check(body8: str) -> str:
    """Return the GB 11714 check character for an 8-digit organisation code body."""
    # stdnum has no GB 11714 module, so this one formula is written by hand.
    value = 11 - sum(int(ch) * w for ch, w in zip(body8, _ORG_WEIGHTS, strict=True)) % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def make_uscc(rng: random.Random) -> str:
    """Build a valid USCC for a company registered with the market regulator (``91...``)."""
    region = rng.choice(_USCC_REGIONS)
    org_body = "".join(rng.choice("0123456789") for _ in range(8))
    body = "91" + region + org_body + _org_code_check(org_body)
    return body + uscc.calc_check_digit(body)
