"""The fast path for plain status rows agrees with the general validator on every row."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credo.core.normalize import parse_amount_cents
from credo.furnishing.validate import RowValidator, _Row

from .bureau import AS_OF

_texts = st.one_of(
    st.none(),
    st.integers(min_value=-5, max_value=10**16),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    st.from_regex(r"\A[0-9]{1,16}(\.[0-9]{0,3})?\Z"),
    st.sampled_from(["0", "0.5", "12.50", " 7.00", "１２.５０", "1,000.00", "1e3", "-1.00", ""]),
)
_periods = st.one_of(
    st.sampled_from(["2024-01", "2026-06", "2026-07", "0000-05", "2024-13", "2024-00", "202401",
                     "２０２４-０１", " 2024-01", "2024-1", 202401]),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}\Z"),
    st.text(max_size=8),
)  # fmt: skip
_dates = st.one_of(
    st.none(),
    st.sampled_from(["2026-06-30", "2026-07-01", "2024-02-30", "20260101", "2026/01/01", "",
                     " 2026-01-01", "0000-01-01", "2026-1-01"]),
    st.dates().map(lambda d: d.isoformat()),
    st.text(max_size=10),
)  # fmt: skip
_dpd = st.one_of(
    st.integers(min_value=-3, max_value=4000),
    st.sampled_from(["0", "30", "3651", "-1", "＋3", "٣", "1.0", True, 1.0, None]),
    st.text(max_size=4),
)
_refs = st.one_of(
    st.sampled_from(["A-1", " A-1 ", "A  1", "", "   ", "Ａ-1", "a\t1"]),
    st.text(max_size=10),
    st.integers(),
    st.none(),
)


@st.composite
def status_rows(draw):
    row = {
        "record_type": "status",
        "account_ref": draw(_refs),
        "period": draw(_periods),
        "balance": draw(_texts),
        "amount_due": draw(_texts),
        "amount_paid": draw(_texts),
        "days_past_due": draw(_dpd),
        "subject_notified_on": draw(_dates),
    }
    return {k: v for k, v in row.items() if v is not None or draw(st.booleans())}


def _assert_fast_agrees(validator, row, general_path, fast_path) -> None:
    """A fast path takes only rows the general path accepts, giving the same record; and
    whatever path a row takes, validate() answers as the general path does."""
    general = _Row(row)
    expected = general_path(general)
    fast = fast_path(row)
    if fast is not None:
        assert not general.problems, general.problems
        assert fast == expected
    _, rec, problems = validator.validate(row)
    assert rec == (None if general.problems else expected)
    assert bool(problems) == bool(general.problems)


@settings(
    max_examples=3000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(row=status_rows())
def test_fast_path_accepts_only_what_the_general_path_accepts_and_gives_the_same_record(
    cn, us, row
):
    for profile in (cn, us):  # the profiles differ in the negative-data notice rule
        validator = RowValidator(as_of=AS_OF, profile=profile)
        _assert_fast_agrees(validator, row, validator._status, validator._status_fast)


def test_fast_path_takes_the_canonical_rows(cn):
    validator = RowValidator(as_of=AS_OF, profile=cn)
    row = {"record_type": "status", "account_ref": "A-1", "period": "2024-01",
           "balance": "12.5", "amount_due": 3, "amount_paid": "0.07", "days_past_due": 31,
           "subject_notified_on": "2024-01-20"}  # fmt: skip
    rec = validator._status_fast(row)
    assert rec is not None
    assert (rec.balance_cents, rec.amount_due_cents, rec.amount_paid_cents) == (1250, 300, 7)
    assert rec == validator._status(_Row(row))


def test_amounts_in_integer_arithmetic_agree_with_decimal():
    assert parse_amount_cents("0.10") == 10
    assert parse_amount_cents("0.1") == 10
    assert parse_amount_cents(1.5) == 150  # floats take the Decimal path
    for bad in (10**15, "1" * 16, True, "1.234", "-1"):
        with pytest.raises(ValueError):
            parse_amount_cents(bad)


@given(st.from_regex(r"\A[0-9]{1,15}(\.[0-9]{1,2})?\Z"))
def test_plain_amount_strings_give_the_decimal_result(text):
    from decimal import Decimal

    assert parse_amount_cents(text) == int(Decimal(text) * 100)


@given(
    cents=st.tuples(*[st.integers(min_value=0, max_value=10**17)] * 3),
    dpd=st.integers(min_value=0, max_value=3650),
    notified=st.one_of(st.none(), st.dates()),
)
def test_the_status_hash_is_the_generic_content_hash(cents, dpd, notified):
    from datetime import date

    from credo.furnishing.store import _hash, status_hash
    from credo.furnishing.validate import StatusRec

    rec = StatusRec("A-1", date(2024, 1, 1), *cents, dpd, notified)
    assert status_hash(rec) == _hash(*cents, dpd, notified)


_ids = st.one_of(
    st.sampled_from(["110105194912310021", "11010519491231002X", "11010519491231002x",
                     " 110105194912310021", "110105194912310022", "91350100M000100Y43", "E1234567",
                     "１１０１０５１９４９１２３１００２１", ""]),
    st.text(max_size=20),
    st.integers(),
)  # fmt: skip


@st.composite
def inquiry_rows(draw):
    row = {
        "record_type": "inquiry",
        "id_type": draw(st.sampled_from(["prc_id", "uscc", "passport", "other", "PRC_ID", " prc_id",
                                         "ssn", 3])),
        "id_number": draw(_ids),
        "inquired_on": draw(_dates),
        "purpose": draw(st.sampled_from(["loan_approval", "self_query", "Loan_Approval", "fun",
                                         None])),
        "kind": draw(st.sampled_from(["hard", "soft", "HARD", " soft", "medium", None])),
        "inquiry_ref": draw(st.one_of(st.none(), st.text(max_size=6), st.integers())),
    }  # fmt: skip
    return {k: v for k, v in row.items() if v is not None or draw(st.booleans())}


@settings(
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(row=inquiry_rows())
def test_the_inquiry_fast_path_agrees_with_the_general_path(cn, row):
    validator = RowValidator(as_of=AS_OF, profile=cn)
    _assert_fast_agrees(validator, row, validator._inquiry, validator._inquiry_fast)


def test_the_inquiry_fast_path_takes_the_canonical_rows(cn):
    validator = RowValidator(as_of=AS_OF, profile=cn)
    row = {"record_type": "inquiry", "id_type": "prc_id", "id_number": "11010519491231002x",
           "inquired_on": "2024-01-02", "purpose": "loan_approval", "kind": "hard"}  # fmt: skip
    rec = validator._inquiry_fast(row)
    assert rec is not None and rec.id_number == "11010519491231002X"
    assert rec == validator._inquiry(_Row(row))
    held = RowValidator(as_of=AS_OF, profile=cn, holder_known=True)
    assert held._inquiry_fast(row) is None  # a dispute correction names no holder
