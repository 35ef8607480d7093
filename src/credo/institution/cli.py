"""`credo institution`: register and list member institutions."""

from __future__ import annotations

import typer
from rich.table import Table

from credo.cli.common import actor, cli_session, console
from credo.institution import service
from credo.institution.models import InstitutionKind

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
