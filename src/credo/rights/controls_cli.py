"""``credo rights``: a subject's controls, operated at the counter on their behalf.

The operator has verified who the subject is (as for ``credo subject-access issue``) and acts
for them: every change is ledgered under ``--actor`` (default: ``CREDO_ACTOR`` or the login).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer
from sqlalchemy import select

from credo.access.consent import subject_by_ref
from credo.audit import service as audit
from credo.cli.common import actor as default_actor
from credo.cli.common import cli_session, console
from credo.config import get_settings
from credo.errors import Invalid, NotFound
from credo.rights import controls
from credo.rights.export import export_subject
from credo.security import get_keyring
from credo.security.keys import write_private
from credo.subject.models import Subject

app = typer.Typer(
    help="A subject's statement, freeze, fraud alert, opt-outs and data export.",
    no_args_is_help=True,
)

SubjectArg = Annotated[str, typer.Argument(help="the subject's ref, e.g. S7K2M9Q4XH3TD")]
ActorOption = Annotated[
    str | None,
    typer.Option("--actor", help="who acts, for the ledger (default: CREDO_ACTOR or login)"),
]


def _ref(session, subject: str) -> str:
    return subject_by_ref(session, subject).ref


@app.command("statement")
def statement(
    subject: SubjectArg,
    text: Annotated[
        str | None, typer.Option("--text", help="the statement's words (replace any on file)")
    ] = None,
    remove: Annotated[bool, typer.Option("--remove", help="remove the statement")] = False,
    actor: ActorOption = None,
) -> None:
    """Show, set (--text) or remove (--remove) the subject's personal statement."""
    who = actor or default_actor()
    with cli_session() as session:
        ref = _ref(session, subject)
        if text is not None and remove:
            raise Invalid("give --text or --remove, not both")
        if remove:
            controls.remove_statement(session, subject_ref=ref, actor=who)
            console.print(f"removed the personal statement of {ref}")
            return
        if text is not None:
            stmt, changed = controls.set_statement(
                session, subject_ref=ref, text=text, actor=who, keyring=get_keyring(),
                max_chars=get_settings().statement_max_chars,
            )  # fmt: skip
            verb = "set" if changed else "kept (same words)"
            console.print(f"statement of {ref} {verb}: {len(stmt.text)} characters")
            return
        subject_id = session.scalar(select(Subject.id).where(Subject.ref == ref))
        current = controls.current_statement(session, subject_id, keyring=get_keyring())
        if current is None:
            raise NotFound(f"subject {ref} has no personal statement")
        audit.record(session, actor=who, action="statement.read", target=f"subject:{ref}")
        console.print(f"statement of {ref} (added {current.created_at:%Y-%m-%d}):")
        typer.echo(current.text)


@app.command("freeze")
def freeze(subject: SubjectArg, actor: ActorOption = None) -> None:
    """Freeze the subject's file: new hard inquiries are refused until it is lifted."""
    with cli_session() as session:
        change = controls.place_freeze(
            session, subject_ref=_ref(session, subject), actor=actor or default_actor()
        )
        row = change.row
    state = "frozen" if change.created else "already frozen"
    console.print(f"file {state} since {row.placed_at:%Y-%m-%d %H:%M}Z (freeze {row.ref})")


@app.command("lift-freeze")
def lift_freeze(subject: SubjectArg, actor: ActorOption = None) -> None:
    """Lift the subject's freeze now."""
    with cli_session() as session:
        row = controls.lift_freeze(
            session, subject_ref=_ref(session, subject), actor=actor or default_actor()
        )
    console.print(f"freeze {row.ref} lifted; hard inquiries are answered again")


@app.command("fraud-alert")
def fraud_alert(
    subject: SubjectArg,
    report_sha256: Annotated[
        str | None,
        typer.Option(
            "--identity-theft-report-sha256",
            help="hex SHA-256 of the identity-theft report: a 7-year alert instead of 1 year",
        ),
    ] = None,
    remove: Annotated[bool, typer.Option("--remove", help="remove the alert")] = False,
    actor: ActorOption = None,
) -> None:
    """Place (or with --remove, remove) a fraud alert on the subject's file."""
    who = actor or default_actor()
    with cli_session() as session:
        ref = _ref(session, subject)
        if remove:
            if report_sha256 is not None:
                raise Invalid("give --identity-theft-report-sha256 or --remove, not both")
            row = controls.remove_fraud_alert(session, subject_ref=ref, actor=who)
            console.print(f"fraud alert {row.ref} removed")
            return
        change = controls.place_fraud_alert(
            session, subject_ref=ref, actor=who, identity_theft_report_sha256=report_sha256
        )
        row = change.row
    kind = "extended (7-year)" if row.identity_theft_report_sha256 else "1-year"
    state = "placed" if change.created else "already in force"
    console.print(f"{kind} fraud alert {row.ref} {state} until {row.expires_at:%Y-%m-%d}")


@app.command("opt-out")
def opt_out(
    subject: SubjectArg,
    use: Annotated[str, typer.Argument(help="prescreen or marketing")],
    actor: ActorOption = None,
) -> None:
    """Opt the subject out of prescreening or marketing uses of their file."""
    with cli_session() as session:
        change = controls.opt_out(
            session, subject_ref=_ref(session, subject), use=use, actor=actor or default_actor()
        )
    state = "opted out of" if change.created else "already opted out of"
    console.print(f"{state} {change.row.use.value} since {change.row.created_at:%Y-%m-%d}")


@app.command("opt-in")
def opt_in(
    subject: SubjectArg,
    use: Annotated[str, typer.Argument(help="prescreen or marketing")],
    actor: ActorOption = None,
) -> None:
    """Revoke the subject's opt-out of a use."""
    with cli_session() as session:
        row = controls.opt_in(
            session, subject_ref=_ref(session, subject), use=use, actor=actor or default_actor()
        )
    console.print(f"opt-out of {row.use.value} revoked")


@app.command("export")
def export(
    subject: SubjectArg,
    out: Annotated[
        Path, typer.Option("--out", help="file to write the JSON to", show_default=False)
    ],
    actor: ActorOption = None,
) -> None:
    """Write everything held about the subject (credo-subject-export/1) to a JSON file."""
    with cli_session() as session:
        subject_row = subject_by_ref(session, subject)
        doc = export_subject(
            session, subject_row.id, keyring=get_keyring(), actor=actor or default_actor()
        )
        # written before the commit: a file that cannot be written is not ledgered as exported
        try:
            write_private(out, orjson.dumps(doc, option=orjson.OPT_INDENT_2))
        except OSError as exc:
            raise Invalid(f"cannot write {out}: {exc.strerror}") from None
    console.print(f"wrote the data of {subject_row.ref} to {out} ({doc['format']})")
