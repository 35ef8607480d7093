"""`credo keys`: key status and rotation."""

from __future__ import annotations

import typer
from rich.table import Table

from credo.cli.common import actor, cli_session, console, err_console
from credo.config import get_settings
from credo.security import get_keyring, load_keyring
from credo.security.keys import new_secret, read_key_file, write_key_file
from credo.security.service import bind_index_key, key_usage, rotate

app = typer.Typer(help="Encryption keys: status and rotation.", no_args_is_help=True)


@app.command()
def status() -> None:
    """Key generations in the ring and how many stored values each protects."""
    keyring = get_keyring()
    with cli_session() as session:
        index_kid = bind_index_key(session, keyring)
        usage = key_usage(session)
    t = Table("key id", "role", "encrypted values")
    for kid in keyring.generations:
        role = "current" if kid == keyring.current.kid else "previous"
        if kid == index_kid:
            role += ", blind index"
        t.add_row(kid, role, f"{usage.pop(kid, 0):,}")
    for kid, n in usage.items():
        t.add_row(kid, "[red]missing from the ring[/red]", f"{n:,}")
    console.print(t)


@app.command("rotate")
def rotate_cmd(
    new: bool = typer.Option(
        True,
        help="with a key file: generate a new secret first (with CREDO_SECRET_KEY, set the "
        "new secret and the old one in CREDO_PREVIOUS_SECRET_KEYS, then run with --no-new)",
    ),
) -> None:
    """Re-encrypt every value and re-index with the current key; re-sign ledger checkpoints."""
    settings = get_settings()
    if new:
        if settings.secret_key is not None:
            err_console.print(
                "[red]error:[/red] CREDO_SECRET_KEY is set: put the new secret in it, the old "
                "one in CREDO_PREVIOUS_SECRET_KEYS, and run `credo keys rotate --no-new`"
            )
            raise typer.Exit(2)
        path = settings.resolved_key_file
        get_keyring()  # creates the key file on first use
        current, previous = read_key_file(path)
        write_key_file(path, new_secret(), [current, *previous])
        get_keyring.cache_clear()
    keyring = load_keyring(settings)
    with cli_session() as session:
        counts = rotate(session, keyring, actor=actor())
    get_keyring.cache_clear()
    console.print(
        f"now on key [bold]{keyring.current.kid}[/bold]: re-encrypted {counts['values']:,} values, "
        f"re-indexed {counts['subjects']:,} subjects, re-signed {counts['checkpoints']} checkpoints"
    )
