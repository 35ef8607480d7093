"""`credo db`: schema migrations."""

from __future__ import annotations

import typer

from credo import migrate
from credo.cli.common import console
from credo.db import get_engine

app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("head")) -> None:
    """Upgrade the schema to REVISION (default: head)."""
    migrate.upgrade(get_engine(), revision)
    console.print(f"schema at [bold]{migrate.current_revision(get_engine())}[/bold]")


@app.command()
def downgrade(revision: str = typer.Argument(..., help="target revision, or 'base'")) -> None:
    """Downgrade the schema to REVISION."""
    migrate.downgrade(get_engine(), revision)
    console.print(f"schema at [bold]{migrate.current_revision(get_engine()) or 'base'}[/bold]")


@app.command()
def current() -> None:
    """Show the schema revision of the database and of this code."""
    engine = get_engine()
    console.print(
        f"database: {migrate.current_revision(engine) or 'empty'}; "
        f"code: {migrate.head_revision(engine)}; url: "
        f"{engine.url.render_as_string(hide_password=True)}"
    )
