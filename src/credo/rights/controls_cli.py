"""``credo rights``: a subject's controls, operated at the counter on their behalf."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="A subject's statement, freeze, fraud alert, opt-outs and data export.",
    no_args_is_help=True,
)
