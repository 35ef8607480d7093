"""On PostgreSQL the API's hot reads go straight through psycopg (`credo.dbraw`): what they
give must equal what the session path gives, subject by subject, on a synthetic bureau."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from credo import dbraw
from credo.feature.service import one_subject_features
from credo.report import snapshot
from credo.scoring import online
from credo.scoring.service import score_subjects
from credo.security.keys import KeyRing
from credo.subject.models import Subject, SubjectType

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _same(a: dict | None, b: dict | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.keys() == b.keys() and all(a[k] == b[k] or (a[k] != a[k] and b[k] != b[k]) for k in a)


def test_the_psycopg_path_is_taken_on_postgresql_only(bureau, bsession):
    assert (dbraw.driver(bsession) is not None) == (bureau.backend == "postgresql")


def test_features_and_report_snapshots_equal_the_session_path(bureau, bsession, monkeypatch):
    if bureau.backend != "postgresql":
        pytest.skip("the psycopg path is PostgreSQL's")
    keyring = KeyRing.from_secrets(bytes(range(32)))  # the bureau's (tests/scoring/conftest.py)
    ids = bsession.scalars(select(Subject.id).order_by(Subject.id)).all()
    as_of = NOW.date()
    people = bsession.scalars(
        select(Subject.id).where(Subject.subject_type == SubjectType.person)
    ).all()
    score_subjects(bsession, people, actor="t", as_of=as_of)  # rolled back with the session
    raw_features = [online.features_now(bsession, i, as_of, inquiries_before=NOW) for i in ids]
    raw_snaps = [snapshot.load_snapshot(bsession, i, as_of=None, keyring=keyring, now=NOW)
                 for i in ids]  # fmt: skip
    monkeypatch.setattr(snapshot, "driver", lambda _session: None)
    scored = shown = 0
    for i, feats, snap in zip(ids, raw_features, raw_snaps, strict=True):
        assert _same(feats, one_subject_features(bsession, i, as_of, inquiries_before=NOW)), i
        assert snap == snapshot.load_snapshot(bsession, i, as_of=None, keyring=keyring, now=NOW)
        if snap.score is not None:
            assert snap.score.scored_at.tzinfo is UTC  # shown in the report as given
        scored += feats is not None
        shown += len(snap.accounts) > 0 and snap.score is not None
    assert scored > 100 and shown > 100
