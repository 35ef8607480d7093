"""``credo notify``: deliver and inspect the notification outbox."""

from __future__ import annotations

import typer

app = typer.Typer(help="Notification outbox: deliver, list.", no_args_is_help=True)
