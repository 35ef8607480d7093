"""`credo subject-access`: operators issue, revoke and list subjects' access credentials."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import select

from credo.access import subject_access
from credo.access.cli import JsonOption, _iso, _json, _when
from credo.access.models import SubjectAccess
from credo.cli.common import actor, cli_session, console, err_console
from credo.subject.models import Subject

subject_access_app = typer.Typer(
    help="Subjects' access credentials to /v1/me: issue (secret shown once), revoke, list.",
    no_args_is_help=True,
)

SECRET_WARNING = (
    "This credential is shown once and cannot be recovered: hand it to the subject now, in "
    "person or through the channel their identity was verified on. Credo keeps only its SHA-256."
)


def _item(cred: SubjectAccess, subject_ref: str) -> dict[str, Any]:
    return {
        "credential_id": cred.credential_id,
        "subject": subject_ref,
        "status": subject_access.status(cred),
        "verified_by": cred.verified_by,
        "created_at": _iso(cred.created_at),
        "created_by": cred.created_by,
        "expires_at": _iso(cred.expires_at),
        "revoked_at": _iso(cred.revoked_at),
        "last_used_at": _iso(cred.last_used_at),
    }


def _items(session, rows: list[SubjectAccess]) -> list[dict[str, Any]]:
    ids = {c.subject_id for c in rows}
    refs = dict(session.execute(select(Subject.id, Subject.ref).where(Subject.id.in_(ids))).all())
    return [_item(c, refs[c.subject_id]) for c in rows]


@subject_access_app.command("issue")
def issue(
    subject: Annotated[str, typer.Argument(help="the subject's ref, e.g. S7K2M9Q4XH3TD")],
    verified_by: Annotated[
        str,
        typer.Option(
            "--verified-by",
            help="how you verified who the subject is, e.g. 'counter: ID card seen'",
            show_default=False,
        ),
    ],
    expires: Annotated[
        str | None,
        typer.Option("--expires", help="YYYY-MM-DD (UTC) or ISO date and time; default 1 year"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a credential to a subject whose identity you verified; printed this once."""
    with cli_session() as session:
        cred, token = subject_access.issue(
            session,
            subject_ref=subject,
            verified_by=verified_by,
            expires_at=_when(expires, "expiry"),
            actor=actor(),
        )
        item = _items(session, [cred])[0]
    if as_json:
        _json({**item, "secret": token, "warning": SECRET_WARNING})
        return
    console.print(
        f"issued subject access credential [bold]{cred.credential_id}[/bold] to "
        f"{item['subject']} (expires {cred.expires_at:%Y-%m-%d %H:%M}Z)"
    )
    err_console.print(f"[yellow]warning:[/yellow] {SECRET_WARNING}")
    typer.echo(token)


@subject_access_app.command("revoke")
def revoke(
    credential_id: Annotated[str, typer.Argument(help="the credential id, e.g. U7K2M9Q4XH3T")],
) -> None:
    """Revoke a credential now: /v1/me requests with it get 401."""
    with cli_session() as session:
        cred = subject_access.revoke(session, credential_id=credential_id, actor=actor())
    console.print(f"revoked subject access credential [bold]{cred.credential_id}[/bold]")


@subject_access_app.command("list")
def list_credentials(
    subject: Annotated[str | None, typer.Argument(help="only this subject's credentials")] = None,
    as_json: JsonOption = False,
) -> None:
    """Credentials, newest first (never their secrets): subject, status, how verified, expiry,
    last use."""
    with cli_session() as session:
        items = _items(session, subject_access.list_all(session, subject_ref=subject))
    if as_json:
        _json(items)
        return
    t = Table()
    # ids and dates stay on one line so that they can be copied; the verification note wraps
    for name in ("credential", "subject", "status", "verified by", "expires", "last used"):
        t.add_column(name, no_wrap=name != "verified by")
    for c in items:
        t.add_row(
            c["credential_id"], c["subject"], c["status"], c["verified_by"],
            c["expires_at"][:10], (c["last_used_at"] or "-")[:10],
        )  # fmt: skip
    console.print(t)
