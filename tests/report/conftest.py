"""A small bureau furnished on a known clock, so that reports as of past dates can be checked.

Timeline (every batch's ``recorded_at`` is the clock it was furnished at):

* 2024-07-02 BANK_A: 张三 (phone, address), card CC-1 (2022-06 .. 2024-06; 15 days late in
  2024-02, 45 in 2024-03; 2024-05 balance 1,500.00), an inquiry on 2024-05-20; 李四 with no
  account; ACME (enterprise) with a revolving loan.
* 2024-07-03 BANK_B: loan LOAN-1 (2024-02 .. 2024-06), a card CL-1 closed in 2023-09, a soft
  inquiry on 2024-01-05 and one from 2021 (older than the two years a report shows).
* 2024-07-04 COURT: an unresolved judgment filed 2024-03-01.
* 2024-08-05 BANK_A: corrects CC-1 2024-05 to 1,600.00 and reports 2024-07.
* 2024-08-05 COURT: the judgment resolved on 2024-07-20 (a correction).

Scores of 张三 are stored on 2024-07-02 (612) and 2024-08-06 (598). Reports are built "now" at
2024-08-10 unless a test says otherwise.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from credo.furnishing.service import furnish
from credo.institution import service as institutions
from credo.report.service import build_report
from credo.scoring.models import ModelVersion, SubjectScore
from credo.subject.models import Subject
from furnishing.bureau import (
    ACME_NAME,
    ACME_USCC,
    LI_ID,
    LI_NAME,
    ZHANG_ID,
    ZHANG_NAME,
    account,
    enterprise,
    inquiry,
    loan,
    person,
    public_record,
    status,
    write_jsonl,
)

NOW = datetime(2024, 8, 10, 9, 0, tzinfo=UTC)
ZHANG_PHONE, ZHANG_PHONE_E164 = "13912345678", "+8613912345678"
ZHANG_ADDRESS = "北京市朝阳区建国路1号"
ZHANG_BIRTH = date(1985, 3, 14)
SECRETS = [ZHANG_ID, ZHANG_NAME, ZHANG_PHONE, ZHANG_PHONE_E164, ZHANG_ADDRESS, "1985-03-14"]
SCALING = {"offset": 487.1228762045055, "factor": 28.85390081777927}


@dataclass
class Refs:
    zhang: str
    li: str
    acme: str


def _months(first: date, last: date) -> list[str]:
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _card_statuses() -> list[dict]:
    late = {"2024-02": 15, "2024-03": 45}
    return [
        status("CC-1", p, balance="1500.00", dpd=late.get(p, 0))
        for p in _months(date(2022, 6, 1), date(2024, 6, 1))
    ]


def _furnish(session, tmp_path, monkeypatch, keyring, cn, *, name, institution, as_of, clock, rows):
    path = write_jsonl(tmp_path / f"{name}.jsonl", rows, institution=institution, as_of=as_of)
    with monkeypatch.context() as m:
        m.setattr("credo.furnishing.store.utcnow", lambda: clock)
        report = furnish(
            session,
            path=path,
            institution_code=institution,
            keyring=keyring,
            profile=cn,
            actor="test",
            today=clock.date(),
        )
    assert report.rejected == 0 and report.flagged == 0, report.errors


def _scores(session: Session, subject_id: int) -> None:
    spec = orjson.dumps({"scaling": SCALING, "score_range": [441.0, 733.0]}).decode()
    version = ModelVersion(
        name="person-scorecard",
        version=1,
        kind="scorecard",
        segment="person",
        status="champion",
        spec=spec,
        spec_sha256=hashlib.sha256(spec.encode()).hexdigest(),
        features="[]",
        training_fingerprint="0" * 64,
        training="{}",
        author="test",
    )
    session.add(version)
    session.flush()
    reason = {
        "code": "PH02-H",
        "feature": "worst_dpd_12m",
        "value": 45.0,
        "points": 20.0,
        "best_points": 60.0,
        "cost": 40.0,
        "text_en": "worst days past due in the last 12 months 45 is high",
        "text_zh": "近12个月最长逾期天数45，偏高",
    }
    for score, grade, pd_, when in (
        (612.0, "C", 0.0130, datetime(2024, 7, 2, 12, tzinfo=UTC)),
        (598.0, "D", 0.0210, datetime(2024, 8, 6, 12, tzinfo=UTC)),
    ):
        session.add(
            SubjectScore(
                subject_id=subject_id,
                model_version_id=version.id,
                score=score,
                grade=grade,
                pd=pd_,
                reasons=orjson.dumps([reason]).decode(),
                inputs="{}",
                input_fingerprint="1" * 64,
                as_of=when.date(),
                scored_at=when,
                trigger="batch",
            )
        )
    session.flush()


@pytest.fixture
def bureau(session, keyring, cn, tmp_path, monkeypatch) -> Refs:
    for code, kind in (("BANK_A", "bank"), ("BANK_B", "bank"), ("COURT", "public_source")):
        institutions.create(
            session,
            code=code,
            name=f"{code} 银行" if kind == "bank" else "法院公告",
            kind=kind,
            actor="test",
        )
    f = {
        "session": session,
        "tmp_path": tmp_path,
        "monkeypatch": monkeypatch,
        "keyring": keyring,
        "cn": cn,
    }
    _furnish(
        **f,
        name="a1",
        institution="BANK_A",
        as_of=date(2024, 6, 30),
        clock=datetime(2024, 7, 2, 10, tzinfo=UTC),
        rows=[
            person(phone=ZHANG_PHONE, address=ZHANG_ADDRESS),
            person(LI_ID, LI_NAME, date(1990, 11, 2)),
            enterprise(),
            account("CC-1", opened_on="2022-05-15", credit_limit="20000.00"),
            account("RL-1", ACME_USCC, id_type="uscc", account_type="revolving_loan"),
            *_card_statuses(),
            status("RL-1", "2024-06", balance="0", amount_due="0", amount_paid="0"),
            inquiry(ZHANG_ID, "2024-05-20"),
        ],
    )
    _furnish(
        **f,
        name="b1",
        institution="BANK_B",
        as_of=date(2024, 6, 30),
        clock=datetime(2024, 7, 3, 10, tzinfo=UTC),
        rows=[
            person(),
            loan("LOAN-1", ZHANG_ID, opened_on="2024-01-10"),
            account("CL-1", opened_on="2021-01-01", status="closed", closed_on="2023-09-30"),
            *[
                status(
                    "LOAN-1",
                    p,
                    balance=str(120000 - 2000 * i),
                    amount_due="3600.00",
                    amount_paid="3600.00",
                )
                for i, p in enumerate(_months(date(2024, 2, 1), date(2024, 6, 1)))
            ],
            *[
                status("CL-1", p, balance="0" if p == "2023-09" else "800.00")
                for p in ("2023-06", "2023-07", "2023-08", "2023-09")
            ],
            inquiry(ZHANG_ID, "2024-01-05", purpose="post_loan_management", kind="soft"),
            inquiry(ZHANG_ID, "2021-03-01"),
        ],
    )
    judgment = public_record(
        ZHANG_ID,
        "(2024)京0105民初123号",
        id_type="prc_id",
        kind="court_judgment",
        authority="北京市朝阳区人民法院",
    )
    _furnish(
        **f,
        name="c1",
        institution="COURT",
        as_of=date(2024, 7, 3),
        clock=datetime(2024, 7, 4, 10, tzinfo=UTC),
        rows=[person(), judgment],
    )
    _furnish(
        **f,
        name="a2",
        institution="BANK_A",
        as_of=date(2024, 7, 31),
        clock=datetime(2024, 8, 5, 10, tzinfo=UTC),
        rows=[
            status("CC-1", "2024-05", balance="1600.00"),
            status("CC-1", "2024-07", balance="1700.00"),
        ],
    )
    _furnish(
        **f,
        name="c2",
        institution="COURT",
        as_of=date(2024, 8, 4),
        clock=datetime(2024, 8, 5, 11, tzinfo=UTC),
        rows=[{**judgment, "resolved_on": "2024-07-20"}],
    )
    by_type: dict[str, list[Subject]] = {}
    for s in session.scalars(select(Subject).order_by(Subject.id)):
        by_type.setdefault(s.subject_type.value, []).append(s)
    zhang, li = by_type["person"]
    _scores(session, zhang.id)
    session.flush()
    return Refs(zhang=zhang.ref, li=li.ref, acme=by_type["enterprise"][0].ref)


@pytest.fixture
def report(session, keyring, bureau):
    """Build a report on the bureau with the test key ring and the fixed clock."""

    def build(ref: str | None = None, **kw):
        kw.setdefault("viewer", "operator")
        kw.setdefault("actor", "test")
        kw.setdefault("now", NOW)
        return build_report(session, ref or bureau.zhang, keyring=keyring, **kw)

    return build


__all__ = ["ACME_NAME", "NOW", "SECRETS", "Refs"]
