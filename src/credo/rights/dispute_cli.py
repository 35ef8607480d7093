"""``credo dispute``: the operators' dispute queue."""

from __future__ import annotations

import typer

app = typer.Typer(help="Disputes: queue, overdue, show, answer, decide.", no_args_is_help=True)
