"""``credo audit``: verify the ledger, read recent entries, write a checkpoint."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from credo.audit import service
from credo.db import get_engine, session_scope
from credo.migrate import ensure_schema
from credo.security import get_keyring

app = typer.Typer(help="Tamper-evident audit ledger.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _engine():
    engine = get_engine()
    ensure_schema(engine)
    return engine


@app.command()
def seal() -> None:
    """Seal the entries written unsealed (by the API) now: give them their chain position."""
    with session_scope(_engine()) as session:
        n = service.seal(session)
    Console().print(f"sealed {n} entries" if n else "nothing to seal")


@app.command()
def verify(as_json: JsonOption = False) -> None:
    """Seal pending entries, then check every entry's hash, the chain links and every signed
    checkpoint."""
    engine = _engine()
    with session_scope(engine) as session:
        service.seal(session)
    with session_scope(engine) as session:
        report = service.verify(session, get_keyring())
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(report)))
    else:
        # soft wrap: hashes must stay on one line so operators can copy them
        console = Console(soft_wrap=True)
        console.print(f"entries:     {report.entries}")
        console.print(f"checkpoints: {report.checkpoints}")
        console.print(f"head:        seq {report.head_seq or 0}  hash {report.head_hash or '-'}")
        if report.unsealed:
            # written after the seal above (a server is running): checked once sealed
            console.print(f"unsealed:    {report.unsealed} (not in the chain yet, not checked)")
        console.print(
            f"checkpoint:  seq {report.last_checkpoint_seq or 0}  "
            f"root {report.last_checkpoint_root or '-'}"
        )
        if report.ok:
            console.print("[green]ledger intact[/green] — record the head and root elsewhere")
        else:
            console.print(f"[red]ledger tampered: {report.problem}[/red]")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def log(
    limit: Annotated[int, typer.Option(min=1, help="How many entries.")] = 20,
    action: Annotated[str | None, typer.Option(help="Only entries with this action.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Show the most recent ledger entries."""
    with session_scope(_engine()) as session:
        rows = [
            {
                "seq": e.seq,
                "at": e.at.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "details": json.loads(e.details),
                "hash": e.hash,
            }
            for e in service.list_entries(session, limit=limit, action=action)
        ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    table = Table()
    for name in ("seq", "at (UTC)", "actor", "action", "target", "details", "hash"):
        # identifiers stay on one line; actor, target and details wrap instead
        table.add_column(name, no_wrap=name in {"seq", "at (UTC)", "action", "hash"})
    for r in rows:
        details = json.dumps(r["details"], ensure_ascii=False, separators=(",", ":"))
        table.add_row(
            str(r["seq"] or "unsealed"),
            r["at"][:19],
            r["actor"],
            r["action"],
            r["target"],
            details,
            (r["hash"] or "-")[:12],
        )
    Console().print(table)


@app.command("checkpoint")
def checkpoint_cmd() -> None:
    """Sign the entries added since the last checkpoint now."""
    with session_scope(_engine()) as session:
        cp = service.checkpoint(session, get_keyring())
        if cp is None:
            Console().print("nothing new to checkpoint")
            return
        first = cp.upto_seq - cp.entry_count + 1
        Console().print(
            f"checkpoint {cp.id}: entries {first}–{cp.upto_seq}, "
            f"root {cp.merkle_root}, key {cp.kid}"
        )
