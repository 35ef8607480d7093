"""On PostgreSQL the API's hot reads go straight through psycopg (`credo.dbraw`): what they
give must equal what the session path gives, subject by subject, on a synthetic bureau."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import select

from credo import dbraw
from credo.feature.service import one_subject_features
from credo.institution.models import Institution
from credo.report import snapshot
from credo.report.render import render
from credo.report.schema import validate
from credo.report.service import build_report
from credo.scoring import online
from credo.scoring.service import score_subjects
from credo.security.keys import KeyRing
from credo.subject.models import Subject, SubjectType

from .conftest import BUREAU_AS_OF

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


def test_every_subjects_report_matches_the_published_schema(bureau, bsession):
    """The service does not validate the reports it serves against the schema (it cost a
    quarter of a JSON report's CPU): every subject of the synthetic bureau gets a report for
    each kind of viewer and language, as of now (the psycopg path on PostgreSQL) and as of the
    bureau's date (the session path), each checked against the published schema."""
    keyring = KeyRing.from_secrets(bytes(range(32)))  # the bureau's (tests/scoring/conftest.py)
    people = bsession.scalars(
        select(Subject.id).where(Subject.subject_type == SubjectType.person)
    ).all()
    score_subjects(bsession, people, actor="t", as_of=NOW.date())  # rolled back with the session
    code = bsession.scalar(select(Institution.code).order_by(Institution.code).limit(1))
    refs = bsession.scalars(select(Subject.ref).order_by(Subject.id)).all()
    viewers = [("institution", {"institution": code, "purpose": "loan_approval"}),
               ("subject", {}), ("operator", {})]  # fmt: skip
    grids = scores = 0
    for n, ref in enumerate(refs):
        viewer, kw = viewers[n % 3]
        for as_of in (None, BUREAU_AS_OF):
            doc = build_report(
                bsession, ref, viewer=viewer, lang=("zh", "en")[n % 2], as_of=as_of, actor="t",
                keyring=keyring, now=NOW, **kw,
            )  # fmt: skip
            validate(orjson.loads(render(doc, "json")))  # as served
            grids += sum(len(a["grid"]) for a in doc["accounts"])
            scores += doc["score"].get("score") is not None
    assert grids > 10_000 and scores > 100
