"""Normalisation of identifiers, names, phones, amounts, dates and integers."""

from __future__ import annotations

import operator
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credo.core.normalize import (
    check_not_future,
    name_key,
    normalize_identifier,
    normalize_name,
    normalize_phone,
    parse_amount_cents,
    parse_date,
    parse_int,
    parse_period,
    to_ascii,
)

GB_EXAMPLE = "11010519491231002X"


def test_to_ascii_folds_full_width_and_collapses_whitespace():
    assert to_ascii("  １２３ＡＢ\u3000 c\t\nd  ") == "123AB c d"


def test_to_ascii_rejects_non_strings():
    with pytest.raises(TypeError, match="text must be a string; got int"):
        to_ascii(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "raw",
    [
        GB_EXAMPLE,
        "11010519491231002x",
        "110105 19491231 002X",
        "１１０１０５１９４９１２３１００２Ｘ",
    ],
)
def test_prc_id_variants_normalise_to_one_form(raw):
    assert normalize_identifier("prc_id", raw) == GB_EXAMPLE


def test_prc_id_fifteen_digits_becomes_eighteen():
    assert normalize_identifier("prc_id", "110105491231002") == GB_EXAMPLE


def test_prc_id_error_is_masked():
    raw = "110105194912310021"
    with pytest.raises(ValueError, match="checksum") as exc:
        normalize_identifier("prc_id", raw)
    assert raw not in str(exc.value)


def test_uscc_is_normalised():
    assert normalize_identifier("uscc", "91110108-551385082q") == "91110108551385082Q"


def test_passport_is_case_folded():
    assert normalize_identifier("passport", "ab12345") == normalize_identifier(
        "passport", "AB12345"
    )
    assert normalize_identifier("passport", " E-1234 5678 ") == "E12345678"


@pytest.mark.parametrize("raw", ["AB12", "A" * 21, "AB12_345"])
def test_bad_passport_is_rejected_and_masked(raw):
    with pytest.raises(ValueError, match="must be 5-20 letters or digits") as exc:
        normalize_identifier("passport", raw)
    assert raw not in str(exc.value)


def test_other_identifier_allows_printable_ascii():
    assert normalize_identifier("other", "ab/12.x") == "AB/12.X"


@pytest.mark.parametrize("raw", ["", "X" * 65, "AB\x00CD"])
def test_bad_other_identifier_is_rejected(raw):
    with pytest.raises(ValueError, match="1-64 printable ASCII"):
        normalize_identifier("other", raw)


def test_unknown_id_type_is_rejected():
    with pytest.raises(ValueError, match="unknown id_type 'ssn'"):
        normalize_identifier("ssn", "123456789")


def test_non_string_identifier_is_rejected():
    with pytest.raises(ValueError, match="identifier must be a string; got int"):
        normalize_identifier("other", 12345)  # type: ignore[arg-type]


def test_normalize_name_folds_and_trims():
    assert normalize_name("  Zhang   San ") == "Zhang San"
    assert normalize_name("张三") == "张三"
    assert normalize_name("ＡＢＣ Ｃｏ．") == "ABC Co."


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ("   ", "name must not be empty"),
        ("x" * 201, "at most 200 characters; got 201"),
        ("Zhang\x00San", "control characters"),
        ("Zhang\u200bSan", "control characters"),
        ("12 345", "digits only"),
    ],
)
def test_bad_names_are_rejected(raw, match):
    with pytest.raises(ValueError, match=match):
        normalize_name(raw)


def test_name_key_matches_spacing_case_and_punctuation_variants():
    assert name_key("Zhang San") == name_key("zhangsan") == name_key("ZHANG-SAN.")
    assert name_key("张 三") == name_key("张三")
    assert name_key("阿沛·阿旺晋美") == "阿沛阿旺晋美"
    assert name_key("Zhang San") != name_key("Zhang Si")


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("13812345678", "CN", "+8613812345678"),
        ("138-1234-5678", "CN", "+8613812345678"),
        ("＋８６ １３８１２３４５６７８", "US", "+8613812345678"),
        ("010-12345678", "CN", "+861012345678"),
        ("(650) 253-0000", "US", "+16502530000"),
        ("+1 650 253 0000", "CN", "+16502530000"),
    ],
)
def test_phone_is_returned_in_e164(raw, region, e164):
    assert normalize_phone(raw, region) == e164


def _by_parser(raw: str, region: str) -> str:
    """phonenumbers alone: what normalize_phone's fast path must agree with."""
    import phonenumbers

    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return "not a phone number"
    if not phonenumbers.is_valid_number(parsed):
        return "not a valid number"
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _outcome(raw: str, region: str) -> str:
    try:
        return normalize_phone(raw, region)
    except ValueError as exc:
        return "not a valid number" if "not a valid number" in str(exc) else "not a phone number"


_DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=14)


@given(
    number=st.one_of(
        st.builds(
            operator.add, st.sampled_from(["1", "17", "179", "14", "0", "86", "00"]), _DIGITS
        ),
        st.from_regex(r"1[0-9]{10}", fullmatch=True),
        _DIGITS,
    ),
    form=st.sampled_from(["", "+86", "+1", "+44", "0", "0086"]),
    region=st.sampled_from(["CN", "US", "GB", "HK"]),
)
def test_the_mobile_fast_path_agrees_with_phonenumbers(number, form, region):
    raw = form + number
    assert _outcome(raw, region) == _by_parser(raw, region)


def test_every_chinese_mobile_prefix_agrees_with_phonenumbers():
    from credo.core.normalize import _mobile_fast

    fast = 0
    for prefix in range(1000, 2000):  # every 4-digit start of an 11-digit number beginning with 1
        for tail in ("0000000", "5555555", "9999999", "4051234"):
            for raw in (f"{prefix}{tail}", f"+86{prefix}{tail}"):
                assert _outcome(raw, "CN") == _by_parser(raw, "CN"), raw
                fast += _mobile_fast(raw, "CN") is not None
    assert fast > 4000  # the fast path answers for most mobile ranges


@pytest.mark.parametrize(
    ("raw", "match"), [("12345", "not a valid number"), ("hello phone", "not a phone number")]
)
def test_bad_phone_is_rejected(raw, match):
    with pytest.raises(ValueError, match=match):
        normalize_phone(raw, "CN")


def test_invalid_phone_error_is_masked():
    raw = "+86 99912345678"
    with pytest.raises(ValueError, match="not a valid number") as exc:
        normalize_phone(raw, "CN")
    assert "99912345678" not in str(exc.value)


def test_phone_rejects_unknown_region():
    with pytest.raises(ValueError, match="region must be a supported"):
        normalize_phone("13812345678", "XX")


@pytest.mark.parametrize(
    ("raw", "cents"),
    [
        (0.1, 10),
        (12.3, 1230),
        ("12.30", 1230),
        ("１２.３", 1230),
        (12, 1200),
        (0, 0),
        ("0", 0),
        ("1.230", 123),
        (Decimal("99.99"), 9999),
        ("999999999999999.99", 99999999999999999),
    ],
)
def test_amounts_are_parsed_to_exact_cents(raw, cents):
    assert parse_amount_cents(raw) == cents


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ("1,000", "must not contain thousands separators; got '1,000'"),
        ("1e3", "must not use exponent notation"),
        (True, "must be a number or a decimal string; got True"),
        (-1, "must not be negative; got -1"),
        ("-5.00", "must not be negative; got -5.00"),
        (1.234, "more than 2 decimals; got 1.234"),
        ("0.001", "more than 2 decimals"),
        (float("nan"), "must be finite"),
        (float("inf"), "must be finite"),
        ("NaN", "must be a plain decimal number"),
        ("", "must be a plain decimal number"),
        ("12.", "must be a plain decimal number"),
        (10**15, "must be less than 10\\*\\*15"),
        ("1" * 65, "at most 64 characters"),
        (None, "got NoneType"),
    ],
)
def test_bad_amounts_are_rejected(raw, match):
    with pytest.raises(ValueError, match=match):
        parse_amount_cents(raw)


@given(st.integers(0, 10**17 - 1))
def test_amount_round_trips_through_a_two_decimal_string(cents):
    assert parse_amount_cents(f"{cents // 100}.{cents % 100:02d}") == cents


@pytest.mark.parametrize("raw", ["2024-02-29", "20240229", "2024/02/29", "２０２４-０２-２９"])
def test_date_formats_are_accepted(raw):
    assert parse_date(raw) == date(2024, 2, 29)


def test_date_object_passes_through():
    assert parse_date(date(2020, 1, 2)) == date(2020, 1, 2)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ("2023-02-30", "not a real date: '2023-02-30'"),
        ("2023-02-29", "not a real date"),
        ("0000-01-01", "not a real date"),
        ("2023-0101", "must be YYYY-MM-DD, YYYYMMDD or YYYY/MM/DD"),
        ("01/02/2023", "must be YYYY-MM-DD"),
        (datetime(2023, 1, 1), "not a datetime"),
        (20230101, "date must be a string; got int"),
    ],
)
def test_bad_dates_are_rejected(raw, match):
    with pytest.raises(ValueError, match=match):
        parse_date(raw)


def test_check_not_future():
    today = date(2024, 6, 1)
    assert check_not_future(today, today, "open date") == today
    with pytest.raises(ValueError, match="open date must not be in the future; got 2024-06-02"):
        check_not_future(date(2024, 6, 2), today, "open date")


@pytest.mark.parametrize("raw", ["2024-03", "202403", date(2024, 3, 17)])
def test_period_is_first_of_month(raw):
    assert parse_period(raw) == date(2024, 3, 1)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ("2024-13", "month must be 1-12"),
        ("2024-00", "month must be 1-12"),
        ("2024-3", "must be YYYY-MM or YYYYMM"),
        ("2024-03-01", "must be YYYY-MM or YYYYMM"),
        ("0000-01", "year is out of range"),
    ],
)
def test_bad_periods_are_rejected(raw, match):
    with pytest.raises(ValueError, match=match):
        parse_period(raw)


@pytest.mark.parametrize(("raw", "n"), [(7, 7), ("7", 7), (" ７ ", 7), (7.0, 7), ("-3", -3)])
def test_parse_int_accepts_integers(raw, n):
    assert parse_int(raw, lo=-10, hi=10, what="term") == n


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (True, "term must be an integer; got True"),
        (7.5, "term must be an integer; got 7.5"),
        ("7.0", "term must be an integer"),
        ("seven", "term must be an integer"),
        (None, "term must be an integer; got NoneType"),
        (11, "term must be between -10 and 10; got 11"),
        ("-11", "term must be between -10 and 10; got -11"),
    ],
)
def test_parse_int_rejects_bad_values(raw, match):
    with pytest.raises(ValueError, match=match):
        parse_int(raw, lo=-10, hi=10, what="term")
