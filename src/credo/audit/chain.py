"""Pure hash-chain and Merkle-tree functions behind the audit ledger (no IO, no session).

Each entry's hash covers its own fields and the previous entry's hash, so editing, removing,
inserting or reordering an entry breaks the chain. Checkpoints add a Merkle root (RFC 6962 tree
hashing) over a range of entry hashes, signed with a secret key, so that a chain recomputed by
someone without the key no longer matches the signed roots.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import UUID

GENESIS = "0" * 64
_ENTRY_DOMAIN = "credo-audit-entry-v1"
_CHECKPOINT_DOMAIN = "credo-audit-checkpoint-v1"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (Decimal, UUID)):
        return str(value)
    raise TypeError(f"cannot put {type(value).__name__} {value!r} into canonical JSON")


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys, no whitespace, raw UTF-8, and dates/datetimes as ISO strings."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )


def iso_utc(at: datetime) -> str:
    """`at` as an ISO-8601 UTC string with microseconds; naive datetimes are refused."""
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at!r}; the ledger needs an aware UTC datetime")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    details: str,
    prev_hash: str,
) -> str:
    """SHA-256 hex over an unambiguous encoding (a canonical JSON list) of every entry field."""
    fields = [_ENTRY_DOMAIN, seq, iso_utc(at), actor, action, target, details, prev_hash]
    return hashlib.sha256(canonical_json(fields).encode()).hexdigest()


def leaf_hash(entry_hash_hex: str) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || entry hash bytes)."""
    return hashlib.sha256(b"\x00" + bytes.fromhex(entry_hash_hex)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(entry_hashes: list[str]) -> str:
    """Merkle root (hex) of entry hashes, pairing level by level and promoting an odd last node."""
    if not entry_hashes:
        return hashlib.sha256(b"").hexdigest()
    level = [leaf_hash(h) for h in entry_hashes]
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0].hex()


class MerkleBuilder:
    """Streaming `merkle_root`: add hashes one at a time, keeping only O(log n) subtree roots."""

    def __init__(self) -> None:
        self.count = 0
        # (leaf count, root) of complete subtrees, largest first, sizes strictly decreasing
        self._stack: list[tuple[int, bytes]] = []

    def add(self, entry_hash_hex: str) -> None:
        """Append one entry hash as the next leaf."""
        size, node = 1, leaf_hash(entry_hash_hex)
        while self._stack and self._stack[-1][0] == size:
            left_size, left = self._stack.pop()
            size, node = left_size + size, node_hash(left, node)
        self._stack.append((size, node))
        self.count += 1

    def root(self) -> str:
        """The root of the leaves added so far (equal to `merkle_root` of the same list)."""
        if not self._stack:
            return hashlib.sha256(b"").hexdigest()
        node = self._stack[-1][1]
        for _size, left in reversed(self._stack[:-1]):
            node = node_hash(left, node)
        return node.hex()


def checkpoint_message(
    upto_seq: int, entry_count: int, merkle_root: str, prev_signature: str
) -> bytes:
    """The bytes a checkpoint signs; chaining `prev_signature` makes deleting one detectable."""
    fields = [_CHECKPOINT_DOMAIN, upto_seq, entry_count, merkle_root, prev_signature]
    return canonical_json(fields).encode()


class Finding(NamedTuple):
    """A verification failure: the first bad entry's seq (None if no entry is to blame) and why."""

    seq: int | None
    problem: str


class ChainWalk:
    """Checks entries fed in seq order against the chain rules; stateful but free of IO."""

    def __init__(self, *, expected_seq: int = 1, last_hash: str = GENESIS) -> None:
        self.expected_seq = expected_seq
        self.last_hash = last_hash
        self._before_last: str | None = None

    def feed(
        self, *, seq: int, prev_hash: str, stored_hash: str, computed_hash: str
    ) -> Finding | None:
        """Check one entry; return the first thing wrong with it, or None if it links cleanly."""
        expected = self.expected_seq
        if seq > expected:
            return Finding(
                expected,
                f"entry {expected}: missing (deleted) — expected seq {expected}, found {seq}",
            )
        if seq < expected:
            return Finding(seq, f"entry {seq}: out of sequence — expected seq {expected}")
        if prev_hash != self.last_hash:
            intact = computed_hash == stored_hash
            if self._before_last is not None and prev_hash == self._before_last:
                return Finding(
                    seq - 1,
                    f"entry {seq - 1}: not part of the chain (inserted) — "
                    f"entry {seq} links to entry {seq - 2}",
                )
            if intact and seq > 1:
                return Finding(
                    seq - 1,
                    f"entry {seq - 1}: its hash is not the one entry {seq} links to "
                    "(edited and re-hashed)",
                )
            what = "the genesis hash" if seq == 1 else f"the hash of entry {seq - 1}"
            return Finding(
                seq,
                f"entry {seq}: prev_hash does not match {what} "
                "(entries reordered, inserted or deleted)",
            )
        if computed_hash != stored_hash:
            return Finding(seq, f"entry {seq}: stored hash does not match its contents (edited)")
        self._before_last, self.last_hash = self.last_hash, stored_hash
        self.expected_seq = seq + 1
        return None
