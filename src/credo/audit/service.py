"""Append-only, hash-chained audit ledger with signed Merkle checkpoints.

Every entry stores ``hash = SHA-256(seq, at, actor, action, target, details, prev_hash)`` and
the previous entry's hash, so the entries form one chain starting at seq 1 from `GENESIS`.
Every so often a checkpoint signs (HMAC-SHA256 with the ledger key) the Merkle root of the entries
added since the previous checkpoint, chained to that checkpoint's signature.

`verify` detects, with the database alone:

* an edited entry (its stored hash no longer matches its contents);
* a deleted entry in the middle or at the start (a gap in seq, or a broken prev_hash link);
* an inserted or reordered entry (a broken prev_hash link, or a hash computed for another seq);
* an edited, forged or (except the last one) deleted checkpoint (its signature fails);
* an edited entry whose hash and every later hash were recomputed, when a checkpoint covers it
  (the Merkle root no longer matches, and re-signing needs the secret key);
* entries deleted from the tail that a checkpoint still covers.

It cannot detect, without something kept outside the database:

* entries deleted from the tail after the last checkpoint, or the last checkpoint deleted along
  with the entries it covers; and a recomputed chain after the last checkpoint. ``credo audit
  verify`` prints the head seq, head hash and last checkpoint root so that operators can record
  them elsewhere (a ticket, a WORM bucket) and compare later;
* entries appended by someone with write access who computes the hashes correctly: the chain
  proves the history was not rewritten, not who wrote it.

**Sealed and unsealed entries.** `append` seals an entry at once: under one lock (a PostgreSQL
advisory lock held to the commit) it takes the next seq and links to the head. That lock
serialises every writer, so the API writes its entries *unsealed* instead (`record` on a
session marked with `UNSEALED`, or `write_unsealed`): a plain insert in the request's own
transaction, durable exactly when the request's other writes are. A sequencer then seals them
in the order their transactions became visible -- `seal`, run by a background thread of the
API server (`credo.audit.sealer`), by ``credo audit seal`` and ``credo audit verify``, and by
every `append` before it appends. Until then an unsealed entry is in the table (exports and
``credo audit log`` show it) but not in the chain, so an edit to it cannot be detected;
`verify` reports how many there are.

Raw personal identifiers never enter the ledger: `append` and `record` refuse details that look
like a PRC resident id or a Chinese mobile number. Services here flush and never commit.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, event, func, insert, select, text, update
from sqlalchemy.orm import Session

from credo.audit.chain import (
    GENESIS,
    ChainWalk,
    Finding,
    MerkleBuilder,
    canonical_json,
    checkpoint_message,
    entry_hash,
)
from credo.audit.models import AuditCheckpoint, AuditEntry
from credo.config import get_settings
from credo.db import pg_setting, utcnow
from credo.dbraw import RawStatement, defer, driver
from credo.errors import IntegrityError
from credo.security.keys import KeyRing

#: pg_advisory_xact_lock key serialising ledger writers on PostgreSQL (ASCII "credoAUD")
LEDGER_LOCK_KEY = 0x6372_6564_6F41_5544
_STREAM_ROWS = 2000

# bounded by non-alphanumerics so that digit runs inside hex hashes or refs are not flagged
_PRC_ID = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
_CN_MOBILE = re.compile(r"(?<![0-9A-Za-z])(?:(?:\+|00)?86[- ]?)?1[3-9][0-9]{9}(?![0-9A-Za-z])")


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of `verify`; `problem` says in plain words what is wrong."""

    ok: bool
    entries: int
    checkpoints: int
    first_bad_seq: int | None = None
    problem: str | None = None
    head_seq: int | None = None
    head_hash: str | None = None
    last_checkpoint_seq: int | None = None
    last_checkpoint_root: str | None = None
    #: entries written but not sealed yet: in no chain, so nothing about them was checked
    unsealed: int = 0


#: ``session.info`` key (or ``sessionmaker(info=...)``): `record` writes unsealed entries
UNSEALED = "credo.audit.unsealed"


def _lock(session: Session, *, wait: bool = True) -> bool:
    """Take the ledger lock for the rest of the transaction; False when `wait` is off and
    another transaction holds it."""
    if session.get_bind().dialect.name != "postgresql":
        # SQLite has one writer at a time: take its write lock now (a write that changes
        # nothing), so the head read next is still the head when the transaction writes
        session.execute(text("UPDATE audit_checkpoint SET id = id WHERE 1 = 0"))
        return True
    fn = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    got = session.execute(text(f"SELECT {fn}(:key)"), {"key": LEDGER_LOCK_KEY}).scalar()
    return wait or bool(got)


def refuse_raw_identifiers(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            refuse_raw_identifiers(key, f"{where} key")
            refuse_raw_identifiers(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple, set)):
        for i, item in enumerate(value):
            refuse_raw_identifiers(item, f"{where}[{i}]")
    elif isinstance(value, str):
        # the message names where, never the value: it must not leak into logs either
        if _PRC_ID.search(value):
            kind = "a raw PRC resident id"
        elif _CN_MOBILE.search(value):
            kind = "a raw mobile number"
        else:
            return
        raise ValueError(f"audit {where} looks like {kind}; pass a masked value or opaque ref")


def _head(session: Session) -> tuple[int, str] | None:
    row = session.execute(
        select(AuditEntry.seq, AuditEntry.hash)
        .where(AuditEntry.seq.is_not(None))
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    ).first()
    return (row.seq, row.hash) if row else None


def _checked(actor: str, target: str, details: dict | None) -> None:
    refuse_raw_identifiers(details or {}, "details")
    refuse_raw_identifiers(target, "target")
    refuse_raw_identifiers(actor, "actor")


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str,
    details: dict | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one sealed entry, chained to the current last one (unsealed entries committed
    before are sealed first, so the chain keeps the order in which entries became visible)."""
    _checked(actor, target, details)
    _lock(session)
    head = _seal_locked(session)
    seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS)
    entry = AuditEntry(
        seq=seq,
        at=at or utcnow(),
        actor=actor,
        action=action,
        target=target,
        details=canonical_json(details or {}),
        prev_hash=prev_hash,
    )
    entry.hash = entry_hash(
        seq=seq,
        at=entry.at,
        actor=actor,
        action=action,
        target=target,
        details=entry.details,
        prev_hash=prev_hash,
    )
    session.add(entry)
    session.flush()
    return entry


def write_unsealed(session: Session, entries: list[dict[str, Any]]) -> None:
    """Insert entries unsealed, in one statement and without the ledger lock; `seal` chains
    them once the transaction commits. Each entry: actor, action, target, details, at."""
    if not entries:
        return
    rows = []
    for e in entries:
        _checked(e["actor"], e["target"], e.get("details"))
        rows.append({
            "at": e.get("at") or utcnow(), "actor": e["actor"], "action": e["action"],
            "target": e["target"], "details": canonical_json(e.get("details") or {}),
        })  # fmt: skip
    pg = driver(session)
    if pg is not None:  # the API's hot path: straight on psycopg (credo.dbraw)
        defer(pg, _RAW_INSERT_UNSEALED, rows[0] if len(rows) == 1 else rows)  # with the COMMIT
    else:
        session.execute(insert(AuditEntry.__table__), rows)


_RAW_INSERT_UNSEALED = RawStatement(
    insert(AuditEntry.__table__).values(
        {c: bindparam(c) for c in ("at", "actor", "action", "target", "details")}
    )
)


def seal(session: Session, *, wait: bool = True) -> int:
    """Seal the unsealed entries committed so far, oldest first; returns how many.

    Takes the ledger lock; with `wait` off, returns 0 at once when another transaction holds it
    (it seals them then).
    """
    if not _lock(session, wait=wait):
        return 0
    before = _head(session)
    after = _seal_locked(session, before)
    return (after[0] if after else 0) - (before[0] if before else 0)


_NO_HEAD = object()


def _seal_locked(session: Session, head: Any = _NO_HEAD) -> tuple[int, str] | None:
    """Give every visible unsealed entry the next seq and hash (the lock is held); returns the
    new head."""
    if head is _NO_HEAD:
        head = _head(session)
    rows = _unsealed(session)
    if not rows:
        return head
    seq, prev = head if head else (0, GENESIS)
    sealed = []
    for r in rows:
        seq += 1
        digest = entry_hash(seq=seq, at=r.at, actor=r.actor, action=r.action, target=r.target,
                            details=r.details, prev_hash=prev)  # fmt: skip
        sealed.append({"b_id": r.id, "b_seq": seq, "b_prev": prev, "b_hash": digest})
        prev = digest
    t = AuditEntry.__table__
    session.execute(
        update(t).where(t.c.id == bindparam("b_id"))
        .values(seq=bindparam("b_seq"), prev_hash=bindparam("b_prev"), hash=bindparam("b_hash")),
        sealed,
    )  # fmt: skip
    return seq, prev


_UNSEALED = (
    select(
        AuditEntry.id, AuditEntry.at, AuditEntry.actor, AuditEntry.action,
        AuditEntry.target, AuditEntry.details,
    ).where(AuditEntry.seq.is_(None)).order_by(AuditEntry.id)
)  # fmt: skip


def _unsealed(session: Session) -> list:
    """The visible unsealed entries in insertion order.

    On PostgreSQL a seal leaves the entry's old row version, and its entry in the index on
    ``seq`` (NULL), behind until VACUUM. A bitmap scan, which the planner may choose here,
    visits every one of them on every tick (31 ms at 31,000 sealed entries, growing while
    autovacuum is off or behind); a plain index scan marks them dead as it passes, once no
    open transaction can still see them, so later ticks skip them (0.1 ms). Bitmap scans are
    off for this one statement; the transaction's own setting is put back after it."""
    with pg_setting(session, "enable_bitmapscan", "off"):
        return session.execute(_UNSEALED).all()


_PENDING = "credo.audit.pending"


def record(
    session: Session, *, actor: str, action: str, target: str, details: dict | None = None
) -> None:
    """Write one entry when `session` commits, instead of now.

    The entry is checked at once (raw identifiers are refused here, not at commit) and written
    just before the commit, in call order; a rollback drops it with the rest of the
    transaction. On a session marked `UNSEALED` (the API's) the entries go in unsealed, in one
    insert and without the ledger lock, for the sequencer to seal; elsewhere (commands, jobs)
    `append` seals them at the commit.
    """
    _checked(actor, target, details)
    if not session.in_transaction():
        session.begin()  # so that a rollback or close ends a transaction and drops the entry
    session.info.setdefault(_PENDING, []).append(
        {"actor": actor, "action": action, "target": target, "details": details, "at": utcnow()}
    )


@event.listens_for(Session, "before_commit")
def write_pending(session: Session) -> None:
    """Write the entries `record` deferred (called by every commit; callable earlier)."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    if session.info.get(UNSEALED):
        write_unsealed(session, pending)
        return
    for entry in pending:
        append(session, **entry)


@event.listens_for(Session, "after_transaction_end")
def _drop_pending(session: Session, transaction) -> None:
    # the outermost transaction ended without commit (rollback, close): its entries go with it;
    # a savepoint ending leaves them for the transaction around it
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def _last_checkpoint(session: Session) -> tuple[int, str]:
    row = session.execute(
        select(AuditCheckpoint.upto_seq, AuditCheckpoint.signature)
        .order_by(AuditCheckpoint.upto_seq.desc())
        .limit(1)
    ).first()
    return (row.upto_seq, row.signature) if row else (0, "")


def _entry_rows(session: Session, start: int, stop: int | None = None):
    stmt = select(
        AuditEntry.seq,
        AuditEntry.at,
        AuditEntry.actor,
        AuditEntry.action,
        AuditEntry.target,
        AuditEntry.details,
        AuditEntry.prev_hash,
        AuditEntry.hash,
    ).where(AuditEntry.seq >= start)  # unsealed entries (seq NULL) are in no chain yet
    if stop is not None:
        stmt = stmt.where(AuditEntry.seq <= stop)
    # plain rows, not ORM objects: nothing accumulates in the identity map
    return session.execute(stmt.order_by(AuditEntry.seq).execution_options(yield_per=_STREAM_ROWS))


def _feed(walk: ChainWalk, row) -> Finding | None:
    computed = entry_hash(
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        action=row.action,
        target=row.target,
        details=row.details,
        prev_hash=row.prev_hash,
    )
    return walk.feed(
        seq=row.seq, prev_hash=row.prev_hash, stored_hash=row.hash, computed_hash=computed
    )


def checkpoint(session: Session, keyring: KeyRing) -> AuditCheckpoint | None:
    """Sign the entries added since the last checkpoint; None when there are none."""
    _lock(session)
    prev_upto, prev_signature = _last_checkpoint(session)
    head = _seal_locked(session)
    if head is None or head[0] <= prev_upto:
        return None
    start, upto = prev_upto + 1, head[0]
    last_hash = GENESIS
    if start > 1:
        last_hash = session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == prev_upto))
    # refuse to sign a range that is already broken: a signature would bless the tampering
    walk, tree = ChainWalk(expected_seq=start, last_hash=last_hash or ""), MerkleBuilder()
    for row in _entry_rows(session, start, upto):
        finding = _feed(walk, row)
        if finding:
            raise IntegrityError(f"refusing to checkpoint a broken ledger: {finding.problem}")
        tree.add(row.hash)
    if tree.count != upto - prev_upto:
        raise IntegrityError(
            f"refusing to checkpoint a broken ledger: entries up to {upto} missing"
        )
    root = tree.root()
    message = checkpoint_message(upto, tree.count, root, prev_signature)
    cp = AuditCheckpoint(
        upto_seq=upto,
        merkle_root=root,
        at=utcnow(),
        kid=keyring.current.kid,
        signature=keyring.ledger_mac(message),
        entry_count=tree.count,
    )
    session.add(cp)
    session.flush()
    return cp


def maybe_checkpoint(
    session: Session, keyring: KeyRing, every: int | None = None
) -> AuditCheckpoint | None:
    """Checkpoint when at least `every` entries (default: settings) are not yet covered."""
    every = get_settings().audit_checkpoint_every if every is None else every
    if every < 1:
        raise ValueError(f"every must be at least 1; got {every}")
    prev_upto, _ = _last_checkpoint(session)
    head_seq = session.scalar(select(func.max(AuditEntry.seq))) or 0
    if head_seq - prev_upto < every:
        return None
    return checkpoint(session, keyring)


def _checkpoint_finding(
    cp, prev_upto: int, prev_signature: str, keyring: KeyRing
) -> Finding | None:
    # a bad signature or count blames the checkpoint, not an entry: first_bad_seq stays None
    label = f"checkpoint {cp.id} (entries {prev_upto + 1}–{cp.upto_seq})"
    message = checkpoint_message(cp.upto_seq, cp.entry_count, cp.merkle_root, prev_signature)
    try:
        expected = keyring.ledger_mac(message, kid=cp.kid)
    except IntegrityError:
        return Finding(None, f"{label}: signed with key {cp.kid}, which is not in the key ring")
    if not hmac.compare_digest(expected, cp.signature):
        why = "checkpoint edited, forged, or one before it deleted"
        return Finding(None, f"{label}: signature is invalid ({why})")
    if cp.entry_count != cp.upto_seq - prev_upto:
        return Finding(None, f"{label}: entry_count {cp.entry_count} does not match its range")
    return None


def verify(session: Session, keyring: KeyRing) -> VerifyReport:
    """Check the whole chain and every checkpoint, streaming entries in seq order; count the
    unsealed entries (``credo audit verify`` seals what it can first)."""
    # checkpoints first: one written after this read covers entries the stream will still see
    cps = session.execute(
        select(
            AuditCheckpoint.id,
            AuditCheckpoint.upto_seq,
            AuditCheckpoint.merkle_root,
            AuditCheckpoint.kid,
            AuditCheckpoint.signature,
            AuditCheckpoint.entry_count,
        ).order_by(AuditCheckpoint.upto_seq)
    ).all()
    walk, tree = ChainWalk(), MerkleBuilder()
    entries = verified_cps = 0
    prev_upto, prev_signature = 0, ""
    pending: Finding | None = None  # a checkpoint failure, reported unless the next entry says more
    head: tuple[int, str] | None = None

    unsealed = session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.seq.is_(None))
    )

    def report(finding: Finding) -> VerifyReport:
        return VerifyReport(
            False, entries, verified_cps, finding.seq, finding.problem, *head_info(), unsealed
        )

    def head_info() -> tuple:
        last = cps[verified_cps - 1] if verified_cps else None
        return (
            head[0] if head else None,
            head[1] if head else None,
            last.upto_seq if last else None,
            last.merkle_root if last else None,
        )

    for row in _entry_rows(session, 1):
        finding = _feed(walk, row) or pending
        if finding:
            return report(finding)
        entries += 1
        head = (row.seq, row.hash)
        tree.add(row.hash)
        if verified_cps < len(cps) and row.seq == cps[verified_cps].upto_seq:
            cp = cps[verified_cps]
            pending = _checkpoint_finding(cp, prev_upto, prev_signature, keyring)
            if pending is None and cp.merkle_root != tree.root():
                pending = Finding(
                    prev_upto + 1,
                    f"checkpoint {cp.id} (entries {prev_upto + 1}–{cp.upto_seq}): Merkle root does "
                    "not match the entries (an entry edited and the chain recomputed)",
                )
            if pending:
                continue
            verified_cps += 1
            prev_upto, prev_signature, tree = cp.upto_seq, cp.signature, MerkleBuilder()
    if pending:
        return report(pending)
    if verified_cps < len(cps):
        cp = cps[verified_cps]
        last_seq = head[0] if head else 0
        if cp.upto_seq <= last_seq:
            return report(Finding(None, f"checkpoint {cp.id}: upto_seq {cp.upto_seq} is invalid"))
        return report(
            Finding(
                last_seq + 1,
                f"checkpoint {cp.id} covers entries up to {cp.upto_seq} but the ledger ends at "
                f"{last_seq} (entries {last_seq + 1}–{cp.upto_seq} deleted from the tail)",
            )
        )
    return VerifyReport(True, entries, verified_cps, None, None, *head_info(), unsealed)


def list_entries(
    session: Session, *, limit: int = 50, action: str | None = None, after_seq: int | None = None
) -> list[AuditEntry]:
    """Entries in seq order: the sealed ones after `after_seq`, or else the latest `limit`
    (unsealed ones last, in the order they were written)."""
    stmt = select(AuditEntry)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    if after_seq is not None:
        return list(
            session.scalars(
                stmt.where(AuditEntry.seq > after_seq).order_by(AuditEntry.seq).limit(limit)
            )
        )
    latest = session.scalars(
        stmt.order_by(AuditEntry.seq.desc().nulls_first(), AuditEntry.id.desc()).limit(limit)
    )
    return list(reversed(list(latest)))
