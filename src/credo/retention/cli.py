"""``credo retention``: erase negative data whose retention has passed."""

from __future__ import annotations

import typer

app = typer.Typer(help="Retention of negative data.", no_args_is_help=True)
