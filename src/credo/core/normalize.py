"""Normalisation of raw furnished values: identifiers, names, phones, amounts, dates.

Each ``normalize_*`` / ``parse_*`` function takes what a furnisher sent (a string from a file, or
a number from JSON) and returns one canonical value, or raises ``ValueError`` saying why.
Messages about personal data show it masked; amounts and dates are shown as given.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal

import phonenumbers

from credo.core.checksums import prc_id_info, validate_uscc
from credo.core.masking import mask_id, mask_name, mask_phone

__all__ = [
    "ID_TYPES",
    "check_not_future",
    "name_key",
    "normalize_identifier",
    "normalize_name",
    "normalize_phone",
    "parse_amount_cents",
    "parse_date",
    "parse_int",
    "parse_period",
    "to_ascii",
]

ID_TYPES = ("prc_id", "uscc", "passport", "other")

_PASSPORT = re.compile(r"[A-Z0-9]{5,20}")
_OTHER = re.compile(r"[\x21-\x7e]{1,64}")
_AMOUNT = re.compile(r"-?\d+(?:\.\d+)?")
_DATE = re.compile(r"(\d{4})([-/]?)(\d{2})\2(\d{2})")
_PERIOD = re.compile(r"(\d{4})-?(\d{2})")
_INT = re.compile(r"[-+]?\d+")
_MAX_NAME = 200
_MAX_RAW = 64  # longest amount / integer string worth parsing
_AMOUNT_LIMIT = Decimal(10**15)
_AMOUNT_LIMIT_INT = 10**15
#: ASCII digits only (``\d`` would also take other scripts' digits), below 10**15
_PLAIN_AMOUNT = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,2})?")
_CENT = Decimal("0.01")


def to_ascii(text: str) -> str:
    """NFKC-fold (full-width to ASCII), strip, and collapse inner whitespace to one space."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a string; got {type(text).__name__}")
    if text.isascii():  # NFKC leaves ASCII as it is; skip the Unicode tables
        return " ".join(text.split())
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _require_str(raw: object, what: str) -> str:
    """Return ``raw`` folded by :func:`to_ascii`, or raise ``ValueError`` if not a string."""
    if not isinstance(raw, str):
        raise ValueError(f"{what} must be a string; got {type(raw).__name__}")
    return to_ascii(raw)


def normalize_identifier(id_type: str, raw: str) -> str:
    """Return the canonical form of an identifier of type ``prc_id``, ``uscc``, ``passport``
    or ``other``: ASCII, no spaces or hyphens, uppercase, and checked for its type."""
    if id_type not in ID_TYPES:
        raise ValueError(f"unknown id_type {id_type!r}; expected one of {', '.join(ID_TYPES)}")
    s = _require_str(raw, "identifier").replace(" ", "").replace("-", "").upper()
    if id_type == "prc_id":
        return prc_id_info(s).number
    if id_type == "uscc":
        return validate_uscc(s)
    if id_type == "passport":
        if not _PASSPORT.fullmatch(s):
            raise ValueError(f"passport number {mask_id(s)} must be 5-20 letters or digits")
        return s
    if not _OTHER.fullmatch(s):  # "other"
        raise ValueError(
            f"identifier {mask_id(s)} must be 1-64 printable ASCII characters; got {len(s)}"
        )
    return s


def normalize_name(raw: str) -> str:
    """Return a person or company name folded to NFKC with whitespace collapsed."""
    s = _require_str(raw, "name")
    if not s:
        raise ValueError("name must not be empty")
    if len(s) > _MAX_NAME:
        raise ValueError(f"name must be at most {_MAX_NAME} characters; got {len(s)}")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in s):
        raise ValueError(f"name {mask_name(s)} contains control characters")
    if s.replace(" ", "").isdigit():
        raise ValueError("name must not consist of digits only")
    return s


def name_key(name: str) -> str:
    """Return a matching key: case-folded, without whitespace or punctuation."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LNM")


def normalize_phone(raw: str, region: str) -> str:
    """Return a valid phone number in E.164 form, reading national numbers as ``region``'s."""
    s = _require_str(raw, "phone")
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"region must be a supported ISO 3166 alpha-2 code; got {region!r}")
    fast = _mobile_fast(s, region)
    if fast is not None:
        return fast
    try:
        parsed = phonenumbers.parse(s, region)
    except phonenumbers.NumberParseException:
        raise ValueError(f"phone {mask_phone(s)} is not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"phone {mask_phone(s)} is not a valid number (default region {region})")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class _MobileRule:
    """The parts of a region's phonenumbers metadata that decide a plain mobile number."""

    def __init__(self, region: str) -> None:
        meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
        cc = meta.country_code if meta else None
        self.usable = bool(
            meta
            and meta.mobile is not None
            and meta.mobile.national_number_pattern
            and meta.general_desc is not None
            and meta.general_desc.national_number_pattern
            and tuple(phonenumbers.region_codes_for_country_code(cc)) == (region,)
        )
        if not self.usable:
            return
        self.prefix = f"+{cc}"
        self.country = str(cc)

        def pattern(p: str | None) -> re.Pattern | None:
            return re.compile(p) if p else None

        self.national_prefix = pattern(meta.national_prefix_for_parsing)
        self.international_prefix = pattern(meta.international_prefix)
        self.general = re.compile(meta.general_desc.national_number_pattern)
        self.general_lengths = frozenset(meta.general_desc.possible_length)
        self.mobile = re.compile(meta.mobile.national_number_pattern)
        self.mobile_lengths = frozenset(meta.mobile.possible_length)

    def e164(self, s: str) -> str | None:
        """``+<cc><number>`` when `s` is a mobile number with nothing for the parser to
        strip or read otherwise; None to leave it to phonenumbers."""
        if s.startswith(self.prefix):
            number = s[len(self.prefix) :]
        else:
            number = s
            # a bare number could carry an international prefix or the country code
            if number.startswith(self.country) or (
                self.international_prefix and self.international_prefix.match(number)
            ):
                return None
        if not (number.isascii() and number.isdigit()) or number[0] == "0":
            return None
        if self.national_prefix and self.national_prefix.match(number):
            return None  # phonenumbers might strip a national prefix or carrier code
        n = len(number)
        if (self.general_lengths and n not in self.general_lengths) or (
            self.mobile_lengths and n not in self.mobile_lengths
        ):
            return None
        if self.general.fullmatch(number) and self.mobile.fullmatch(number):
            return self.prefix + number
        return None


_MOBILE_RULES: dict[str, _MobileRule] = {}


def _mobile_fast(s: str, region: str) -> str | None:
    """E.164 of a plain mobile number (``+8613812345678`` or ``13812345678`` for CN) from the
    region's own metadata patterns, ~40x cheaper than parsing it; None for anything else.

    It answers only where phonenumbers would: a number of the region's only country code
    matching its general and mobile patterns and lengths is valid, and its E.164 form is the
    code and the number, provided the parser has nothing to strip (no national prefix or
    carrier code, no international prefix, no leading zero). A property test compares it with
    the parser on random numbers.
    """
    rule = _MOBILE_RULES.get(region)
    if rule is None:
        rule = _MOBILE_RULES[region] = _MobileRule(region)
    return rule.e164(s) if rule.usable else None


def _amount_decimal(raw: object) -> Decimal:
    """Turn an int, float, Decimal or plain decimal string into a finite ``Decimal``."""
    if isinstance(raw, bool):
        raise ValueError(f"amount must be a number or a decimal string; got {raw!r}")
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise ValueError(f"amount must be finite; got {raw!r}")
        # repr gives the shortest string that round-trips, so 0.1 becomes Decimal("0.1").
        return Decimal(repr(raw))
    if isinstance(raw, Decimal):
        if not raw.is_finite():
            raise ValueError(f"amount must be finite; got {raw}")
        return raw
    if not isinstance(raw, str):
        raise ValueError(f"amount must be a number or a decimal string; got {type(raw).__name__}")
    s = to_ascii(raw)
    if len(s) > _MAX_RAW:
        raise ValueError(f"amount must be at most {_MAX_RAW} characters; got {len(s)}")
    if not _AMOUNT.fullmatch(s):
        if "," in s:
            reason = "must not contain thousands separators"
        elif "e" in s.lower():
            reason = "must not use exponent notation"
        else:
            reason = "must be a plain decimal number"
        raise ValueError(f"amount {reason}; got {s!r}")
    return Decimal(s)


def parse_amount_cents(raw: int | float | str) -> int:
    """Parse a non-negative money amount with at most 2 decimals into integer hundredths."""
    # the common shapes (an int, or ASCII digits with up to 2 decimals) in integer arithmetic;
    # everything else, errors included, goes through Decimal
    if type(raw) is int and 0 <= raw < _AMOUNT_LIMIT_INT:
        return raw * 100
    if type(raw) is str and _PLAIN_AMOUNT.fullmatch(raw):
        whole, _, frac = raw.partition(".")
        return int(whole) * 100 + (int(frac.ljust(2, "0")) if frac else 0)
    d = _amount_decimal(raw)
    if d < 0:
        raise ValueError(f"amount must not be negative; got {d}")
    if d >= _AMOUNT_LIMIT:
        raise ValueError(f"amount must be less than 10**15; got {d}")
    # Below 10**15 the quantized value has at most 17 digits, well within Decimal's precision.
    cents = d.quantize(_CENT)
    if cents != d:
        raise ValueError(f"amount has more than 2 decimals; got {d}")
    return int(cents * 100)


def parse_date(raw: str | date) -> date:
    """Parse ``YYYY-MM-DD``, ``YYYYMMDD`` or ``YYYY/MM/DD`` (or pass a ``date``) into a date."""
    if isinstance(raw, datetime):
        raise ValueError(f"expected a date, not a datetime; got {raw.isoformat()}")
    if isinstance(raw, date):
        return raw
    if type(raw) is str and len(raw) == 10 and raw[4] == raw[7] == "-" and raw.isascii():
        y, m, d = raw[:4], raw[5:7], raw[8:]  # YYYY-MM-DD; anything odd takes the full path
        if y.isdigit() and m.isdigit() and d.isdigit():
            try:
                return date(int(y), int(m), int(d))
            except ValueError:
                pass  # the full path says why
    s = _require_str(raw, "date")
    m = _DATE.fullmatch(s)
    if not m:
        raise ValueError(f"date must be YYYY-MM-DD, YYYYMMDD or YYYY/MM/DD; got {s!r}")
    try:
        return date(int(m[1]), int(m[3]), int(m[4]))
    except ValueError:
        raise ValueError(f"not a real date: {s!r}") from None


def check_not_future(d: date, today: date, what: str) -> date:
    """Return ``d``, or raise ``ValueError`` if it lies after ``today``."""
    if d > today:
        raise ValueError(f"{what} must not be in the future; got {d.isoformat()}")
    return d


def parse_period(raw: str | date) -> date:
    """Parse a reporting period ``YYYY-MM`` or ``YYYYMM`` into the first day of that month."""
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw.replace(day=1)
    if type(raw) is str and len(raw) == 7 and raw[4] == "-" and raw.isascii():
        y, m = raw[:4], raw[5:]  # YYYY-MM as furnished; anything odd takes the full path
        if y.isdigit() and m.isdigit() and y != "0000" and 1 <= int(m) <= 12:
            return date(int(y), int(m), 1)
    s = _require_str(raw, "period")
    m = _PERIOD.fullmatch(s)
    if not m:
        raise ValueError(f"period must be YYYY-MM or YYYYMM; got {s!r}")
    if not 1 <= int(m[2]) <= 12:
        raise ValueError(f"period month must be 1-12; got {s!r}")
    try:
        return date(int(m[1]), int(m[2]), 1)
    except ValueError:
        raise ValueError(f"period year is out of range; got {s!r}") from None


def parse_int(raw: int | float | str, *, lo: int, hi: int, what: str) -> int:
    """Parse an integer (int, integral float or digit string) and check ``lo <= n <= hi``."""
    if isinstance(raw, bool):
        raise ValueError(f"{what} must be an integer; got {raw!r}")
    if isinstance(raw, int):
        n = raw
    elif isinstance(raw, float):
        if not raw.is_integer():
            raise ValueError(f"{what} must be an integer; got {raw!r}")
        n = int(raw)
    elif isinstance(raw, str):
        s = to_ascii(raw)
        if len(s) > _MAX_RAW or not _INT.fullmatch(s):
            raise ValueError(f"{what} must be an integer; got {s[:_MAX_RAW]!r}")
        n = int(s)
    else:
        raise ValueError(f"{what} must be an integer; got {type(raw).__name__}")
    if not lo <= n <= hi:
        raise ValueError(f"{what} must be between {lo} and {hi}; got {n}")
    return n
