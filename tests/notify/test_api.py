"""``GET /v1/me/notifications`` (a subject's own notices) and ``GET /v1/notifications`` (an
institution's own): newest first, cursor pages, and nobody sees anyone else's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from api.conftest import api, scorecard, settings  # noqa: F401  (the API tests' fixtures)
from credo.access import subject_access
from credo.config import Settings
from credo.db import utcnow
from credo.institution.models import Institution
from credo.notify.deliver import deliver_due
from credo.notify.outbox import enqueue
from credo.subject.models import Subject
from furnishing.bureau import BANK, OTHER_BANK, ZHANG_ID

from .conftest import T0


@pytest.fixture
def outbox(api):  # noqa: F811
    """Subject credentials for 张三 and 李四, and notices: 3 to 张三, 1 to 李四, 2 to BANK_A,
    1 to BANK_B, written in that order (the first of 张三's delivered)."""
    refs: dict[str, list[str]] = {"zhang": [], "li": [], "bank": [], "other": []}
    with api.db() as s:
        for name, ref in (("zhang", api.zhang), ("li", api.li)):
            _, api.tokens[name] = subject_access.issue(
                s, subject_ref=ref, verified_by="counter: ID card seen", actor="ops",
                expires_at=utcnow() + timedelta(days=300),
            )  # fmt: skip
        subjects = dict(s.execute(select(Subject.ref, Subject.id)).all())
        codes = dict(s.execute(select(Institution.code, Institution.id)).all())
        plan = [
            ("zhang", "dispute.received", {"subject_id": subjects[api.zhang]}),
            ("zhang", "dispute.decided", {"subject_id": subjects[api.zhang]}),
            ("zhang", "freeze.placed", {"subject_id": subjects[api.zhang]}),
            ("li", "fraud_alert.placed", {"subject_id": subjects[api.li]}),
            ("bank", "dispute.received", {"institution_id": codes[BANK]}),
            ("bank", "report.corrected", {"institution_id": codes[BANK]}),
            ("other", "report.corrected", {"institution_id": codes[OTHER_BANK]}),
        ]
        for i, (who, kind, to) in enumerate(plan):
            n = enqueue(
                s, kind=kind, payload={"dispute_ref": f"D00000000000{i}"},
                now=T0 + timedelta(minutes=i), **to,
            )  # fmt: skip
            refs[who].append(n.ref)
    # deliver the oldest notice (张三's first) only
    deliver_due(api.engine, Settings(), api.keyring, now=T0, limit=1)
    api.extra["refs"] = refs
    return api


def _refs(r) -> list[str]:
    assert r.status_code == 200, r.text
    return [item["ref"] for item in r.json()["items"]]


def test_a_subject_lists_its_own_notices_newest_first(outbox):
    refs = outbox.extra["refs"]
    r = outbox.get("/v1/me/notifications", "zhang")
    assert _refs(r) == refs["zhang"][::-1]
    assert r.headers["Cache-Control"] == "no-store"
    oldest = r.json()["items"][-1]
    assert oldest == {
        "ref": refs["zhang"][0],
        "kind": "dispute.received",
        "created_at": T0.isoformat().replace("+00:00", "Z"),
        "status": "delivered",
        "delivered_at": T0.isoformat().replace("+00:00", "Z"),
        "payload": {"dispute_ref": "D000000000000"},
    }
    assert r.json()["items"][0]["status"] == "pending"
    assert r.json()["items"][0]["delivered_at"] is None
    assert _refs(outbox.get("/v1/me/notifications", "li")) == refs["li"]
    # the status filter
    r = outbox.get("/v1/me/notifications?status=delivered", "zhang")
    assert _refs(r) == refs["zhang"][:1]


def test_an_institution_lists_its_own_notices_with_any_role(outbox):
    refs = outbox.extra["refs"]
    assert _refs(outbox.get("/v1/notifications", "bank")) == refs["bank"][::-1]
    # a furnisher key of the same institution reads the same list
    assert _refs(outbox.get("/v1/notifications", "furnisher")) == refs["bank"][::-1]
    assert _refs(outbox.get("/v1/notifications", "other")) == refs["other"]


def test_nobody_sees_another_recipients_notices(outbox):
    refs = outbox.extra["refs"]
    seen = {
        who: set(_refs(outbox.get(url, who)))
        for who, url in (
            ("zhang", "/v1/me/notifications"),
            ("li", "/v1/me/notifications"),
            ("bank", "/v1/notifications"),
            ("other", "/v1/notifications"),
        )
    }
    for who, mine in seen.items():
        assert mine == set(refs[who])
        for other, theirs in seen.items():
            if other != who:
                assert not mine & theirs
    # 李四's cursor built on one of 张三's notices gives nothing of 张三's
    r = outbox.get("/v1/me/notifications?limit=1", "zhang")
    cursor = r.json()["next_cursor"]
    assert set(_refs(outbox.get(f"/v1/me/notifications?cursor={cursor}", "li"))) <= set(refs["li"])


def test_pages_follow_the_cursor_to_the_end(outbox):
    refs = outbox.extra["refs"]
    seen, cursor = [], None
    for _ in range(5):
        url = "/v1/me/notifications?limit=2" + (f"&cursor={cursor}" if cursor else "")
        r = outbox.get(url, "zhang")
        seen += _refs(r)
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == refs["zhang"][::-1]
    r = outbox.get("/v1/notifications?limit=1", "bank")
    assert _refs(r) == refs["bank"][-1:]
    r = outbox.get(f"/v1/notifications?limit=1&cursor={r.json()['next_cursor']}", "bank")
    assert _refs(r) == refs["bank"][:1]
    assert r.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [("cursor=bm90LWEtY3Vyc29y", None), ("status=lost", "status"), ("limit=0", "limit")],
)
def test_bad_parameters_are_422(outbox, query, field):
    for who, url in (("zhang", "/v1/me/notifications"), ("bank", "/v1/notifications")):
        r = outbox.get(f"{url}?{query}", who)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        if field:
            assert field in r.text


def test_the_wrong_kind_of_token_is_401(outbox):
    for who, url in (
        ("bank", "/v1/me/notifications"),  # an institution key on the subject's route
        ("zhang", "/v1/notifications"),  # a subject credential on the institution's route
        (None, "/v1/notifications"),
        (None, "/v1/me/notifications"),
    ):
        r = outbox.get(url, who)
        assert r.status_code == 401, (who, url, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    assert ZHANG_ID not in outbox.get("/v1/me/notifications", "zhang").text
