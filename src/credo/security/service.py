"""Key management use cases: bind the blind-index key, rotate (re-encrypt and re-index).

Rotation re-encrypts every encrypted column with the current key generation and recomputes every
blind index with its index key, in one transaction; the audit checkpoints are verified with the
old keys and re-signed with the new ledger key, so old secrets can then be retired.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from credo.audit import service as audit
from credo.audit.chain import checkpoint_message
from credo.audit.models import AuditCheckpoint
from credo.errors import IntegrityError
from credo.furnishing.models import QuarantinedRow
from credo.rights.models import Dispute, PersonalStatement
from credo.security.keys import KeyRing
from credo.security.models import KeyState
from credo.subject.models import IdentityReview, Subject, SubjectInfo
from credo.subject.resolution import id_blind, name_dob_blind, phone_blind

log = logging.getLogger(__name__)
INDEX_KID = "blind_index_kid"

#: (model, attribute, associated-data column name) of every encrypted value; every ``*_enc``
#: column of the schema must be here, or rotation would leave it under a retired key (tested)
ENCRYPTED = (
    (Subject, "id_enc", "subject.id_number"),
    (Subject, "name_enc", "subject.name"),
    (Subject, "birth_date_enc", "subject.birth_date"),
    (SubjectInfo, "name_enc", "subject_info.name"),
    (SubjectInfo, "phone_enc", "subject_info.phone"),
    (SubjectInfo, "address_enc", "subject_info.address"),
    (IdentityReview, "detail_enc", "identity_review.detail"),
    (QuarantinedRow, "raw_enc", "quarantined_row.raw"),
    (Dispute, "reason_enc", "dispute.reason"),
    (PersonalStatement, "text_enc", "personal_statement.text"),
)


def bind_index_key(session: Session, keyring: KeyRing) -> str:
    """Make `keyring` build blind indexes with the generation the database was indexed with."""
    state = session.get(KeyState, INDEX_KID)
    if state is None:
        state = KeyState(name=INDEX_KID, value=keyring.current.kid)
        session.add(state)
        session.flush()
    keyring.generation(state.value)  # raises a clear error when that secret is not in the ring
    keyring.index_kid = state.value
    return state.value


def key_usage(session: Session) -> dict[str, int]:
    """How many encrypted values each key id protects."""
    usage: dict[str, int] = {}
    hexed = func.hex if session.get_bind().dialect.name == "sqlite" else None
    for model, attr, _ in ENCRYPTED:
        col = getattr(model, attr)
        # bytes 2-5 of every value are the key id (see credo.security.keys)
        kid_expr = func.substr(hexed(col) if hexed else func.encode(col, "hex"), 3, 8)
        for kid, n in session.execute(
            select(kid_expr, func.count()).where(col.is_not(None)).group_by(kid_expr)
        ):
            usage[kid.lower()] = usage.get(kid.lower(), 0) + n
    return usage


def rotate(
    session: Session, keyring: KeyRing, *, actor: str, progress: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Re-encrypt and re-index everything with the current generation; returns counts."""
    report = audit.verify(session, keyring)
    if not report.ok:
        raise IntegrityError(f"audit ledger does not verify, refusing to rotate: {report.problem}")
    old_index = bind_index_key(session, keyring)
    new_kid = keyring.current.kid
    counts = {"values": 0, "subjects": 0, "checkpoints": 0}
    done = 0
    for model, attr, column in ENCRYPTED:
        col = getattr(model, attr)
        pk = model.__mapper__.primary_key[0]
        rows = session.execute(select(pk, col).where(col.is_not(None))).all()
        for rid, blob in rows:
            if keyring.kid_of(blob) == new_kid:
                continue
            plain = keyring.decrypt(blob, column=column)
            session.execute(
                update(model).where(pk == rid).values({attr: keyring.encrypt(plain, column=column)})
            )
            counts["values"] += 1
            done += 1
            if progress and done % 1000 == 0:
                progress(done)
    if old_index != new_kid:
        keyring.index_kid = new_kid
        for subj in session.scalars(select(Subject)):
            number = keyring.decrypt(subj.id_enc, column="subject.id_number")
            name = keyring.decrypt(subj.name_enc, column="subject.name")
            dob = (
                date.fromisoformat(
                    keyring.decrypt(subj.birth_date_enc, column="subject.birth_date")
                )
                if subj.birth_date_enc
                else None
            )
            subj.id_blind = id_blind(keyring, subj.id_type.value, number)
            subj.name_dob_blind = name_dob_blind(keyring, name, dob)
            counts["subjects"] += 1
        for info in session.scalars(select(SubjectInfo)):
            name = keyring.decrypt(info.name_enc, column="subject_info.name")
            phone = (
                keyring.decrypt(info.phone_enc, column="subject_info.phone")
                if info.phone_enc
                else None
            )
            addr = (
                keyring.decrypt(info.address_enc, column="subject_info.address")
                if info.address_enc
                else None
            )
            info.phone_blind = phone_blind(keyring, phone) if phone else None
            info.content_hash = keyring.blind_index(f"{name}|{phone}|{addr}", purpose="content")
        session.get(KeyState, INDEX_KID).value = new_kid
    prev_sig = ""
    for cp in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.upto_seq)):
        cp.signature = keyring.ledger_mac(
            checkpoint_message(cp.upto_seq, cp.entry_count, cp.merkle_root, prev_sig)
        )
        cp.kid = new_kid
        prev_sig = cp.signature
        counts["checkpoints"] += 1
    session.flush()
    audit.append(
        session, actor=actor, action="keys.rotate", target=f"key:{new_kid}", details=counts
    )
    return counts
