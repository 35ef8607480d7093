"""Scoring one subject on request (the API's ``POST /v1/scores``), without pandas or Polars.

`credo.scoring.service.score_subjects` is the definition and the batch path: features of many
subjects in Polars, the model over a pandas frame. For one subject their fixed costs (frame
construction, ~1-2 ms) dwarf the work, so this module computes the same thing from plain
values: the subject's features in plain Python (`one_subject_features`), the champion
scorecard's points table record by record (`PointsScorer.record_points`), and the reasons by
the very `explain` of the batch path on a one-row view. Tests check that the stored rows
(score, grade, PD, reasons, inputs, fingerprint) are identical to the batch path's on every
subject of a synthetic bureau. A model that is not a scorecard (the LightGBM challenger) goes
through the batch path's `predict` on a one-row frame instead.

The champion is read per request (publishing a new one takes effect at once) but without its
spec; the rebuilt model is kept per version id and spec hash, so a changed spec is a new entry
(and is checked against its hash by `registry.load` when first loaded).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from credo.audit import service as audit
from credo.config import Profile, get_settings
from credo.db import UTCDateTime
from credo.dbraw import RawStatement, defer, driver, pipelined
from credo.feature.pit import ACCOUNT_SCHEMA, INQUIRY_SCHEMA, PUBLIC_SCHEMA, STATUS_SCHEMA
from credo.feature.service import _plain_rows, _statements
from credo.feature.single import features_from_rows
from credo.retention.rules import drop_expired_rows
from credo.scoring import registry
from credo.scoring.grades import grade_for_pd
from credo.scoring.models import ModelStatus, ModelVersion, Segment, SubjectScore
from credo.scoring.reasons import ReasonCatalog, explain
from credo.scoring.scorecard import Scorecard

#: how many reasons a score carries (as in the batch path)
N_REASONS = 4


@dataclass(frozen=True, slots=True)
class Champion:
    """A segment's published model, rebuilt and ready to score."""

    id: int
    label: str
    kind: str
    spec_sha256: str
    model: Any


@dataclass(frozen=True, slots=True)
class OnlineScore:
    """What one subject's score stored (the `SubjectScore` row's values)."""

    score: float
    grade: str
    pd: float
    #: canonical JSON, as stored
    reasons: str
    inputs: str
    input_fingerprint: str
    as_of: date
    scored_at: datetime


_V = ModelVersion.__table__.c
_CHAMPION = select(_V.id, _V.name, _V.version, _V.kind, _V.spec_sha256).where(
    _V.segment == bindparam("segment"), _V.status == ModelStatus.champion.value
)
_RAW_CHAMPION = RawStatement(_CHAMPION)
_MODELS: dict[tuple[int, str], Champion] = {}
#: `score_subject` reads the features itself
_READ = object()
_MODELS_LOCK = threading.Lock()
#: rebuilt models kept: a champion per segment (person, enterprise) and the ones just replaced
_MODELS_KEPT = 8


def champion(session: Session, segment: str) -> Champion | None:
    """The segment's champion now, or None when none is published."""
    params = {"segment": Segment(segment).value}
    pg = driver(session)
    if pg is not None:
        rows = _RAW_CHAMPION.all(pg, params)
        row = rows[0] if rows else None
    else:
        row = session.execute(_CHAMPION, params).first()
    return _champion(session, row)


def _champion(session: Session, row: Any) -> Champion | None:
    if row is None:
        return None
    key = (row[0], row[4])  # id, spec hash
    hit = _MODELS.get(key)
    if hit is None:
        version = session.get(ModelVersion, key[0])
        hit = Champion(key[0], version.label, version.kind.value, key[1],
                       registry.load(version))  # fmt: skip
        with _MODELS_LOCK:
            if len(_MODELS) >= _MODELS_KEPT:  # retired models pile up: start again
                _MODELS.clear()
            _MODELS[key] = hit
    return hit


class _OneRow:
    """A one-row, frame-like view of a record for `explain` (``X[name].to_numpy()``)."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, float]) -> None:
        self._values = values

    def __getitem__(self, name: str) -> _OneRow:
        return _OneRow({"": self._values[name]})

    def to_numpy(self) -> np.ndarray:
        return np.array([self._values[""]], dtype=np.float64)


def _as_float(v: Any) -> float:
    return np.nan if v is None else float(v)


def _rounded(d: dict) -> dict:
    """A reason as the batch path stores it (points rounded to 2 places)."""
    d["points"] = round(d["points"], 2)
    d["best_points"] = round(d["best_points"], 2)
    d["cost"] = round(d["cost"], 2)
    return d


def score_record(model: Any, features: dict[str, float | None]) -> tuple[float, float, str, list]:
    """(score, PD, grade, reasons as dicts) of one record of features, as the batch path
    (`credo.scoring.service.predict`) scores it."""
    names = list(model.feature_names_in_)
    values = {n: _as_float(features[n]) for n in names}
    if isinstance(model, Scorecard):
        points = model.scorer_.record_points(values)
        score = float(sum(points))
        pd = model.pd_from_score(np.array([score]))
        grade = str(grade_for_pd(np.clip(pd, 0.0, 1.0))[0])
        catalog = model.reason_catalog or ReasonCatalog()
        reasons = explain(model.features_, _OneRow(values), np.array([points]), catalog,
                          N_REASONS)[0]  # fmt: skip
        return score, float(pd[0]), grade, [_rounded(r.to_dict()) for r in reasons]
    import polars as pl  # a challenger: the batch path on one row

    from credo.scoring.service import predict

    frame = pl.DataFrame([{n: features[n] for n in names}],
                         schema=dict.fromkeys(names, pl.Float64))  # fmt: skip
    _, scores, pds, grades, reasons = predict(model, frame)
    return (float(scores[0]), float(pds[0]), str(grades[0]),
            [_rounded(r.to_dict()) for r in reasons[0]])  # fmt: skip


# The four reads of `credo.feature.service.one_subject_features`, built once with bound
# parameters (building them per call cost more than running them), for the file as it is now.
_ROWS = _statements(
    None, bindparam("subject_ids", expanding=True), bindparam("before", type_=UTCDateTime())
)
_SCHEMAS = (ACCOUNT_SCHEMA, STATUS_SCHEMA, INQUIRY_SCHEMA, PUBLIC_SCHEMA)
# the same on psycopg directly (text columns come back as the plain strings `_plain_rows`
# makes), for one subject: ``subject_id IN (%(subject_id)s)`` rather than ``= ANY(array)``.
# PostgreSQL kept planning the prepared ``ANY`` statements afresh on every run (its generic
# plan for an array of unknown length looked dearer than a custom plan for one id), ~80 us of
# server CPU each for accounts and statuses; with one id the generic plan is taken.
_RAW_ROWS = tuple(
    RawStatement(stmt)
    for stmt in _statements(
        None, [bindparam("subject_id")], bindparam("before", type_=UTCDateTime())
    )
)
_SCORE_COLUMNS = ("subject_id", "model_version_id", "score", "grade", "pd", "reasons", "inputs",
                  "input_fingerprint", "as_of", "scored_at", "trigger")  # fmt: skip
_RAW_INSERT_SCORE = RawStatement(
    insert(SubjectScore.__table__).values({c: bindparam(c) for c in _SCORE_COLUMNS})
)


def features_now(
    session: Session,
    subject_id: int,
    as_of: date,
    *,
    inquiries_before: datetime,
    retention: Profile | None = None,
) -> dict[str, float | None] | None:
    """`one_subject_features` of the file as it is now (no knowledge cut), from four cached
    statements; None when the subject has no account opened by `as_of` that has not expired."""
    pg = driver(session)
    if pg is not None:  # PostgreSQL: the four reads in one round trip, rows as plain tuples
        params = {"subject_id": subject_id, "before": inquiries_before}
        acc, st, inq, pub = pipelined(pg, ((stmt, params) for stmt in _RAW_ROWS))
    else:
        params = {"subject_ids": [subject_id], "before": inquiries_before}
        acc, st, inq, pub = (_plain_rows(session, stmt.params(params), schema)
                             for stmt, schema in zip(_ROWS, _SCHEMAS, strict=True))  # fmt: skip
    return _features(acc, st, inq, pub, as_of, retention)


def champion_and_features(
    session: Session,
    segment: str,
    subject_id: int,
    as_of: date,
    *,
    inquiries_before: datetime,
) -> tuple[Champion | None, dict[str, float | None] | None]:
    """`champion` and `features_now` together: on PostgreSQL the five reads share one round
    trip (with any writes deferred before them)."""
    pg = driver(session)
    if pg is None:
        return champion(session, segment), features_now(
            session, subject_id, as_of, inquiries_before=inquiries_before
        )
    params = {"subject_id": subject_id, "before": inquiries_before}
    work = [(_RAW_CHAMPION, {"segment": Segment(segment).value}),
            *((stmt, params) for stmt in _RAW_ROWS)]  # fmt: skip
    champ, acc, st, inq, pub = pipelined(pg, work)
    return _champion(session, champ[0] if champ else None), _features(acc, st, inq, pub, as_of)


def _features(acc, st, inq, pub, as_of: date, retention: Profile | None = None):
    accounts, statuses, public_records = drop_expired_rows(
        acc, st, pub, profile=retention or get_settings().jurisdiction, as_of=as_of
    )
    if not any(a[3] <= as_of for a in accounts):
        return None
    return features_from_rows(accounts, statuses, inq, public_records, as_of=as_of)


def score_subject(
    session: Session,
    *,
    subject_id: int,
    subject_ref: str,
    model: Champion,
    as_of: date,
    actor: str,
    inquiries_before: datetime,
    trigger: str = "request",
    now: datetime,
    features: dict[str, float | None] | object | None = _READ,
) -> OnlineScore | None:
    """Score one subject with `model` as of `as_of`, store the score and ledger it
    (``score.compute``, as `score_subjects` does); None when the subject has no credit file
    to score then (ledgered too).

    Inquiries recorded at or after `inquiries_before` are left out (a query is scored on the
    file without its own inquiry). `features`: the subject's `features_now` when the caller
    read them already (`champion_and_features`).
    """
    feats = features
    if feats is _READ:
        feats = features_now(session, subject_id, as_of, inquiries_before=inquiries_before)
    result = None
    if feats is not None:
        score, pd, grade, reasons = score_record(model.model, feats)
        inputs = {n: feats[n] for n in model.model.feature_names_in_}
        inputs = {n: (None if v is None or v != v else float(v)) for n, v in inputs.items()}
        text = registry.canonical(inputs)
        fingerprint = hashlib.sha256(
            f"{model.id}|{model.spec_sha256}|{as_of.isoformat()}|{text}".encode()
        ).hexdigest()
        result = OnlineScore(score, grade, pd, registry.canonical(reasons), text, fingerprint,
                             as_of, now)  # fmt: skip
        row = {"subject_id": subject_id, "model_version_id": model.id, "score": score,
               "grade": grade, "pd": pd, "reasons": result.reasons, "inputs": text,
               "input_fingerprint": fingerprint, "as_of": as_of, "scored_at": now,
               "trigger": trigger}  # fmt: skip
        pg = driver(session)
        if pg is not None:
            defer(pg, _RAW_INSERT_SCORE, row)  # with the COMMIT
        else:
            session.execute(insert(SubjectScore.__table__), [row])
    scored = int(result is not None)
    target = f"subject:{subject_ref}" if result is not None else "subjects:1"
    audit.record(session, actor=actor, action="score.compute", target=target,
                 details={"model": model.label, "as_of": as_of.isoformat(), "trigger": trigger,
                          "scored": scored, "not_scorable": 1 - scored})  # fmt: skip
    return result
