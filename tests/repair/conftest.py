"""Fixtures for the repair-plan tests: a subject with something to repair, a champion that
sees it, and the `api` fixture of the API tests.

王五 (`WANG_ID`, furnished by BANK_A on the 2024-07-01 clock, as of 2024-06-30) holds two credit
cards (limits 20,000 and 10,000; balances 17,000 and 8,000: utilisation 83%) and an installment
loan, reported monthly from 2023-07 to 2024-06. Card 1 was 30 days late in 2023-11; card 2 is
45 days late now (2024-06: 800 due, nothing paid). Four hard inquiries (2023-09-20, 2024-02-15,
2024-05-02, 2024-06-10) and a soft one.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.orm import Session

from api.conftest import api, publish_champion, scorecard, settings  # noqa: F401
from credo.access.flows import find_subject
from credo.feature.catalog import BUREAU_CATALOG
from credo.feature.pit import add_months
from credo.scoring.scorecard import Scorecard
from furnishing.bureau import (
    BANK,
    WANG_ID,
    WANG_NAME,
    account,
    add_institution,
    inquiry,
    loan,
    person,
    run,
    status,
    write_jsonl,
)

AS_OF = date(2024, 6, 30)
TODAY = date(2024, 7, 1)
MONTHS = [add_months(date(2023, 7, 1), k) for k in range(12)]  # 2023-07 .. 2024-06
LATE = {("CC-W1", "2023-11"): (30, "500.00", "0.00"), ("CC-W2", "2024-05"): (15, "800.00", "0.00"),
        ("CC-W2", "2024-06"): (45, "800.00", "0.00")}  # fmt: skip
BALANCES = {"CC-W1": "17000.00", "CC-W2": "8000.00"}


def wang_rows() -> list[dict]:
    rows = [
        person(WANG_ID, WANG_NAME, date(1978, 1, 30)),
        account("CC-W1", WANG_ID, opened_on="2022-01-15", credit_limit="20000.00"),
        account("CC-W2", WANG_ID, opened_on="2023-03-10", credit_limit="10000.00"),
        loan("LOAN-W", WANG_ID, opened_on="2022-06-01"),
    ]
    for m in MONTHS:
        period = f"{m:%Y-%m}"
        for ref in ("CC-W1", "CC-W2"):
            dpd, due, paid = LATE.get((ref, period), (0, "300.00", "300.00"))
            rows.append(status(ref, period, BALANCES[ref], dpd, amount_due=due, amount_paid=paid))
        rows.append(status("LOAN-W", period, f"{100000 - 2500 * MONTHS.index(m)}.00",
                           amount_due="3500.00", amount_paid="3500.00"))  # fmt: skip
    for on in ("2023-09-20", "2024-02-15", "2024-05-02", "2024-06-10"):
        rows.append(inquiry(WANG_ID, on))
    rows.append(inquiry(WANG_ID, "2024-06-20", kind="soft", purpose="credit_card_approval"))
    return rows


def furnish(session: Session, keyring, profile, path: Path, rows, *, as_of=AS_OF, today=TODAY):
    """Furnish `rows` for BANK_A with the batch date `as_of`; every line must be accepted."""
    report = run(session, write_jsonl(path, rows, as_of=as_of), keyring, profile, today=today)
    assert report.rejected == 0 and report.flagged == 0, report.errors
    return report


def fit(columns: dict[str, np.ndarray], logit: np.ndarray, seed: int = 1) -> Scorecard:
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=len(logit)) < 1 / (1 + np.exp(-logit))).astype(int)
    return Scorecard(reason_catalog=BUREAU_CATALOG).fit(pd.DataFrame(columns), y)


@pytest.fixture(scope="session")
def models() -> dict[str, Scorecard]:
    """Scorecards on synthetic data: ``full`` sees utilisation, balances, overdue, payment
    history and inquiries; ``inquiries`` only inquiries; ``payment`` only payment history."""
    rng = np.random.default_rng(0)
    n = 3000
    late = rng.uniform(size=n) < 0.4
    msd = np.where(late, rng.integers(0, 36, n), np.nan).astype(float)
    cols = {
        "hard_inquiries_3m": rng.integers(0, 4, n).astype(float),
        "hard_inquiries_12m": rng.integers(0, 8, n).astype(float),
        "worst_dpd_12m": np.where(late & (msd < 12), rng.choice([15, 30, 45, 95], n), 0.0),
        "months_since_delinquency": msd,
        "overdue_amount": np.where(late & (msd < 1), rng.uniform(0, 3000, n), 0.0).round(2),
        "revolving_utilisation": rng.uniform(0, 1.2, n),
        "total_balance": rng.uniform(0, 200000, n).round(2),
    }
    logit = (
        -3 + 0.5 * cols["hard_inquiries_3m"] + 0.15 * cols["hard_inquiries_12m"]
        + 0.02 * cols["worst_dpd_12m"] + 0.0005 * cols["overdue_amount"]
        + 1.5 * cols["revolving_utilisation"] + np.where(late, 1.5 - np.nan_to_num(msd) / 24, 0)
    )  # fmt: skip
    inq = [c for c in cols if c.startswith("hard_")]
    pay = ["worst_dpd_12m", "months_since_delinquency", "overdue_amount"]
    return {
        "full": fit(cols, logit),
        "inquiries": fit({c: cols[c] for c in inq}, logit),
        "payment": fit({c: cols[c] for c in pay}, logit),
    }


@pytest.fixture
def bureau(session, keyring, cn, tmp_path, models):
    """王五's file furnished and the ``full`` scorecard published as the person champion;
    returns 王五's subject id."""
    add_institution(session, BANK)
    furnish(session, keyring, cn, tmp_path / "wang.jsonl", wang_rows())
    publish_champion(session, models["full"])
    session.flush()
    return find_subject(session, keyring, id_type="prc_id", id_number=WANG_ID).id
