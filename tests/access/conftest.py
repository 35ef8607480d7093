"""Fixtures for access tests: a small furnished bureau, two institutions, keys and consents."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from credo.access import consent as consents
from credo.access import keys
from credo.access.models import Consent
from credo.db import utcnow
from credo.subject.models import Subject
from furnishing.bureau import (
    BANK,
    LI_ID,
    OTHER_BANK,
    ZHANG_ID,
    furnish_small_bureau,
    subject_of,
)

EVIDENCE = hashlib.sha256(b"signed consent form").hexdigest()


@dataclass
class Bureau:
    session: Session
    zhang: Subject
    li: Subject
    #: the querier key of BANK (BANK_A) and of OTHER_BANK (BANK_B)
    token: str
    other_token: str

    def consent(self, subject: Subject | None = None, *, institution: str = BANK, **kw) -> Consent:
        """A consent granted now, valid 30 days, for loan approval and the whole file."""
        kw.setdefault("purpose", "loan_approval")
        kw.setdefault("scope", "both")
        kw.setdefault("expires_at", utcnow() + timedelta(days=30))
        return consents.grant(
            self.session,
            subject_ref=(subject or self.zhang).ref,
            institution_code=institution,
            evidence_sha256=EVIDENCE,
            actor="test",
            **kw,
        )

    def principal(self, token: str | None = None) -> keys.Principal:
        return keys.authenticate(self.session, token or self.token)


@pytest.fixture
def bureau(session, keyring, cn, tmp_path) -> Bureau:
    """Zhang (a credit card, one old hard inquiry) and Li (a loan) furnished by BANK."""
    furnish_small_bureau(session, keyring, cn, tmp_path / "bureau.jsonl")
    zhang, li = subject_of(session, keyring, ZHANG_ID), subject_of(session, keyring, LI_ID)
    _, token = keys.create_key(session, institution_code=BANK, roles=["querier"], actor="test")
    _, other = keys.create_key(
        session, institution_code=OTHER_BANK, roles=["querier"], actor="test"
    )
    return Bureau(session, zhang, li, token, other)
