"""Row validation and cleaning (pure): every rule with a failing row and the field it names."""

from __future__ import annotations

from datetime import date

import pytest

from credo.core.checksums import make_prc_id
from credo.core.masking import mask_id
from credo.furnishing.validate import (
    AccountRec,
    InquiryRec,
    PublicRecordRec,
    RowValidator,
    StatusRec,
    SubjectRec,
)

from .bureau import (
    ACME_USCC,
    AS_OF,
    LI_ID,
    ZHANG_ID,
    account,
    enterprise,
    inquiry,
    loan,
    person,
    public_record,
    status,
)


@pytest.fixture
def check(cn):
    validator = RowValidator(as_of=AS_OF, profile=cn)
    return validator.validate


def fields_of(result) -> set[str | None]:
    _, rec, problems = result
    assert rec is None, "the row should have been rejected"
    return {p.field for p in problems}


def reason_for(result, field: str) -> str:
    return next(p.reason for p in result[2] if p.field == field)


def value_for(result, field: str) -> str | None:
    return next(p.value for p in result[2] if p.field == field)


def test_good_rows_of_every_type_pass(check):
    cases = [
        (person(), SubjectRec),
        (enterprise(), SubjectRec),
        (account(), AccountRec),
        (loan(), AccountRec),
        (status(), StatusRec),
        (public_record(), PublicRecordRec),
        (inquiry(), InquiryRec),
    ]
    for row, cls in cases:
        rtype, rec, problems = check(row)
        assert problems == [], (row, problems)
        assert rtype == row["record_type"]
        assert isinstance(rec, cls)


def test_good_status_is_normalised_to_cents_and_first_of_month(check):
    _, rec, _ = check(status(period="202405", balance="1234.5", dpd="0"))
    assert rec.period == date(2024, 5, 1)
    assert rec.balance_cents == 123450
    assert rec.days_past_due == 0


# -- record_type -------------------------------------------------------------------------


def test_unknown_record_type_names_the_field(check):
    row = {**person(), "record_type": "subjekt"}
    rtype, rec, problems = check(row)
    assert (rtype, rec) == (None, None)
    assert [p.field for p in problems] == ["record_type"]
    assert "unknown record_type" in problems[0].reason
    assert problems[0].value == "subjekt"


def test_missing_record_type_is_required(check):
    row = person()
    del row["record_type"]
    _, _, problems = check(row)
    assert [(p.field, p.reason) for p in problems] == [("record_type", "required field is missing")]


def test_record_type_is_case_and_space_insensitive(check):
    assert check({**person(), "record_type": " Subject "})[2] == []


# -- enumerations ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "field", "bad"),
    [
        (person(), "subject_type", "alien"),
        (person(), "id_type", "driver_licence"),
        (person(), "gender", "X"),
        (account(), "account_type", "mortgage"),
        (account(), "status", "frozen"),
        (public_record(), "kind", "parking_ticket"),
        (inquiry(), "kind", "medium"),
        (inquiry(), "purpose", "curiosity"),
    ],
)
def test_each_enum_rejects_unknown_values(check, row, field, bad):
    result = check({**row, field: bad})
    assert field in fields_of(result)
    assert reason_for(result, field).startswith("must be one of ")
    assert value_for(result, field) == bad


def test_enums_are_case_folded(check):
    _, rec, problems = check(account(account_type="Credit_Card", status="OPEN"))
    assert problems == []
    assert (rec.account_type, rec.status) == ("credit_card", "open")


@pytest.mark.parametrize(
    "row",
    [person(), enterprise(), account(), loan(), status(), public_record(), inquiry()],
    ids=lambda r: r["record_type"],
)
def test_every_required_field_is_required(check, row):
    from credo.furnishing.format import FIELDS

    required, _ = FIELDS[row["record_type"]]
    for name in required:
        broken = {k: v for k, v in row.items() if k != name}
        result = check(broken)
        assert name in fields_of(result), name
        assert reason_for(result, name) == "required field is missing"


# -- identifiers -------------------------------------------------------------------------


def _bad_check_digit(number: str) -> str:
    last = number[-1]
    return number[:-1] + ("0" if last != "0" else "1")


def test_prc_id_checksum(check):
    bad = _bad_check_digit(ZHANG_ID)
    result = check(person(id_number=bad))
    assert fields_of(result) == {"id_number"}
    assert "GB 11643 checksum" in reason_for(result, "id_number")
    assert value_for(result, "id_number") == mask_id(bad)


def test_birth_date_must_match_prc_id(check):
    result = check(person(birth=date(1985, 3, 15)))
    assert fields_of(result) == {"birth_date"}
    assert "birth date inside the PRC ID" in reason_for(result, "birth_date")
    assert value_for(result, "birth_date") == "1985-**-**"


def test_gender_must_match_prc_id(check):
    assert check(person(gender="M"))[2] == []  # ZHANG_ID has an odd sequence digit
    result = check(person(gender="F"))
    assert fields_of(result) == {"gender"}
    assert "gender digit" in reason_for(result, "gender")


def test_uscc_checksum(check):
    bad = ACME_USCC[:-1] + ("0" if ACME_USCC[-1] != "0" else "1")
    result = check(enterprise(id_number=bad))
    assert fields_of(result) == {"id_number"}
    assert "GB 32100 checksum" in reason_for(result, "id_number")


def test_person_with_uscc_is_rejected(check):
    result = check(person(id_type="uscc", id_number=ACME_USCC))
    assert fields_of(result) == {"id_type"}
    assert "person" in reason_for(result, "id_type")


def test_enterprise_with_prc_id_is_rejected(check):
    result = check(enterprise(id_type="prc_id", id_number=ZHANG_ID))
    assert fields_of(result) == {"id_type"}
    assert "enterprise" in reason_for(result, "id_type")


def test_person_needs_a_birth_date_but_an_enterprise_may_not_have_one(check):
    assert fields_of(check(person(birth=None))) == {"birth_date"}
    assert fields_of(check(enterprise(birth_date="1999-01-01"))) == {"birth_date"}
    assert fields_of(check(enterprise(gender="F"))) == {"gender"}


def test_full_width_digits_and_lowercase_x_are_normalised(check):
    number = make_prc_id("110105", date(1949, 12, 31), 2)
    assert number.endswith("X")
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in number[:-1]) + "x"
    _, rec, problems = check(
        person(id_number=f" {full_width} ", name="赵六", birth=date(1949, 12, 31), gender="F")
    )
    assert problems == []
    assert rec.id_number == number
    assert rec.region == "110105"


def test_identifiers_in_other_records_are_checked_too(check):
    bad = _bad_check_digit(LI_ID)
    for row in (account(id_number=bad), public_record(id_type="prc_id", id_number=bad)):
        assert "id_number" in fields_of(check(row))
    assert "id_number" in fields_of(check(inquiry(id_number=bad)))


def test_raw_identifier_never_appears_in_problems(check):
    bad_prc = _bad_check_digit(ZHANG_ID)
    bad_uscc = ACME_USCC[:-1] + ("0" if ACME_USCC[-1] != "0" else "1")
    rows = [
        person(id_number=bad_prc),
        person(id_number=bad_prc[:-3]),  # wrong length
        person(id_number="99" + bad_prc[2:]),  # unknown province
        person(birth=date(1985, 3, 15)),  # birth date mismatch (valid id)
        person(gender="F"),
        enterprise(id_number=bad_uscc),
        enterprise(id_type="prc_id", id_number=ZHANG_ID),
        account(id_number=bad_prc),
        inquiry(id_number=bad_prc),
        public_record(id_type="prc_id", id_number=bad_prc),
        {**person(id_number=bad_prc), "religion": "x"},
        {**person(id_number=bad_prc), "nickname": ZHANG_ID},
    ]
    secrets = {bad_prc, bad_prc[:-3], "99" + bad_prc[2:], ZHANG_ID, bad_uscc, ACME_USCC}
    seen_masked = False
    for row in rows:
        _, rec, problems = check(row)
        assert rec is None and problems
        for p in problems:
            text = f"{p.field} {p.reason} {p.value}"
            for s in secrets:
                assert s not in text, (row, p)
                assert s[6:14] not in (p.value or ""), (row, p)  # not even the birth digits
            if p.value == mask_id(bad_prc):
                seen_masked = True
    assert seen_masked
    assert mask_id(bad_prc) == bad_prc[:4] + "*" * 10 + bad_prc[-4:]


# -- dates and periods -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (account(opened_on="2023-02-30"), "opened_on"),
        (account(opened_on="15/01/2023"), "opened_on"),
        (inquiry(on="2024-13-01"), "inquired_on"),
        (public_record(filed_on="yesterday"), "filed_on"),
        (person(birth="1985-02-29"), "birth_date"),
    ],
)
def test_dates_must_be_real(check, row, field):
    assert field in fields_of(check(row))


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (account(opened_on="2024-07-01"), "opened_on"),
        (account(status="closed", closed_on="2024-07-01"), "closed_on"),
        (inquiry(on="2024-07-01"), "inquired_on"),
        (public_record(filed_on="2024-07-01"), "filed_on"),
        (public_record(resolved_on="2024-07-01"), "resolved_on"),
        (status(dpd=30, subject_notified_on="2024-07-01"), "subject_notified_on"),
    ],
)
def test_dates_may_not_be_after_the_batch_date(check, row, field):
    result = check(row)
    assert fields_of(result) == {field}
    assert "after the batch date 2024-06-30" in reason_for(result, field)


def test_the_batch_date_itself_is_allowed(check):
    assert check(inquiry(on="2024-06-30"))[2] == []


def test_period_after_the_batch_month(check):
    assert check(status(period="2024-06"))[2] == []
    result = check(status(period="2024-07"))
    assert fields_of(result) == {"period"}
    assert "after the batch month 2024-06" in reason_for(result, "period")


@pytest.mark.parametrize("bad", ["2024-13", "24-05", "May 2024"])
def test_period_must_be_a_month(check, bad):
    assert fields_of(check(status(period=bad))) == {"period"}


def test_closed_on_before_opened_on(check):
    result = check(account(status="closed", closed_on="2022-12-31"))
    assert fields_of(result) == {"closed_on"}


def test_resolved_before_filed(check):
    assert fields_of(check(public_record(resolved_on="2024-02-01"))) == {"resolved_on"}


# -- amounts and currencies --------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ("-1.00", "must not be negative"),
        (-5, "must not be negative"),
        ("10.005", "more than 2 decimals"),
        (10.005, "more than 2 decimals"),
        ("abc", "plain decimal number"),
        ("1,000", "thousands separators"),
        ("1e3", "exponent"),
        (True, "must be a number"),
    ],
)
def test_amounts(check, bad, words):
    for field in ("balance", "amount_due", "amount_paid"):
        result = check(status(**{field: bad}))
        assert fields_of(result) == {field}
        assert words in reason_for(result, field)
    result = check(account(credit_limit=bad))
    assert fields_of(result) == {"credit_limit"}


def test_amounts_accept_numbers_and_full_width_digits(check):
    _, rec, problems = check(status(balance=12.5, amount_due="１００", amount_paid=0))
    assert problems == []
    assert (rec.balance_cents, rec.amount_due_cents, rec.amount_paid_cents) == (1250, 10000, 0)


@pytest.mark.parametrize("bad", ["XYZ", "RMB", "yuan"])
def test_unknown_currency(check, bad):
    result = check(account(currency=bad))
    assert fields_of(result) == {"currency"}
    assert "ISO 4217" in reason_for(result, "currency")
    assert fields_of(check(public_record(currency=bad))) == {"currency"}


def test_currency_is_upper_cased(check):
    _, rec, _ = check(account(currency="usd"))
    assert rec.currency == "USD"


def test_public_record_amount_needs_a_currency(check):
    row = public_record()
    del row["currency"]
    assert fields_of(check(row)) == {"currency"}


# -- account rules -----------------------------------------------------------------------


def test_credit_limit_required_for_credit_card(check):
    result = check(account(credit_limit=None))
    assert fields_of(result) == {"credit_limit"}
    assert reason_for(result, "credit_limit") == "required for credit_card"


def test_installment_loan_needs_principal_and_term(check):
    assert fields_of(check(loan(principal=None))) == {"principal"}
    assert fields_of(check(loan(term_months=None))) == {"term_months"}
    assert fields_of(check(loan(principal=None, term_months=None))) == {"principal", "term_months"}


@pytest.mark.parametrize("bad", [0, 601, "twelve", 12.5])
def test_term_months_range(check, bad):
    assert fields_of(check(loan(term_months=bad))) == {"term_months"}


def test_closed_status_needs_closed_on(check):
    result = check(account(status="closed"))
    assert fields_of(result) == {"closed_on"}
    assert "required when status is closed" in reason_for(result, "closed_on")
    assert check(account(status="closed", closed_on="2024-05-31"))[2] == []


def test_open_account_has_no_closed_on(check):
    assert fields_of(check(account(closed_on="2024-05-31"))) == {"closed_on"}


@pytest.mark.parametrize("bad", [-1, 3651, "1.5", "thirty"])
def test_days_past_due_range(check, bad):
    assert "days_past_due" in fields_of(check(status(dpd=bad, subject_notified_on="2024-06-01")))


# -- banned data and unknown fields ------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "path"),
    [
        ({**person(), "religion": "佛教"}, "religion"),
        ({**person(), "Blood_Type": "A"}, "Blood_Type"),
        ({**account(), "extra": {"notes": "x", "fingerprint": "..."}}, "extra.fingerprint"),
        ({**status(), "meta": [{"ok": 1}, {"illness": "flu"}]}, "meta.1.illness"),
        ({**inquiry(), "genes": "ACGT"}, "genes"),
        ({**public_record(), "blood_type": None}, "blood_type"),
    ],
)
def test_banned_data_is_rejected_wherever_it_appears(check, row, path):
    rtype, rec, problems = check(row)
    assert rec is None
    assert [p.field for p in problems] == [path]
    assert "banned data" in problems[0].reason
    assert problems[0].value is None  # the banned value itself is never echoed
    assert rtype == row["record_type"]


def test_banned_data_without_record_type_is_still_banned(check):
    _, _, problems = check({"religion": "x"})
    assert [p.field for p in problems] == ["religion"]


def test_unknown_field_is_rejected(check):
    result = check({**status(), "colour": "blue"})
    assert fields_of(result) == {"colour"}
    assert "unknown field for record_type status" in reason_for(result, "colour")


def test_a_field_of_another_record_type_is_unknown_here(check):
    assert fields_of(check({**status(), "credit_limit": "100"})) == {"credit_limit"}


# -- negative data notice (Art. 15) ------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (status(dpd=30, subject_notified_on=None), "subject_notified_on"),
        (account(status="charged_off"), "subject_notified_on"),
        ({k: v for k, v in public_record().items() if k != "subject_notified_on"}, None),
    ],
)
def test_negative_record_without_notice_rejected_in_cn_accepted_in_us(cn, us, row, field):
    cn_result = RowValidator(as_of=AS_OF, profile=cn).validate(row)
    assert fields_of(cn_result) == {"subject_notified_on"}
    assert "negative data" in reason_for(cn_result, "subject_notified_on")
    _, rec, problems = RowValidator(as_of=AS_OF, profile=us).validate(row)
    assert problems == [] and rec is not None


def test_positive_record_needs_no_notice(check):
    assert check(status(dpd=0))[2] == []
    assert check(status(dpd=30, subject_notified_on="2024-06-30"))[2] == []


# -- names, phones, addresses, regions ---------------------------------------------------


def test_phone_normalised_to_e164(check):
    _, rec, problems = check(person(phone="138-0013-8000"))
    assert problems == []
    assert rec.phone == "+8613800138000"
    _, rec, _ = check(person(phone="+1 (415) 555-2671"))
    assert rec.phone == "+14155552671"


def test_us_profile_reads_national_numbers_as_us(us):
    _, rec, problems = RowValidator(as_of=AS_OF, profile=us).validate(
        person(phone="(415) 555-2671")
    )
    assert problems == []
    assert rec.phone == "+14155552671"


@pytest.mark.parametrize("bad", ["12345", "not a phone", "138001380001234"])
def test_invalid_phone_is_rejected_and_masked(check, bad):
    result = check(person(phone=bad))
    assert fields_of(result) == {"phone"}
    value = value_for(result, "phone")
    assert value != bad and "*" in value


def test_name_is_collapsed_and_control_characters_rejected(check):
    _, rec, _ = check(person(name="  张\u3000三 "))
    assert rec.name == "张 三"
    assert fields_of(check(person(name="张\x07三"))) == {"name"}
    assert fields_of(check(person(name="12345"))) == {"name"}


def test_non_text_values_are_rejected(check):
    assert fields_of(check(person(name=42))) == {"name"}
    assert fields_of(check(account(account_ref=["x"]))) == {"account_ref"}


def test_region_must_be_six_digits(check):
    assert fields_of(check(enterprise(region="1101"))) == {"region"}
    _, rec, _ = check(person())
    assert rec.region == "110105"  # taken from the PRC ID


def test_overlong_values(check):
    assert fields_of(check(account(account_ref="A" * 65))) == {"account_ref"}
    assert fields_of(check(person(address="路" * 501))) == {"address"}
    assert fields_of(check(public_record(case_ref="C" * 101))) == {"case_ref"}


def test_all_problems_of_a_row_are_reported_at_once(check):
    result = check(
        account(currency="XYZ", opened_on="2030-01-01", credit_limit="-1", account_type="x")
    )
    assert fields_of(result) == {"currency", "opened_on", "credit_limit", "account_type"}


def test_a_record_whose_holder_is_known_needs_no_identifier(cn):
    """Dispute corrections validate a record already on file: its holder is known, so the
    validator does not ask for (or check) an identifier, and every other rule still applies."""
    rows = [
        {k: v for k, v in account().items() if k not in ("id_type", "id_number")},
        {k: v for k, v in public_record().items() if k not in ("id_type", "id_number")},
    ]
    known = RowValidator(as_of=AS_OF, profile=cn, holder_known=True)
    for row in rows:
        _, rec, problems = RowValidator(as_of=AS_OF, profile=cn).validate(row)
        assert rec is None and {p.field for p in problems} >= {"id_type", "id_number"}
        _, rec, problems = known.validate(row)
        assert problems == [] and (rec.id_type, rec.id_number) == (None, None)
    _, rec, problems = known.validate({**rows[0], "closed_on": "2022-01-01"})
    assert rec is None and {p.field for p in problems} == {"closed_on"}


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("birth_date", "1985-02-30"),
        ("birth_date", "30/02/1985"),
        ("birth_date", "2025-01-01"),
        ("phone", "13800138000123"),
        ("name", "张\x07三"),
        ("id_number", "110105198502301234"),
    ],
)
def test_reasons_never_quote_a_personal_value(check, field, bad):
    """Reasons are stored in the quarantine and returned by the API: a parser message that
    quotes the value ("not a real date: '1985-02-30'") shows it masked."""
    _, _, problems = check(person(**{field: bad}))
    mine = [p for p in problems if p.field == field]
    assert mine, problems
    for p in mine:
        assert bad not in p.reason and repr(bad) not in p.reason, p.reason
        assert p.value != bad
