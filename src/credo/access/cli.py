"""`credo key` (institution API keys) and `credo consent` (subjects' consents)."""

from __future__ import annotations

import hashlib
import re
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table
from sqlalchemy import select

from credo.access import consent as consents
from credo.access import keys
from credo.access.models import ApiKey, Consent, Purpose, Role, Scope
from credo.cli.common import actor, cli_session, console, err_console
from credo.errors import Invalid
from credo.institution.models import Institution
from credo.subject.models import Subject

key_app = typer.Typer(
    help="Institution API keys: create (secret shown once), rotate, revoke, list.",
    no_args_is_help=True,
)
consent_app = typer.Typer(help="Subjects' consents to institutions' queries.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
SECRET_WARNING = (
    "This secret is shown once and cannot be recovered: store it in the institution's secret "
    "manager now. Credo keeps only its SHA-256."
)
_GRACE = re.compile(r"(\d+)\s*([mhd]?)")
_GRACE_UNITS = {"m": "minutes", "h": "hours", "d": "days", "": "hours"}


def _json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _when(value: str | None, what: str) -> datetime | None:
    """A date (midnight UTC at its start) or an ISO datetime (UTC when no offset is given)."""
    if value is None:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{what} must be YYYY-MM-DD or an ISO date and time; got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _grace(value: str) -> timedelta:
    match = _GRACE.fullmatch(value.strip().lower())
    if match is None:
        raise Invalid(f"grace must look like 30m, 24h or 7d; got {value!r}")
    return timedelta(**{_GRACE_UNITS[match.group(2)]: int(match.group(1))})


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _day(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d}" if value else "-"


def _codes(session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(select(Institution.id, Institution.code).where(Institution.id.in_(ids)))
    return dict(rows.all())


def _print_secret(key: ApiKey, code: str, token: str, as_json: bool, verb: str) -> None:
    if as_json:
        _json({**_key_dict(key, code), "secret": token, "warning": SECRET_WARNING})
        return
    expiry = f"expires {key.expires_at:%Y-%m-%d %H:%M}Z" if key.expires_at else "no expiry"
    console.print(
        f"{verb} API key [bold]{key.key_id}[/bold] for {code} "
        f"(roles: {key.roles.replace(',', ', ')}; {expiry})"
    )
    err_console.print(f"[yellow]warning:[/yellow] {SECRET_WARNING}")
    typer.echo(token)


def _key_dict(key: ApiKey, code: str) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "institution": code,
        "roles": sorted(key.role_set),
        "status": keys.status(key),
        "created_at": _iso(key.created_at),
        "expires_at": _iso(key.expires_at),
        "revoked_at": _iso(key.revoked_at),
        "last_used_at": _iso(key.last_used_at),
    }


@key_app.command("create")
def key_create(
    institution: Annotated[str, typer.Argument(help="institution code, e.g. BANK01")],
    role: Annotated[
        list[str],
        typer.Option("--role", help=f"repeat for several: {', '.join(Role)}", show_default=False),
    ],
    expires: Annotated[
        str | None, typer.Option("--expires", help="YYYY-MM-DD (UTC) or ISO date and time")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Issue an API key; its secret is printed this once."""
    with cli_session() as session:
        key, token = keys.create_key(
            session,
            institution_code=institution,
            roles=role,
            expires_at=_when(expires, "expiry"),
            actor=actor(),
        )
        code = _codes(session, {key.institution_id})[key.institution_id]
    _print_secret(key, code, token, as_json, "created")


@key_app.command("rotate")
def key_rotate(
    key_id: Annotated[str, typer.Argument(help="the key id shown by `credo key list`")],
    grace: Annotated[
        str, typer.Option("--grace", help="keep the old key working for 30m, 24h, 7d...")
    ] = "0",
    expires: Annotated[
        str | None, typer.Option("--expires", help="expiry of the new key (default: the old one)")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a successor key with a new secret; the old one stops after the grace period."""
    with cli_session() as session:
        key, token = keys.rotate_key(
            session,
            key_id=key_id.strip().upper(),
            grace=_grace(grace),
            expires_at=_when(expires, "expiry"),
            actor=actor(),
        )
        code = _codes(session, {key.institution_id})[key.institution_id]
        old = session.get(ApiKey, key.rotated_from_id)
    if not as_json:
        console.print(f"{old.key_id} stops working at {old.revoked_at:%Y-%m-%d %H:%M}Z")
    _print_secret(key, code, token, as_json, "rotated to")


@key_app.command("revoke")
def key_revoke(
    key_id: Annotated[str, typer.Argument(help="the key id shown by `credo key list`")],
) -> None:
    """Revoke a key now: requests with it get 401."""
    with cli_session() as session:
        key = keys.revoke_key(session, key_id=key_id.strip().upper(), actor=actor())
    console.print(f"revoked API key [bold]{key.key_id}[/bold]")


@key_app.command("list")
def key_list(
    institution: Annotated[str | None, typer.Argument(help="only this institution's keys")] = None,
    as_json: JsonOption = False,
) -> None:
    """API keys (never their secrets): institution, roles, status, last use."""
    with cli_session() as session:
        rows = keys.list_all(session, institution_code=institution)
        codes = _codes(session, {k.institution_id for k in rows})
        items = [_key_dict(k, codes[k.institution_id]) for k in rows]
    if as_json:
        _json(items)
        return
    t = Table()
    for name in ("key id", "institution", "roles", "status", "created", "expires", "last used"):
        # ids and dates stay on one line so that they can be copied
        t.add_column(name, no_wrap=name in {"key id", "institution", "created", "expires"})
    for k in items:
        t.add_row(
            k["key_id"], k["institution"], ", ".join(k["roles"]), k["status"],
            k["created_at"][:10], (k["expires_at"] or "-")[:10], (k["last_used_at"] or "-")[:16],
        )  # fmt: skip
    console.print(t)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise Invalid(f"cannot read evidence file {path}: {exc.strerror}") from None
    return digest.hexdigest()


def _consent_dict(c: Consent, subject_ref: str, code: str) -> dict[str, Any]:
    return {
        "ref": c.ref,
        "subject": subject_ref,
        "institution": code,
        "purpose": c.purpose.value,
        "scope": c.scope.value,
        "status": consents.status(c),
        "granted_at": _iso(c.granted_at),
        "expires_at": _iso(c.expires_at),
        "revoked_at": _iso(c.revoked_at),
        "evidence_sha256": c.evidence_sha256,
    }


def _consent_rows(session, rows: list[Consent]) -> list[dict[str, Any]]:
    ids = {c.subject_id for c in rows}
    refs = dict(session.execute(select(Subject.id, Subject.ref).where(Subject.id.in_(ids))).all())
    codes = _codes(session, {c.institution_id for c in rows})
    return [_consent_dict(c, refs[c.subject_id], codes[c.institution_id]) for c in rows]


@consent_app.command("add")
def consent_add(
    subject: Annotated[str, typer.Option("--subject", help="subject ref, e.g. S7K2M9Q4XH3TD")],
    institution: Annotated[str, typer.Option("--institution", help="institution code")],
    purpose: Annotated[str, typer.Option("--purpose", help=f"one of: {', '.join(Purpose)}")],
    scope: Annotated[str, typer.Option("--scope", help=f"one of: {', '.join(Scope)}")],
    expires: Annotated[str, typer.Option("--expires", help="YYYY-MM-DD (UTC) or ISO datetime")],
    evidence: Annotated[
        Path, typer.Option("--evidence", help="the signed consent document (only its hash is kept)")
    ],
    as_json: JsonOption = False,
) -> None:
    """Record a subject's consent to an institution, with the hash of the signed document."""
    with cli_session() as session:
        c = consents.grant(
            session,
            subject_ref=subject,
            institution_code=institution,
            purpose=purpose,
            scope=scope,
            expires_at=_when(expires, "expiry"),
            evidence_sha256=_sha256_file(evidence),
            actor=actor(),
        )
        item = _consent_rows(session, [c])[0]
    if as_json:
        _json(item)
        return
    console.print(
        f"consent [bold]{c.ref}[/bold]: {item['subject']} → {item['institution']} for "
        f"{c.purpose.value} ({c.scope.value}) until {c.expires_at:%Y-%m-%d}; "
        f"evidence sha256 {c.evidence_sha256[:16]}…"
    )


@consent_app.command("list")
def consent_list(
    subject: Annotated[str | None, typer.Option("--subject", help="only this subject")] = None,
    institution: Annotated[
        str | None, typer.Option("--institution", help="only this institution")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Consents, newest first: subject, institution, purpose, scope, validity."""
    with cli_session() as session:
        items = _consent_rows(
            session,
            consents.list_all(session, subject_ref=subject, institution_code=institution),
        )
    if as_json:
        _json(items)
        return
    t = Table()
    for name in ("consent", "subject", "institution", "purpose", "scope", "status", "granted"):
        t.add_column(name, no_wrap=name in {"consent", "subject", "granted"})
    t.add_column("expires", no_wrap=True)
    for c in items:
        t.add_row(
            c["ref"], c["subject"], c["institution"], c["purpose"], c["scope"], c["status"],
            c["granted_at"][:10], c["expires_at"][:10],
        )  # fmt: skip
    console.print(t)


@consent_app.command("revoke")
def consent_revoke(
    consent_ref: Annotated[str, typer.Argument(help="the consent ref, e.g. C7K2M9Q4XH3TD")],
) -> None:
    """Revoke a consent now: the institution's queries under it get 403."""
    with cli_session() as session:
        c = consents.revoke(session, ref=consent_ref, actor=actor())
    console.print(f"revoked consent [bold]{c.ref}[/bold] on {c.revoked_at:%Y-%m-%d}")
