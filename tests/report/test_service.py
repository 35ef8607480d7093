"""Reports served from a furnished bureau: schema, grid, as-of views, masking, audit, errors."""

from __future__ import annotations

from datetime import date

import orjson
import pytest
from sqlalchemy import select

from credo.account.models import Account, StatusRecord
from credo.audit import service as audit
from credo.audit.models import AuditEntry
from credo.core.masking import mask_id, mask_name
from credo.errors import Invalid, NotFound
from credo.report.assemble import dpd_code
from credo.report.schema import Report
from credo.report.service import build_report, subject_id_by_ref
from credo.report.snapshot import Viewer, load_snapshot
from furnishing.bureau import LI_ID, ZHANG_ID, ZHANG_NAME, add_institution

from .conftest import NOW, SECRETS, ZHANG_ADDRESS, ZHANG_BIRTH, ZHANG_PHONE_E164

BANK_A = {"institution": "BANK_A", "purpose": "loan_approval"}


def _card(doc: dict) -> dict:
    """BANK_A's card CC-1 (the open credit card)."""
    return next(
        a for a in doc["accounts"] if a["account_type"] == "credit_card" and a["status"] == "open"
    )


def _cell(account: dict, period: str) -> dict:
    return next(c for c in account["grid"] if c["period"] == period)


def test_every_viewer_and_language_gets_a_report_that_matches_the_schema(report):
    for viewer, kw in (("subject", {}), ("operator", {}), ("institution", BANK_A)):
        for lang in ("zh", "en"):
            doc = report(viewer=viewer, lang=lang, **kw)
            Report.model_validate_json(orjson.dumps(doc))
            assert (doc["header"]["viewer"], doc["header"]["lang"]) == (viewer, lang)
            assert doc["schema_version"] == "1.1" and doc["disputes"] == []
            assert doc["statements"] == []


def test_the_repayment_grid_shows_the_stored_statuses_month_by_month(report, session):
    doc = report()
    card = _card(doc)
    assert [c["period"] for c in card["grid"]][0::23] == ["2022-09", "2024-08"]
    stored = {
        f"{s.period:%Y-%m}": s
        for s in session.scalars(
            select(StatusRecord)
            .join(Account, Account.id == StatusRecord.account_id)
            .where(Account.account_ref == "CC-1", StatusRecord.superseded_at.is_(None))
        )
    }
    for cell in card["grid"]:
        s = stored.get(cell["period"])
        if s is None:
            assert (cell["code"], cell["days_past_due"], cell["balance"]) == ("/", None, None)
        else:
            assert cell["code"] == dpd_code(s.days_past_due)
            assert cell["days_past_due"] == s.days_past_due
            assert cell["balance"] == f"{s.balance_cents / 100:.2f}"
    assert [_cell(card, p)["code"] for p in ("2024-01", "2024-02", "2024-03", "2024-04")] == [
        "N",
        "1",
        "2",
        "N",
    ]
    assert card["worst_days_past_due"] == 45 and card["overdue_months"] == 2
    # the card closed in September 2023 ends its grid there, with C
    closed = next(a for a in doc["accounts"] if a["status"] == "closed")
    assert closed["grid"][-1] == {
        "period": "2023-09",
        "code": "C",
        "days_past_due": 0,
        "balance": "0.00",
    }
    assert [c["code"] for c in closed["grid"][-4:-1]] == ["N", "N", "N"]


def test_a_past_as_of_date_shows_what_the_bureau_knew_then(report):
    now, then = report(), report(as_of=date(2024, 7, 20))
    assert (now["header"]["historical"], then["header"]["historical"]) == (False, True)
    card_now, card_then = _card(now), _card(then)
    # July's status was furnished on 2024-08-05: unknown on 2024-07-20, although its month is
    assert _cell(card_now, "2024-07")["code"] == "N"
    assert _cell(card_then, "2024-07") == {
        "period": "2024-07",
        "code": "/",
        "days_past_due": None,
        "balance": None,
    }
    # May's balance was corrected on 2024-08-05: the old value before, the new one after
    assert _cell(card_then, "2024-05")["balance"] == "1500.00"
    assert _cell(card_now, "2024-05")["balance"] == "1600.00"
    assert card_then["latest"]["period"] == "2024-06"
    # the judgment was resolved by a later correction; the score is the one stored by then
    assert then["public_records"][0]["resolved_on"] is None
    assert now["public_records"][0]["resolved_on"] == "2024-07-20"
    assert then["summary"]["public_records"]["unresolved"] == 1
    assert (then["score"]["score"], now["score"]["score"]) == (612, 598)


def test_the_end_of_the_as_of_day_is_the_cut(report):
    # by the end of 2024-07-02 only BANK_A's first batch and the first score were on file
    doc = report(as_of=date(2024, 7, 2))
    assert [(a["institution"]["code"], a["account_type"]) for a in doc["accounts"]] == [
        ("BANK_A", "credit_card")
    ]
    assert _card(doc)["latest"]["period"] == "2024-06"
    assert [q["inquired_on"] for q in doc["inquiries"]] == ["2024-05-20"]
    assert doc["public_records"] == [] and doc["score"]["score"] == 612


def test_a_date_before_anything_was_furnished_has_no_file_and_no_score(report):
    doc = report(as_of=date(2024, 7, 1))
    assert doc["accounts"] == [] and doc["inquiries"] == [] and doc["public_records"] == []
    assert doc["score"]["available"] is False
    assert doc["score"]["unavailable"]["code"] == "no_credit_file"


def test_inquiries_of_the_last_two_years_with_kind_and_purpose(report):
    doc = report(lang="en")
    assert [
        (q["inquired_on"], q["purpose"], q["kind"], q["institution"]["code"])
        for q in doc["inquiries"]
    ] == [
        ("2024-05-20", "loan_approval", "hard", "BANK_A"),
        ("2024-01-05", "post_loan_management", "soft", "BANK_B"),
    ]  # the 2021 inquiry is older than two years
    assert doc["summary"]["inquiries"]["last_3m"] == {"hard": 1, "soft": 0, "hard_institutions": 1}
    assert doc["summary"]["inquiries"]["last_12m"]["soft"] == 1


def test_summary_counts_and_balances_by_type(report):
    s = report()["summary"]
    assert (s["accounts"]["total"], s["accounts"]["open"], s["accounts"]["closed"]) == (3, 2, 1)
    by_type = {t["account_type"]: t for t in s["accounts"]["by_type"]}
    assert by_type["credit_card"] == {
        "account_type": "credit_card",
        "currency": "CNY",
        "accounts": 2,
        "open": 1,
        "credit_limit": "20000.00",
        "balance": "1700.00",
    }
    assert by_type["installment_loan"]["balance"] == "112000.00"
    assert s["overdue"]["worst_days_past_due_24m"] == 45
    assert s["overdue"]["overdue_months_24m"] == 2 and s["overdue"]["accounts_overdue"] == 0


def test_score_block_in_the_chosen_language(report):
    zh, en = report(lang="zh")["score"], report(lang="en")["score"]
    assert (zh["score"], zh["grade"], zh["model"]) == (598, "D", "person-scorecard@1")
    assert zh["reasons"][0]["text"] == "近12个月最长逾期天数45，偏高"
    assert en["reasons"][0]["text"].startswith("worst days past due")
    lows = [b["min_score"] for b in zh["bands"] if b["min_score"] is not None]
    assert lows == sorted(lows, reverse=True)  # A (best) has the highest scores
    band = next(b for b in zh["bands"] if b["grade"] == "D")
    assert band["min_score"] <= zh["score"] <= band["max_score"]


def test_subjects_without_a_score_say_why(report, bureau):
    li = report(bureau.li)["score"]
    assert li["available"] is False and li["unavailable"]["code"] == "no_credit_file"
    acme = report(bureau.acme, lang="en")
    assert acme["score"]["unavailable"] == {"code": "not_scored", "text": "not scored by that date"}
    assert acme["identity"]["subject_type"] == "enterprise"


def test_an_institution_never_sees_a_raw_identifier_or_another_members_name(report):
    doc = report(viewer="institution", **BANK_A)
    text = orjson.dumps(doc).decode()
    for secret in SECRETS:
        assert secret not in text, secret
    ident = doc["identity"]
    assert ident["id_number"] == mask_id(ZHANG_ID) and ident["name"] == mask_name(ZHANG_NAME)
    assert ident["birth_date"] == "1985-**-**" and ident["contacts"] == []
    assert ident["gender"] is None
    # its own account in full, BANK_B's only by kind and with a masked number
    assert _card(doc)["account_ref"] == "CC-1"
    loan = next(a for a in doc["accounts"] if a["account_type"] == "installment_loan")
    assert loan["institution"] == {"code": None, "name": None, "kind": "bank"}
    assert loan["account_ref"] != "LOAN-1"
    assert "BANK_B" not in text
    # public sources are public
    assert doc["public_records"][0]["source"]["code"] == "COURT"


def test_the_subject_sees_their_own_name_and_contacts_with_the_id_lightly_masked(report):
    doc = report(viewer="subject")
    ident = doc["identity"]
    assert ident["name"] == ZHANG_NAME and ident["birth_date"] == ZHANG_BIRTH.isoformat()
    assert ident["id_number"] == ZHANG_ID[:6] + "********" + ZHANG_ID[-4:]
    assert ZHANG_ID not in orjson.dumps(doc).decode()
    assert ident["contacts"][0]["phone"] == ZHANG_PHONE_E164
    assert ident["contacts"][0]["address"] == ZHANG_ADDRESS
    assert doc["header"]["purpose"] == "self_query"


def test_bureau_staff_see_masked_identity_and_contacts(report):
    doc = report(viewer="operator", purpose="dispute_review")
    text = orjson.dumps(doc).decode()
    for secret in SECRETS:
        assert secret not in text, secret
    contact = doc["identity"]["contacts"][0]
    assert contact["phone"] == "+86139****5678" and contact["address"].endswith("***")


def test_an_institution_snapshot_decrypts_neither_contacts_nor_the_birth_date(
    session, keyring, bureau
):
    sid = subject_id_by_ref(session, bureau.zhang)
    snap = load_snapshot(session, sid, as_of=None, keyring=keyring, viewer=Viewer.institution)
    assert snap.contacts == [] and snap.identity.birth_date is None
    assert ZHANG_ID not in repr(snap) and ZHANG_NAME not in repr(snap)


def test_every_report_served_is_one_ledger_entry_without_identifiers(report, session, bureau):
    before = len(audit.list_entries(session, action="report.serve", limit=1000))
    docs = [
        report(),
        report(viewer="subject", lang="en"),
        report(viewer="institution", as_of=date(2024, 7, 20), **BANK_A),
    ]
    audit.write_pending(session)  # written at commit (audit.record); here before it
    entries = audit.list_entries(session, action="report.serve", limit=1000)[before:]
    assert len(entries) == 3
    last = entries[-1]
    assert last.target == f"subject:{bureau.zhang}"
    assert orjson.loads(last.details) == {
        "report_id": docs[-1]["header"]["report_id"],
        "viewer": "institution",
        "institution": "BANK_A",
        "purpose": "loan_approval",
        "as_of": "2024-07-20",
        "historical": True,
        "lang": "zh",
        "format": "json",
    }
    ledger = " ".join(e.details + e.target for e in session.scalars(select(AuditEntry)))
    for secret in SECRETS:
        assert secret not in ledger


def test_an_unknown_reference_is_not_found_and_not_echoed(report, session):
    before = len(audit.list_entries(session, action="report.serve", limit=1000))
    with pytest.raises(NotFound) as exc:
        report(ZHANG_ID)
    assert ZHANG_ID not in exc.value.message and mask_id(ZHANG_ID) in exc.value.message
    with pytest.raises(NotFound):
        report("S" + LI_ID[:12])
    assert len(audit.list_entries(session, action="report.serve", limit=1000)) == before


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"viewer": "institution"}, Invalid),
        ({"viewer": "institution", "institution": "BANK_A"}, Invalid),
        ({"viewer": "institution", "institution": "BANK_A", "purpose": "self_query"}, Invalid),
        ({"viewer": "institution", "institution": "NOPE", "purpose": "loan_approval"}, NotFound),
        ({"viewer": "subject", "purpose": "loan_approval"}, Invalid),
        ({"viewer": "operator", "purpose": "curiosity"}, Invalid),
        ({"viewer": "auditor"}, Invalid),
        ({"lang": "fr"}, Invalid),
        ({"format": "docx"}, Invalid),
        ({"as_of": date(2030, 1, 1)}, Invalid),
    ],
)
def test_bad_requests_are_refused_before_anything_is_read(session, keyring, kw, error):
    add_institution(session, "BANK_A")
    kw = {"viewer": "operator", **kw}
    before = len(audit.list_entries(session, action="report.serve", limit=10))
    with pytest.raises(error) as exc:
        build_report(session, "SNOSUCHSUBJECT", keyring=keyring, actor="test", now=NOW, **kw)
    assert "no subject" not in exc.value.message  # refused before the subject was looked up
    assert len(audit.list_entries(session, action="report.serve", limit=10)) == before


def test_values_typed_into_the_wrong_field_are_not_echoed(session, keyring):
    add_institution(session, "BANK_A")
    for kw in (
        {"viewer": "institution", "institution": "BANK_A", "purpose": ZHANG_ID},
        {"viewer": ZHANG_ID},
        {"viewer": "institution", "institution": ZHANG_ID, "purpose": "loan_approval"},
    ):
        with pytest.raises((Invalid, NotFound)) as exc:
            build_report(session, "SNOSUCHSUBJECT", keyring=keyring, actor="test", **kw)
        assert ZHANG_ID not in exc.value.message and mask_id(ZHANG_ID) in exc.value.message
