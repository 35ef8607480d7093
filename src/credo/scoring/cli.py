"""`credo model` (train, validate, publish, retire, list, show) and `credo score`."""

from __future__ import annotations

import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Column, Table
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupShuffleSplit

from credo.cli.common import actor, cli_session, console, err_console
from credo.config import get_settings
from credo.db import utcnow
from credo.errors import Conflict, Invalid
from credo.feature.catalog import BUREAU_CATALOG
from credo.scoring import registry, service
from credo.scoring.challenger import Challenger
from credo.scoring.models import ModelVersion
from credo.scoring.scorecard import Scorecard

app = typer.Typer(help="Scoring models: train, validate, publish, inspect.", no_args_is_help=True)

KINDS = ("scorecard", "challenger")


def _json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _date(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{what} must be YYYY-MM-DD; got {value!r}") from None


def split(ts: service.TrainingSet, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train / test rows, split by subject: a subject's rows from several observation dates
    all fall on the same side, so the test set holds people the model has never seen."""
    if not 0.05 <= test_size <= 0.5:
        raise Invalid(f"test size must be between 0.05 and 0.5; got {test_size}")
    gss = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    train, test = next(gss.split(ts.X, ts.y, groups=ts.subject_ids))
    for name, idx in (("train", train), ("test", test)):
        bads = int(ts.y[idx].sum())
        if bads == 0 or bads == len(idx):
            raise Invalid(f"the {name} split has a single class ({len(idx)} rows, {bads} bads)")
    return train, test


def build_model(kind: str) -> Scorecard | Challenger:
    if kind == "scorecard":
        return Scorecard(reason_catalog=BUREAU_CATALOG)
    return Challenger(reason_catalog=BUREAU_CATALOG)


def train_model(
    session,
    *,
    kind: str,
    segment: str,
    name: str | None,
    window: int,
    observation_dates: list[date] | None,
    test_size: float,
    seed: int,
    author: str,
) -> tuple[ModelVersion, dict]:
    """Build the samples, fit on the training split, register a draft. Returns its facts."""
    if kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    known_at = utcnow()
    started = time.perf_counter()
    ts = service.training_set(session, segment=segment, observation_dates=observation_dates,
                              window_months=window, known_at=known_at)  # fmt: skip
    train, test = split(ts, test_size, seed)
    model = build_model(kind)
    # the scorecard's granularity search keeps a subject's rows (several dates) in one fold
    by_subject = {"groups": ts.subject_ids[train]} if kind == "scorecard" else {}
    try:
        model.fit(ts.X.iloc[train], ts.y[train], **by_subject)
    except ValueError as exc:
        raise Invalid(f"training failed: {exc}") from None
    auc = float(roc_auc_score(ts.y[test], model.predict_proba(ts.X.iloc[test])[:, 1]))
    training = {
        **ts.describe(), "known_at": known_at.isoformat(), "test_size": test_size,
        "split_seed": seed, "split": "by subject (GroupShuffleSplit)",
        "train_rows": len(train), "test_rows": len(test), "holdout_auc": round(auc, 6),
        "fit_seconds": round(time.perf_counter() - started, 3),
    }  # fmt: skip
    version = registry.register(
        session, model, name=name or f"{segment}-{kind}", segment=segment, training=training,
        training_fingerprint=ts.fingerprint, author=author,
    )  # fmt: skip
    return version, training


def rebuild(session, version: ModelVersion):
    """The exact training rows of a version (as known when it was trained), checked."""
    t = orjson.loads(version.training)
    ts = service.training_set(
        session, segment=version.segment.value,
        observation_dates=[date.fromisoformat(d) for d in t["observation_dates"]],
        window_months=int(t["window_months"]), known_at=datetime.fromisoformat(t["known_at"]),
        end=date.fromisoformat(t["data_end"]),
    )  # fmt: skip
    if ts.fingerprint != version.training_fingerprint:
        raise Conflict(
            f"{version.label}: the training data rebuilt as known at {t['known_at']} no longer "
            "matches its fingerprint (records were deleted or altered in place); it cannot be "
            "validated on the data it was fitted on"
        )
    train, test = split(ts, float(t["test_size"]), int(t["split_seed"]))
    return ts, train, test


def validate_model(
    session,
    version: ModelVersion,
    *,
    out_dir: Path,
    min_auc: float,
    n_boot: int,
    cv_folds: int,
    author: str,
) -> tuple[dict, Path, Path, bool]:
    """Write the validation report; mark the version validated when it passes `min_auc`."""
    from credo.scoring.validation import validate

    if version.status.value != "draft":
        raise Conflict(f"{version.label} is {version.status.value}; only a draft is validated")
    ts, train, test = rebuild(session, version)
    model = registry.load(version)
    cols = list(model.feature_names_in_)
    meta = {
        "model": version.label, "kind": version.kind.value, "segment": version.segment.value,
        "author": version.author, "created_at": version.created_at.isoformat(),
        "spec_sha256": version.spec_sha256, "training_fingerprint": version.training_fingerprint,
        "validated_by": author,
    }  # fmt: skip
    report = validate(
        model, ts.X.iloc[train][cols], ts.y[train], ts.X.iloc[test][cols], ts.y[test],
        groups=ts.groups.iloc[test].reset_index(drop=True), n_boot=n_boot, cv_folds=cv_folds,
        meta=meta,
    )  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{version.name}-v{version.version}"
    json_path = report.to_json(out_dir / f"{stem}.json")
    html_path = report.to_html(out_dir / f"{stem}.html")
    summary = dict(report.summary)
    auc = _value(summary["auc"])
    passed = auc is not None and auc >= min_auc
    if passed:
        metrics = {**summary, "min_auc": min_auc, "notes": report.notes,
                   "report_sha256": registry.sha256(json_path.read_text("utf-8"))}  # fmt: skip
        registry.mark_validated(session, version, metrics=metrics, actor=author)
    return summary, json_path, html_path, passed


# -- commands ------------------------------------------------------------------------------
@app.command()
def train(
    kind: str = typer.Option("scorecard", help="scorecard or challenger"),
    segment: str = typer.Option("person", help="person or enterprise"),
    name: str | None = typer.Option(None, help="model name (default SEGMENT-KIND)"),
    window: int = typer.Option(12, min=3, max=36, help="performance window in months"),
    observation_date: list[str] | None = typer.Option(
        None, "--observation-date", help="YYYY-MM-DD, repeatable (default: 4 quarter ends)"
    ),
    test_size: float = typer.Option(0.3, help="share of subjects held out for validation"),
    seed: int = typer.Option(42, help="seed of the train/test split"),
    json_out: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Train a model on the bureau's records and register it as a draft."""
    with cli_session() as session:
        dates = [_date(d, "--observation-date") for d in observation_date or []] or None
        with console.status(f"training a {kind} on the {segment} segment"):
            version, training = train_model(
                session, kind=kind, segment=segment, name=name, window=window,
                observation_dates=dates, test_size=test_size, seed=seed, author=actor(),
            )  # fmt: skip
        if json_out:
            _json(registry.summary(version))
            return
        console.print(
            f"registered [bold]{version.label}[/bold] ({version.kind.value}, draft): "
            f"{training['train_rows']:,} training rows, {training['test_rows']:,} held out, "
            f"bad rate {training['bad_rate']:.1%}, hold-out AUC {training['holdout_auc']:.3f}"
        )
        if training["dropped_features"]:
            dropped = ", ".join(f"{k} ({v})" for k, v in training["dropped_features"].items())
            console.print(f"not offered to the model: {dropped}")
        console.print(f"next: credo model validate {version.label}")


@app.command("validate")
def validate_cmd(
    ref: str = typer.Argument(..., help="NAME@VERSION, NAME (latest) or id"),
    out: Path | None = typer.Option(None, help="report directory (default DATA_DIR/reports)"),
    min_auc: float = typer.Option(0.6, help="the hold-out AUC a version must reach"),
    n_boot: int = typer.Option(1000, min=0, help="bootstrap resamples for the intervals"),
    cv_folds: int = typer.Option(5, min=0, help="cross-validation folds (0: skip)"),
    json_out: bool = typer.Option(False, "--json", help="print the summary as JSON"),
) -> None:
    """Validate a draft on its hold-out data; write the HTML and JSON report; freeze it."""
    out_dir = out or get_settings().data_dir / "reports"
    with cli_session() as session:
        version = registry.get(session, ref)
        with console.status(f"validating {version.label}"):
            summary, json_path, html_path, passed = validate_model(
                session, version, out_dir=out_dir, min_auc=min_auc, n_boot=n_boot,
                cv_folds=cv_folds, author=actor(),
            )  # fmt: skip
        if json_out:
            _json({"model": version.label, "passed": passed, "summary": summary,
                   "report_json": str(json_path), "report_html": str(html_path)})  # fmt: skip
        else:
            _print_summary(version, summary)
            console.print(f"report: {html_path} (and {json_path.name})")
            if passed:
                console.print(
                    f"[green]validated[/green]: next: credo model publish {version.label}"
                )
    if not passed:
        err_console.print(
            f"[red]not validated[/red]: hold-out AUC {_value(summary['auc'])} is below {min_auc}; "
            f"{version.label} stays a draft"
        )
        raise typer.Exit(1)


def _value(v: Any) -> float | None:
    """A measure's point value: reports keep some as {value, ci_low, ...} or {mean, sd}."""
    if isinstance(v, dict):
        v = v.get("value", v.get("mean"))
    return None if v is None else float(v)


def _print_summary(version: ModelVersion, s: dict) -> None:
    t = Table(title=f"validation of {version.label}")
    t.add_column("measure")
    t.add_column("value", justify="right")
    for key in ("auc", "ks", "gini", "cv_auc", "brier", "psi", "cutoff_score", "approval_rate"):
        raw = s.get(key)
        v = _value(raw)
        ci = (f" [{raw['ci_low']:.3f}, {raw['ci_high']:.3f}]"
              if isinstance(raw, dict) and raw.get("ci_low") is not None else "")  # fmt: skip
        t.add_row(key, "-" if v is None else f"{v:.4g}{ci}")
    t.add_row("psi band", str(s.get("psi_band")))
    t.add_row("four-fifths flags", ", ".join(s.get("four_fifths_flags") or []) or "none")
    console.print(t)


@app.command()
def publish(ref: str = typer.Argument(..., help="NAME@VERSION, NAME (latest) or id")) -> None:
    """Make a validated version its segment's champion (the old champion is retired)."""
    with cli_session() as session:
        version = registry.get(session, ref)
        previous = registry.publish(session, version, actor=actor())
        replaced = f", replacing {previous.label}" if previous else ""
        console.print(f"{version.label} is the {version.segment.value} champion{replaced}")


@app.command()
def retire(ref: str = typer.Argument(..., help="NAME@VERSION, NAME (latest) or id")) -> None:
    """Take a version out of service."""
    with cli_session() as session:
        version = registry.get(session, ref)
        registry.retire(session, version, actor=actor())
        console.print(f"{version.label} retired")


@app.command("list")
def list_(
    name: str | None = typer.Option(None, help="only this model name"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """List model versions."""
    with cli_session() as session:
        versions = registry.list_versions(session, name=name)
        if json_out:
            _json([registry.summary(v) for v in versions])
            return
        t = Table("kind", "segment", "status", "AUC", "author", "created")
        t.columns.insert(0, Column("model", no_wrap=True))
        for v in versions:
            metrics = orjson.loads(v.metrics) if v.metrics else {}
            auc = _value(metrics.get("auc"))
            t.add_row(v.label, v.kind.value, v.segment.value, v.status.value,
                      "-" if auc is None else f"{auc:.3f}", v.author,
                      f"{v.created_at:%Y-%m-%d %H:%M}")  # fmt: skip
        console.print(t)


@app.command()
def show(
    ref: str = typer.Argument(..., help="NAME@VERSION, NAME (latest) or id"),
    points: bool = typer.Option(False, help="print the points table (scorecards)"),
    sql: bool = typer.Option(False, help="print the score as a SQL expression (scorecards)"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Show a version: status, training data, metrics, and its points table or SQL."""
    with cli_session() as session:
        version = registry.get(session, ref)
        info = registry.summary(version)
        model = registry.load(version)
        if sql:
            if not isinstance(model, Scorecard):
                raise typer.BadParameter("only a scorecard has a SQL expression")
            sys.stdout.write(model.to_sql() + "\n")
            return
        if json_out:
            if isinstance(model, Scorecard):
                info["points_table"] = model.points_table().to_dict(orient="records")
                info["score_range"] = list(model.score_range)
            _json(info)
            return
        t = Table(title=version.label, show_header=False)
        for key in (
            "kind",
            "segment",
            "status",
            "author",
            "created_at",
            "validated_at",
            "published_at",
            "retired_at",
            "spec_sha256",
            "training_fingerprint",
        ):
            t.add_row(key, str(info[key] or "-"))  # fmt: skip
        tr = info["training"]
        t.add_row("training", f"{tr['rows']:,} rows ({tr['bad_rate']:.1%} bad), dates "
                              f"{', '.join(tr['observation_dates'])}, window "
                              f"{tr['window_months']} months")  # fmt: skip
        t.add_row("features", ", ".join(info["features"]))
        if info["metrics"]:
            m = info["metrics"]
            t.add_row("metrics", f"AUC {_value(m['auc']):.3f}, KS {_value(m['ks']):.3f}, Gini "
                                 f"{_value(m['gini']):.3f}, PSI {m['psi']:.3f}")  # fmt: skip
        console.print(t)
        if points and isinstance(model, Scorecard):
            pt = Table("feature", "bin", "count", "bad rate", "WoE", "points")
            for r in model.points_table().itertuples():
                pt.add_row(r.feature, r.bin, f"{r.count:,}", f"{r.event_rate:.1%}",
                           f"{r.woe:.3f}", f"{r.points:g}")  # fmt: skip
            console.print(pt)


def score(
    subject: str | None = typer.Argument(None, help="subject reference (see credo review)"),
    all_: bool = typer.Option(False, "--all", help="re-score every subject of the segment"),
    segment: str = typer.Option("person", help="person or enterprise"),
    as_of: str | None = typer.Option(None, help="YYYY-MM-DD (default today)"),
    json_out: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Score one subject (or --all) with the segment's champion and store the result."""
    if (subject is None) == (not all_):
        err_console.print("[red]error:[/red] give a SUBJECT reference or --all (not both)")
        raise typer.Exit(2)
    with cli_session() as session:
        day = _date(as_of, "--as-of") if as_of else None
        if all_:
            _score_all(session, segment, day, json_out)
            return
        subj = service.subject_by_ref(session, subject)
        run = service.score_subjects(session, [subj.id], actor=actor(), as_of=day,
                                     segment=subj.subject_type.value)  # fmt: skip
        if run.not_scorable:
            msg = f"{subject} has no credit account on file by {run.as_of}: no score"
            if json_out:
                _json({"subject": subject, "score": None, "reason": msg})
            else:
                console.print(msg)
            return
        version = registry.get(session, run.model)
        result = service.score_to_dict(run.scores[0], version, subj.ref)
        if json_out:
            _json(result)
            return
        console.print(
            f"[bold]{subj.ref}[/bold]: score [bold]{result['score']:g}[/bold], grade "
            f"{result['grade']}, PD {result['pd']:.2%} ({result['model']}, as of {result['as_of']})"
        )
        for r in result["reasons"]:
            console.print(f"  {r['code']:<8} {r['text_zh']} / {r['text_en']} (-{r['cost']:g})")


def _score_all(session, segment: str, day: date | None, json_out: bool) -> None:
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    started = time.perf_counter()
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("scoring", total=None)
        run = service.score_subjects(
            session, None, actor=actor(), trigger="batch", as_of=day, segment=segment,
            keep=False, progress=lambda d, t: progress.update(task, completed=d, total=t),
        )  # fmt: skip
    dist = service.grade_distribution(session, run)
    seconds = time.perf_counter() - started
    if json_out:
        _json({"model": run.model, "as_of": run.as_of.isoformat(), "scored": run.scored,
               "not_scorable": len(run.not_scorable), "grades": dist,
               "seconds": round(seconds, 3)})  # fmt: skip
        return
    console.print(f"scored {run.scored:,} subjects with {run.model} as of {run.as_of} in "
                  f"{seconds:.1f}s; {len(run.not_scorable):,} without a credit file")  # fmt: skip
    t = Table("grade", "subjects", "share")
    for g, n in dist.items():
        t.add_row(g, f"{n:,}", f"{n / max(run.scored, 1):.1%}")
    console.print(t)
