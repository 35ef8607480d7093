"""Institution use cases."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from credo.audit import service as audit
from credo.errors import Conflict, Invalid, NotFound
from credo.institution.models import Institution, InstitutionKind

CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")
#: the bureau's own institution row: inquirer of record of subjects' own reports, holder of
#: the operator keys of the bureau's staff, furnisher of record of identity corrections
BUREAU_CODE = "CREDO"
BUREAU_NAME = "Credo 征信中心 (本人查询 / subject's own query)"


def get_by_code(session: Session, *, code: str) -> Institution:
    """The institution with `code`, or NotFound."""
    inst = session.scalar(select(Institution).where(Institution.code == code))
    if inst is None:
        raise NotFound(f"institution {code!r} is not registered")
    return inst


def list_all(session: Session) -> list[Institution]:
    """All institutions, by code."""
    return list(session.scalars(select(Institution).order_by(Institution.code)))


def create(session: Session, *, code: str, name: str, kind: str, actor: str) -> Institution:
    """Register an institution (audited)."""
    code = code.strip().upper()
    if not CODE_RE.match(code):
        raise Invalid(f"institution code must be 2-32 of A-Z, 0-9, '_' or '-'; got {code!r}")
    name = name.strip()
    if not name or len(name) > 200:
        raise Invalid("institution name must be 1-200 characters")
    try:
        kind_enum = InstitutionKind(kind)
    except ValueError:
        raise Invalid(
            f"institution type must be one of {', '.join(InstitutionKind)}; got {kind!r}"
        ) from None
    if session.scalar(select(Institution.id).where(Institution.code == code)) is not None:
        raise Conflict(f"institution {code!r} is already registered")
    inst = Institution(code=code, name=name, kind=kind_enum)
    session.add(inst)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="institution.create",
        target=f"institution:{code}",
        details={"name": name, "kind": kind_enum.value},
    )
    return inst


def set_webhook(session: Session, *, code: str, url: str | None, actor: str) -> Institution:
    """Set (or, with None, clear) where the webhook channel POSTs the institution's notices
    (audited)."""
    inst = get_by_code(session, code=code.strip().upper())
    if url is not None:
        url = url.strip()
        if len(url) > 500:
            raise Invalid(f"webhook URL must be at most 500 characters; got {len(url)}")
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError):
            raise Invalid(f"webhook URL is not a URL; got {url!r}") from None
        if parsed.userinfo:
            # the signature authenticates the bureau; a password in the URL would be stored
            # and shown in plain text (so it is not repeated in this message either)
            raise Invalid("webhook URL must not carry a user name or password")
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise Invalid(f"webhook URL must be http(s)://host/...; got {url!r}")
    inst.webhook_url = url
    session.flush()
    audit.append(
        session, actor=actor, action="institution.webhook", target=f"institution:{inst.code}",
        details={"url": url},
    )  # fmt: skip
    return inst


def bureau_institution(session: Session) -> Institution:
    """The bureau as an institution (kind ``bureau``), created the first time it is needed."""
    stmt = select(Institution).where(Institution.kind == InstitutionKind.bureau).limit(1)
    inst = session.scalar(stmt)
    if inst is not None:
        return inst
    taken = session.scalar(select(Institution.kind).where(Institution.code == BUREAU_CODE))
    if taken is not None:
        raise Conflict(
            f"institution code {BUREAU_CODE} is registered to a member ({taken.value}); the "
            "bureau needs it for subjects' own reports"
        )
    try:
        # a savepoint: another request may create the row at the same moment
        with session.begin_nested():
            return create(
                session, code=BUREAU_CODE, name=BUREAU_NAME, kind=InstitutionKind.bureau.value,
                actor="credo:bureau",
            )  # fmt: skip
    except (IntegrityError, Conflict):
        inst = session.scalar(stmt)
        if inst is None:
            raise
    return inst
