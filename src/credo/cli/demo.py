"""`credo demo`: build a synthetic bureau and furnish it through the real pipeline."""

from __future__ import annotations

import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select

from credo import migrate
from credo.audit import service as audit
from credo.cli.common import actor, console, err_console
from credo.config import get_settings
from credo.db import Base, get_engine, session_scope
from credo.errors import CredoError
from credo.furnishing.checking import shutdown_worker
from credo.furnishing.service import BatchReport, furnish
from credo.institution import service as institutions
from credo.institution.models import Institution
from credo.security import get_keyring


def _reset(engine) -> None:
    if engine.dialect.name == "sqlite":
        path = Path(engine.url.database or "")
        engine.dispose()
        for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            p.unlink(missing_ok=True)
    else:
        migrate.downgrade(engine, "base")


def demo(
    subjects: int = typer.Option(2000, min=10, help="synthetic subjects to generate"),
    seed: int = typer.Option(7, help="random seed (same seed, same bureau)"),
    out: Path = typer.Option(Path("out/demo"), help="where the furnishing files are written"),
    defect_rate: float = typer.Option(0.02, min=0.0, max=0.5, help="share of defective rows"),
    reset: bool = typer.Option(False, help="empty the configured database first"),
    serve: bool = typer.Option(
        False, help="finish by serving the API on --host/--port (Ctrl-C stops it)"
    ),
    host: str = typer.Option("127.0.0.1", help="address the API listens on with --serve"),
    port: int = typer.Option(8000, min=1, max=65535, help="port the API listens on"),
) -> None:
    """Generate a synthetic bureau, register its institutions, furnish every file, summarise."""
    from credo.synth import generate  # imported here: only the demo needs the generator

    started = time.perf_counter()
    settings = get_settings()
    engine = get_engine()
    if reset:
        _reset(engine)
    migrate.ensure_schema(engine)
    as_of = date.today().replace(day=1) - timedelta(days=1)
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip

    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("generating subjects", total=subjects)
        manifest = generate(
            out, subjects=subjects, seed=seed, as_of=as_of, defect_rate=defect_rate,
            progress=lambda n: progress.update(task, completed=n),
        )  # fmt: skip
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    console.print(
        f"generated {subjects:,} subjects as of {as_of} in {out}/ "
        f"({sum(f['lines'] for f in manifest['files']):,} lines in {len(manifest['files'])} files)"
    )

    with session_scope(engine) as session:
        known = set(session.scalars(select(Institution.code)))
        for inst in manifest["institutions"]:
            if inst["code"] not in known:
                institutions.create(
                    session, code=inst["code"], name=inst["name"], kind=inst["kind"], actor=actor()
                )

    reports: list[BatchReport] = []
    keyring = get_keyring()
    files = sorted(manifest["files"], key=lambda f: f["order"])
    with Progress(*columns[:2], "{task.percentage:>3.0f}%", TimeElapsedColumn(), console=console,
                  transient=True) as progress:  # fmt: skip
        for f in files:
            task = progress.add_task(f"furnishing {f['name']}", total=None)
            try:
                with session_scope(engine) as session:
                    reports.append(
                        furnish(
                            session, path=out / f["name"], institution_code=f["institution"],
                            keyring=keyring, profile=settings.jurisdiction, actor=actor(),
                            as_of=as_of, chunk_rows=settings.furnish_chunk_rows,
                            worker_min_bytes=settings.furnish_worker_threshold,
                            progress=lambda d, t, k=task: progress.update(k, completed=d, total=t),
                        )
                    )  # fmt: skip
            except CredoError as exc:
                err_console.print(f"[red]error:[/red] {f['name']}: {exc.message}")
                raise typer.Exit(2) from None
            progress.remove_task(task)
    shutdown_worker()  # the process goes on to train and serve: no file left to check

    _summary(engine, reports, out)
    published = _models(engine, out)
    if published:
        from credo.cli.demo_api import api_walkthrough

        api_walkthrough(engine, out, base_url=f"http://{host}:{port}")
    console.print(
        f"done in {time.perf_counter() - started:.1f}s. Explore: credo batch list · credo review "
        "list · credo model list · credo score SUBJECT_REF · credo audit verify"
    )
    if serve:
        from credo.api.cli import serve as serve_api

        serve_api(host=host, port=port, workers=1, log_level="warning")


def _models(engine, out: Path) -> bool:
    """Train a scorecard and a challenger, validate both, publish the scorecard, score all.
    True when a champion was published."""
    from credo.scoring import registry, service
    from credo.scoring.cli import train_model, validate_model

    reports_dir = out / "reports"
    results = []
    for kind in ("scorecard", "challenger"):
        with console.status(f"training and validating the {kind}"), session_scope(engine) as s:
            version, training = train_model(
                s, kind=kind, segment="person", name=None, window=12, observation_dates=None,
                test_size=0.3, seed=42, author=actor(),
            )  # fmt: skip
            summary, _, html, passed = validate_model(
                s, version, out_dir=reports_dir, min_auc=0.6, n_boot=1000, cv_folds=5,
                author=actor(),
            )  # fmt: skip
            results.append((version.label, kind, training, summary, html, passed))
    tr = results[0][2]
    t = Table(title=f"models (person segment): {tr['rows']:,} samples, {tr['bad_rate']:.1%} bad, "
                    f"{tr['test_rows']:,} held out by subject")  # fmt: skip
    t.add_column("model", no_wrap=True)
    for col in ("AUC", "95% CI", "KS", "CV AUC", "PSI"):
        t.add_column(col, justify="right", no_wrap=True)
    for label, _, _, sm, _, _ in results:
        auc, cv = sm["auc"], sm["cv_auc"] or {}
        t.add_row(label, f"{auc['value']:.3f}", f"{auc['ci_low']:.3f}-{auc['ci_high']:.3f}",
                  f"{sm['ks']['value']:.3f}", f"{cv.get('mean', float('nan')):.3f}",
                  f"{sm['psi']:.3f}")  # fmt: skip
    console.print(t)
    for label, _, _, sm, html, _ in results:
        flags = ", ".join(sm["four_fifths_flags"]) or "none"
        console.print(f"{label}: four-fifths flags: {flags}; report {html}")

    label, _, _, _, _, passed = results[0]
    if not passed:
        err_console.print(f"[yellow]{label} did not pass validation; nothing published[/yellow]")
        return False
    with session_scope(engine) as s:
        registry.publish(s, registry.get(s, label), actor=actor())
    with (
        Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                 TimeElapsedColumn(), console=console, transient=True) as progress,
        session_scope(engine) as s,
    ):  # fmt: skip
        task = progress.add_task(f"scoring everyone with {label}", total=None)
        run = service.score_subjects(
            s, actor=actor(), trigger="batch", keep=False,
            progress=lambda d, n: progress.update(task, completed=d, total=n),
        )  # fmt: skip
        dist = service.grade_distribution(s, run)
        example = _example(s, run)
    console.print(
        f"{label} published as the person champion; scored {run.scored:,} subjects as of "
        f"{run.as_of}: " + ", ".join(f"{g} {n:,}" for g, n in dist.items())
    )
    if example:
        console.print(f"for example {example['subject']}: score {example['score']:g}, grade "
                      f"{example['grade']}, PD {example['pd']:.1%}")  # fmt: skip
        for r in example["reasons"]:
            console.print(f"  {r['code']:<7} {r['text_zh']} / {r['text_en']}")
    return True


def _example(s, run) -> dict | None:
    """A subject of the run with a middling grade and reasons to show."""
    from credo.scoring import registry, service
    from credo.scoring.models import SubjectScore
    from credo.subject.models import Subject

    row = s.execute(
        select(SubjectScore, Subject.ref).join(Subject, Subject.id == SubjectScore.subject_id)
        .where(SubjectScore.model_version_id == run.version_id,
               SubjectScore.scored_at == run.scored_at, SubjectScore.grade == "E")
        .order_by(SubjectScore.subject_id).limit(1)
    ).first()  # fmt: skip
    if row is None:
        return None
    version = registry.get(s, str(run.version_id))
    return service.score_to_dict(row[0], version, row[1])


def _summary(engine, reports: list[BatchReport], out: Path) -> None:
    t = Table(title="furnishing batches")
    for col in ("file", "lines", "accepted", "corrections", "duplicates", "rejected", "held", "s"):
        t.add_column(col, justify="left" if col == "file" else "right")
    for r in reports:
        t.add_row(r.file, *(f"{n:,}" for n in (r.lines, r.accepted, r.corrections, r.duplicates,
                  r.rejected, r.flagged)), f"{r.seconds:.1f}")  # fmt: skip
    console.print(t)

    rows = Table(title="rows per table")
    rows.add_column("table")
    rows.add_column("current", justify="right")
    rows.add_column("history (superseded)", justify="right")
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            total = conn.execute(select(func.count()).select_from(table)).scalar_one()
            old = (
                conn.execute(
                    select(func.count())
                    .select_from(table)
                    .where(table.c.superseded_at.is_not(None))
                ).scalar_one()
                if "superseded_at" in table.c
                else 0
            )
            rows.add_row(table.name, f"{total - old:,}", f"{old:,}" if old else "")
    console.print(rows)

    reasons: Counter[str] = Counter()
    for r in reports:
        reasons.update(r.rejections_by_reason)
    if reasons:
        rt = Table(title="quarantined rows by reason")
        rt.add_column("record.field: reason")
        rt.add_column("rows", justify="right")
        for reason, n in reasons.most_common(30):
            rt.add_row(reason, f"{n:,}")
        console.print(rt)

    defects_file = out / "defects.jsonl"
    if defects_file.exists():
        injected = [orjson.loads(line) for line in defects_file.read_bytes().splitlines() if line]
        caught = {(r.file, e["line"]) for r in reports for e in r.errors}
        missed = [d for d in injected if (d["file"], d["line"]) not in caught]
        console.print(
            f"injected defects: {len(injected):,}; caught: {len(injected) - len(missed):,}; "
            f"missed: {len(missed):,}"
        )
        for d in missed[:10]:
            console.print(f"  [yellow]missed[/yellow] {d}")

    with session_scope(engine) as session:
        report = audit.verify(session, get_keyring())
    status = "[green]intact[/green]" if report.ok else f"[red]{report.problem}[/red]"
    console.print(
        f"audit ledger: {report.entries:,} entries, {report.checkpoints} checkpoints, {status}"
    )
