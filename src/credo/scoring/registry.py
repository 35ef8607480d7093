"""The model registry: register, validate, publish, retire and load model versions.

Everything a version needs to score and explain is stored as JSON (`ModelVersion.spec`); loading
rebuilds the estimator with `Scorecard.from_dict` / `Challenger.from_dict` after checking the
spec's SHA-256, so serving never unpickles anything and a spec edited in the database is caught.

Rules the service enforces (and the database backs up, see migration 0002):

* a new version starts as ``draft``; only a draft can be validated (with its validation
  summary) or deleted;
* only a validated version (or a retired one, to roll back) can be published; publishing
  retires the segment's current champion in the same transaction: one champion per segment;
* a version that has left draft never changes its spec, features, training data or metrics.

Services flush and never commit (`credo.db`); every change is written to the audit ledger.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from credo.audit import service as audit
from credo.db import utcnow
from credo.errors import Conflict, IntegrityError, Invalid, NotFound
from credo.scoring.challenger import Challenger
from credo.scoring.models import ModelKind, ModelStatus, ModelVersion, Segment
from credo.scoring.reasons import ReasonCatalog
from credo.scoring.scorecard import Scorecard

Model = Scorecard | Challenger

_CACHE: OrderedDict[tuple[int, str], Model] = OrderedDict()
_CACHE_SIZE = 8


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no whitespace, NaN refused."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def register(
    session: Session,
    model: Model,
    *,
    name: str,
    segment: str,
    training: dict[str, Any],
    training_fingerprint: str,
    author: str,
) -> ModelVersion:
    """Store a fitted model as a new draft version of `name`."""
    if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").isalnum():
        raise Invalid(f"model name must be 1-64 letters, digits, '-' or '_'; got {name!r}")
    try:
        seg = Segment(segment)
    except ValueError:
        raise Invalid(f"segment must be person or enterprise; got {segment!r}") from None
    spec = model.to_dict()
    kind = ModelKind(spec["kind"])
    features = (
        [f["name"] for f in spec["features"]] if kind == ModelKind.scorecard else spec["columns"]
    )
    last = session.scalar(select(func.max(ModelVersion.version)).where(ModelVersion.name == name))
    text = canonical(spec)
    version = ModelVersion(
        name=name, version=(last or 0) + 1, kind=kind, segment=seg, status=ModelStatus.draft,
        spec=text, spec_sha256=sha256(text), features=canonical(features),
        training_fingerprint=training_fingerprint, training=canonical(training), author=author,
        created_at=utcnow(),
    )  # fmt: skip
    session.add(version)
    session.flush()
    audit.append(session, actor=author, action="model.register", target=version.label,
                 details={"kind": kind.value, "segment": seg.value, "sha256": version.spec_sha256,
                          "training_fingerprint": training_fingerprint})  # fmt: skip
    return version


def get(session: Session, ref: str) -> ModelVersion:
    """A version by ``name@version``, ``name`` (its latest version) or numeric id."""
    ref = ref.strip()
    if "@" in ref:
        name, _, number = ref.rpartition("@")
        if not number.isdigit():
            raise Invalid(f"model reference {ref!r}: the version after '@' must be a number")
        found = session.scalar(
            select(ModelVersion).where(ModelVersion.name == name,
                                       ModelVersion.version == int(number))
        )  # fmt: skip
    elif ref.isdigit():
        found = session.get(ModelVersion, int(ref))
    else:
        found = session.scalar(
            select(ModelVersion).where(ModelVersion.name == ref)
            .order_by(ModelVersion.version.desc()).limit(1)
        )  # fmt: skip
    if found is None:
        raise NotFound(f"no model version {ref!r}")
    return found


def list_versions(session: Session, *, name: str | None = None) -> list[ModelVersion]:
    stmt = select(ModelVersion).order_by(ModelVersion.name, ModelVersion.version)
    if name:
        stmt = stmt.where(ModelVersion.name == name)
    return list(session.scalars(stmt))


def champion(session: Session, segment: str = "person") -> ModelVersion | None:
    return session.scalar(
        select(ModelVersion).where(ModelVersion.segment == Segment(segment),
                                   ModelVersion.status == ModelStatus.champion)
    )  # fmt: skip


def mark_validated(
    session: Session, version: ModelVersion, *, metrics: dict[str, Any], actor: str
) -> ModelVersion:
    """Record the validation summary and freeze the version."""
    if version.status != ModelStatus.draft:
        raise Conflict(f"{version.label} is {version.status.value}; only a draft can be validated")
    version.metrics = canonical(metrics)
    version.status = ModelStatus.validated
    version.validated_at = utcnow()
    version.validated_by = actor
    session.flush()
    audit.append(session, actor=actor, action="model.validate", target=version.label,
                 details={"metrics_sha256": sha256(version.metrics)})  # fmt: skip
    return version


def publish(session: Session, version: ModelVersion, *, actor: str) -> ModelVersion | None:
    """Make `version` its segment's champion; returns the champion it replaced, if any."""
    if version.status == ModelStatus.champion:
        raise Conflict(f"{version.label} is already the {version.segment.value} champion")
    if version.status == ModelStatus.draft:
        raise Conflict(f"{version.label} is a draft; validate it before publishing")
    load(version)  # refuses a tampered spec before it goes live
    previous = champion(session, version.segment.value)
    now = utcnow()
    if previous is not None:
        previous.status = ModelStatus.retired
        previous.retired_at = now
        session.flush()
    version.status = ModelStatus.champion
    version.published_at = now
    version.published_by = actor
    version.retired_at = None
    session.flush()
    audit.append(session, actor=actor, action="model.publish", target=version.label,
                 details={"segment": version.segment.value,
                          "replaces": previous.label if previous else None})  # fmt: skip
    return previous


def retire(session: Session, version: ModelVersion, *, actor: str) -> None:
    """Take a version out of service (a champion leaves its segment without one)."""
    if version.status in (ModelStatus.retired, ModelStatus.draft):
        raise Conflict(f"{version.label} is {version.status.value}; nothing to retire")
    version.status = ModelStatus.retired
    version.retired_at = utcnow()
    session.flush()
    audit.append(session, actor=actor, action="model.retire", target=version.label, details={})


def delete_draft(session: Session, version: ModelVersion, *, actor: str) -> None:
    if version.status != ModelStatus.draft:
        raise Conflict(f"{version.label} is {version.status.value}; only drafts can be deleted")
    label = version.label
    session.delete(version)
    session.flush()
    audit.append(session, actor=actor, action="model.delete", target=label, details={})


def load(version: ModelVersion, *, catalog: ReasonCatalog | None = None) -> Model:
    """The estimator of a stored version, rebuilt from its spec after checking its hash."""
    if sha256(version.spec) != version.spec_sha256:
        raise IntegrityError(
            f"model {version.label}: the stored spec does not match its SHA-256; it was "
            "altered after registration and will not be served"
        )
    key = (version.id, version.spec_sha256)
    if key in _CACHE and catalog is None:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    spec = orjson.loads(version.spec)
    if catalog is None:
        from credo.feature.catalog import BUREAU_CATALOG

        catalog = BUREAU_CATALOG
    cls = Scorecard if version.kind == ModelKind.scorecard else Challenger
    model = cls.from_dict(spec, reason_catalog=catalog)
    _CACHE[key] = model
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return model


def summary(version: ModelVersion) -> dict[str, Any]:
    """What `credo model list/show --json` print."""
    return {
        "id": version.id, "name": version.name, "version": version.version,
        "label": version.label, "kind": version.kind.value, "segment": version.segment.value,
        "status": version.status.value, "features": orjson.loads(version.features),
        "spec_sha256": version.spec_sha256, "training_fingerprint": version.training_fingerprint,
        "training": orjson.loads(version.training),
        "metrics": orjson.loads(version.metrics) if version.metrics else None,
        "author": version.author, "created_at": _iso(version.created_at),
        "validated_at": _iso(version.validated_at), "validated_by": version.validated_by,
        "published_at": _iso(version.published_at), "published_by": version.published_by,
        "retired_at": _iso(version.retired_at),
    }  # fmt: skip


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None
