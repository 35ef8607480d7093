"""Shared plumbing for CLI commands: engine, schema, errors rendered as one red line."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from credo.db import get_engine, session_scope
from credo.errors import CredoError
from credo.migrate import ensure_schema

console = Console()
err_console = Console(stderr=True)


def actor() -> str:
    """Who runs this command, for the audit ledger."""
    return os.environ.get("CREDO_ACTOR") or f"cli:{getpass.getuser()}"


@contextmanager
def cli_session() -> Iterator[Session]:
    """One transaction for one command, on a database upgraded to the current schema."""
    engine = get_engine()
    ensure_schema(engine)
    try:
        with session_scope(engine) as session:
            yield session
    except CredoError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from None
