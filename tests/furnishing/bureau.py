"""Hand-written furnishing rows and files for the furnishing, subject and security tests."""

from __future__ import annotations

import csv
import random
from datetime import date
from pathlib import Path

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from credo.access.flows import find_subject
from credo.core.checksums import make_prc_id, make_uscc
from credo.db import Base
from credo.furnishing.format import FORMAT_NAME, csv_columns
from credo.furnishing.service import BatchReport, furnish
from credo.institution import service as institution_service
from credo.subject.models import Subject

AS_OF = date(2024, 6, 30)
TODAY = date(2024, 7, 1)
BANK = "BANK_A"
OTHER_BANK = "BANK_B"

ZHANG_ID = make_prc_id("110105", date(1985, 3, 14), 123)  # odd sequence digit: male
LI_ID = make_prc_id("310115", date(1990, 11, 2), 246)  # even: female
WANG_ID = make_prc_id("440305", date(1978, 1, 30), 357)
ACME_USCC = make_uscc(random.Random(7))

ZHANG_NAME, LI_NAME, WANG_NAME = "张三", "李四", "王五"
ACME_NAME = "北京示例科技有限公司"
LI_PHONE, LI_PHONE_E164 = "138 0013 8000", "+8613800138000"
LI_ADDRESS = "上海市浦东新区世纪大道100号"
ACME_ADDRESS = "北京市海淀区中关村大街1号"


OTHER = "BANK02"


def person(id_number=ZHANG_ID, name=ZHANG_NAME, birth=date(1985, 3, 14), **extra) -> dict:
    row = {
        "record_type": "subject",
        "subject_type": "person",
        "id_type": "prc_id",
        "id_number": id_number,
        "name": name,
        "birth_date": birth.isoformat() if isinstance(birth, date) else birth,
    }
    row.update(extra)
    return {k: v for k, v in row.items() if v is not None}


def enterprise(id_number=ACME_USCC, name=ACME_NAME, **extra) -> dict:
    row = {
        "record_type": "subject",
        "subject_type": "enterprise",
        "id_type": "uscc",
        "id_number": id_number,
        "name": name,
    }
    row.update(extra)
    return {k: v for k, v in row.items() if v is not None}


def account(ref="CC-1", id_number=ZHANG_ID, *, id_type="prc_id", **extra) -> dict:
    row = {
        "record_type": "account",
        "account_ref": ref,
        "id_type": id_type,
        "id_number": id_number,
        "account_type": "credit_card",
        "opened_on": "2023-01-15",
        "currency": "CNY",
        "credit_limit": "20000.00",
        "status": "open",
    }
    row.update(extra)
    return {k: v for k, v in row.items() if v is not None}


def loan(ref="LOAN-1", id_number=LI_ID, **extra) -> dict:
    base = {
        "account_type": "installment_loan",
        "credit_limit": None,
        "principal": "120000",
        "term_months": 36,
    }
    return account(ref, id_number, **{**base, **extra})


def status(ref="CC-1", period="2024-06", balance="1500.00", dpd=0, **extra) -> dict:
    row = {
        "record_type": "status",
        "account_ref": ref,
        "period": period,
        "balance": balance,
        "amount_due": "300.00",
        "amount_paid": "300.00",
        "days_past_due": dpd,
    }
    if dpd:
        row["subject_notified_on"] = "2024-06-01"
    row.update(extra)
    return {k: v for k, v in row.items() if v is not None}


def inquiry(id_number=ZHANG_ID, on="2024-05-20", *, id_type="prc_id", **extra) -> dict:
    row = {
        "record_type": "inquiry",
        "id_type": id_type,
        "id_number": id_number,
        "inquired_on": on,
        "purpose": "loan_approval",
        "kind": "hard",
    }
    row.update(extra)
    return row


def public_record(id_number=ACME_USCC, case_ref="(2024)京0108执123号", **extra) -> dict:
    row = {
        "record_type": "public_record",
        "id_type": "uscc",
        "id_number": id_number,
        "kind": "enforcement",
        "authority": "北京市海淀区人民法院",
        "case_ref": case_ref,
        "amount": "50000",
        "currency": "CNY",
        "filed_on": "2024-03-01",
        "subject_notified_on": "2024-03-05",
    }
    row.update(extra)
    return row


def small_bureau() -> list[dict]:
    """Three subjects, three accounts, six statuses, two inquiries, one public record."""
    return [
        person(),
        person(LI_ID, LI_NAME, date(1990, 11, 2), phone=LI_PHONE, address=LI_ADDRESS, gender="F"),
        enterprise(address=ACME_ADDRESS),
        account("CC-1", ZHANG_ID),
        loan("LOAN-1", LI_ID),
        account("RL-1", ACME_USCC, id_type="uscc", account_type="revolving_loan"),
        status("CC-1", "2024-04"),
        status("CC-1", "2024-05"),
        status("CC-1", "2024-06"),
        status("LOAN-1", "2024-05", balance="118000"),
        status("LOAN-1", "2024-06", balance="115000"),
        status("RL-1", "2024-06", balance="0", **{"amount_due": "0", "amount_paid": "0"}),
        inquiry(ZHANG_ID),
        inquiry(LI_ID, "2024-06-01", purpose="credit_card_approval", kind="soft"),
        public_record(),
    ]


#: rows per table after `small_bureau()` lands on an empty database
SMALL_BUREAU_ROWS = {
    "subject": 3,
    "subject_info": 3,
    "account": 3,
    "account_version": 3,
    "status_record": 6,
    "inquiry": 2,
    "public_record": 1,
    "quarantined_row": 0,
    "identity_review": 0,
}

#: every personal value in `small_bureau()` as it was furnished or stored (for leak scans)
SMALL_BUREAU_SECRETS = [
    ZHANG_ID,
    LI_ID,
    ACME_USCC,
    ZHANG_NAME,
    LI_NAME,
    ACME_NAME,
    LI_PHONE,
    LI_PHONE_E164,
    LI_PHONE_E164[1:],
    LI_PHONE.replace(" ", ""),
    LI_ADDRESS,
    ACME_ADDRESS,
]


def header(institution=BANK, as_of=AS_OF, **extra) -> dict:
    row = {
        "record_type": "header",
        "format": FORMAT_NAME,
        "format_version": "1.0",
        "institution": institution,
        "as_of": as_of.isoformat() if isinstance(as_of, date) else as_of,
    }
    row.update(extra)
    return row


def write_jsonl(path: Path, rows: list[dict], *, institution=BANK, as_of=AS_OF) -> Path:
    """A JSON Lines furnishing file: header line, then one row per line."""
    lines = [orjson.dumps(header(institution, as_of))]
    lines += [orjson.dumps(r) for r in rows]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def write_csv(path: Path, rows: list[dict]) -> Path:
    """A CSV furnishing file with every format column."""
    cols = csv_columns()
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in rows:
            w.writerow(["" if r.get(c) is None else str(r[c]) for c in cols])
    return path


def add_institution(session: Session, code: str = BANK) -> None:
    institution_service.create(session, code=code, name=f"{code} Ltd", kind="bank", actor="test")


def run(session: Session, path: Path, keyring, profile, **kw) -> BatchReport:
    """Furnish `path` for BANK (by default) with the test clock."""
    kw.setdefault("institution_code", BANK)
    kw.setdefault("today", TODAY)
    report = furnish(session, path=path, keyring=keyring, profile=profile, actor="test", **kw)
    assert_sums(report)
    return report


def furnish_small_bureau(
    session: Session,
    keyring,
    profile,
    path: Path,
    *,
    institutions: tuple[str, ...] = (BANK, OTHER_BANK),
    rows: list[dict] | None = None,
) -> BatchReport:
    """Register `institutions`, then furnish `rows` (default `small_bureau()`) for BANK from
    the JSON Lines file `path`, with the test clock."""
    for code in institutions:
        add_institution(session, code)
    return run(
        session, write_jsonl(path, small_bureau() if rows is None else rows), keyring, profile
    )


def subject_of(session: Session, keyring, id_number: str, id_type: str = "prc_id") -> Subject:
    """The furnished subject with this identifier; NotFound when nobody has it."""
    return find_subject(session, keyring, id_type=id_type, id_number=id_number)


def assert_sums(report: BatchReport) -> None:
    """Every data line has exactly one fate."""
    fates = (
        report.accepted + report.corrections + report.duplicates + report.rejected + report.flagged
    )
    assert fates == report.lines, report


def table_counts(session: Session) -> dict[str, int]:
    """Row count of every table."""
    return {
        t.name: session.scalar(select(func.count()).select_from(t))
        for t in Base.metadata.sorted_tables
    }


def errors_by_line(report: BatchReport) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for e in report.errors:
        out.setdefault(e["line"], []).append(e)
    return out
