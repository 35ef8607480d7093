"""The online (one-subject, pandas-free) scorer stores exactly what the batch path stores."""

from __future__ import annotations

from datetime import UTC, date, datetime

import orjson
import pytest
from sqlalchemy import delete, select

from credo.audit.models import AuditEntry
from credo.scoring import online
from credo.scoring.models import SubjectScore
from credo.scoring.service import score_subjects
from credo.subject.models import Subject, SubjectType

AS_OF = date(2026, 6, 30)
LATER = datetime(2030, 1, 1, tzinfo=UTC)  # every inquiry on file was recorded before
_FIELDS = ("score", "grade", "pd", "reasons", "inputs", "input_fingerprint", "as_of")


def _stored(session, subject_id: int) -> dict:
    row = session.scalars(
        select(SubjectScore).where(SubjectScore.subject_id == subject_id)
        .order_by(SubjectScore.id.desc()).limit(1)
    ).one()  # fmt: skip
    return {f: getattr(row, f) for f in _FIELDS}


def test_every_subject_scores_the_same_online_and_in_batch(bureau, bsession):
    model = online.champion(bsession, "person")
    assert model.label == bureau.champion
    people = bsession.execute(
        select(Subject.id, Subject.ref).where(Subject.subject_type == SubjectType.person)
    ).all()
    compared = missing = 0
    for sid, ref in people:
        got = online.score_subject(bsession, subject_id=sid, subject_ref=ref, model=model,
                                   as_of=AS_OF, actor="t", inquiries_before=LATER,
                                   now=LATER)  # fmt: skip
        if got is None:
            missing += 1
            run = score_subjects(bsession, [sid], actor="t", as_of=AS_OF)
            assert run.not_scorable == [sid]
            continue
        mine = _stored(bsession, sid)
        score_subjects(bsession, [sid], actor="t", as_of=AS_OF, inquiries_before=LATER)
        batch = _stored(bsession, sid)
        assert mine == batch, ref
        assert (got.score, got.grade, got.input_fingerprint) == (
            batch["score"], batch["grade"], batch["input_fingerprint"],
        )  # fmt: skip
        compared += 1
    assert compared > 100 and missing < compared


def test_a_query_leaves_out_inquiries_recorded_from_its_own_moment(bureau, bsession):
    model = online.champion(bsession, "person")
    sid, ref = bsession.execute(
        select(Subject.id, Subject.ref).where(Subject.subject_type == SubjectType.person)
    ).first()
    before = datetime(2000, 1, 1, tzinfo=UTC)  # no inquiry was recorded before then
    got = online.score_subject(bsession, subject_id=sid, subject_ref=ref, model=model,
                               as_of=AS_OF, actor="t", inquiries_before=before,
                               now=LATER)  # fmt: skip
    score_subjects(bsession, [sid], actor="t", as_of=AS_OF, inquiries_before=before)
    assert got is None or _stored(bsession, sid)["input_fingerprint"] == got.input_fingerprint
    if got is not None:
        inputs = orjson.loads(got.inputs)
        assert all(inputs[k] in (0.0, None) for k in inputs if k.startswith("hard_inquiries"))


def test_each_online_score_is_one_ledger_entry(bureau, bsession):
    model = online.champion(bsession, "person")
    sid, ref = bsession.execute(select(Subject.id, Subject.ref)).first()
    bsession.execute(delete(AuditEntry).where(AuditEntry.action == "score.compute"))
    online.score_subject(bsession, subject_id=sid, subject_ref=ref, model=model, as_of=AS_OF,
                         actor="api:X/K1", inquiries_before=LATER, now=LATER)  # fmt: skip
    from credo.audit import service as audit

    audit.write_pending(bsession)
    (entry,) = bsession.scalars(select(AuditEntry).where(AuditEntry.action == "score.compute"))
    details = orjson.loads(entry.details)
    assert entry.actor == "api:X/K1" and details["trigger"] == "request"
    assert details["model"] == model.label and details["as_of"] == AS_OF.isoformat()


def test_no_champion_no_model(bureau, bsession):
    assert online.champion(bsession, "enterprise") is None
    with pytest.raises(ValueError):
        online.champion(bsession, "nobody")
