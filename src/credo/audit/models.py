"""Audit ledger tables: hash-chained entries and signed Merkle checkpoints."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from credo.db import Base, BigId, UTCDateTime


class AuditEntry(Base):
    """One operation that changed data or read personal data.

    An entry is written *unsealed* (``seq``, ``prev_hash`` and ``hash`` empty) or sealed at
    once. Sealing gives it the next chain position: ``seq`` contiguous from 1 and
    ``hash = SHA-256(canonical(seq, at, actor, action, target, details, prev_hash))``, the
    first entry's ``prev_hash`` being 64 zeros (`credo.audit.service`).
    """

    __tablename__ = "audit_entry"

    #: insertion order only; the chain order is ``seq``
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: chain position; None until the entry is sealed
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True, default=None)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True)
    #: indexed: a subject's data export lists the entries about them (``subject:<ref>``)
    target: Mapped[str] = mapped_column(String(200), index=True)
    #: canonical JSON (sorted keys, no whitespace); never carries a raw identifier
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)

    @property
    def sealed(self) -> bool:
        """Whether the entry has its place in the chain yet."""
        return self.seq is not None


class AuditCheckpoint(Base):
    """Merkle root over the entries since the previous checkpoint up to ``upto_seq``, signed
    with the ledger key (HMAC-SHA256) over a message that includes the previous signature."""

    __tablename__ = "audit_checkpoint"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    upto_seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    merkle_root: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kid: Mapped[str] = mapped_column(String(8))
    signature: Mapped[str] = mapped_column(String(64))
    entry_count: Mapped[int] = mapped_column(Integer)
