"""Fixtures for access tests: a small furnished bureau, two institutions, keys and consents."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from credo.access import consent as consents
from credo.access import keys
from credo.access.flows import find_subject
from credo.access.models import Consent
from credo.db import utcnow
from credo.subject.models import Subject
from furnishing.bureau import (
    BANK,
    LI_ID,
    OTHER_BANK,
    ZHANG_ID,
    add_institution,
    run,
    small_bureau,
    write_jsonl,
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
    add_institution(session, BANK)
    add_institution(session, OTHER_BANK)
    run(session, write_jsonl(tmp_path / "bureau.jsonl", small_bureau()), keyring, cn)
    zhang = find_subject(session, keyring, id_type="prc_id", id_number=ZHANG_ID)
    li = find_subject(session, keyring, id_type="prc_id", id_number=LI_ID)
    _, token = keys.create_key(session, institution_code=BANK, roles=["querier"], actor="test")
    _, other = keys.create_key(
        session, institution_code=OTHER_BANK, roles=["querier"], actor="test"
    )
    return Bureau(session, zhang, li, token, other)
