"""A bureau with old negative data, furnished on 2019-07-01, under either profile.

张三 (ZHANG_ID):

* card CC-1 opened 2015-01-15, open: late 30 and 60 days in Feb and Mar 2015, cured in April,
  clean again Jan-Jun 2019 (positive data that must stay);
* loan LOAN-9 opened 2015-06-01, late from Jan 2016, charged off and closed 2016-05-31;
* COURT: a judgment filed 2014-09-01 resolved 2015-06-30, a bankruptcy filed 2013-01-10
  discharged 2014-01-10, an enforcement filed 2012-02-01 never resolved.

李四 (LI_ID): a clean card, 2019 only. Last days on file (docs/retention.md):

| record | cn | us |
|---|---|---|
| CC-1 Feb 2015 | 2020-03-31 | 2022-02-28 |
| CC-1 Mar 2015 | 2020-03-31 | 2022-03-31 |
| LOAN-9 (account, all its months) | 2021-05-31 | 2023-05-30 (§605(c)(1); see test_rules) |
| judgment | 2020-06-30 | 2021-09-01 |
| bankruptcy | 2019-01-10 | 2023-01-10 |
| enforcement | never | 2019-02-01 |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from api.conftest import scorecard  # noqa: F401  (a fixture: a person scorecard to publish)
from credo.config import get_profile, get_settings
from credo.furnishing.service import furnish
from credo.institution import service as institutions
from credo.subject.models import Subject
from furnishing.bureau import (
    LI_ID,
    LI_NAME,
    ZHANG_ID,
    account,
    loan,
    person,
    public_record,
    status,
    write_jsonl,
)

FURNISHED = datetime(2019, 7, 1, 10, tzinfo=UTC)
BATCH_DATE = date(2019, 6, 30)


@dataclass
class Bureau:
    profile: str
    zhang: str
    li: str
    zhang_id: int
    li_id: int


def _months(year: int, first: int, last: int) -> list[str]:
    return [f"{year:04d}-{m:02d}" for m in range(first, last + 1)]


def _late(ref: str, period: str, dpd: int) -> dict:
    return status(ref, period, dpd=dpd, subject_notified_on="2014-12-01")


def _rows_bank() -> list[dict]:
    card = {"2015-02": 30, "2015-03": 60}
    return [
        person(),
        person(LI_ID, LI_NAME, date(1990, 11, 2)),
        account("CC-1", opened_on="2015-01-15"),
        *[
            _late("CC-1", p, card.get(p, 0)) if p in card else status("CC-1", p)
            for p in _months(2015, 1, 4) + _months(2019, 1, 6)
        ],
        loan(
            "LOAN-9",
            ZHANG_ID,
            opened_on="2015-06-01",
            status="charged_off",
            closed_on="2016-05-31",
            subject_notified_on="2016-05-01",
        ),
        *[_late("LOAN-9", p, 30 * i) for i, p in enumerate(_months(2016, 1, 5), 1)],
        account("CL-2", LI_ID, opened_on="2019-01-02"),
        *[status("CL-2", p) for p in _months(2019, 1, 6)],
    ]


def _rows_court() -> list[dict]:
    def pr(kind, case, filed, resolved=None):
        return public_record(ZHANG_ID, case, id_type="prc_id", kind=kind, filed_on=filed,
                             resolved_on=resolved, subject_notified_on=filed)  # fmt: skip

    return [
        person(),
        pr("court_judgment", "(2014)京0105民初1号", "2014-09-01", "2015-06-30"),
        pr("bankruptcy", "(2013)京01破1号", "2013-01-10", "2014-01-10"),
        pr("enforcement", "(2012)京0105执1号", "2012-02-01"),
    ]


@pytest.fixture(params=["cn", "us"])
def bureau(request, session, keyring, tmp_path, monkeypatch) -> Bureau:
    """The bureau, with the profile configured as the process's jurisdiction."""
    code = request.param
    monkeypatch.setenv("CREDO_PROFILE", code)
    get_settings.cache_clear()
    profile = get_profile(code)
    institutions.create(session, code="BANK_A", name="BANK_A 银行", kind="bank", actor="test")
    institutions.create(session, code="COURT", name="法院公告", kind="public_source", actor="test")
    for name, inst, rows in (("bank", "BANK_A", _rows_bank()), ("court", "COURT", _rows_court())):
        path = write_jsonl(tmp_path / f"{name}.jsonl", rows, institution=inst, as_of=BATCH_DATE)
        with monkeypatch.context() as m:
            m.setattr("credo.furnishing.store.utcnow", lambda: FURNISHED)
            report = furnish(session, path=path, institution_code=inst, keyring=keyring,
                             profile=profile, actor="test", today=FURNISHED.date())  # fmt: skip
        assert report.rejected == 0 and report.flagged == 0, report.errors
    session.commit()
    subjects = {s.birth_year: s for s in session.query(Subject)}
    zhang, li = subjects[1985], subjects[1990]
    return Bureau(code, zhang.ref, li.ref, zhang.id, li.id)
