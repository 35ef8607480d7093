"""Registry, scoring service and their commands, on a furnished bureau (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import orjson
import pytest
import sqlalchemy.exc
from sqlalchemy import select, text
from typer.testing import CliRunner

from credo.audit import service as audit
from credo.audit.models import AuditEntry
from credo.cli import app
from credo.errors import Conflict, IntegrityError, Invalid, NotFound
from credo.feature.catalog import BUREAU_CATALOG
from credo.feature.pit import FEATURES
from credo.furnishing.service import furnish
from credo.scoring import registry, service
from credo.scoring.grades import grade_for_pd
from credo.scoring.models import ModelStatus, ModelVersion, SubjectScore
from credo.scoring.scorecard import Scorecard
from credo.security.keys import KeyRing
from credo.subject.models import Subject

from .conftest import BUREAU_AS_OF

runner = CliRunner()
AS_OF = date(2026, 6, 30)


def _champion(s) -> ModelVersion:
    version = registry.champion(s, "person")
    assert version is not None
    return version


# -- training data ---------------------------------------------------------------------------
def test_training_set_has_no_protected_columns_and_rebuilds_identically(bsession):
    s = bsession
    version = _champion(s)
    t = orjson.loads(version.training)
    from credo.scoring.cli import rebuild

    ts, train, test = rebuild(s, version)
    assert ts.fingerprint == version.training_fingerprint
    assert set(ts.X.columns) <= set(FEATURES)
    assert not set(ts.X.columns) & {"gender", "age", "region", "birth_year"}
    assert list(ts.groups.columns) == ["gender", "age", "region"]
    assert len(ts.groups) == len(ts.X) == len(ts.y) == t["rows"]
    assert set(train).isdisjoint(test) and len(train) + len(test) == len(ts.y)
    # a subject's rows from several observation dates are never split across train and test
    assert set(ts.subject_ids[train]).isdisjoint(ts.subject_ids[test])
    assert t["observation_dates"] == ["2024-09-30", "2024-12-31", "2025-03-31", "2025-06-30"]


def test_training_refuses_windows_past_the_data(bsession):
    with pytest.raises(Invalid, match="needs data up to 2026-12-31"):
        service.training_set(bsession, observation_dates=[date(2025, 12, 31)])
    with pytest.raises(Invalid, match="segment must be person or enterprise"):
        service.training_set(bsession, segment="alien")


# -- registry --------------------------------------------------------------------------------
def test_the_stored_model_scores_like_the_fitted_one(bsession):
    version = _champion(bsession)
    model = registry.load(version)
    ts, _, test = __import__("credo.scoring.cli", fromlist=["rebuild"]).rebuild(bsession, version)
    X = ts.X.iloc[test][list(model.feature_names_in_)]
    again = Scorecard.from_dict(orjson.loads(version.spec), reason_catalog=BUREAU_CATALOG)
    assert np.array_equal(model.score(X), again.score(X))
    assert registry.sha256(version.spec) == version.spec_sha256
    m = orjson.loads(version.metrics)
    assert 0.55 <= m["auc"]["value"] <= 1 and m["min_auc"] == 0.55


def test_lifecycle_rules(bsession):
    s = bsession
    champ = _champion(s)
    model = registry.load(champ)
    draft = registry.register(s, model, name=champ.name, segment="person", training={},
                              training_fingerprint="0" * 64, author="t")  # fmt: skip
    assert (draft.version, draft.status) == (champ.version + 1, ModelStatus.draft)
    assert registry.get(s, champ.name).id == draft.id  # the name alone: latest version
    assert registry.get(s, champ.label).id == champ.id
    assert registry.get(s, str(champ.id)).id == champ.id
    with pytest.raises(NotFound, match="no model version 'nope@1'"):
        registry.get(s, "nope@1")
    with pytest.raises(Invalid, match="version after '@'"):
        registry.get(s, "x@y")
    with pytest.raises(Conflict, match="is a draft; validate it before publishing"):
        registry.publish(s, draft, actor="t")
    with pytest.raises(Conflict, match="already the person champion"):
        registry.publish(s, champ, actor="t")
    with pytest.raises(Conflict, match="only a draft can be validated"):
        registry.mark_validated(s, champ, metrics={}, actor="t")
    with pytest.raises(Conflict, match="only drafts can be deleted"):
        registry.delete_draft(s, champ, actor="t")
    with pytest.raises(Invalid, match="segment must be"):
        registry.register(s, model, name="x", segment="alien", training={},
                          training_fingerprint="0", author="t")  # fmt: skip
    with pytest.raises(Invalid, match="model name"):
        registry.register(s, model, name="bad name!", segment="person", training={},
                          training_fingerprint="0", author="t")  # fmt: skip

    registry.mark_validated(s, draft, metrics={"auc": {"value": 0.7}}, actor="v")
    previous = registry.publish(s, draft, actor="t")
    assert previous.id == champ.id and champ.status == ModelStatus.retired
    assert registry.champion(s, "person").id == draft.id
    actions = s.scalars(select(AuditEntry.action).order_by(AuditEntry.seq.desc()).limit(3)).all()
    assert actions == ["model.publish", "model.validate", "model.register"]
    # roll back to the retired version
    registry.publish(s, champ, actor="t")
    assert registry.champion(s, "person").id == champ.id


def test_a_validated_version_is_immutable_in_the_database(bureau, bsession):
    champ = _champion(bsession)
    bsession.rollback()  # release SQLite's read snapshot; the statements below use their own
    for stmt in (
        "UPDATE model_version SET spec = '{}' WHERE id = :id",
        "UPDATE model_version SET metrics = '{}' WHERE id = :id",
        "UPDATE model_version SET training_fingerprint = 'x' WHERE id = :id",
        "DELETE FROM model_version WHERE id = :id",
    ):
        with bureau.engine.connect() as conn:
            with pytest.raises(sqlalchemy.exc.DatabaseError) as err:
                conn.execute(text(stmt), {"id": champ.id})
            conn.rollback()
        assert "immutable" in str(err.value) or "cannot be deleted" in str(err.value)
    with bureau.engine.connect() as conn:  # the status may move on (publish / retire)
        conn.execute(text("UPDATE model_version SET status = 'retired' WHERE id = :id"),
                     {"id": champ.id})  # fmt: skip
        conn.rollback()


def test_one_champion_per_segment_in_the_database(bsession):
    s = bsession
    champ = _champion(s)
    other = registry.register(s, registry.load(champ), name="second", segment="person",
                              training={}, training_fingerprint="0", author="t")  # fmt: skip
    registry.mark_validated(s, other, metrics={}, actor="t")
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        s.execute(text("UPDATE model_version SET status = 'champion' WHERE id = :id"),
                  {"id": other.id})  # fmt: skip


def test_a_spec_altered_in_the_database_is_never_served(bsession):
    s = bsession
    draft = registry.register(s, registry.load(_champion(s)), name="tampered",
                              segment="person", training={}, training_fingerprint="0",
                              author="t")  # fmt: skip
    s.execute(text("UPDATE model_version SET spec = replace(spec, '\"points\"', '\"points\" ') "
                   "WHERE id = :id"), {"id": draft.id})  # fmt: skip
    s.refresh(draft)
    registry.mark_validated(s, draft, metrics={}, actor="t")
    with pytest.raises(IntegrityError, match="does not match its SHA-256"):
        registry.publish(s, draft, actor="t")


# -- scoring ---------------------------------------------------------------------------------
def test_one_subject_scores_exactly_as_in_the_batch(bsession):
    s = bsession
    batch = service.score_subjects(s, actor="t", trigger="batch", as_of=AS_OF)
    assert batch.scored > 200 and batch.not_scorable == []
    by_subject = {r.subject_id: r for r in batch.scores}
    for sid in list(by_subject)[:15]:
        one = service.score_subjects(s, [sid], actor="t", as_of=AS_OF).scores[0]
        b = by_subject[sid]
        assert (one.score, one.grade, one.pd, one.reasons, one.inputs, one.input_fingerprint) == (
            b.score, b.grade, b.pd, b.reasons, b.inputs, b.input_fingerprint)  # fmt: skip


def test_a_stored_score_carries_grade_pd_reasons_model_and_fingerprint(bsession):
    s = bsession
    version = _champion(s)
    model = registry.load(version)
    run = service.score_subjects(s, actor="t", trigger="batch", as_of=AS_OF)
    for row in run.scores:
        assert row.model_version_id == version.id and row.trigger == "batch"
        assert row.pd == pytest.approx(float(model.pd_from_score(row.score)))
        assert row.grade == grade_for_pd(row.pd)
        reasons = orjson.loads(row.reasons)
        assert len(reasons) <= 4
        assert [r["cost"] for r in reasons] == sorted((r["cost"] for r in reasons), reverse=True)
        inputs = orjson.loads(row.inputs)
        assert set(inputs) == set(model.feature_names_in_)
        assert row.score == float(model.score(_frame(inputs, model))[0])
    assert len({r.input_fingerprint for r in run.scores}) > 0.9 * len(run.scores)
    audit.write_pending(s)  # written at commit (audit.record); here before it
    entry = s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).one()
    assert entry.action == "score.compute" and entry.target == f"subjects:{run.scored}"
    assert json.loads(entry.details)["model"] == version.label
    dist = service.grade_distribution(s, run)
    assert sum(dist.values()) == run.scored


def _frame(inputs, model):
    import pandas as pd

    return pd.DataFrame([{c: np.nan if inputs[c] is None else inputs[c]
                          for c in model.feature_names_in_}])  # fmt: skip


def test_subjects_without_a_credit_file_are_not_scored(bsession):
    run = service.score_subjects(bsession, actor="t", as_of=date(2000, 1, 31))
    assert run.scored == 0 and len(run.not_scorable) > 200


def test_without_a_champion_scoring_says_what_to_do(bsession):
    s = bsession
    registry.retire(s, _champion(s), actor="t")
    with pytest.raises(NotFound, match="no person champion model; train, validate and publish"):
        service.score_subjects(s, actor="t")


def test_bad_subject_ids_and_triggers_are_refused(bsession):
    with pytest.raises(Invalid, match="not person subjects on file: \\[999999\\]"):
        service.score_subjects(bsession, [999999], actor="t")
    with pytest.raises(Invalid, match="trigger must be"):
        service.score_subjects(bsession, actor="t", trigger="whim")


def test_newly_furnished_data_rescore_its_subjects(bureau, bsession):
    s = bsession
    f = next(f for f in bureau.manifest["files"] if "corrections" in f["name"])
    from credo.config import get_profile

    report = furnish(s, path=bureau.files / f["name"], institution_code=f["institution"],
                     keyring=KeyRing.from_secrets(bytes(range(32))), profile=get_profile("cn"),
                     actor="test", as_of=BUREAU_AS_OF)  # fmt: skip
    assert report.corrections > 0
    touched = service.subjects_furnished_in(s, _batch_id(s, report.batch_id))
    assert touched
    persons = sorted(
        s.scalars(
            select(Subject.id).where(Subject.id.in_(touched), Subject.subject_type == "person")
        )
    )
    assert persons  # (enterprises have no champion here, so they are not re-scored)
    runs = service.rescore_furnished(s, report.batch_id, actor="t")
    assert sum(r.scored for r in runs) == len(persons)
    rows = s.scalars(select(SubjectScore).where(SubjectScore.trigger == "furnishing")).all()
    assert sorted(r.subject_id for r in rows) == persons
    with pytest.raises(NotFound):
        service.rescore_furnished(s, "no-such-batch", actor="t")


def _batch_id(s, ref):
    from credo.furnishing.models import FurnishingBatch

    return s.scalar(select(FurnishingBatch.id).where(FurnishingBatch.ref == ref))


# -- commands --------------------------------------------------------------------------------
def test_cli_train_validate_publish_score(bureau_copy):
    r = runner.invoke(app, ["model", "train", "--kind", "challenger", "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["status"] == "draft" and info["kind"] == "challenger"
    label = info["label"]

    r = runner.invoke(app, ["model", "validate", label, "--min-auc", "0.99", "--n-boot", "50",
                            "--cv-folds", "0"])  # fmt: skip
    assert r.exit_code == 1, r.output
    assert "stays a draft" in r.output
    r = runner.invoke(app, ["model", "validate", label, "--n-boot", "50", "--cv-folds", "0",
                            "--min-auc", "0.5", "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["passed"] is True
    assert "<img" in Path(out["report_html"]).read_text("utf-8")

    r = runner.invoke(app, ["model", "publish", label])
    assert r.exit_code == 0, r.output
    assert "champion, replacing person-scorecard@1" in r.output
    r = runner.invoke(app, ["model", "list", "--json"])
    statuses = {m["label"]: m["status"] for m in json.loads(r.output)}
    assert statuses == {"person-scorecard@1": "retired", label: "champion"}

    r = runner.invoke(app, ["score", "--all", "--as-of", "2026-06-30", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["model"] == label and out["scored"] == sum(out["grades"].values()) > 200

    from credo.db import get_engine

    with get_engine().connect() as conn:
        ref = conn.scalar(select(Subject.ref).order_by(Subject.id).limit(1))
    r = runner.invoke(app, ["score", ref, "--as-of", "2026-06-30", "--json"])
    assert r.exit_code == 0, r.output
    one = json.loads(r.output)
    assert one["subject"] == ref and one["model"] == label and one["grade"] in "ABCDEFG"
    r = runner.invoke(app, ["score", ref, "--as-of", "2026-06-30"])
    assert r.exit_code == 0 and f"{ref}: score" in r.output


def test_cli_bad_input(bureau_copy):
    r = runner.invoke(app, ["score"])
    assert r.exit_code == 2 and "give a SUBJECT reference or --all" in r.output
    r = runner.invoke(app, ["score", "NOPE"])
    assert r.exit_code == 2 and "no subject with reference 'NOPE'" in r.output
    r = runner.invoke(app, ["score", "--all", "--as-of", "30/06/2026"])
    assert r.exit_code == 2 and "--as-of must be YYYY-MM-DD" in r.output
    r = runner.invoke(app, ["model", "train", "--kind", "neural"])
    assert r.exit_code == 2 and "kind must be one of scorecard, challenger" in r.output
    r = runner.invoke(app, ["model", "publish", "ghost@3"])
    assert r.exit_code == 2 and "no model version 'ghost@3'" in r.output
    r = runner.invoke(app, ["model", "validate", "person-scorecard@1"])
    assert r.exit_code == 2 and "only a draft is validated" in r.output
    r = runner.invoke(app, ["model", "show", "person-scorecard@1", "--sql"])
    assert r.exit_code == 0 and r.output.lstrip().startswith("(")
    r = runner.invoke(app, ["model", "show", "person-scorecard@1", "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["points_table"]
