"""The API's key cache: a key checked less than `ttl` seconds ago is not read again, so a
revocation takes effect at most `ttl` seconds late; expiry is checked on every use."""

from __future__ import annotations

from datetime import timedelta

import pytest

from credo.access import keys
from credo.db import utcnow
from credo.errors import Unauthorized
from furnishing.bureau import BANK, add_institution


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def issued(session):
    add_institution(session, BANK)
    return keys.create_key(session, institution_code=BANK, roles=["querier"], actor="ops")


def test_a_checked_key_is_served_from_the_cache_until_its_ttl_ends(session, issued):
    key, token = issued
    clock = Clock()
    cache = keys.KeyCache(1.0, clock=clock)
    now = utcnow()
    assert cache.get(token, now) is None  # never checked: the caller reads the database
    who = keys.authenticate(session, token, cache=cache)
    assert cache.get(token, now) == who
    keys.revoke_key(session, key_id=key.key_id, actor="ops")
    clock.now += 0.9  # the documented staleness: revoked, still taken within the second
    assert cache.get(token, utcnow()) == who
    clock.now += 0.1
    assert cache.get(token, utcnow()) is None
    with pytest.raises(Unauthorized, match="revoked"):
        keys.authenticate(session, token, cache=cache)


def test_the_cache_checks_expiry_and_a_rotated_keys_grace_on_every_use(session, issued):
    key, token = issued
    cache = keys.KeyCache(1.0, clock=Clock())
    keys.rotate_key(session, key_id=key.key_id, actor="ops", grace=timedelta(hours=1))
    who = keys.authenticate(session, token, cache=cache)  # in its grace period
    assert cache.get(token, utcnow()) == who
    # the revocation time read with the key counts as soon as it is reached, cache or not
    assert cache.get(token, utcnow() + timedelta(hours=1, seconds=1)) is None


def test_wrong_keys_are_never_cached_and_ttl_zero_caches_nothing(session, issued):
    _, token = issued
    cache = keys.KeyCache(1.0, clock=Clock())
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(Unauthorized):
        keys.authenticate(session, wrong, cache=cache)
    assert cache.get(wrong, utcnow()) is None
    off = keys.KeyCache(0)
    keys.authenticate(session, token, cache=off)
    assert off.get(token, utcnow()) is None
    with pytest.raises(ValueError, match="ttl"):
        keys.KeyCache(-1)
