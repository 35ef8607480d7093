"""Model registry and stored scores.

A model version is data, not a pickle: ``spec`` holds what `Scorecard.to_dict` or
`Challenger.to_dict` export (points table and bins, or the booster in LightGBM's text format)
as canonical JSON, and ``spec_sha256`` its hash, checked every time the model is loaded.

Lifecycle: ``draft`` -> ``validated`` -> ``champion`` -> ``retired``. Once a version leaves
draft its spec, features, training fingerprint and metrics can no longer change (the service
refuses, and a database trigger refuses too); at most one champion per segment (a partial
unique index).
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from credo.db import Base, BigId, UTCDateTime, str_enum, utcnow


class ModelStatus(enum.StrEnum):
    draft = "draft"
    validated = "validated"
    champion = "champion"
    retired = "retired"


class ModelKind(enum.StrEnum):
    scorecard = "scorecard"
    challenger = "challenger"


class Segment(enum.StrEnum):
    person = "person"
    enterprise = "enterprise"


#: the columns frozen once a version leaves draft (also listed in migration 0002's triggers)
FROZEN_COLUMNS = (
    "name", "version", "kind", "segment", "spec", "spec_sha256", "features",
    "training_fingerprint", "training", "metrics", "author", "created_at",
)  # fmt: skip


class ModelVersion(Base):
    """One trained model: its spec as data, how it was trained, how it validated."""

    __tablename__ = "model_version"
    __table_args__ = (
        UniqueConstraint("name", "version"),
        Index(
            "uq_model_version_champion",
            "segment",
            unique=True,
            sqlite_where=text("status = 'champion'"),
            postgresql_where=text("status = 'champion'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: e.g. "person-scorecard"; versions count up per name
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[ModelKind] = mapped_column(str_enum(ModelKind, 16))
    segment: Mapped[Segment] = mapped_column(str_enum(Segment, 16))
    status: Mapped[ModelStatus] = mapped_column(
        str_enum(ModelStatus, 16), default=ModelStatus.draft
    )
    #: canonical JSON of the exported model
    spec: Mapped[str] = mapped_column(Text)
    spec_sha256: Mapped[str] = mapped_column(String(64))
    #: JSON list of the input features
    features: Mapped[str] = mapped_column(Text)
    #: SHA-256 of the training rows (features and labels), to tell what a model was fitted on
    training_fingerprint: Mapped[str] = mapped_column(String(64))
    #: JSON: observation dates, window, rows, bad rate, parameters
    training: Mapped[str] = mapped_column(Text)
    #: JSON: the validation summary (AUC, KS, ...) -- null until validated
    metrics: Mapped[str | None] = mapped_column(Text, default=None)
    author: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    validated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    validated_by: Mapped[str | None] = mapped_column(String(100), default=None)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    published_by: Mapped[str | None] = mapped_column(String(100), default=None)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


class SubjectScore(Base):
    """One score of one subject by one model version, with what it was computed from."""

    __tablename__ = "subject_score"
    __table_args__ = (Index("ix_subject_score_subject_scored", "subject_id", "scored_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject_id: Mapped[int] = mapped_column(BigId, ForeignKey("subject.id"))
    model_version_id: Mapped[int] = mapped_column(BigId, ForeignKey("model_version.id"), index=True)
    score: Mapped[float] = mapped_column(Float)
    grade: Mapped[str] = mapped_column(String(1))
    pd: Mapped[float] = mapped_column(Float)
    #: JSON list of reasons (code, feature, value, points, texts)
    reasons: Mapped[str] = mapped_column(Text)
    #: JSON of the feature values scored (credit data only, no identifiers)
    inputs: Mapped[str] = mapped_column(Text)
    #: SHA-256 of model version + as-of date + inputs: same fingerprint, same score
    input_fingerprint: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[date] = mapped_column(Date)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: request | batch | furnishing
    trigger: Mapped[str] = mapped_column(String(16))
