"""``credo repair``: a subject's credit repair plan."""

from __future__ import annotations

import typer

app = typer.Typer(help="Credit repair plans.", no_args_is_help=True)
