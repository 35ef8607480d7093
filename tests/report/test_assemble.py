"""Report assembly as a pure function: grid codes, masking matrix, summary, score block."""

from __future__ import annotations

import math

import orjson
import pytest

from credo.core.masking import mask_id
from credo.report.assemble import assemble, dpd_code, money
from credo.report.schema import Report
from credo.report.snapshot import Viewer
from credo.scoring.grades import grade_for_pd
from furnishing.bureau import ZHANG_ID, ZHANG_NAME

from .snapshots import BANK, GENERATED, SCALING, assembled, snapshot


def _account(doc: dict, account_type: str) -> dict:
    return next(
        a for a in doc["accounts"] if a["account_type"] == account_type and a["currency"] == "CNY"
    )


@pytest.mark.parametrize(
    ("dpd", "code"),
    [
        (0, "N"),
        (1, "1"),
        (30, "1"),
        (31, "2"),
        (60, "2"),
        (61, "3"),
        (90, "3"),
        (91, "4"),
        (150, "5"),
        (180, "6"),
        (181, "7"),
        (3650, "7"),
    ],
)
def test_days_past_due_fall_in_30_day_buckets(dpd, code):
    assert dpd_code(dpd) == code


@pytest.mark.parametrize(
    ("cents", "text"), [(0, "0.00"), (5, "0.05"), (100, "1.00"), (123456, "1234.56"), (None, None)]
)
def test_money_is_yuan_with_two_decimals(cents, text):
    assert money(cents) == text


@pytest.mark.parametrize("viewer", list(Viewer))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_assembled_reports_match_the_schema(viewer, lang):
    Report.model_validate_json(orjson.dumps(assembled(viewer, lang)))
    Report.model_validate_json(orjson.dumps(assembled(viewer, lang, with_score=False)))
    Report.model_validate_json(orjson.dumps(assembled(viewer, lang, empty=True)))


def test_assembly_is_deterministic():
    assert assembled(Viewer.operator) == assembled(Viewer.operator)


def test_the_card_grid_codes_month_by_month():
    card = _account(assembled(), "credit_card")
    codes = "".join(c["code"] for c in card["grid"])
    # 2022-07 nothing due, paid until 2023-09, then 1..7 as it ages, cured in May 2024
    assert codes == "*" + "N" * 14 + "1234567" + "NN"
    assert card["grid"][0]["period"] == "2022-07" and card["grid"][-1]["period"] == "2024-06"
    assert card["worst_days_past_due"] == 200 and card["overdue_months"] == 7


def test_accounts_that_ended_show_their_last_24_months_and_end_code():
    doc = assembled()
    loan = _account(doc, "installment_loan")
    assert loan["grid"][-1]["period"] == "2023-10"
    assert "".join(c["code"] for c in loan["grid"][-5:]) == "/N12B"  # charged off in its last
    assert loan["grid"][-1]["days_past_due"] == 90 and loan["status"] == "charged_off"
    bnpl = _account(doc, "bnpl")
    assert bnpl["grid"][-1] == {
        "period": "2024-02",
        "code": "G",
        "days_past_due": 0,
        "balance": "1500.00",
    }
    assert bnpl["grid"][-4]["code"] == "/"  # before it was opened


def test_a_closing_dated_after_the_as_of_date_had_not_happened():
    usd = next(a for a in assembled()["accounts"] if a["currency"] == "USD")
    assert usd["status"] == "open" and usd["closed_on"] is None
    assert usd["grid"][-1]["code"] == "*"


def test_summary_of_accounts_overdue_public_records_and_inquiries():
    s = assembled()["summary"]
    assert s["accounts"]["total"] == 4 and s["accounts"]["open"] == 2
    assert (s["accounts"]["charged_off"], s["accounts"]["transferred"]) == (1, 1)
    assert [(t["account_type"], t["currency"]) for t in s["accounts"]["by_type"]] == [
        ("installment_loan", "CNY"),
        ("credit_card", "CNY"),
        ("credit_card", "USD"),
        ("bnpl", "CNY"),
    ]
    assert s["overdue"]["accounts_overdue"] == 1  # the charged-off loan's last month
    assert s["overdue"]["amounts"] == [{"currency": "CNY", "amount": "300.00"}]
    assert s["overdue"]["worst_days_past_due_24m"] == 200
    assert s["overdue"]["accounts_90plus_24m"] == 2
    assert s["public_records"] == {
        "total": 2,
        "unresolved": 1,
        "court_judgment": 0,
        "enforcement": 1,
        "tax_arrears": 1,
        "admin_penalty": 0,
        "bankruptcy": 0,
    }
    assert s["inquiries"]["last_1m"] == {"hard": 2, "soft": 0, "hard_institutions": 2}
    assert s["inquiries"]["last_3m"]["hard"] == 3
    assert s["inquiries"]["last_24m"] == {"hard": 3, "soft": 1, "hard_institutions": 2}


def test_the_masking_matrix():
    subject, inst, staff = (
        assembled(v) for v in (Viewer.subject, Viewer.institution, Viewer.operator)
    )
    assert subject["identity"]["name"] == ZHANG_NAME
    assert subject["identity"]["id_number"] == ZHANG_ID[:6] + "*" * 8 + ZHANG_ID[-4:]
    assert subject["identity"]["birth_date"] == "1985-03-14"
    assert subject["identity"]["gender"] == "M"
    assert subject["identity"]["contacts"][0]["phone"] == "+8613912345678"
    for doc in (inst, staff):
        assert doc["identity"]["name"] == "张*" and doc["identity"]["gender"] is None
        assert doc["identity"]["id_number"] == mask_id(ZHANG_ID)
        assert doc["identity"]["birth_date"] == "1985-**-**"
        assert ZHANG_ID not in orjson.dumps(doc).decode()
    assert inst["identity"]["contacts"] == []
    assert staff["identity"]["contacts"][0]["phone"] == "+86139****5678"
    # account numbers: the subject's own in full; an institution its own; staff none
    card_refs = [_account(d, "credit_card")["account_ref"] for d in (subject, inst, staff)]
    assert card_refs == ["6222020012345678", "6222020012345678", "6222********5678"]
    loan_inst = _account(inst, "installment_loan")
    assert loan_inst["account_ref"] == mask_id("P2P-LOAN-0042")
    assert loan_inst["institution"] == {"code": None, "name": None, "kind": "online_lending"}
    assert _account(staff, "installment_loan")["institution"]["code"] == "P2P01"
    assert inst["public_records"][0]["source"]["code"] == "COURT01"  # a public source
    assert {q["institution"]["code"] for q in inst["inquiries"]} == {"BANK_A", None}


def test_a_snapshot_loaded_for_a_narrower_viewer_is_refused():
    snap = snapshot(Viewer.institution)
    with pytest.raises(ValueError, match="load it for subject"):
        assemble(
            snap,
            viewer=Viewer.subject,
            institution=None,
            purpose="self_query",
            report_id="r",
            generated_at=GENERATED,
            lang="zh",
        )
    with pytest.raises(ValueError, match="lang must be zh or en"):
        assemble(
            snap,
            viewer=Viewer.institution,
            institution=BANK,
            purpose="loan_approval",
            report_id="r",
            generated_at=GENERATED,
            lang="de",
        )


def test_score_block_bands_agree_with_the_grades():
    sc = assembled(lang="en")["score"]
    assert (sc["score"], sc["grade"], sc["model"], sc["range"]) == (
        551,
        "E",
        "person-scorecard@2",
        [441.0, 733.0],
    )
    assert [r["code"] for r in sc["reasons"]] == ["PH03-H", "NC03-H"]
    assert sc["reasons"][0]["text"].startswith("worst days past due")
    for band in sc["bands"]:
        lo = band["min_score"] if band["min_score"] is not None else band["max_score"] - 10
        hi = band["max_score"] if band["max_score"] is not None else band["min_score"] + 10
        mid = (lo + hi) / 2
        pd_ = 1 / (1 + math.exp((mid - SCALING["offset"]) / SCALING["factor"]))
        assert grade_for_pd(pd_) == band["grade"]
    assert assembled(lang="zh")["score"]["reasons"][0]["text"].startswith("近24个月")


def test_no_score_says_why_in_the_language():
    assert assembled(lang="zh", empty=True)["score"]["unavailable"] == {
        "code": "no_credit_file",
        "text": "无信贷账户，暂无法评分",
    }
    assert assembled(lang="en", with_score=False)["score"]["unavailable"]["code"] == "not_scored"
