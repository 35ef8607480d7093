"""PRC identity numbers, unified social credit codes and currency codes."""

from __future__ import annotations

import random
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from credo.core.checksums import (
    PrcIdInfo,
    is_known_currency,
    make_prc_id,
    make_uscc,
    prc_id_info,
    validate_uscc,
)

GB_EXAMPLE = "11010519491231002X"  # the worked example of GB 11643-1999
TODAY = date(2024, 6, 1)


def _raises_masked(func, raw: str, match: str) -> None:
    """Assert ``func(raw)`` raises ValueError matching ``match`` without echoing ``raw``."""
    with pytest.raises(ValueError, match=match) as exc:
        func(raw)
    assert raw not in str(exc.value)
    assert raw.upper() not in str(exc.value)


def test_gb_example_is_valid_and_decoded():
    info = prc_id_info(GB_EXAMPLE, today=TODAY)
    assert info == PrcIdInfo(
        number=GB_EXAMPLE, birth_date=date(1949, 12, 31), gender="F", region="110105"
    )


def test_male_when_17th_digit_is_odd():
    number = make_prc_id("440305", date(1990, 3, 7), 123)
    assert ric.is_valid(number)
    assert prc_id_info(number, today=TODAY).gender == "M"


def test_lowercase_x_and_full_width_input_are_accepted():
    assert prc_id_info(GB_EXAMPLE.lower(), today=TODAY).number == GB_EXAMPLE
    full_width = "１１０１０５１９４９１２３１００２Ｘ"
    assert prc_id_info(full_width, today=TODAY).number == GB_EXAMPLE


def test_fifteen_digit_number_is_converted_to_eighteen():
    info = prc_id_info("110105491231002", today=TODAY)
    assert info.number == GB_EXAMPLE
    assert info.birth_date == date(1949, 12, 31)


def test_newer_county_code_with_old_birth_year_is_accepted():
    # 110108 (Haidian) exists today; stdnum's validate would also check the county's history.
    number = make_prc_id("110108", date(1950, 1, 1), 10)
    assert prc_id_info(number, today=TODAY).region == "110108"


def test_bad_checksum_is_rejected_and_masked():
    _raises_masked(
        lambda n: prc_id_info(n, today=TODAY),
        "110105194912310021",
        r"prc_id 1101\*+0021 fails the GB 11643 checksum",
    )


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ("1101051949123100", "must have 18 \\(or 15\\) characters; got 16"),
        ("1101051949A231002X", "must be 17 digits followed by a digit or X"),
        ("11010519491231002Y", "must be 17 digits followed by a digit or X"),
        ("11010549123100A", "must be 15 digits"),
    ],
)
def test_malformed_numbers_are_rejected(raw, match):
    _raises_masked(lambda n: prc_id_info(n, today=TODAY), raw, match)


def test_unknown_province_is_rejected():
    number = make_prc_id("990105", date(1990, 1, 1), 1)
    _raises_masked(lambda n: prc_id_info(n, today=TODAY), number, "unknown province code")


def test_impossible_birth_date_is_rejected_without_digits():
    body = "110105" + "19990230" + "123"
    number = body + ric.calc_check_digit(body + "0")
    with pytest.raises(ValueError, match=r"carries an impossible birth date$") as exc:
        prc_id_info(number, today=TODAY)
    assert "19990230" not in str(exc.value)


def test_future_birth_date_is_rejected():
    number = make_prc_id("110105", date(2024, 6, 2), 1)
    _raises_masked(lambda n: prc_id_info(n, today=TODAY), number, "birth date in the future")
    assert prc_id_info(number, today=date(2024, 6, 2)).birth_date == date(2024, 6, 2)


def test_birth_before_1900_is_rejected():
    number = make_prc_id("110105", date(1899, 12, 31), 1)
    _raises_masked(lambda n: prc_id_info(n, today=TODAY), number, "birth date before 1900")


def test_non_string_is_rejected():
    with pytest.raises(ValueError, match="prc_id must be a string; got int"):
        prc_id_info(110105194912310020)  # type: ignore[arg-type]


@pytest.mark.parametrize(("region", "seq"), [("11010", 1), ("110105", 1000), ("110105", -1)])
def test_make_prc_id_rejects_bad_arguments(region, seq):
    with pytest.raises(ValueError, match="must be"):
        make_prc_id(region, date(1990, 1, 1), seq)


@given(
    region=st.sampled_from(["110105", "310115", "440305", "650102", "820000"]),
    birth=st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    seq=st.integers(0, 999),
)
def test_make_prc_id_always_validates(region, birth, seq):
    number = make_prc_id(region, birth, seq)
    info = prc_id_info(number, today=TODAY)
    assert info.number == number
    assert info.birth_date == birth
    assert info.gender == ("M" if seq % 2 else "F")


def test_known_uscc_is_valid_and_compacted():
    assert uscc.is_valid("91110108551385082Q")
    assert validate_uscc("91110108551385082Q") == "91110108551385082Q"
    assert validate_uscc(" 9111 0108-5513 8508 2q ") == "91110108551385082Q"


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ("91110108551385082R", "fails the GB 32100 checksum"),
        ("91110108551385083Q", "fails the GB 32100 checksum"),
        ("9111010855138508", "must have 18 characters; got 16"),
        ("9111010855138508IQ", "GB 32100 alphabet"),
        ("A1110108551385082Q", "GB 32100 alphabet"),
    ],
)
def test_invalid_uscc_is_rejected_and_masked(raw, match):
    _raises_masked(validate_uscc, raw, match)


def test_make_uscc_produces_valid_codes_with_valid_org_code():
    rng = random.Random(7)
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    for _ in range(200):
        code = make_uscc(rng)
        assert len(code) == 18 and code.startswith("91")
        assert uscc.is_valid(code)
        assert validate_uscc(code) == code
        org = code[8:17]
        check = 11 - sum(int(c) * w for c, w in zip(org[:8], weights, strict=True)) % 11
        assert org[8] == {10: "X", 11: "0"}.get(check, str(check))


def test_make_uscc_is_deterministic_for_a_seed():
    assert make_uscc(random.Random(3)) == make_uscc(random.Random(3))


@pytest.mark.parametrize(("code", "known"), [("CNY", True), ("USD", True), ("XXY", False)])
def test_is_known_currency(code, known):
    assert is_known_currency(code) is known


def test_currency_must_be_exact_uppercase_string():
    assert not is_known_currency("cny")
    assert not is_known_currency(None)  # type: ignore[arg-type]
