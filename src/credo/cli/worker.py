"""``credo worker``: run the scheduled jobs (see `credo.worker`)."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer
from rich.table import Table

from credo.cli.common import console, err_console
from credo.config import get_settings
from credo.db import get_engine, get_sessionmaker
from credo.migrate import ensure_schema
from credo.security import get_keyring
from credo.worker import SCHEDULE, JobResult, Worker


def _jobs(value: str | None) -> tuple[str, ...]:
    if value is None:
        return tuple(SCHEDULE)
    jobs = tuple(dict.fromkeys(j.strip() for j in value.split(",") if j.strip()))
    unknown = [j for j in jobs if j not in SCHEDULE]
    if unknown or not jobs:
        raise typer.BadParameter(
            f"unknown job(s) {', '.join(unknown) or '(none given)'}; "
            f"the jobs are {', '.join(SCHEDULE)}",
            param_hint="--only",
        )
    return jobs


def worker(
    once: Annotated[
        bool, typer.Option("--once", help="run every job once now, print what each did, exit")
    ] = False,
    only: Annotated[
        str | None,
        typer.Option(
            "--only", help=f"comma-separated jobs to run (default all: {', '.join(SCHEDULE)})"
        ),
    ] = None,
    poll: Annotated[
        float, typer.Option("--poll", min=0.1, help="seconds between two looks at the schedule")
    ] = 1.0,
) -> None:
    """Run the bureau's scheduled jobs: seal the ledger, deliver notices, escalate overdue
    disputes, erase expired data (daily). Stops on Ctrl-C or SIGTERM."""
    jobs = _jobs(only)
    engine = get_engine()
    ensure_schema(engine)
    w = Worker(get_sessionmaker(engine), get_settings(), get_keyring(), jobs=jobs)
    if once:
        results = w.tick(force=True)
        t = Table("job", "result", title="credo worker --once")
        for r in results:
            t.add_row(r.job, r.summary if r.ok else f"[red]failed:[/red] {r.summary}")
        console.print(t)
        if not all(r.ok for r in results):
            raise typer.Exit(1)
        return

    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def show(r: JobResult) -> None:
        if not r.ok:
            err_console.print(f"{r.at:%Y-%m-%d %H:%M:%S} [red]{r.job} failed:[/red] {r.summary}")
        elif r.changed:
            console.print(f"{r.at:%Y-%m-%d %H:%M:%S} {r.job}: {r.summary}")

    console.print(f"credo worker: {', '.join(jobs)} (Ctrl-C to stop)")
    try:
        w.run(stop, poll=poll, report=show)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    console.print("credo worker stopped")
