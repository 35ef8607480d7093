"""``credo synth``: write a synthetic bureau (registered in :mod:`credo.cli`)."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from credo.synth.generator import generate

__all__ = ["app", "synth"]

app = typer.Typer(help="Synthetic bureau data.")


@app.command()
def synth(
    subjects: Annotated[int, typer.Option(help="Number of synthetic subjects.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same bytes.")] = 7,
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("out/synth"),
    as_of: Annotated[str, typer.Option(help="Reporting date, YYYY-MM-DD.")] = (
        date.today().isoformat()
    ),
    defect_rate: Annotated[float, typer.Option(help="Share of defective rows.")] = 0.02,
) -> None:
    """Generate furnishing files with a known latent risk, defects and a corrections batch."""
    try:
        as_of_date = date.fromisoformat(as_of)
    except ValueError:
        raise typer.BadParameter(f"as_of must be YYYY-MM-DD; got {as_of!r}") from None
    console = Console()
    started = time.perf_counter()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("subjects", total=subjects)
        try:
            manifest = generate(
                out,
                subjects=subjects,
                seed=seed,
                as_of=as_of_date,
                defect_rate=defect_rate,
                progress=lambda n: bar.advance(task, n),
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    elapsed = time.perf_counter() - started

    record_types = sorted({t for f in manifest.files for t in f.records_by_type})
    table = Table(title=f"Synthetic bureau in {out} (seed {seed}, as of {manifest.as_of})")
    table.add_column("file")
    table.add_column("lines", justify="right")
    for record_type in record_types:
        table.add_column(record_type, justify="right")
    table.add_column("defects", justify="right")
    for f in manifest.files:
        counts = [f"{f.records_by_type.get(t, 0):,}" for t in record_types]
        table.add_row(f.name, f"{f.lines:,}", *counts, f"{f.defects:,}")
    console.print(table)
    console.print(
        f"{subjects:,} subjects in {elapsed:.1f} s; corrections batch expects "
        f"{manifest.expected['duplicates']} duplicates and "
        f"{manifest.expected['corrections']} corrections."
    )
