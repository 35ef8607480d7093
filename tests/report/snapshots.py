"""Hand-made snapshots for the pure assembly and renderer tests (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from credo.feature.pit import add_months
from credo.report.assemble import assemble
from credo.report.snapshot import (
    AccountData,
    ContactData,
    IdentityData,
    InquiryData,
    InstitutionData,
    PublicRecordData,
    ScoreData,
    Snapshot,
    StatusData,
    Viewer,
)
from furnishing.bureau import ZHANG_ID, ZHANG_NAME

AS_OF = date(2024, 6, 30)
GENERATED = datetime(2024, 7, 1, 8, 30, tzinfo=UTC)
BANK = InstitutionData("BANK_A", "第一商业银行", "bank")
P2P = InstitutionData("P2P01", "快贷网络小额贷款", "online_lending")
COURT = InstitutionData("COURT01", "人民法院公告", "public_source")
SCALING = {"offset": 487.1228762045055, "factor": 28.85390081777927}


def months(last: date, n: int) -> list[date]:
    return [add_months(last.replace(day=1), -k) for k in range(n - 1, -1, -1)]


def st(period: date, dpd: int = 0, balance: int = 150_000, due: int = 30_000) -> StatusData:
    paid = due if dpd == 0 else 0
    return StatusData(period, balance, due, paid, dpd)


def card() -> AccountData:
    """An open card, 30 months: paid, then nothing due, then late up to 200 days, then cured."""
    dpds = [0] * 20 + [0, 20, 50, 80, 110, 140, 170, 200, 0, 0]
    statuses = [
        st(m, d, due=0 if i in (5, 6) else 30_000)
        for i, (m, d) in enumerate(zip(months(AS_OF, 30), dpds, strict=True))
    ]
    return AccountData(
        1,
        BANK,
        "6222020012345678",
        "credit_card",
        date(2021, 12, 3),
        None,
        "CNY",
        2_000_000,
        None,
        None,
        "open",
        statuses,
    )


def charged_off_loan() -> AccountData:
    """Charged off without a closing date: it ends with its last reported month (2023-10)."""
    statuses = [
        st(m, d) for m, d in zip(months(date(2023, 10, 1), 4), (0, 30, 60, 90), strict=True)
    ]
    return AccountData(
        2,
        P2P,
        "P2P-LOAN-0042",
        "installment_loan",
        date(2023, 6, 10),
        None,
        "CNY",
        None,
        1_000_000,
        12,
        "charged_off",
        statuses,
    )


def transferred() -> AccountData:
    statuses = [st(m) for m in months(date(2024, 2, 1), 3)]
    return AccountData(
        3,
        BANK,
        "BNPL-7",
        "bnpl",
        date(2023, 11, 20),
        date(2024, 2, 15),
        "CNY",
        500_000,
        None,
        None,
        "transferred",
        statuses,
    )


def closing_later() -> AccountData:
    """Closed on a date after the as-of date: still open on the as-of date."""
    return AccountData(
        4,
        BANK,
        "CC-9",
        "credit_card",
        date(2024, 1, 5),
        date(2024, 7, 15),
        "USD",
        100_000,
        None,
        None,
        "closed",
        [st(date(2024, 6, 1), balance=0, due=0)],
    )


def score() -> ScoreData:
    reasons = [
        {
            "code": "PH03-H",
            "feature": "worst_dpd_24m",
            "value": 200.0,
            "text_en": "worst days past due in the last 24 months 200 is high",
            "text_zh": "近24个月最长逾期天数200，偏高",
        },
        {
            "code": "NC03-H",
            "feature": "hard_inquiries_12m",
            "value": 3.0,
            "text_en": "credit applications (hard inquiries) in the last 12 months 3 is high",
            "text_zh": "近12个月贷款审批类查询次数3，偏高",
        },
    ]
    return ScoreData(
        551.0,
        "E",
        0.0898,
        reasons,
        "person-scorecard@2",
        "scorecard",
        date(2024, 6, 30),
        datetime(2024, 6, 30, 23, tzinfo=UTC),
        SCALING["offset"],
        SCALING["factor"],
        (441.0, 733.0),
    )


def snapshot(viewer: Viewer = Viewer.subject, *, with_score: bool = True, empty=False) -> Snapshot:
    full = viewer is Viewer.subject
    ident = IdentityData(
        "SREF0000000001",
        "person",
        "prc_id",
        ZHANG_NAME,
        ZHANG_ID,
        date(1985, 3, 14) if full else None,
        1985,
        "M" if full else None,
    )
    snap = Snapshot(ident, AS_OF, True, datetime(2024, 6, 30, 23, 59, tzinfo=UTC), 2, viewer)
    if empty:
        return snap
    if viewer is not Viewer.institution:
        snap.contacts = [
            ContactData(
                BANK, "+8613912345678", "北京市朝阳区建国路1号", datetime(2024, 6, 2, tzinfo=UTC)
            )
        ]
    snap.accounts = [transferred(), charged_off_loan(), card(), closing_later()]
    snap.public_records = [
        PublicRecordData(
            COURT,
            "enforcement",
            "北京市朝阳区人民法院",
            "(2024)京0105执12号",
            5_000_000,
            "CNY",
            date(2024, 3, 1),
            None,
        ),
        PublicRecordData(
            COURT,
            "tax_arrears",
            "国家税务总局北京市税务局",
            "京税罚〔2023〕8号",
            None,
            None,
            date(2023, 2, 1),
            date(2023, 9, 1),
        ),
    ]
    snap.inquiries = [
        InquiryData(BANK, date(2024, 6, 20), "loan_approval", "hard"),
        InquiryData(P2P, date(2024, 6, 1), "loan_approval", "hard"),
        InquiryData(P2P, date(2024, 4, 2), "credit_card_approval", "hard"),
        InquiryData(BANK, date(2023, 1, 9), "post_loan_management", "soft"),
    ]
    snap.score = score() if with_score else None
    return snap


def assembled(viewer: Viewer = Viewer.subject, lang: str = "zh", **kw) -> dict:
    institution = BANK if viewer is Viewer.institution else None
    purpose = {"subject": "self_query", "institution": "loan_approval", "operator": None}
    return assemble(
        snapshot(viewer, **kw),
        viewer=viewer,
        institution=institution,
        purpose=purpose[viewer.value],
        report_id="0" * 32,
        generated_at=GENERATED,
        lang=lang,
    )
