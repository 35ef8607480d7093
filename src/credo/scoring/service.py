"""Scoring the bureau's subjects, and the training data models are fitted on.

* `training_set` builds samples from the stored records (features as of several observation
  dates, the bad flag over the performance window after each) for one segment, with the
  subjects' protected attributes alongside -- for the fairness section of the validation
  report only; they are never columns of ``X``.
* `score_subjects` scores subjects with the segment's champion as of a date: features from the
  records on file, score, grade (fixed PD bands), PD, the four costliest reasons, the model
  version and a fingerprint of the inputs. Every run is one audit-ledger entry. One subject or
  all of them go through the same code, so a batch re-score and an on-demand score agree.
* `subjects_furnished_in` names the subjects a furnishing batch touched, so that the furnishing
  path re-scores them (dynamic evaluation).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import pandas as pd
import polars as pl
from sqlalchemy import func, insert, select, union
from sqlalchemy.orm import Session

from credo.account.models import Account, AccountVersion, StatusRecord
from credo.audit import service as audit
from credo.config import Profile, get_settings
from credo.core.masking import shown
from credo.db import utcnow
from credo.errors import Invalid, NotFound
from credo.feature.pit import FEATURES, add_months
from credo.feature.service import (
    Frames,
    build_samples,
    features_of,
    load_frames,
    one_subject_features,
)
from credo.furnishing.models import FurnishingBatch
from credo.inquiry.models import Inquiry
from credo.public_record.models import PublicRecord
from credo.retention.rules import drop_expired_frames
from credo.scoring import registry
from credo.scoring.grades import grade_for_pd
from credo.scoring.models import ModelVersion, SubjectScore
from credo.subject.models import Subject

Progress = Callable[[int, int], None]
CHUNK = 2000
#: up to this many subjects, only their records are loaded (an IN list), else everyone's
FEW = 500


# -- training data -------------------------------------------------------------------------
@dataclass
class TrainingSet:
    """Samples for one segment: features X, labels y, protected attributes for fairness."""

    X: pd.DataFrame
    y: np.ndarray
    groups: pd.DataFrame
    subject_ids: np.ndarray
    observation_dates: list[date]
    window_months: int
    data_end: date
    fingerprint: str
    #: feature -> why it is not offered to the model (constant or all missing in the sample)
    dropped: dict[str, str]

    def describe(self) -> dict:
        return {
            "rows": len(self.y), "bads": int(self.y.sum()),
            "bad_rate": round(float(self.y.mean()), 6),
            "subjects": len(np.unique(self.subject_ids)),
            "observation_dates": [d.isoformat() for d in self.observation_dates],
            "window_months": self.window_months, "data_end": self.data_end.isoformat(),
            "features": list(self.X.columns), "dropped_features": self.dropped,
        }  # fmt: skip


def month_end(d: date) -> date:
    return add_months(d.replace(day=1), 1) - timedelta(days=1)


def data_end(session: Session) -> date:
    """The end of the last month with any status on file (where performance windows stop)."""
    last = session.scalar(select(func.max(StatusRecord.period)))
    if last is None:
        raise Invalid("the bureau holds no account statuses yet; furnish data before training")
    return month_end(last)


def default_observation_dates(end: date, window_months: int = 12, n: int = 4) -> list[date]:
    """`n` month ends, a quarter apart, the latest one whose window ends at `end`."""
    last = add_months(end.replace(day=1), -window_months)
    return sorted(month_end(add_months(last, -3 * k)) for k in range(n))


def training_set(
    session: Session,
    *,
    segment: str = "person",
    observation_dates: list[date] | None = None,
    window_months: int = 12,
    known_at: datetime | None = None,
    end: date | None = None,
) -> TrainingSet:
    """Samples of `segment` from the records on file (see `credo.feature.service`).

    `known_at` fixes which records count (as the bureau knew them then), so the same call
    later rebuilds the same rows; `end` is the last day of data (default: the latest month
    on file).
    """
    if segment not in ("person", "enterprise"):
        raise Invalid(f"segment must be person or enterprise; got {segment!r}")
    end = end or data_end(session)
    dates = observation_dates or default_observation_dates(end, window_months)
    frames = load_frames(session, known_at=known_at)
    types = _subject_table(session)
    wanted = set(types.filter(pl.col("subject_type") == segment)["subject_id"].to_list())
    if not wanted:
        raise Invalid(f"no {segment} subjects on file")
    frames = _only_subjects(frames, wanted)
    try:
        samples = build_samples(frames, dates, window_months=window_months, data_end=end)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    if samples.height == 0:
        raise Invalid(f"no {segment} subject had an account open on {dates}; no samples")
    samples = samples.sort("observation_date", "subject_id")
    fingerprint = hashlib.sha256(samples.write_csv().encode()).hexdigest()
    joined = samples.join(types, on="subject_id", how="left")
    groups = pd.DataFrame({
        "gender": joined["gender"].to_list(),
        "age": [None if y is None else d.year - y
                for d, y in zip(joined["observation_date"], joined["birth_year"], strict=True)],
        "region": [None if r is None else r[:2] for r in joined["region"]],
    })  # fmt: skip
    X = numeric_frame(samples, list(FEATURES))
    dropped = {}
    for c in X.columns:
        present = X[c].dropna()
        if present.empty:
            dropped[c] = "all missing"
        elif present.nunique() < 2:
            dropped[c] = f"constant ({present.iloc[0]:g})"
    X = X.drop(columns=list(dropped))
    return TrainingSet(
        X=X, y=samples["bad"].to_numpy().astype(int), groups=groups,
        subject_ids=samples["subject_id"].to_numpy(), observation_dates=sorted(set(dates)),
        window_months=window_months, data_end=end, fingerprint=fingerprint, dropped=dropped,
    )  # fmt: skip


def numeric_frame(df: pl.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Float columns of a Polars frame as pandas (nulls as NaN), without pyarrow."""
    return pd.DataFrame({c: df[c].cast(pl.Float64).to_numpy() for c in columns})


def _subject_table(session: Session) -> pl.DataFrame:
    rows = session.execute(
        select(Subject.id, Subject.subject_type, Subject.gender, Subject.birth_year,
               Subject.region)
    ).all()  # fmt: skip
    return pl.DataFrame(
        {"subject_id": [r[0] for r in rows], "subject_type": [r[1].value for r in rows],
         "gender": [r[2] for r in rows], "birth_year": [r[3] for r in rows],
         "region": [r[4] for r in rows]},
        schema={"subject_id": pl.Int64, "subject_type": pl.Utf8, "gender": pl.Utf8,
                "birth_year": pl.Int64, "region": pl.Utf8},
    )  # fmt: skip


def _only_subjects(frames: Frames, wanted: set[int]) -> Frames:
    ids = pl.DataFrame({"subject_id": sorted(wanted)}, schema={"subject_id": pl.Int64})
    accounts = frames.accounts.join(ids, on="subject_id", how="semi")
    return Frames(
        accounts=accounts,
        statuses=frames.statuses.join(accounts.select("account_id"), on="account_id",
                                      how="semi"),
        inquiries=frames.inquiries.join(ids, on="subject_id", how="semi"),
        public_records=frames.public_records.join(ids, on="subject_id", how="semi"),
    )  # fmt: skip


# -- scoring ---------------------------------------------------------------------------------
@dataclass
class ScoreRun:
    """What one scoring call did."""

    model: str
    version_id: int
    as_of: date
    scored_at: datetime
    scored: int
    not_scorable: list[int]
    scores: list[SubjectScore]


def score_subjects(
    session: Session,
    subject_ids: Iterable[int] | None = None,
    *,
    actor: str,
    trigger: str = "request",
    as_of: date | None = None,
    segment: str = "person",
    version: ModelVersion | None = None,
    progress: Progress | None = None,
    keep: bool = True,
    inquiries_before: datetime | None = None,
) -> ScoreRun:
    """Score subjects (default: every subject of the segment) with the champion as of a date.

    A subject with no account opened by `as_of` has no credit file to score and is listed in
    `not_scorable` instead. Set `keep=False` for large runs to not hold the stored rows.
    With `inquiries_before`, inquiries recorded at or after that moment are left out (the API
    scores a query on the file without the query's own inquiry).
    """
    if trigger not in ("request", "batch", "furnishing"):
        raise Invalid(f"trigger must be request, batch or furnishing; got {trigger!r}")
    version = version or registry.champion(session, segment)
    if version is None:
        raise NotFound(
            f"there is no {segment} champion model; train, validate and publish one first "
            "(credo model train / validate / publish)"
        )
    model = registry.load(version)
    as_of = as_of or date.today()
    few = None
    if subject_ids is not None:
        ids = sorted(set(subject_ids))
        few = ids if len(ids) <= FEW else None
    in_segment = select(Subject.id).where(Subject.subject_type == version.segment.value)
    if subject_ids is None:
        ids = sorted(session.scalars(in_segment))
    else:
        if few is not None:
            in_segment = in_segment.where(Subject.id.in_(few))
        known = set(session.scalars(in_segment))
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise Invalid(f"not {version.segment.value} subjects on file: {unknown[:5]}")
    single = None
    if len(ids) == 1 and subject_ids is not None:
        # one subject (an API query): plain Python features, equal to the Polars ones (tested)
        one = one_subject_features(session, ids[0], as_of, inquiries_before=inquiries_before)
        if one is not None:
            schema = {"subject_id": pl.Int64, **dict.fromkeys(one, pl.Float64)}
            single = pl.DataFrame([{"subject_id": ids[0], **one}], schema=schema)
        scorable, not_scorable = (ids, []) if one is not None else ([], ids)
    else:
        frames = load_frames(session, subject_ids=few, inquiries_before=inquiries_before)
        with_file = subjects_with_file(frames, as_of)
        scorable = [i for i in ids if i in with_file]
        not_scorable = [i for i in ids if i not in with_file]
    stored: list[SubjectScore] = []
    done = 0
    now = utcnow()
    for start in range(0, len(scorable), CHUNK):
        chunk = scorable[start : start + CHUNK]
        feats = single if single is not None else features_of(frames, as_of, chunk)
        rows = _score_rows(model, version, feats, as_of, trigger, now)
        if keep:
            objs = [SubjectScore(**r) for r in rows]
            session.add_all(objs)
            session.flush()
            stored.extend(objs)
        else:
            session.execute(insert(SubjectScore), rows)
        done += len(chunk)
        if progress:
            progress(done, len(scorable))
    target = (f"subject:{_ref(session, scorable[0])}" if len(ids) == 1 and scorable
              else f"subjects:{len(ids)}")  # fmt: skip
    audit.record(session, actor=actor, action="score.compute", target=target,
                 details={"model": version.label, "as_of": as_of.isoformat(), "trigger": trigger,
                          "scored": len(scorable), "not_scorable": len(not_scorable)})  # fmt: skip
    return ScoreRun(version.label, version.id, as_of, now, len(scorable), not_scorable, stored)


def grade_distribution(session: Session, run: ScoreRun) -> dict[str, int]:
    """Subjects per grade in one scoring run, best grade first."""
    rows = session.execute(
        select(SubjectScore.grade, func.count())
        .where(SubjectScore.model_version_id == run.version_id,
               SubjectScore.scored_at == run.scored_at)
        .group_by(SubjectScore.grade).order_by(SubjectScore.grade)
    ).all()  # fmt: skip
    return {g: int(n) for g, n in rows}


def rescore_furnished(session: Session, batch_ref: str, *, actor: str) -> list[ScoreRun]:
    """Re-score, with each segment's champion, the subjects a furnishing batch touched."""
    batch_id = session.scalar(select(FurnishingBatch.id).where(FurnishingBatch.ref == batch_ref))
    if batch_id is None:
        raise NotFound(f"no furnishing batch {batch_ref!r}")
    ids = subjects_furnished_in(session, batch_id)
    if not ids:
        return []
    types = dict(session.execute(select(Subject.id, Subject.subject_type)
                                 .where(Subject.id.in_(ids))).all())  # fmt: skip
    runs = []
    for segment in ("person", "enterprise"):
        mine = [i for i in ids if types[i].value == segment]
        version = registry.champion(session, segment)
        if mine and version is not None:
            runs.append(score_subjects(session, mine, actor=actor, trigger="furnishing",
                                       version=version, keep=False))  # fmt: skip
    return runs


def subjects_with_file(frames: Frames, as_of: date, profile: Profile | None = None) -> set[int]:
    """Subjects with a credit file as of `as_of`: an account opened by then and not wholly
    expired under the retention rules (the single-subject path's "no file" test, in bulk)."""
    accounts, _, _ = drop_expired_frames(
        frames.accounts.filter(pl.col("opened_on") <= as_of),
        frames.statuses,
        frames.public_records,
        profile=profile or get_settings().jurisdiction,
        as_of=as_of,
    )
    return set(accounts["subject_id"].to_list())


def predict(model, feats: pl.DataFrame) -> tuple[pd.DataFrame, Any, Any, Any, list]:
    """Score feature rows with a loaded model: (model inputs, scores, PDs, grades, reasons).

    The one sequence of model calls behind every stored score; the repair plan predicts with it
    too, so a predicted score is exactly what scoring the changed features would store.
    """
    X = numeric_frame(feats, list(model.feature_names_in_))
    scores = model.score(X)
    pds = model.pd_from_score(scores)
    grades = grade_for_pd(np.clip(pds, 0.0, 1.0))
    return X, scores, pds, grades, model.reasons(X, n=4)


def _score_rows(
    model, version: ModelVersion, feats: pl.DataFrame, as_of: date, trigger: str, now: datetime
):
    X, scores, pds, grades, reasons = predict(model, feats)
    rows = []
    for i, sid in enumerate(feats["subject_id"].to_list()):
        inputs = {c: _plain(X.iat[i, j]) for j, c in enumerate(X.columns)}
        text = registry.canonical(inputs)
        fp = hashlib.sha256(
            f"{version.id}|{version.spec_sha256}|{as_of.isoformat()}|{text}".encode()
        ).hexdigest()
        rows.append({
            "subject_id": sid, "model_version_id": version.id, "score": float(scores[i]),
            "grade": str(grades[i]), "pd": float(pds[i]),
            "reasons": registry.canonical([_reason(r) for r in reasons[i]]),
            "inputs": text, "input_fingerprint": fp, "as_of": as_of, "scored_at": now,
            "trigger": trigger,
        })  # fmt: skip
    return rows


def _reason(r) -> dict:
    d = r.to_dict()
    d["points"] = round(d["points"], 2)
    d["best_points"] = round(d["best_points"], 2)
    d["cost"] = round(d["cost"], 2)
    return d


def _plain(v):
    if v is None:
        return None
    v = float(v)
    return None if np.isnan(v) else v


def _ref(session: Session, subject_id: int) -> str:
    return session.scalar(select(Subject.ref).where(Subject.id == subject_id)) or str(subject_id)


def subject_by_ref(session: Session, ref: str) -> Subject:
    subject = session.scalar(select(Subject).where(Subject.ref == ref.strip()))
    if subject is None:
        raise NotFound(f"no subject with reference {shown(ref)}")
    return subject


def latest_scores(session: Session, subject_id: int, limit: int = 10) -> list[SubjectScore]:
    return list(session.scalars(
        select(SubjectScore).where(SubjectScore.subject_id == subject_id)
        .order_by(SubjectScore.scored_at.desc(), SubjectScore.id.desc()).limit(limit)
    ))  # fmt: skip


def subjects_furnished_in(session: Session, batch_id: int) -> list[int]:
    """Subjects whose accounts, statuses, inquiries or public records came in `batch_id`."""
    q = union(
        select(Account.subject_id).join(AccountVersion, AccountVersion.account_id == Account.id)
        .where(AccountVersion.batch_id == batch_id),
        select(Account.subject_id).join(StatusRecord, StatusRecord.account_id == Account.id)
        .where(StatusRecord.batch_id == batch_id),
        select(Inquiry.subject_id).where(Inquiry.batch_id == batch_id),
        select(PublicRecord.subject_id).where(PublicRecord.batch_id == batch_id),
    )  # fmt: skip
    return sorted(session.scalars(select(q.subquery().c[0])))


def score_to_dict(s: SubjectScore, version: ModelVersion, ref: str) -> dict:
    return {
        "subject": ref, "score": s.score, "grade": s.grade, "pd": round(s.pd, 6),
        "model": version.label, "model_kind": version.kind.value,
        "as_of": s.as_of.isoformat(), "scored_at": s.scored_at.isoformat(),
        "trigger": s.trigger, "reasons": orjson.loads(s.reasons),
        "inputs": orjson.loads(s.inputs), "input_fingerprint": s.input_fingerprint,
    }  # fmt: skip
