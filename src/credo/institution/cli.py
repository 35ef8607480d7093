"""`credo institution`: register and list member institutions."""

from __future__ import annotations

import typer
from rich.table import Table

from credo.cli.common import actor, cli_session, console, err_console
from credo.institution import service
from credo.institution.models import InstitutionKind
from credo.notify.channels import signing_secret
from credo.security import get_keyring
from credo.security.service import bind_index_key

app = typer.Typer(help="Member institutions (furnishers and queriers).", no_args_is_help=True)


@app.command()
def add(
    code: str = typer.Argument(..., help="short code, e.g. BANK01"),
    name: str = typer.Option(..., "--name", help="display name"),
    kind: str = typer.Option(
        ..., "--type", help=f"one of: {', '.join(InstitutionKind)}", show_default=False
    ),
) -> None:
    """Register an institution."""
    with cli_session() as session:
        inst = service.create(session, code=code, name=name, kind=kind, actor=actor())
        console.print(f"registered [bold]{inst.code}[/bold] ({inst.kind.value})")


@app.command("list")
def list_() -> None:
    """List registered institutions."""
    with cli_session() as session:
        table = Table("code", "name", "type", "registered")
        for inst in service.list_all(session):
            table.add_row(inst.code, inst.name, inst.kind.value, f"{inst.created_at:%Y-%m-%d}")
        console.print(table)


@app.command()
def webhook(
    code: str = typer.Argument(..., help="the institution's code"),
    url: str | None = typer.Argument(None, help="where its notices are POSTed (http or https)"),
    clear: bool = typer.Option(False, "--clear", help="remove the URL: notices go to the log"),
) -> None:
    """Set the institution's webhook URL and print its signing secret, or clear the URL."""
    if (url is None) == (not clear):
        err_console.print("[red]error:[/red] give a URL or --clear (one of the two)")
        raise typer.Exit(2)
    with cli_session() as session:
        inst = service.set_webhook(session, code=code, url=url, actor=actor())
        if clear:
            console.print(f"{inst.code}: webhook cleared; its notices go to the log channel")
            return
        keyring = get_keyring()
        bind_index_key(session, keyring)
        secret = signing_secret(keyring, inst.code)
    console.print(f"{inst.code}: notices are POSTed to {inst.webhook_url}")
    err_console.print(
        "[yellow]warning:[/yellow] give this signing secret to the institution now, to verify "
        "X-Credo-Signature (HMAC-SHA256 of the body); it is printed only when a URL is set"
    )
    typer.echo(secret)
