"""Masks show enough to recognise a record and never the sensitive middle."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credo.core.masking import (
    mask_address,
    mask_date,
    mask_id,
    mask_name,
    mask_phone,
    mask_value,
)


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("110101199003071234", "1101**********1234"),
        ("91110108551385082Q", "9111**********082Q"),
        ("E12345678", "E*******8"),
        ("AB123", "A***3"),
        ("AB12", "****"),
        ("", ""),
    ],
)
def test_mask_id(raw, masked):
    assert mask_id(raw) == masked


@given(st.text(alphabet="0123456789X", min_size=10, max_size=40))
def test_mask_id_never_reveals_the_middle(raw):
    masked = mask_id(raw)
    assert len(masked) == len(raw)
    assert masked[4:-4] == "*" * (len(raw) - 8)
    assert masked[:4] == raw[:4] and masked[-4:] == raw[-4:]


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("张三", "张*"),
        ("欧阳娜娜", "欧***"),
        ("张 三", "张*"),
        ("Zhang San", "Z*** S***"),
        ("Li", "L***"),
        ("张", "*"),
        ("Z", "*"),
        ("", ""),
    ],
)
def test_mask_name(raw, masked):
    assert mask_name(raw) == masked


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("+8613812345678", "+86138****5678"),
        ("+16502530000", "+1650***0000"),
        ("13812345678", "*******5678"),
        ("+86 garbage", "*******bage"),
        ("123", "***"),
    ],
)
def test_mask_phone(raw, masked):
    assert mask_phone(raw) == masked


def test_mask_address_keeps_at_most_six_characters():
    assert mask_address("北京市朝阳区建国路88号") == "北京市朝阳区***"
    assert mask_address("1600 Amphitheatre Parkway") == "1600 A***"
    assert mask_address("Rd 5") == "Rd***"


def test_mask_date_keeps_only_the_year():
    assert mask_date("1990-03-07") == "1990-**-**"
    assert mask_date(date(1990, 3, 7)) == "1990-**-**"
    assert mask_date("garbage") == "****-**-**"


def test_mask_value_dispatches_by_field():
    assert mask_value("id_number", "110101199003071234") == "1101**********1234"
    assert mask_value("name", "张三") == "张*"
    assert mask_value("phone", "+8613812345678") == "+86138****5678"
    assert mask_value("address", "北京市朝阳区建国路88号") == "北京市朝阳区***"
    assert mask_value("birth_date", date(1990, 3, 7)) == "1990-**-**"
    assert mask_value("name", None) is None


def test_mask_value_truncates_other_fields():
    assert mask_value("balance", 12345) == "12345"
    long = mask_value("remark", "x" * 100)
    assert long == "x" * 59 + "…" and len(long) == 60
    assert mask_value("remark", "y" * 60) == "y" * 60


class _Hostile:
    def __str__(self) -> str:
        raise RuntimeError("no")


@pytest.mark.parametrize("field", ["id_number", "name", "phone", "address", "birth_date", "x"])
@pytest.mark.parametrize("value", [12345678901, 3.5, b"\xff\x00", ["a"], _Hostile(), ""])
def test_masking_never_raises(field, value):
    assert isinstance(mask_value(field, value), str)
