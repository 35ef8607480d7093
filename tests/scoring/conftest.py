"""A small furnished bureau with a published champion, built once per module and backend.

Tests open their own sessions on it and never commit (services only flush), so what one test
does is rolled back before the next; tests that must commit (the CLI) work on a copy.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session

from credo.config import get_profile
from credo.db import make_engine
from credo.furnishing.service import furnish
from credo.institution import service as institutions
from credo.migrate import upgrade
from credo.security.keys import KeyRing
from credo.synth import generate

PG_URL = os.environ.get("CREDO_TEST_DATABASE_URL")
BUREAU_AS_OF = date(2026, 6, 30)
BUREAU_SUBJECTS = 300


@dataclass
class Bureau:
    engine: Engine
    backend: str
    files: Path
    manifest: dict
    champion: str
    sqlite_path: Path | None


def _build(engine: Engine, files: Path, reports: Path) -> tuple[dict, str]:
    from credo.scoring import registry
    from credo.scoring.cli import train_model, validate_model

    keyring = KeyRing.from_secrets(bytes(range(32)))
    manifest = orjson.loads((files / "manifest.json").read_bytes())
    with Session(engine) as session:
        for inst in manifest["institutions"]:
            institutions.create(session, code=inst["code"], name=inst["name"],
                                kind=inst["kind"], actor="test")  # fmt: skip
        for f in sorted(manifest["files"], key=lambda f: f["order"]):
            if "corrections" in f["name"]:
                continue  # kept back: tests furnish it to see re-scoring
            furnish(session, path=files / f["name"], institution_code=f["institution"],
                    keyring=keyring, profile=get_profile("cn"), actor="test",
                    as_of=BUREAU_AS_OF)  # fmt: skip
        session.commit()
        version, _ = train_model(
            session, kind="scorecard", segment="person", name=None, window=12,
            observation_dates=None, test_size=0.3, seed=42, author="test",
        )  # fmt: skip
        validate_model(session, version, out_dir=reports, min_auc=0.55, n_boot=100, cv_folds=2,
                       author="validator")  # fmt: skip
        registry.publish(session, version, actor="test")
        label = version.label
        session.commit()
    return manifest, label


@pytest.fixture(scope="module")
def bureau_files(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bureau") / "files"
    generate(out, subjects=BUREAU_SUBJECTS, seed=11, as_of=BUREAU_AS_OF, defect_rate=0.0)
    return out


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def bureau(request, bureau_files, tmp_path_factory) -> Iterator[Bureau]:
    reports = tmp_path_factory.mktemp("reports")
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "bureau.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        manifest, label = _build(engine, bureau_files, reports)
        yield Bureau(engine, "sqlite", bureau_files, manifest, label, path)
        engine.dispose()
        return
    if not PG_URL:
        pytest.skip("CREDO_TEST_DATABASE_URL not set")
    name = f"credo_bureau_{uuid.uuid4().hex[:10]}"
    admin = make_engine(
        make_url(PG_URL).set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    try:
        upgrade(engine)
        manifest, label = _build(engine, bureau_files, reports)
        yield Bureau(engine, "postgresql", bureau_files, manifest, label, None)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def bsession(bureau) -> Iterator[Session]:
    """A session on the bureau that is rolled back at the end of the test."""
    with Session(bureau.engine, expire_on_commit=False) as s:
        yield s
        s.rollback()


@pytest.fixture
def bureau_copy(bureau, tmp_path, monkeypatch) -> Path:
    """A private copy of the SQLite bureau, configured as the CLI's database."""
    if bureau.sqlite_path is None:
        pytest.skip("the CLI tests run on the SQLite copy")
    path = tmp_path / "copy.db"
    # the backup API, not a file copy: committed pages may still sit in the -wal file
    with sqlite3.connect(bureau.sqlite_path) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    monkeypatch.setenv("CREDO_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("CREDO_SECRET_KEY", _secret())
    from credo.config import get_settings
    from credo.db import get_engine
    from credo.security import get_keyring

    for cached in (get_settings, get_engine, get_keyring):
        cached.cache_clear()
    return path


def _secret() -> str:
    import base64

    return base64.b64encode(bytes(range(32))).decode()
