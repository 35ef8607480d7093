"""``credo retention``: erase negative data whose retention has passed."""

from __future__ import annotations

from datetime import date

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(help="Retention of negative data.", no_args_is_help=True)


def _today(value: str | None) -> date:
    real = date.today()
    if value is None:
        return real
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"must be YYYY-MM-DD; got {value!r}", param_hint="--today"
        ) from None
    if day > real:
        # erasing as of a future day would remove data the law still lets the bureau keep
        raise typer.BadParameter(
            f"must not be after today ({real}); got {value}", param_hint="--today"
        )
    return day


@app.command("run")
def run(
    dry_run: bool = typer.Option(False, "--dry-run", help="count what has expired, erase nothing"),
    today: str | None = typer.Option(
        None, "--today", help="YYYY-MM-DD: the day expiry is judged at (default: today; not later)"
    ),
    actor_name: str | None = typer.Option(
        None, "--actor", help="who runs the job, for the ledger (default: CREDO_ACTOR or cli:user)"
    ),
) -> None:
    """Erase negative data whose retention has passed (one ledger entry per run)."""
    # imported here: credo.cli imports this module to register the command group
    from credo.cli.common import actor, cli_session, console, err_console
    from credo.config import get_settings
    from credo.retention import service

    day = _today(today)
    settings = get_settings()
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with (
        cli_session() as session,
        Progress(*columns, console=err_console, transient=True) as progress,
    ):
        task = progress.add_task("accounts", total=None)
        report = service.run(
            session, settings, today=day, dry_run=dry_run, actor=actor_name or actor(),
            progress=lambda d, t: progress.update(task, completed=d, total=t),
        )  # fmt: skip
    verb = "would erase" if dry_run else "erased"
    profile = settings.jurisdiction
    console.print(
        f"profile [bold]{report.profile}[/bold] (negative data {profile.negative_retention_years} "
        f"years, bankruptcy {profile.bankruptcy_retention_years}), as of {report.today}: "
        f"{verb} {report.total:,} expired records"
    )
    if report.total:
        kinds = Table("expired", "records")
        for kind, n in sorted(report.by_kind.items()):
            kinds.add_row(kind, f"{n:,}")
        console.print(kinds)
        tables = Table("table", "rows (every version)")
        for table, n in report.counts.items():
            tables.add_row(table, f"{n:,}")
        console.print(tables)
    if report.subjects:
        done = (
            f"re-scored {report.rescored:,} of them with the champion"
            if not dry_run
            else "they would be re-scored with the champion"
        )
        console.print(f"{len(report.subjects):,} subjects' files affected; {done}")
    if dry_run:
        console.print("dry run: nothing was changed")
