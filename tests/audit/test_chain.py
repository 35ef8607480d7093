"""Pure hash-chain and Merkle functions."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from credo.audit.chain import (
    GENESIS,
    ChainWalk,
    MerkleBuilder,
    canonical_json,
    checkpoint_message,
    entry_hash,
    leaf_hash,
    merkle_root,
)

AT = datetime(2024, 5, 1, 12, 30, 45, 123456, tzinfo=UTC)
FIELDS = {
    "seq": 7,
    "at": AT,
    "actor": "svc:furnish",
    "action": "subject.read",
    "target": "subject:42",
    "details": "{}",
    "prev_hash": GENESIS,
}


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _hex(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def test_canonical_json_sorts_keys_without_whitespace_and_keeps_unicode():
    a = canonical_json({"b": 1, "a": {"y": [1, 2], "x": "张三"}})
    b = canonical_json({"a": {"x": "张三", "y": [1, 2]}, "b": 1})
    assert a == b == '{"a":{"x":"张三","y":[1,2]},"b":1}'


def test_canonical_json_writes_dates_as_iso_and_datetimes_in_utc():
    east8 = timezone(timedelta(hours=8))
    out = canonical_json({"d": date(2024, 1, 2), "t": datetime(2024, 1, 2, 8, tzinfo=east8)})
    assert out == '{"d":"2024-01-02","t":"2024-01-02T00:00:00+00:00"}'


def test_canonical_json_refuses_unknown_types():
    with pytest.raises(TypeError, match="object"):
        canonical_json({"x": object()})


def test_entry_hash_is_stable_and_hex():
    h = entry_hash(**FIELDS)
    assert h == entry_hash(**FIELDS)
    assert len(h) == 64 and int(h, 16) >= 0


def test_entry_hash_ignores_timezone_representation_of_the_same_instant():
    east8 = AT.astimezone(timezone(timedelta(hours=8)))
    assert entry_hash(**{**FIELDS, "at": east8}) == entry_hash(**FIELDS)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("seq", 8),
        ("at", AT + timedelta(microseconds=1)),
        ("actor", "svc:furnisH"),
        ("action", "subject.update"),
        ("target", "subject:43"),
        ("details", '{"a":1}'),
        ("prev_hash", "1" * 64),
    ],
)
def test_entry_hash_changes_when_any_field_changes(field, value):
    assert entry_hash(**{**FIELDS, field: value}) != entry_hash(**FIELDS)


def test_entry_hash_encoding_is_unambiguous_across_field_boundaries():
    a = entry_hash(**{**FIELDS, "actor": "ab", "action": "c"})
    b = entry_hash(**{**FIELDS, "actor": "a", "action": "bc"})
    assert a != b


def test_entry_hash_refuses_naive_datetime():
    with pytest.raises(ValueError, match="naive"):
        entry_hash(**{**FIELDS, "at": datetime(2024, 1, 1)})


def test_merkle_root_of_empty_list_is_hash_of_empty_string():
    assert merkle_root([]) == hashlib.sha256(b"").hexdigest()


def test_merkle_root_small_trees_by_hand():
    a, b, c = _hex(1), _hex(2), _hex(3)
    la, lb, lc = (_h(b"\x00" + bytes.fromhex(x)) for x in (a, b, c))
    assert leaf_hash(a) == la
    assert merkle_root([a]) == la.hex()
    ab = _h(b"\x01" + la + lb)
    assert merkle_root([a, b]) == ab.hex()
    # odd node promoted: root = H(1 || H(1||a||b) || c)
    assert merkle_root([a, b, c]) == _h(b"\x01" + ab + lc).hex()
    assert merkle_root([b, a]) != merkle_root([a, b])


def test_merkle_builder_matches_merkle_root_for_every_size():
    hashes = [_hex(i) for i in range(40)]
    tree = MerkleBuilder()
    assert tree.root() == merkle_root([])
    for n, h in enumerate(hashes, start=1):
        tree.add(h)
        assert tree.count == n
        assert tree.root() == merkle_root(hashes[:n])


def test_checkpoint_message_binds_every_field():
    base = checkpoint_message(10, 10, "a" * 64, "")
    assert base != checkpoint_message(11, 10, "a" * 64, "")
    assert base != checkpoint_message(10, 9, "a" * 64, "")
    assert base != checkpoint_message(10, 10, "b" * 64, "")
    assert base != checkpoint_message(10, 10, "a" * 64, "f" * 64)


def _chain(n: int) -> list[dict]:
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        h = entry_hash(**{**FIELDS, "seq": seq, "prev_hash": prev})
        rows.append({"seq": seq, "prev_hash": prev, "stored_hash": h, "computed_hash": h})
        prev = h
    return rows


def _walk(rows: list[dict]):
    walk = ChainWalk()
    for row in rows:
        finding = walk.feed(**row)
        if finding:
            return finding
    return None


def test_chain_walk_accepts_a_clean_chain():
    assert _walk(_chain(5)) is None


def test_chain_walk_names_a_gap_and_an_edit():
    rows = _chain(5)
    assert _walk(rows[:2] + rows[3:]).seq == 3
    rows[3] = {**rows[3], "computed_hash": "f" * 64}
    finding = _walk(rows)
    assert finding.seq == 4 and "edited" in finding.problem
