"""Institution use cases."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from credo.audit import service as audit
from credo.errors import Conflict, Invalid, NotFound
from credo.institution.models import Institution, InstitutionKind

CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")


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
