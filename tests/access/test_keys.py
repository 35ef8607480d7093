"""API keys: shown once, stored hashed, rotated, revoked, expired, and roles."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from credo.access import keys
from credo.access.models import ApiKey, Role
from credo.audit.models import AuditEntry
from credo.db import utcnow
from credo.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from credo.institution.models import Institution, InstitutionKind
from furnishing.bureau import BANK, add_institution


@pytest.fixture
def bank(session):
    add_institution(session, BANK)
    return BANK


def _row_values(session, key_id: str) -> list[str]:
    row = session.execute(
        text("SELECT * FROM api_key WHERE key_id = :k"), {"k": key_id}
    ).one()  # fmt: skip
    return [str(v) for v in row]


def test_create_returns_the_secret_once_and_stores_only_its_hash(session, bank):
    key, token = keys.create_key(
        session, institution_code=bank, roles=["querier", "furnisher"], actor="ops"
    )
    assert token.startswith(f"credo_{key.key_id}_") and len(token) == len("credo_") + 12 + 1 + 43
    secret = token[len(f"credo_{key.key_id}_") :]
    assert key.secret_sha256 == hashlib.sha256(token.encode()).hexdigest()
    stored = _row_values(session, key.key_id)
    assert not any(secret in v or token in v for v in stored)
    ledger = " ".join(
        f"{e.actor} {e.target} {e.details}" for e in session.scalars(select(AuditEntry))
    )
    assert secret not in ledger
    assert session.scalar(select(AuditEntry.action).order_by(AuditEntry.seq.desc())) == (
        "api_key.create"
    )
    assert key.role_set == {Role.querier, Role.furnisher} and key.roles == "furnisher,querier"


def test_two_keys_never_share_a_secret(session, bank):
    tokens = {keys.create_key(session, institution_code=bank, roles=["querier"], actor="ops")[1]
              for _ in range(5)}  # fmt: skip
    assert len(tokens) == 5


def test_authenticate_returns_the_institution_and_roles(session, bank):
    key, token = keys.create_key(session, institution_code=bank, roles=["querier"], actor="ops")
    principal = keys.authenticate(session, token)
    assert principal.key_id == key.key_id and principal.institution_code == BANK
    assert principal.roles == {Role.querier}
    assert principal.actor == f"api:{BANK}/{key.key_id}"
    session.refresh(key)
    assert key.last_used_at is not None


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # right key id, wrong secret
        lambda t: "credo_KZZZZZZZZZZZ_" + t[19:],  # unknown key id, a real secret
        lambda t: t[:-2],  # malformed
        lambda t: "",
        lambda t: None,
    ],
    ids=["wrong-secret", "unknown-key-id", "malformed", "empty", "none"],
)
def test_a_wrong_key_is_401_with_one_message(session, bank, mangle):
    _, token = keys.create_key(session, institution_code=bank, roles=["querier"], actor="ops")
    with pytest.raises(Unauthorized) as exc:
        keys.authenticate(session, mangle(token))
    assert exc.value.status == 401 and exc.value.message == "API key not recognised"
    assert token not in str(exc.value.to_problem())


def test_a_revoked_key_is_401(session, bank):
    key, token = keys.create_key(session, institution_code=bank, roles=["querier"], actor="ops")
    keys.revoke_key(session, key_id=key.key_id, actor="ops")
    with pytest.raises(Unauthorized, match=rf"API key {key.key_id} was revoked on \d{{4}}-"):
        keys.authenticate(session, token)
    with pytest.raises(Conflict, match="already revoked"):
        keys.revoke_key(session, key_id=key.key_id, actor="ops")


def test_an_expired_key_is_401(session, bank):
    now = utcnow()
    key, token = keys.create_key(
        session, institution_code=bank, roles=["querier"], expires_at=now + timedelta(hours=1),
        actor="ops",
    )  # fmt: skip
    assert keys.authenticate(session, token, at=now).key_id == key.key_id
    with pytest.raises(Unauthorized, match=f"API key {key.key_id} expired on"):
        keys.authenticate(session, token, at=now + timedelta(hours=2))
    assert keys.status(key, now + timedelta(hours=2)) == "expired"


def test_rotate_issues_a_new_secret_and_stops_the_old_key(session, bank):
    old, old_token = keys.create_key(
        session, institution_code=bank, roles=["querier", "furnisher"], actor="ops"
    )
    new, new_token = keys.rotate_key(session, key_id=old.key_id, actor="ops")
    assert new.rotated_from_id == old.id and new.role_set == old.role_set
    assert new_token != old_token and new.key_id != old.key_id
    assert keys.authenticate(session, new_token).key_id == new.key_id
    with pytest.raises(Unauthorized, match="was revoked on"):
        keys.authenticate(session, old_token)
    with pytest.raises(Conflict, match=f"already rotated to {new.key_id}"):
        keys.rotate_key(session, key_id=old.key_id, actor="ops")


def test_a_rotated_key_keeps_working_during_its_grace_period(session, bank):
    now = utcnow()
    old, old_token = keys.create_key(session, institution_code=bank, roles=["querier"], actor="o")
    keys.rotate_key(session, key_id=old.key_id, grace=timedelta(hours=1), actor="o", at=now)
    assert keys.authenticate(session, old_token, at=now + timedelta(minutes=59)).key_id == (
        old.key_id
    )
    assert keys.status(old, now).startswith("active until")
    with pytest.raises(Unauthorized):
        keys.authenticate(session, old_token, at=now + timedelta(hours=1))
    # revoking cuts the grace period short
    keys.revoke_key(session, key_id=old.key_id, actor="o", at=now + timedelta(minutes=5))
    with pytest.raises(Unauthorized):
        keys.authenticate(session, old_token, at=now + timedelta(minutes=6))


def test_rotate_refuses_a_bad_grace_and_an_unknown_key(session, bank):
    key, _ = keys.create_key(session, institution_code=bank, roles=["querier"], actor="o")
    with pytest.raises(Invalid, match="grace period must be between 0 and 30 days"):
        keys.rotate_key(session, key_id=key.key_id, grace=timedelta(days=31), actor="o")
    with pytest.raises(NotFound, match="API key 'KNOPE' does not exist"):
        keys.rotate_key(session, key_id="KNOPE", actor="o")


def test_rotating_an_expired_key_needs_a_new_expiry(session, bank):
    now = utcnow()
    key, _ = keys.create_key(
        session, institution_code=bank, roles=["querier"], expires_at=now + timedelta(hours=1),
        actor="o",
    )  # fmt: skip
    later = now + timedelta(days=2)
    with pytest.raises(Conflict, match="give the new key an expiry"):
        keys.rotate_key(session, key_id=key.key_id, actor="o", at=later)
    new, _ = keys.rotate_key(
        session, key_id=key.key_id, actor="o", at=later, expires_at=later + timedelta(days=90)
    )
    assert new.expires_at == later + timedelta(days=90)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"institution_code": "NOPE"}, NotFound, "institution 'NOPE' is not registered"),
        ({"roles": ["admin"]}, Invalid, "unknown role 'admin'; expected one of furnisher, "
                                        "querier, operator"),
        ({"roles": []}, Invalid, "give at least one role"),
        ({"expires_at": utcnow() - timedelta(days=1)}, Invalid, "expiry must be in the future"),
    ],
    ids=["unknown-institution", "unknown-role", "no-role", "past-expiry"],
)  # fmt: skip
def test_create_refuses_bad_input(session, bank, kwargs, error, message):
    args = {"institution_code": bank, "roles": ["querier"], "actor": "ops", **kwargs}
    with pytest.raises(error, match=message):
        keys.create_key(session, **args)
    assert session.scalar(select(ApiKey.id)) is None


def test_require_role_is_403_naming_the_missing_role(session, bank):
    _, token = keys.create_key(session, institution_code=bank, roles=["furnisher"], actor="o")
    principal = keys.authenticate(session, token)
    keys.require_role(principal, Role.furnisher)
    with pytest.raises(Forbidden) as exc:
        keys.require_role(principal, "querier")
    assert exc.value.status == 403
    assert exc.value.message.endswith("does not have the querier role (it has: furnisher)")
    assert exc.value.to_problem()["reason"] == "role"


def test_list_shows_keys_per_institution(session, bank):
    add_institution(session, "BANK_B")
    keys.create_key(session, institution_code=bank, roles=["querier"], actor="o")
    keys.create_key(session, institution_code="BANK_B", roles=["querier"], actor="o")
    assert len(keys.list_all(session)) == 2
    assert len(keys.list_all(session, institution_code="bank_b")) == 1


def test_the_operator_role_is_only_for_the_bureaus_own_staff(session, bank):
    """An operator decides disputes against furnishers: a member's key must never hold it."""
    with pytest.raises(Invalid, match="operator role is for the bureau's own staff") as err:
        keys.create_key(session, institution_code=bank, roles=["operator"], actor="ops")
    assert err.value.extra["field"] == "roles"
    assert session.scalar(select(func.count()).select_from(ApiKey)) == 0
    # the bureau's row is created on first use, and its staff get operator keys
    key, _ = keys.create_key(session, institution_code="credo", roles=["operator"], actor="ops")
    bureau = session.get(Institution, key.institution_id)
    assert (bureau.code, bureau.kind) == ("CREDO", InstitutionKind.bureau)
    assert key.role_set == {Role.operator}
