"""Identity resolution: attach furnished records to subjects by keyed blind index.

The identifier (type + normalised number) is the key. The same identifier arriving with a
different name or birth date is an *identity conflict*: the record is held for review and
nothing is merged or overwritten. A new identifier whose name + birth date, or phone, matches an
existing subject is a *possible duplicate*: the subject is created but flagged for review.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from credo.core.normalize import name_key
from credo.core.refs import new_ref
from credo.db import in_values
from credo.security.keys import KeyRing
from credo.subject.models import IdentityReview, ReviewKind, Subject, SubjectInfo


def new_subject_ref() -> str:
    """An opaque random reference such as ``S7K2M9Q4XH3TD``."""
    return new_ref("S")


def id_blind(keyring: KeyRing, id_type: str, id_number: str) -> str:
    """Blind index of a normalised identifier."""
    return keyring.blind_index(f"{id_type}:{id_number}", purpose="subject-id")


def name_dob_blind(keyring: KeyRing, name: str, birth_date: date | None) -> str:
    """Blind index of a name (folded) and birth date, for matching and conflict checks."""
    dob = birth_date.isoformat() if birth_date else ""
    return keyring.blind_index(f"{name_key(name)}|{dob}", purpose="name-dob")


def phone_blind(keyring: KeyRing, phone: str) -> str:
    """Blind index of an E.164 phone number."""
    return keyring.blind_index(phone, purpose="phone")


@dataclass(slots=True)
class KnownSubject:
    id: int
    name_dob_blind: str | None
    subject_type: str


class SubjectDirectory:
    """A batch-local cache of subjects by blind index, backed by the database."""

    def __init__(self, session: Session, keyring: KeyRing) -> None:
        self.session = session
        self.keyring = keyring
        self._by_blind: dict[str, KnownSubject] = {}
        self._missing: set[str] = set()

    def prefetch(self, blinds: set[str]) -> None:
        """Load the subjects for `blinds` not seen yet in one query."""
        todo = [b for b in blinds if b not in self._by_blind and b not in self._missing]
        for i in range(0, len(todo), 500):
            part = todo[i : i + 500]
            rows = self.session.execute(
                select(
                    Subject.id_blind, Subject.id, Subject.name_dob_blind, Subject.subject_type
                ).where(in_values(self.session, Subject.id_blind, part))
            ).all()
            found = {r[0] for r in rows}
            for blind, sid, ndb, stype in rows:
                self._by_blind[blind] = KnownSubject(sid, ndb, str(stype))
            self._missing.update(set(part) - found)

    def get(self, blind: str) -> KnownSubject | None:
        """The subject with this blind index, if on file (call `prefetch` first)."""
        if blind not in self._by_blind and blind not in self._missing:
            self.prefetch({blind})
        return self._by_blind.get(blind)

    def remember(self, blind: str, subject: KnownSubject) -> None:
        self._missing.discard(blind)
        self._by_blind[blind] = subject

    def candidates_many(self, keys: list[tuple[str | None, str | None]]) -> list[int | None]:
        """For each (name_dob_blind, phone_blind) pair, another subject on file sharing the name
        and birth date, else one sharing the phone (the lowest id when several do), else None.

        Two queries per 500 keys, however many pairs."""
        ndbs = sorted({n for n, _ in keys if n})
        phones = sorted({p for _, p in keys if p})
        by_ndb: dict[str, int] = {}
        by_phone: dict[str, int] = {}
        for i in range(0, len(ndbs), 500):
            for ndb, sid in self.session.execute(
                select(Subject.name_dob_blind, func.min(Subject.id))
                .where(in_values(self.session, Subject.name_dob_blind, ndbs[i : i + 500]))
                .group_by(Subject.name_dob_blind)
            ):
                by_ndb[ndb] = sid
        for i in range(0, len(phones), 500):
            for phone, sid in self.session.execute(
                select(SubjectInfo.phone_blind, func.min(SubjectInfo.subject_id))
                .where(
                    in_values(self.session, SubjectInfo.phone_blind, phones[i : i + 500]),
                    SubjectInfo.superseded_at.is_(None),
                )
                .group_by(SubjectInfo.phone_blind)
            ):
                by_phone[phone] = sid
        return [(by_ndb.get(n) if n else None) or (by_phone.get(p) if p else None) for n, p in keys]

    def conflict_fields(self, subject_id: int, name: str, birth_date: date | None) -> list[str]:
        """Which of name / birth_date differ from the subject's established identity."""
        subj = self.session.get(Subject, subject_id)
        assert subj is not None
        fields = []
        stored_name = self.keyring.decrypt(subj.name_enc, column="subject.name")
        if name_key(stored_name) != name_key(name):
            fields.append("name")
        stored_dob = (
            self.keyring.decrypt(subj.birth_date_enc, column="subject.birth_date")
            if subj.birth_date_enc
            else ""
        )
        if stored_dob != (birth_date.isoformat() if birth_date else ""):
            fields.append("birth_date")
        return fields or ["name"]


def open_review(
    session: Session,
    keyring: KeyRing,
    *,
    kind: ReviewKind,
    subject_id: int,
    other_subject_id: int | None,
    batch_id: int,
    line_no: int,
    fields: list[str],
    furnished: dict,
) -> IdentityReview:
    """Record a review case and flag the subject(s); the furnished values are kept encrypted."""
    review = IdentityReview(
        kind=kind,
        subject_id=subject_id,
        other_subject_id=other_subject_id,
        batch_id=batch_id,
        line_no=line_no,
        fields=",".join(fields),
        detail_enc=keyring.encrypt(
            orjson.dumps(furnished, default=str).decode(), column="identity_review.detail"
        ),
    )
    session.add(review)
    for sid in {subject_id, other_subject_id} - {None}:
        subj = session.get(Subject, sid)
        if subj is not None:
            subj.needs_review = True
    session.flush()
    return review
