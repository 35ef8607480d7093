"""`credo furnish` and `credo batch`: load furnishing files and inspect batches."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import orjson
import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import func, select

from credo.cli.common import actor, cli_session, console, err_console
from credo.config import get_settings
from credo.errors import NotFound
from credo.furnishing.models import FurnishingBatch, QuarantinedRow
from credo.furnishing.service import BatchReport
from credo.furnishing.service import furnish as furnish_file
from credo.institution.models import Institution
from credo.security import get_keyring

batch_app = typer.Typer(help="Furnishing batches and their quarantined rows.", no_args_is_help=True)


def _parse_as_of(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        err_console.print(f"[red]error:[/red] --as-of must be YYYY-MM-DD; got {value!r}")
        raise typer.Exit(2) from None


def furnish(
    file: Path = typer.Argument(..., help="JSON Lines or CSV furnishing file"),
    institution: str = typer.Option(..., "--institution", "-i", help="furnisher's code"),
    as_of: str | None = typer.Option(None, help="batch date YYYY-MM-DD (default: header/today)"),
    json_out: bool = typer.Option(False, "--json", help="print the batch report as JSON"),
) -> None:
    """Validate and load a furnishing file; bad rows are quarantined with line and reason."""
    settings = get_settings()
    as_of_date = _parse_as_of(as_of)
    with (
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
            disable=not sys.stderr.isatty() and json_out,
        ) as progress,
        cli_session() as session,
    ):
        task = progress.add_task(f"furnishing {file.name}", total=None)
        report = furnish_file(
            session,
            path=file,
            institution_code=institution.strip().upper(),
            keyring=get_keyring(),
            profile=settings.jurisdiction,
            actor=actor(),
            as_of=as_of_date,
            chunk_rows=settings.furnish_chunk_rows,
            worker_min_bytes=settings.furnish_worker_threshold,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    rescored = _rescore(report) if settings.rescore_on_furnish else None
    if json_out:
        sys.stdout.write(orjson.dumps({**report.to_dict(), "rescored": rescored}).decode() + "\n")
    else:
        print_report(report)
        if rescored:
            console.print(f"re-scored {rescored['scored']:,} subjects with {rescored['models']}")


def _rescore(report: BatchReport) -> dict | None:
    """Dynamic evaluation: the champion re-scores the subjects this batch brought news of."""
    from credo.scoring.service import rescore_furnished

    with cli_session() as session:
        runs = rescore_furnished(session, report.batch_id, actor=actor())
    if not runs:
        return None
    return {"scored": sum(r.scored for r in runs), "models": ", ".join(r.model for r in runs)}


def print_report(report: BatchReport, *, max_errors: int = 15) -> None:
    """Render a batch report for people."""
    t = Table(title=f"batch {report.batch_id} — {report.file} ({report.institution})")
    t.add_column("outcome")
    t.add_column("lines", justify="right")
    for label, n in (
        ("accepted (new)", report.accepted),
        ("corrections", report.corrections),
        ("duplicates (unchanged)", report.duplicates),
        ("rejected (quarantined)", report.rejected),
        ("held for identity review", report.flagged),
        ("total", report.lines),
    ):
        t.add_row(label, f"{n:,}")
    console.print(t)
    console.print(f"{report.seconds:.2f}s, {report.lines / max(report.seconds, 1e-9):,.0f} lines/s")
    if report.rejections_by_reason:
        r = Table(title="quarantined by reason")
        r.add_column("record.field: reason")
        r.add_column("n", justify="right")
        for reason, n in sorted(report.rejections_by_reason.items(), key=lambda kv: -kv[1]):
            r.add_row(reason, f"{n:,}")
        console.print(r)
    for e in report.errors[:max_errors]:
        console.print(
            f"  line {e['line']}: {e['record_type'] or '?'}.{e['field'] or '-'} — {e['reason']}"
            + (f" [dim]({e['value']})[/dim]" if e["value"] else "")
        )
    if report.errors_total > max_errors:
        console.print(
            f"  … {report.errors_total - max_errors:,} more: credo batch errors {report.batch_id}"
        )


@batch_app.command("list")
def list_batches(limit: int = typer.Option(20, min=1)) -> None:
    """Recent batches with their counts."""
    with cli_session() as session:
        rows = session.execute(
            select(FurnishingBatch, Institution.code)
            .join(Institution)
            .order_by(FurnishingBatch.id.desc())
            .limit(limit)
        ).all()
        t = Table(
            "batch", "institution", "file", "as_of", "lines", "new", "corr", "dup", "rej", "held"
        )
        for b, code in rows:
            t.add_row(
                b.ref[:12], code, b.file_name, str(b.as_of), *(f"{n:,}" for n in (
                    b.lines, b.accepted, b.corrections, b.duplicates, b.rejected, b.flagged))
            )  # fmt: skip
        console.print(t)


@batch_app.command("errors")
def batch_errors(
    batch_id: str = typer.Argument(..., help="batch id (or a unique prefix)"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Every quarantined row of a batch: line, field, masked value, reason."""
    with cli_session() as session:
        matches = session.scalars(
            select(FurnishingBatch).where(FurnishingBatch.ref.startswith(batch_id.lower()))
        ).all()
        if len(matches) != 1:
            raise NotFound(f"no single batch matches {batch_id!r} ({len(matches)} found)")
        batch = matches[0]
        rows = session.scalars(
            select(QuarantinedRow)
            .where(QuarantinedRow.batch_id == batch.id)
            .order_by(QuarantinedRow.line_no, QuarantinedRow.id)
        )
        items = [
            {"line": q.line_no, "record_type": q.record_type, "field": q.field,
             "reason": q.reason, "value": q.masked_value, "held": q.held}
            for q in rows
        ]  # fmt: skip
        total = session.scalar(
            select(func.count())
            .select_from(QuarantinedRow)
            .where(QuarantinedRow.batch_id == batch.id)
        )
    if json_out:
        sys.stdout.write(orjson.dumps({"batch_id": batch.ref, "errors": items}).decode() + "\n")
        return
    t = Table("line", "record", "field", "value", "reason", title=f"{total:,} quarantined rows")
    for e in items:
        t.add_row(
            str(e["line"]),
            e["record_type"] or "?",
            e["field"] or "-",
            e["value"] or "",
            e["reason"],
        )
    console.print(t)
