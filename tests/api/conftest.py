"""Fixtures for the API tests: a small furnished bureau behind a `TestClient`, on each backend.

The bureau is `small_bureau()` of the furnishing tests (张三 with a card and an inquiry of
2024-05-20, 李四 with a loan and contact details, an enterprise) furnished by BANK_A on the
clock 2024-07-01, plus BANK_B; a person champion (a small scorecard on synthetic data that
uses the hard-inquiry features) is registered, validated and published. Keys: queriers of
BANK_A and BANK_B, a furnisher of BANK_A, and a revoked querier key of BANK_A.

Everything the fixture writes is committed, because the app opens its own sessions; tests
inspect the database through `Api.db()`, a short session closed at the end of the block.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from credo.access import consent as consents
from credo.access import keys
from credo.api.app import create_app
from credo.audit.models import AuditEntry
from credo.config import Settings
from credo.core.checksums import make_prc_id
from credo.db import utcnow
from credo.feature.catalog import BUREAU_CATALOG
from credo.scoring import registry
from credo.scoring.scorecard import Scorecard
from credo.security.keys import KeyRing
from furnishing.bureau import (
    BANK,
    LI_ID,
    OTHER_BANK,
    ZHANG_ID,
    furnish_small_bureau,
    subject_of,
)

EVIDENCE = hashlib.sha256(b"signed consent form").hexdigest()
#: when the bureau's records were furnished (their recorded_at)
FURNISHED_AT = datetime(2024, 7, 1, 10, 0, tzinfo=UTC)
#: a valid PRC id that nobody furnished
STRANGER = make_prc_id("110105", date(1970, 1, 1), 5)
#: every identifier the tests send (leak scans look for these)
IDS = [ZHANG_ID, LI_ID, STRANGER]


@pytest.fixture(scope="session")
def scorecard() -> Scorecard:
    """A person scorecard on synthetic data; more hard inquiries, fewer points."""
    rng = np.random.default_rng(0)
    n = 1000
    X = pd.DataFrame(
        {
            "hard_inquiries_3m": rng.integers(0, 4, n).astype(float),
            "hard_inquiries_12m": rng.integers(0, 8, n).astype(float),
            "worst_dpd_12m": rng.choice([0, 0, 0, 15, 45, 95], n).astype(float),
            "revolving_utilisation": rng.uniform(0, 1.2, n),
        }
    )
    logit = (
        -3
        + 0.6 * X.hard_inquiries_3m
        + 0.2 * X.hard_inquiries_12m
        + 0.02 * X.worst_dpd_12m
        + X.revolving_utilisation
    )
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return Scorecard(reason_catalog=BUREAU_CATALOG).fit(X, y)


def publish_champion(session: Session, model: Scorecard) -> str:
    version = registry.register(
        session, model, name="api-test-scorecard", segment="person", training={"rows": 1000},
        training_fingerprint="0" * 64, author="test",
    )  # fmt: skip
    registry.mark_validated(session, version, metrics={"auc": {"value": 0.7}}, actor="validator")
    registry.publish(session, version, actor="test")
    return version.label


@dataclass
class Api:
    """The app under test, its database and the callers."""

    client: TestClient
    engine: Engine
    keyring: KeyRing
    settings: Settings
    zhang: str
    li: str
    #: bearer tokens by name: bank (querier), other (BANK_B querier), furnisher, revoked
    tokens: dict[str, str]
    champion: str
    extra: dict[str, Any] = field(default_factory=dict)

    @contextmanager
    def db(self) -> Iterator[Session]:
        """A short session for setting up or inspecting; committed at the end of the block."""
        with Session(self.engine, expire_on_commit=False) as s:
            yield s
            s.commit()

    def auth(self, who: str = "bank") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def post(self, url: str, who: str | None = "bank", **kw):
        headers = {**(self.auth(who) if who else {}), **kw.pop("headers", {})}
        return self.client.post(url, headers=headers, **kw)

    def get(self, url: str, who: str | None = "bank", **kw):
        headers = {**(self.auth(who) if who else {}), **kw.pop("headers", {})}
        return self.client.get(url, headers=headers, **kw)

    def consent(
        self, id_number: str = ZHANG_ID, *, who: str = "bank", id_type: str = "prc_id", **kw
    ) -> str:
        """A consent granted through the API (default: 张三, loan approval, both, 30 days)."""
        body = {
            "id_type": id_type,
            "id_number": id_number,
            "purpose": kw.pop("purpose", "loan_approval"),
            "scope": kw.pop("scope", "both"),
            "expires_at": kw.pop("expires_at", (utcnow() + timedelta(days=30)).isoformat()),
            "evidence_sha256": EVIDENCE,
            **kw,
        }
        r = self.post("/v1/consents", who, json=body)
        assert r.status_code == 201, r.text
        return r.json()["ref"]

    def query(self, kind: str, consent_ref: str, id_number: str = ZHANG_ID, **kw):
        """POST /v1/scores or /v1/reports (kind: scores or reports)."""
        who = kw.pop("who", "bank")
        body = {
            "id_type": kw.pop("id_type", "prc_id"),
            "id_number": id_number,
            "purpose": kw.pop("purpose", "loan_approval"),
            "consent_ref": consent_ref,
            **kw,
        }
        return self.post(f"/v1/{kind}", who, json=body)

    def ledger(self, action: str) -> list[AuditEntry]:
        with self.db() as s:
            return list(
                s.scalars(select(AuditEntry).where(AuditEntry.action == action)
                          .order_by(AuditEntry.id))
            )  # fmt: skip


def build_bureau(session: Session, keyring: KeyRing, cn, tmp_path, monkeypatch) -> dict:
    """Furnish the small bureau on the 2024-07-01 clock, add keys; returns refs and tokens."""
    with monkeypatch.context() as m:
        m.setattr("credo.furnishing.store.utcnow", lambda: FURNISHED_AT)
        furnish_small_bureau(session, keyring, cn, tmp_path / "bureau.jsonl")
    zhang, li = subject_of(session, keyring, ZHANG_ID), subject_of(session, keyring, LI_ID)
    tokens = {}
    for name, inst, roles in (
        ("bank", BANK, ["querier"]),
        ("other", OTHER_BANK, ["querier"]),
        ("furnisher", BANK, ["furnisher"]),
        ("revoked", BANK, ["querier"]),
    ):
        key, tokens[name] = keys.create_key(
            session, institution_code=inst, roles=roles, actor="test"
        )
        if name == "revoked":
            keys.revoke_key(session, key_id=key.key_id, actor="test")
    return {"zhang": zhang.ref, "li": li.ref, "tokens": tokens}


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def api(engine, keyring, cn, tmp_path, monkeypatch, scorecard, settings) -> Iterator[Api]:
    with Session(engine, expire_on_commit=False) as s:
        refs = build_bureau(s, keyring, cn, tmp_path, monkeypatch)
        champion = publish_champion(s, scorecard)
        s.commit()
    app = create_app(settings=settings, engine=engine, keyring=keyring)
    with TestClient(app) as client:
        yield Api(client, engine, keyring, settings, champion=champion, **refs)


def grant(api: Api, subject_ref: str, institution: str = BANK, **kw) -> str:
    """A consent written straight into the database (for states the API cannot create)."""
    kw.setdefault("purpose", "loan_approval")
    kw.setdefault("scope", "both")
    kw.setdefault("expires_at", utcnow() + timedelta(days=30))
    with api.db() as s:
        return consents.grant(
            s, subject_ref=subject_ref, institution_code=institution, evidence_sha256=EVIDENCE,
            actor="test", **kw,
        ).ref  # fmt: skip
