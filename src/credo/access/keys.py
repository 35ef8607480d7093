"""API keys: create (secret shown once), rotate, revoke, authenticate, check roles.

A presented token reads ``credo_<key id>_<secret>``: the key id (public, shown in lists) finds
the row, then the SHA-256 of the whole token is compared in constant time with the stored hash.
The token itself is never stored, logged or put in an error message (`credo.access.tokens`,
shared with subject access credentials).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from credo.access import tokens
from credo.access.models import ApiKey, Role
from credo.access.policy import parse_roles
from credo.audit import service as audit
from credo.core.refs import new_ref
from credo.db import utcnow
from credo.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from credo.institution import service as institutions
from credo.institution.models import Institution, InstitutionKind

log = logging.getLogger(__name__)

#: longest grace period during which a rotated key keeps working
MAX_GRACE = timedelta(days=30)
_TOKEN = tokens.token_pattern("K")
_NOT_RECOGNISED = "API key not recognised"
#: a subject's token sent to an institution endpoint: said plainly, the token is not checked
SUBJECT_TOKEN_HERE = (
    "this is a subject access credential; it opens /v1/me only, institution endpoints take "
    "an API key"
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an institution, through one of its keys, with that key's roles."""

    key_id: str
    institution_id: int
    institution_code: str
    roles: frozenset[Role]
    #: the institution's name and kind, as a report's header shows the querier
    institution_name: str = ""
    institution_kind: str = ""

    @property
    def actor(self) -> str:
        """The caller as the audit ledger names it."""
        return f"api:{self.institution_code}/{self.key_id}"


def new_key_id() -> str:
    """A random public key id such as ``K7K2M9Q4XH3T``."""
    return new_ref("K", 11)


def status(key: ApiKey, at: datetime | None = None) -> str:
    """``active``, ``revoked``, ``expired`` or ``active until <time>`` (rotated, in grace)."""
    return tokens.status(key, at or utcnow())


def get(session: Session, *, key_id: str) -> ApiKey:
    """The key with public id `key_id`, or NotFound."""
    key = session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
    if key is None:
        raise NotFound(f"API key {key_id!r} does not exist")
    return key


def list_all(session: Session, *, institution_code: str | None = None) -> list[ApiKey]:
    """Keys, newest first; only one institution's when `institution_code` is given."""
    stmt = select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    if institution_code is not None:
        inst = institutions.get_by_code(session, code=institution_code.strip().upper())
        stmt = stmt.where(ApiKey.institution_id == inst.id)
    return list(session.scalars(stmt))


def _issue(
    session: Session,
    *,
    institution_id: int,
    roles: frozenset[Role],
    expires_at: datetime | None,
    actor: str,
    at: datetime,
    rotated_from_id: int | None = None,
) -> tuple[ApiKey, str]:
    key_id = new_key_id()
    token = tokens.new_token(key_id)
    key = ApiKey(
        key_id=key_id,
        institution_id=institution_id,
        secret_sha256=tokens.token_sha256(token),
        roles=",".join(sorted(roles)),
        created_at=at,
        created_by=actor,
        expires_at=expires_at,
        rotated_from_id=rotated_from_id,
    )
    session.add(key)
    session.flush()
    return key, token


def create_key(
    session: Session,
    *,
    institution_code: str,
    roles: list[str] | frozenset[Role],
    expires_at: datetime | None = None,
    actor: str,
    at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Issue a key for an institution; returns the key and its token, shown this once only."""
    at = at or utcnow()
    code = institution_code.strip().upper()
    role_set = parse_roles(roles)
    if Role.operator in role_set and code == institutions.BUREAU_CODE:
        inst = institutions.bureau_institution(session)
    else:
        inst = institutions.get_by_code(session, code=code)
    if Role.operator in role_set and inst.kind is not InstitutionKind.bureau:
        # an operator decides disputes against furnishers: a member's own key must not
        raise Invalid(
            f"the operator role is for the bureau's own staff, not for {inst.code} "
            f"({inst.kind.value}); create it for {institutions.BUREAU_CODE}: "
            f"credo key create {institutions.BUREAU_CODE} --role operator",
            field="roles",
        )
    tokens.check_expiry(expires_at, at)
    key, token = _issue(
        session,
        institution_id=inst.id,
        roles=role_set,
        expires_at=expires_at,
        actor=actor,
        at=at,
    )
    audit.append(
        session,
        actor=actor,
        action="api_key.create",
        target=f"api_key:{key.key_id}",
        details={
            "institution": inst.code,
            "roles": sorted(role_set),
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return key, token


def rotate_key(
    session: Session,
    *,
    key_id: str,
    actor: str,
    grace: timedelta = timedelta(0),
    expires_at: datetime | None = None,
    at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Issue a successor with the same institution and roles; the old key stops after `grace`.

    The successor keeps the old expiry unless `expires_at` is given. Returns the new key and
    its token, shown this once only.
    """
    at = at or utcnow()
    if grace < timedelta(0) or grace > MAX_GRACE:
        raise Invalid(f"grace period must be between 0 and {MAX_GRACE.days} days; got {grace}")
    old = get(session, key_id=key_id)
    if old.revoked_at is not None:
        successor = session.scalar(select(ApiKey.key_id).where(ApiKey.rotated_from_id == old.id))
        if successor is not None:
            raise Conflict(f"API key {key_id} was already rotated to {successor}")
        raise Conflict(f"API key {key_id} was revoked on {old.revoked_at:%Y-%m-%d}")
    if expires_at is None and old.expires_at is not None and old.expires_at <= at:
        raise Conflict(
            f"API key {key_id} expired on {old.expires_at:%Y-%m-%d}; give the new key an expiry"
        )
    expires_at = expires_at or old.expires_at
    tokens.check_expiry(expires_at, at)
    new, token = _issue(
        session,
        institution_id=old.institution_id,
        roles=old.role_set,
        expires_at=expires_at,
        actor=actor,
        at=at,
        rotated_from_id=old.id,
    )
    old.revoked_at = at + grace
    old.revoked_by = actor
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="api_key.rotate",
        target=f"api_key:{old.key_id}",
        details={
            "successor": new.key_id,
            "old_key_stops_at": old.revoked_at.isoformat(),
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return new, token


def revoke_key(session: Session, *, key_id: str, actor: str, at: datetime | None = None) -> ApiKey:
    """Revoke a key now (also cuts short the grace period of a rotated key)."""
    at = at or utcnow()
    key = get(session, key_id=key_id)
    if key.revoked_at is not None and key.revoked_at <= at:
        raise Conflict(f"API key {key_id} was already revoked on {key.revoked_at:%Y-%m-%d}")
    key.revoked_at = at
    key.revoked_by = actor
    session.flush()
    audit.append(session, actor=actor, action="api_key.revoke", target=f"api_key:{key.key_id}")
    return key


class KeyCache:
    """Keys this process checked against the database in the last `ttl` seconds.

    An API server checks the key of every request; with a cache, a key seen less than `ttl`
    seconds ago is taken without a database read. What that costs: a key revoked (or
    rotated with no grace) in the database is still taken by a process that checked it less
    than `ttl` seconds before, so a revocation takes effect up to `ttl` seconds late. Expiry
    and a future revocation time (a rotated key's grace) are checked on every request against
    the times read with the key. Only keys that passed are kept, by the SHA-256 of the token
    (never the token itself); a wrong key always goes to the database.
    """

    def __init__(
        self, ttl: float, *, size: int = 1024, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if ttl < 0:
            raise ValueError(f"ttl must be >= 0 seconds; got {ttl}")
        self.ttl, self.size, self._clock = ttl, size, clock
        self._entries: dict[str, tuple[float, Principal, datetime | None, datetime | None]] = {}

    def get(self, presented: str, at: datetime) -> Principal | None:
        """The principal of `presented` when it was checked less than `ttl` seconds ago and is
        neither revoked nor expired at `at` by the times read then; None otherwise."""
        if self.ttl <= 0:
            return None
        hit = self._entries.get(tokens.token_sha256(presented))
        if hit is None:
            return None
        checked, who, revoked_at, expires_at = hit
        if (
            self._clock() - checked >= self.ttl
            or (revoked_at is not None and revoked_at <= at)
            or (expires_at is not None and expires_at <= at)
        ):
            return None
        return who

    def put(
        self, presented: str, who: Principal, revoked_at: datetime | None,
        expires_at: datetime | None,
    ) -> None:  # fmt: skip
        """Remember a key that passed its database check just now."""
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.size:
            self._entries.clear()  # a few keys per institution: a full cache is rare
        self._entries[tokens.token_sha256(presented)] = (self._clock(), who, revoked_at,
                                                          expires_at)  # fmt: skip


def authenticate(
    session: Session,
    presented: str | None,
    *,
    at: datetime | None = None,
    cache: KeyCache | None = None,
) -> Principal:
    """The principal a presented token stands for; Unauthorized when it is wrong, revoked or
    expired. A key that passes goes into `cache` (see `KeyCache`)."""
    at = at or utcnow()
    match = _TOKEN.fullmatch(presented) if isinstance(presented, str) else None
    if match is None:
        if tokens.token_letter(presented) == "U":
            raise Unauthorized(SUBJECT_TOKEN_HERE)
        raise Unauthorized(_NOT_RECOGNISED)
    key_id = match.group(1)
    # one Core read, no ORM object: every request runs it (a revocation counts at once)
    row = session.execute(_KEY_BY_ID, {"key_id": key_id}).first()
    key = SimpleNamespace(**row._mapping) if row is not None else None
    used = key.last_used_at if key is not None else None
    try:
        tokens.verify(
            key, presented, at=at, what=f"API key {key_id}", not_recognised=_NOT_RECOGNISED
        )
    except Unauthorized:
        log.warning("authentication failed for API key id %s", key_id)
        raise
    if key.last_used_at is not used:  # refreshed at most once a minute (tokens.TOUCH_EVERY)
        session.execute(
            update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=key.last_used_at)
        )
    who = Principal(
        key_id=key_id,
        institution_id=key.institution_id,
        institution_code=key.code,
        roles=frozenset(Role(r) for r in key.roles.split(",") if r),
        institution_name=key.name,
        institution_kind=str(key.kind),
    )
    if cache is not None:
        cache.put(presented, who, key.revoked_at, key.expires_at)
    return who


_KEY_BY_ID = (
    select(
        ApiKey.__table__.c.id, ApiKey.__table__.c.institution_id,
        ApiKey.__table__.c.secret_sha256, ApiKey.__table__.c.roles,
        ApiKey.__table__.c.expires_at, ApiKey.__table__.c.revoked_at,
        ApiKey.__table__.c.last_used_at, Institution.__table__.c.code,
        Institution.__table__.c.name, Institution.__table__.c.kind,
    )
    .join(Institution.__table__, Institution.__table__.c.id == ApiKey.__table__.c.institution_id)
    .where(ApiKey.__table__.c.key_id == bindparam("key_id"))
)  # fmt: skip


def require_role(principal: Principal, role: Role | str) -> None:
    """Forbidden unless the principal's key has `role`."""
    role = Role(role)
    if role not in principal.roles:
        held = ", ".join(sorted(principal.roles)) or "none"
        raise Forbidden(
            f"API key {principal.key_id} does not have the {role.value} role (it has: {held})",
            reason="role",
        )
