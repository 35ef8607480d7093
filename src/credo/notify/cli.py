"""``credo notify``: deliver and inspect the notification outbox."""

from __future__ import annotations

import logging
import sys
import time
from typing import Annotated

import orjson
import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from credo.cli.common import actor, cli_session, console, err_console
from credo.config import get_settings
from credo.db import get_engine, get_sessionmaker
from credo.errors import CredoError
from credo.migrate import ensure_schema
from credo.notify import service
from credo.notify.channels import GATEWAY, channel_for, signing_secret
from credo.notify.deliver import DeliveryStats, deliver_due
from credo.security import get_keyring
from credo.security.service import bind_index_key

app = typer.Typer(help="Notification outbox: deliver, list, retry.", no_args_is_help=True)


def _summary(stats: DeliveryStats, channel: str) -> Table:
    t = Table("delivered", "retrying later", "failed for good", "via", title=f"channel: {channel}")
    via = ", ".join(f"{name} {n}" for name, n in sorted(stats.by_channel.items())) or "-"
    t.add_row(str(stats.delivered), str(stats.retrying), str(stats.failed), via)
    return t


@app.command()
def deliver(
    loop: Annotated[
        bool, typer.Option("--loop", help="keep delivering until interrupted (Ctrl-C)")
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, help="seconds between runs with --loop")
    ] = 5.0,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="most notices sent in one run")
    ] = 100,
) -> None:
    """Send the notices that are due through the configured channel (CREDO_NOTIFY_CHANNEL)."""
    settings = get_settings()
    engine = get_engine()
    ensure_schema(engine)
    sessions = get_sessionmaker(engine)
    keyring = get_keyring()
    channel = channel_for(settings)
    notify_log = logging.getLogger("credo.notify")
    if notify_log.getEffectiveLevel() > logging.INFO:
        # the log channel's lines (the channel itself, or the webhook channel's fallback for a
        # recipient with no URL) are the delivery: never filtered out by a quiet default
        notify_log.setLevel(logging.INFO)
    totals = DeliveryStats()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("delivering", total=None)

            def show(stats: DeliveryStats) -> None:
                done = totals.attempted + stats.attempted
                progress.update(task, description=f"delivering: {done} sent or tried")

            while True:
                totals.add(
                    deliver_due(sessions, settings, keyring, channel=channel, limit=limit,
                                actor=actor(), progress=show)
                )  # fmt: skip
                if not loop:
                    break
                progress.update(task, description=f"waiting {interval:g} s ({totals.attempted})")
                time.sleep(interval)
    except KeyboardInterrupt:
        err_console.print("stopped")
    except CredoError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from None
    console.print(_summary(totals, channel.name))


def _item(n, recipient: str) -> dict:
    return {
        "ref": n.ref,
        "recipient": recipient,
        "kind": n.kind,
        "created_at": n.created_at.isoformat(),
        "status": n.status.value,
        "attempts": n.attempts,
        "next_attempt_at": n.next_attempt_at.isoformat() if n.status.value == "pending" else None,
        "delivered_at": n.delivered_at.isoformat() if n.delivered_at else None,
        "channel": n.channel,
        "last_error": n.last_error,
    }


@app.command("list")
def list_(
    status: Annotated[
        str | None, typer.Option("--status", help="pending, delivered or failed")
    ] = None,
    subject: Annotated[
        str | None, typer.Option("--subject", help="only notices to this subject (its ref)")
    ] = None,
    institution: Annotated[
        str | None, typer.Option("--institution", help="only notices to this institution (code)")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="most rows shown")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """The newest notices: recipient, kind, status, attempts, next attempt or delivery."""
    with cli_session() as session:
        rows = service.list_(
            session, status=status, subject_ref=subject, institution_code=institution,
            limit=limit,
        )  # fmt: skip
        items = [_item(n, recipient) for n, recipient in rows]
    if as_json:
        sys.stdout.write(orjson.dumps(items, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    if not items:
        console.print("no notices")
        return
    t = Table()
    # refs and recipients stay on one line so that they can be copied
    for name in ("ref", "recipient", "kind", "status", "when"):
        t.add_column(name, no_wrap=name in {"ref", "recipient"})
    t.add_column("last error")
    for i in items:
        # the time that matters: when it was delivered, or when it is tried next
        when = i["delivered_at"] or i["next_attempt_at"] or ""
        tries = f"{i['attempts']} {'try' if i['attempts'] == 1 else 'tries'}"
        via = f" via {i['channel']}" if i["status"] == "delivered" else ""
        t.add_row(
            i["ref"], i["recipient"], i["kind"], f"{i['status']}{via}, {tries}",
            when[:19].replace("T", " "), i["last_error"] or "",
        )  # fmt: skip
    console.print(t)


@app.command()
def retry(ref: Annotated[str, typer.Argument(help="the notice's ref, e.g. N7K2M9Q4XH3TD")]) -> None:
    """Put a failed notice back in the queue, due now, with a fresh count of attempts."""
    with cli_session() as session:
        notice = service.retry(session, ref=ref, actor=actor())
        console.print(f"notice [bold]{notice.ref}[/bold] is pending again")


@app.command("gateway-secret")
def gateway_secret() -> None:
    """Print the secret that signs webhook calls to the subjects' messaging gateway."""
    keyring = get_keyring()
    with cli_session() as session:
        bind_index_key(session, keyring)
        secret = signing_secret(keyring, GATEWAY)
    err_console.print(
        "[yellow]warning:[/yellow] configure this secret in the messaging gateway to verify "
        "X-Credo-Signature; it changes when `credo keys rotate` re-indexes"
    )
    typer.echo(secret)
