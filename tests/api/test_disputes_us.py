"""Dispute deadlines in the `us` profile through the API: 30 days, extended once by 15 with new
information, escalated the day after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from credo.config import Settings

# dz: the fixture of the cn tests, reused here with this module's `settings`
from .test_disputes import DOC, T0, _at, _file, dz  # noqa: F401


# -- deadlines -------------------------------------------------------------------------------------
@pytest.fixture
def settings() -> Settings:
    """The `us` profile: 30 days, 15 more once with new information."""
    return Settings(profile="us")


def test_us_deadline_extends_once_with_new_information_and_escalates_when_missed(dz):  # noqa: F811
    d = _file(dz)
    assert d["due_on"] == "2024-08-01"  # us: 30 days
    _at(dz, T0 + timedelta(days=10))
    info = dz.post(
        f"/v1/me/disputes/{d['ref']}/information", "zhang", json={"evidence_sha256": DOC}
    )
    assert info.status_code == 200, info.text
    assert (info.json()["due_on"], info.json()["extended"]) == ("2024-08-16", True)
    _at(dz, T0 + timedelta(days=12))
    again = dz.post(f"/v1/me/disputes/{d['ref']}/information", "zhang",
                    json={"evidence_sha256": DOC})  # fmt: skip
    assert again.json()["due_on"] == "2024-08-16"
    # the last day: nothing overdue
    _at(dz, datetime(2024, 8, 16, 23, 0, tzinfo=UTC))
    assert dz.post("/v1/operator/disputes/escalate", "operator").json() == {
        "escalated": [], "overdue": 0,
    }  # fmt: skip
    assert dz.get("/v1/operator/disputes?overdue=true", "operator").json()["items"] == []
    _at(dz, datetime(2024, 8, 17, 8, 0, tzinfo=UTC))
    assert dz.post("/v1/operator/disputes/escalate", "operator").json() == {
        "escalated": [d["ref"]], "overdue": 1,
    }  # fmt: skip
    assert dz.post("/v1/operator/disputes/escalate", "operator").json()["escalated"] == []
    [late] = dz.get("/v1/operator/disputes?overdue=true", "operator").json()["items"]
    assert late["overdue"] and late["escalated_at"].startswith("2024-08-17")
    mine = dz.get(f"/v1/me/disputes/{d['ref']}", "zhang").json()
    assert mine["escalated"] is True
    assert [e["kind"] for e in mine["history"]] == [
        "filed",
        "information",
        "information",
        "escalated",
    ]
    assert [e.target for e in dz.ledger("dispute.escalate")] == [d["ref"]]
