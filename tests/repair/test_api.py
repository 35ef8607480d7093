"""``GET /v1/me/repair-plan`` with a subject access credential, on SQLite and PostgreSQL.

The `api` fixture's bureau (张三, 李四, an enterprise; the person champion sees inquiries,
worst days past due and utilisation) plus 王五's file of the conftest; the clock of the route
is 2024-06-30.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import func, select

from credo.access import subject_access
from credo.access.flows import find_subject
from credo.audit.models import AuditEntry
from credo.core.checksums import make_prc_id
from credo.db import utcnow
from credo.repair import plan as repair
from credo.scoring import registry
from furnishing.bureau import WANG_ID, person

from .conftest import AS_OF, furnish, wang_rows

URL = "/v1/me/repair-plan"
NOBODY_ID = make_prc_id("110105", AS_OF.replace(year=1990, month=1, day=1), 11)


@pytest.fixture
def me(api, cn, tmp_path, monkeypatch):
    """王五 and a person with no account furnished; subject credentials for 张三 (`zhang`),
    王五 (`wang`), the person without a file (`nobody`), and a revoked one of 王五."""
    monkeypatch.setattr(
        "credo.api.routes.repair.utcnow", lambda: datetime(2024, 6, 30, 12, tzinfo=UTC)
    )
    with api.db() as s:
        furnish(
            s,
            api.keyring,
            cn,
            tmp_path / "wang.jsonl",
            [*wang_rows(), person(NOBODY_ID, "赵六", AS_OF.replace(year=1990, month=1, day=1))],
        )
        refs = {"wang": find_subject(s, api.keyring, id_type="prc_id", id_number=WANG_ID).ref,
                "nobody": find_subject(s, api.keyring, id_type="prc_id",
                                       id_number=NOBODY_ID).ref,
                "zhang": api.zhang}  # fmt: skip
        for name, ref in refs.items():
            _, api.tokens[name] = subject_access.issue(
                s, subject_ref=ref, verified_by="counter: ID card seen", actor="ops",
                expires_at=utcnow() + timedelta(days=300),
            )  # fmt: skip
        cred, api.tokens["wang_revoked"] = subject_access.issue(
            s, subject_ref=refs["wang"], verified_by="video call", actor="ops"
        )
        subject_access.revoke(s, credential_id=cred.credential_id, actor="ops")
    api.extra.update(refs)
    return api


def _problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    return r.json()


def _served(api) -> list[AuditEntry]:
    return api.ledger("repair_plan.serve")


def test_a_subject_gets_their_own_plan_and_the_read_is_ledgered(me):
    r = me.get(URL, "wang", params={"lang": "en"})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    with me.db() as s:
        sid = find_subject(s, me.keyring, id_type="prc_id", id_number=WANG_ID).id
        expected = repair.to_dict(repair.repair_plan(s, sid, as_of=AS_OF, lang="en"))
    assert body == orjson.loads(orjson.dumps(expected))
    assert body["subject"] == me.extra["wang"] and body["model"] == me.champion
    assert body["actions"] and body["actions"][0]["gain"] >= body["actions"][-1]["gain"] > 0
    assert body["actions"][0]["changes"][0].keys() == {"feature", "label", "from", "to"}
    assert "cannot be removed" in body["note"]
    (entry,) = _served(me)
    assert entry.target == f"subject:{me.extra['wang']}"
    assert entry.actor.startswith(f"subject:{me.extra['wang']}/U")
    assert orjson.loads(entry.details)["channel"] == "api"
    assert WANG_ID not in r.text and "王五" not in r.text


def test_the_plan_is_in_chinese_by_default_and_only_ever_the_callers(me):
    r = me.get(URL, "zhang")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["lang"] == "zh" and body["subject"] == me.zhang and "异议" in body["note"]
    # 张三's inquiry of 2024-05-20 leaves the 3-month window: the champion counts it
    assert "INQ-3M" in [a["code"] for a in body["actions"]]
    assert all("贷款审批类查询" in a["text"] for a in body["actions"] if a["code"] == "INQ-3M")
    assert [e.target for e in _served(me)] == [f"subject:{me.zhang}"]


@pytest.mark.parametrize(
    ("who", "says"),
    [(None, "subject access credential"), ("bank", "institution API key"),
     ("furnisher", "institution API key"), ("wang_revoked", "revoked")],
)  # fmt: skip
def test_only_a_valid_subject_credential_opens_the_plan(me, who, says):
    problem = _problem(me.get(URL, who), 401)
    assert says in problem["detail"]
    assert _served(me) == []


def test_a_subject_without_a_credit_file_gets_404_and_nothing_is_ledgered(me):
    problem = _problem(me.get(URL, "nobody"), 404)
    assert "no credit account on file by 2024-06-30" in problem["detail"]
    assert NOBODY_ID not in problem["detail"]
    assert _served(me) == []


def test_no_champion_is_409(me):
    with me.db() as s:
        registry.retire(s, registry.champion(s, "person"), actor="test")
    problem = _problem(me.get(URL, "wang"), 409)
    assert "no person champion model" in problem["detail"]
    assert _served(me) == []


def test_a_bad_language_is_422_and_changes_nothing(me):
    with me.db() as s:
        before = s.scalar(select(func.count()).select_from(AuditEntry))
    problem = _problem(me.get(URL, "wang", params={"lang": "fr"}), 422)
    assert "lang" in orjson.dumps(problem).decode()
    with me.db() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == before
