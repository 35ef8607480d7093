"""Ingest benchmark: furnish a synthetic bureau of ~1,000,000 monthly status records.

Measures, for SQLite and PostgreSQL:

* wall time, records/s over every line and over status lines alone, for furnishing every file
  of a synthetic bureau (validation, field encryption, identity resolution, duplicate and
  correction detection, quarantine, one audit-ledger entry and checkpoint per batch);
* the re-send of the largest file (every line a duplicate: the idempotency path);
* peak memory (RSS sampled every 50 ms) while furnishing the largest file cut to 1/4, 1/2 and
  all of its status lines, to show whether memory stays flat as the file grows.

Every measurement runs in a fresh child process against a fresh database, so peak RSS is not
polluted by earlier runs. Results are printed as a table and saved to
``benchmarks/results/ingest.json``. See ``benchmarks/README.md``.

    .venv/bin/python benchmarks/ingest.py [--subjects N] [--backends sqlite,postgresql]
                                          [--pg-url URL] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import date
from pathlib import Path

import machine

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / ".cache"
RESULTS = HERE / "results"

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
#: subjects giving ~1,000,000 monthly status records with the default story parameters
DEFAULT_SUBJECTS = 5920
DEFAULT_SEED = 20240601
DEFAULT_AS_OF = date(2026, 6, 30)
TARGET_STATUS_RECORDS = 1_000_000
GOAL_PG_RATE = 50_000  # records/s into PostgreSQL on 2 cores
SCALING_FRACTIONS = (0.25, 0.5, 1.0)
#: memory is "flat" when the peak at full size exceeds the peak at 1/4 size by at most this
FLAT_SLACK_MB = 32.0
FLAT_SLACK_RATIO = 0.25
SAMPLE_SECONDS = 0.05


# -- memory sampling ---------------------------------------------------------------------------
class RssSampler:
    """Samples the resident set size of this process and its children (the furnishing check
    worker, `credo.furnishing.checking`) in a background thread."""

    def __init__(self, interval: float = SAMPLE_SECONDS) -> None:
        import psutil

        self._proc = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.baseline = self._rss()
        self.peak = self.baseline

    def _rss(self) -> int:
        import psutil

        total = self._proc.memory_info().rss
        for child in self._proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            rss = self._rss()
            if rss > self.peak:
                self.peak = rss

    def __enter__(self) -> RssSampler:
        self.baseline = self.peak = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.baseline) / 2**20


# -- data set ----------------------------------------------------------------------------------
def _import_synth():
    try:
        from credo import synth
    except ImportError as exc:  # the generator is developed alongside this benchmark
        sys.exit(f"credo.synth is not importable yet ({exc}); nothing to benchmark")
    if not hasattr(synth, "generate"):
        sys.exit("credo.synth has no generate() yet; nothing to benchmark")
    return synth


def bureau(subjects: int, seed: int, as_of: date, defect_rate: float) -> Path:
    """The cached synthetic bureau for these parameters, generated on first use."""
    synth = _import_synth()
    generator = machine.synth_fingerprint()
    key = f"bureau-n{subjects}-s{seed}-{as_of.isoformat()}-d{defect_rate}-g{generator}"
    out = CACHE / key
    if (out / "manifest.json").is_file() and (out / "counts.json").is_file():
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=CACHE))
    print(f"generating {subjects:,} subjects into {out.relative_to(ROOT)} ...", flush=True)
    t0 = time.perf_counter()
    synth.generate(tmp, subjects=subjects, seed=seed, as_of=as_of, defect_rate=defect_rate)
    manifest = json.loads((tmp / "manifest.json").read_text())
    counts = {f: count_lines(tmp / f) for f, _ in _files(manifest)}
    (tmp / "counts.json").write_text(json.dumps(counts, indent=2))
    print(f"  generated in {time.perf_counter() - t0:.1f}s", flush=True)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out


def _files(manifest: dict) -> list[tuple[str, str]]:
    """(file name, institution code) of every furnishing file, in furnishing order."""
    files = sorted(manifest["files"], key=lambda f: f.get("order", 0))
    return [(f["name"], f["institution"]) for f in files]


def count_lines(path: Path) -> dict[str, int]:
    """Data lines per record type (header excluded)."""
    import csv

    import orjson

    counts: dict[str, int] = {}
    with path.open("rb") as fh:
        if path.suffix == ".csv":
            reader = csv.reader(line.decode("utf-8", "replace") for line in fh)
            header = next(reader)
            idx = header.index("record_type")
            for cells in reader:
                rt = cells[idx] if len(cells) > idx else "?"
                counts[rt] = counts.get(rt, 0) + 1
        else:
            next(fh, None)
            for line in fh:
                if not line.strip():
                    continue
                try:
                    rt = orjson.loads(line).get("record_type", "?")
                except (orjson.JSONDecodeError, AttributeError):
                    rt = "?"
                counts[str(rt)] = counts.get(str(rt), 0) + 1
    return counts


def truncate_by_status(src: Path, dest: Path, keep_status: int) -> dict[str, int]:
    """Copy `src` up to (and including) its `keep_status`-th status line; returns counts."""
    counts: dict[str, int] = {}
    with src.open("rb") as fh, dest.open("wb") as out:
        out.write(fh.readline())  # header (JSON header record or CSV column row)
        status = 0
        csv_mode = src.suffix == ".csv"
        for line in fh:
            rt = line.split(b",", 1)[0].decode(errors="replace") if csv_mode else _jsonl_type(line)
            if rt == "status":
                if status >= keep_status:
                    break
                status += 1
            out.write(line)
            counts[rt] = counts.get(rt, 0) + 1
    return counts


def _jsonl_type(line: bytes) -> str:
    import orjson

    try:
        return str(orjson.loads(line).get("record_type", "?"))
    except (orjson.JSONDecodeError, AttributeError):
        return "?"


# -- databases ---------------------------------------------------------------------------------
class Database:
    """A fresh, empty database for one measurement; `drop()` removes it."""

    def __init__(self, backend: str, pg_url: str, workdir: Path) -> None:
        self.backend = backend
        self._pg_url = pg_url
        if backend == "sqlite":
            self._dir = Path(tempfile.mkdtemp(prefix="credo_bench_", dir=workdir))
            self.url = f"sqlite:///{self._dir / 'bench.db'}"
        elif backend == "postgresql":
            from sqlalchemy import make_url, text

            from credo.db import make_engine

            self.name = f"credo_bench_{uuid.uuid4().hex[:10]}"
            admin = make_engine(pg_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            admin.dispose()
            self.url = make_url(pg_url).set(database=self.name).render_as_string(False)
        else:
            raise SystemExit(f"unknown backend {backend!r}; expected sqlite or postgresql")

    def drop(self) -> None:
        if self.backend == "sqlite":
            shutil.rmtree(self._dir, ignore_errors=True)
            return
        from sqlalchemy import text

        from credo.db import make_engine

        admin = make_engine(self._pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        admin.dispose()


def pg_server_version(pg_url: str) -> str | None:
    from sqlalchemy import text

    from credo.db import make_engine

    try:
        engine = make_engine(pg_url)
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar()
        engine.dispose()
        return str(version)
    except Exception as exc:  # reported, not fatal: the SQLite part can still run
        return f"unavailable: {exc.__class__.__name__}"


class ServerCpu:
    """CPU seconds spent by the PostgreSQL backends serving one database (None on SQLite).

    Sums user + system time of every ``postgres: … <database> …`` backend process on this
    machine (the benchmark's server runs here too), sampled at `start()` and in `seconds()`.
    Backends that exit between the two samples are missed, so the run keeps its connection.
    """

    def __init__(self, url: str) -> None:
        from sqlalchemy import make_url

        u = make_url(url)
        self.database = u.database if u.get_backend_name() == "postgresql" else None
        self._base: dict[int, float] = {}

    def _sample(self) -> dict[int, float]:
        import psutil

        out = {}
        needle = f" {self.database} "
        for p in psutil.process_iter(["cmdline"]):
            cmd = " ".join(p.info["cmdline"] or ())
            if cmd.startswith("postgres:") and needle in cmd + " ":
                with contextlib.suppress(psutil.Error):
                    t = p.cpu_times()
                    out[p.pid] = t.user + t.system
        return out

    def start(self) -> None:
        if self.database:
            self._base = self._sample()

    def seconds(self) -> float | None:
        if not self.database:
            return None
        now = self._sample()
        return round(sum(v - self._base.get(pid, 0.0) for pid, v in now.items()), 2)


# -- worker (child process) --------------------------------------------------------------------
def worker(spec: dict) -> dict:
    """Run one measurement described by `spec` in this process; returns its result."""
    import psutil
    from sqlalchemy.orm import Session

    import credo.models  # noqa: F401  (every table registered)
    from credo.config import get_profile
    from credo.db import make_engine
    from credo.furnishing import checking
    from credo.furnishing.service import furnish
    from credo.institution import service as institutions
    from credo.migrate import upgrade
    from credo.security.keys import KeyRing

    engine = make_engine(spec["url"])
    upgrade(engine)
    keyring = KeyRing.from_secrets(os.urandom(32))
    profile = get_profile(spec.get("profile", "cn"))
    with Session(engine) as session:
        for inst in spec["institutions"]:
            institutions.create(
                session, code=inst["code"], name=inst["name"], kind=inst["kind"], actor="bench"
            )
        session.commit()

    def run_file(path: Path, code: str) -> dict:
        t0 = time.perf_counter()
        with Session(engine) as session:
            report = furnish(
                session,
                path=path,
                institution_code=code,
                keyring=keyring,
                profile=profile,
                actor="bench",
                chunk_rows=spec.get("chunk_rows", 5000),
                worker_min_bytes=spec.get("worker_min_bytes"),
            )
            session.commit()
        return {
            "file": path.name,
            "institution": code,
            "seconds": time.perf_counter() - t0,
            "lines": report.lines,
            "accepted": report.accepted,
            "corrections": report.corrections,
            "duplicates": report.duplicates,
            "rejected": report.rejected,
            "flagged": report.flagged,
        }

    proc = psutil.Process()
    server = ServerCpu(spec["url"])
    profiler = None
    if spec.get("profile_out"):
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.005)
    cpu0 = proc.cpu_times()
    server.start()
    results = []
    with RssSampler() as mem:
        if profiler:
            profiler.start()
        t0 = time.perf_counter()
        for path, code in spec["files"]:
            results.append(run_file(Path(path), code))
        seconds = time.perf_counter() - t0
        if profiler:
            profiler.stop()
    cpu1 = proc.cpu_times()
    # the check worker starts during the run and serves every file: all its CPU is the run's
    pid = checking.worker_pid()
    worker_cpu = 0.0
    if pid is not None:
        w = psutil.Process(pid).cpu_times()
        worker_cpu = w.user + w.system
    out = {
        "seconds": seconds,
        "client_cpu_seconds": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system) + worker_cpu,
        "worker_cpu_seconds": worker_cpu,
        "server_cpu_seconds": server.seconds(),
        "rss_baseline_mb": mem.baseline / 2**20,
        "rss_peak_mb": mem.peak / 2**20,
        "rss_growth_mb": mem.growth_mb,
        "files": results,
    }
    if spec.get("resend"):
        path, code = spec["resend"]
        with RssSampler() as mem2:
            out["resend"] = run_file(Path(path), code)
        out["resend"]["rss_growth_mb"] = mem2.growth_mb
    if profiler:
        dest = Path(spec["profile_out"])
        dest.with_suffix(".txt").write_text(
            profiler.output_text(unicode=True, color=False, show_all=False)
        )
        dest.with_suffix(".html").write_text(profiler.output_html())
    engine.dispose()
    return out


def run_child(spec: dict) -> dict:
    """Run `worker(spec)` in a fresh interpreter (clean peak-RSS accounting)."""
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"benchmark worker failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- orchestration -----------------------------------------------------------------------------
def machine_info(backends: list[str], pg_url: str) -> dict:
    return machine.machine_info(
        memory_gb=round(__import__("psutil").virtual_memory().total / 2**30, 1),
        sqlite_version=sqlite3.sqlite_version,
        postgresql_server_version=pg_server_version(pg_url) if "postgresql" in backends else None,
    )


def main_run(args) -> dict:
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    as_of = date.fromisoformat(args.as_of)
    data = bureau(args.subjects, args.seed, as_of, args.defect_rate)
    manifest = json.loads((data / "manifest.json").read_text())
    counts = json.loads((data / "counts.json").read_text())
    owner = dict(_files(manifest))
    files = list(owner)
    institutions = [
        {"code": i["code"], "name": i["name"], "kind": i["kind"]} for i in manifest["institutions"]
    ]
    total_lines = sum(sum(c.values()) for c in counts.values())
    total_status = sum(c.get("status", 0) for c in counts.values())
    largest = max(files, key=lambda f: counts[f].get("status", 0))
    print(
        f"data set: {len(files)} files, {total_lines:,} lines, {total_status:,} status records; "
        f"largest file {largest} ({sum(counts[largest].values()):,} lines)",
        flush=True,
    )
    work = CACHE / "work"
    work.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    from credo.config import Settings

    worker_min_bytes = None if args.no_check_worker else Settings().furnish_worker_min_bytes
    base_spec = {
        "institutions": institutions,
        "chunk_rows": args.chunk_rows,
        "worker_min_bytes": worker_min_bytes,
    }
    all_files = [(str(data / f), owner[f]) for f in files]

    if args.profile:
        for backend in backends:
            db = Database(backend, args.pg_url, work)
            try:
                dest = RESULTS / f"profile-{backend}"
                print(f"[{backend}] profiling a full run -> {dest}.txt/.html", flush=True)
                res = run_child(
                    {**base_spec, "url": db.url, "files": all_files, "profile_out": str(dest)}
                )
                print(f"  {total_lines / res['seconds']:,.0f} lines/s under the profiler")
            finally:
                db.drop()
        return {}

    result: dict = {
        "goal": {
            "postgresql_records_per_second": GOAL_PG_RATE,
            "memory": "peak RSS flat as the file grows",
        },
        "machine": machine_info(backends, args.pg_url),
        "dataset": {
            "subjects": args.subjects,
            "seed": args.seed,
            "as_of": as_of.isoformat(),
            "defect_rate": args.defect_rate,
            "files": len(files),
            "lines": total_lines,
            "status_records": total_status,
            "lines_by_type": _sum_counts(counts.values()),
            "largest_file": largest,
            "largest_file_lines": sum(counts[largest].values()),
            "largest_file_status": counts[largest].get("status", 0),
        },
        "chunk_rows": args.chunk_rows,
        # files this large were read and validated in the check worker (None: none were)
        "check_worker_min_bytes": worker_min_bytes,
        "backends": {},
    }
    result["repeat"] = args.repeat
    for backend in backends:
        runs = []
        for i in range(args.repeat):
            print(f"[{backend}] furnishing {len(files)} files (run {i + 1}) ...", flush=True)
            db = Database(backend, args.pg_url, work)
            try:
                res = run_child(
                    {
                        **base_spec,
                        "url": db.url,
                        "files": all_files,
                        "resend": (str(data / largest), owner[largest]),
                    }
                )
            finally:
                db.drop()
            print(f"  {res['seconds']:.2f}s", flush=True)
            runs.append(res)
        # the machine is shared: the median run stands for the backend, the others give the range
        runs.sort(key=lambda r: r["seconds"])
        res = runs[len(runs) // 2]
        lines = sum(f["lines"] for f in res["files"])
        entry = {
            "seconds": round(res["seconds"], 2),
            "lines": lines,
            "status_records": total_status,
            "records_per_second": round(lines / res["seconds"]),
            "status_records_per_second": round(total_status / res["seconds"]),
            "client_cpu_seconds": round(res["client_cpu_seconds"], 1),
            "check_worker_cpu_seconds": round(res["worker_cpu_seconds"], 1),
            "server_cpu_seconds": res.get("server_cpu_seconds"),
            "rss_baseline_mb": round(res["rss_baseline_mb"], 1),
            "rss_peak_mb": round(res["rss_peak_mb"], 1),
            "rss_growth_mb": round(res["rss_growth_mb"], 1),
            "outcome": _sum_counts(
                {k: f[k] for k in ("accepted", "corrections", "duplicates", "rejected", "flagged")}
                for f in res["files"]
            ),
            "files": [{**f, "seconds": round(f["seconds"], 3)} for f in res["files"]],
            "runs": [
                {
                    "seconds": round(r["seconds"], 2),
                    "records_per_second": round(lines / r["seconds"]),
                    "status_records_per_second": round(total_status / r["seconds"]),
                    "client_cpu_seconds": round(r["client_cpu_seconds"], 1),
                    "server_cpu_seconds": r.get("server_cpu_seconds"),
                }
                for r in runs
            ],
        }
        rs = res["resend"]
        entry["resend_largest"] = {
            "file": rs["file"],
            "lines": rs["lines"],
            "duplicates": rs["duplicates"],
            "seconds": round(rs["seconds"], 2),
            "records_per_second": round(rs["lines"] / rs["seconds"]),
            "rss_growth_mb": round(rs["rss_growth_mb"], 1),
        }
        print(
            f"  {entry['seconds']}s, {entry['records_per_second']:,} lines/s, "
            f"{entry['status_records_per_second']:,} status/s, peak +{entry['rss_growth_mb']} MB",
            flush=True,
        )
        if not args.skip_scaling:
            entry["scaling"] = scaling(backend, args, data / largest, owner[largest], base_spec)
        result["backends"][backend] = entry
    verdicts(result)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print_tables(result)
    print(f"saved {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return result


def scaling(backend: str, args, largest: Path, code: str, base_spec: dict) -> list[dict]:
    """Peak RSS growth furnishing the largest file cut to fractions of its status lines."""
    total_status = count_lines(largest).get("status", 0)
    rows = []
    for frac in SCALING_FRACTIONS:
        keep = round(total_status * frac)
        cut = CACHE / "work" / f"{largest.stem}.{int(frac * 100)}pct{largest.suffix}"
        counts = truncate_by_status(largest, cut, keep)
        db = Database(backend, args.pg_url, CACHE / "work")
        try:
            res = run_child({**base_spec, "url": db.url, "files": [(str(cut), code)]})
        finally:
            db.drop()
            cut.unlink(missing_ok=True)
        lines = res["files"][0]["lines"]
        rows.append(
            {
                "fraction": frac,
                "status_records": counts.get("status", 0),
                "lines": lines,
                "seconds": round(res["seconds"], 2),
                "records_per_second": round(lines / res["seconds"]),
                "rss_growth_mb": round(res["rss_growth_mb"], 1),
            }
        )
        print(
            f"  scaling {frac:>4}: {lines:>9,} lines, peak +{res['rss_growth_mb']:.1f} MB",
            flush=True,
        )
    return rows


def _sum_counts(dicts) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def verdicts(result: dict) -> None:
    for backend, entry in result["backends"].items():
        v = {}
        if backend == "postgresql":
            v["rate_goal_met"] = entry["records_per_second"] >= GOAL_PG_RATE
            v["status_rate_goal_met"] = entry["status_records_per_second"] >= GOAL_PG_RATE
        sc = entry.get("scaling")
        if sc:
            first, last = sc[0]["rss_growth_mb"], sc[-1]["rss_growth_mb"]
            allowed = max(FLAT_SLACK_MB, FLAT_SLACK_RATIO * first)
            v["memory_flat"] = last - first <= allowed
            v["memory_growth_quarter_to_full_mb"] = round(last - first, 1)
            v["memory_flat_allowed_mb"] = round(allowed, 1)
        entry["verdict"] = v


def _range(entry: dict, key: str) -> tuple[int, ...]:
    """(lowest, highest) of `key` over an entry's runs; (value,) for a single run."""
    values = sorted({r[key] for r in entry.get("runs", ())} or {entry[key]})
    return (values[0], values[-1]) if len(values) > 1 else (values[0],)


def print_tables(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 140)
    ds = result["dataset"]
    m = result["machine"]
    console.print(
        f"[bold]Ingest benchmark[/] — {ds['lines']:,} lines ({ds['status_records']:,} status "
        f"records) in {ds['files']} files from {ds['subjects']:,} synthetic subjects; "
        f"{m['cpu_model']}, {m['usable_cores']} cores, Python {m['python']}, "
        f"SQLite {m['sqlite_version']}, PostgreSQL {m['postgresql_server_version']}"
    )
    t = Table(
        title="Full bureau (median of "
        f"{result.get('repeat', 1)} runs), then re-send of the largest file (all duplicates)"
    )
    for col in (
        "backend",
        "wall s",
        "lines/s",
        "lines/s range",
        "status/s",
        "client CPU s",
        "server CPU s",
        "peak RSS +MB",
        "re-send lines/s",
        f"goal ≥{GOAL_PG_RATE:,}/s",
    ):
        t.add_column(col, justify="right" if col != "backend" else "left")
    for backend, e in result["backends"].items():
        v = e.get("verdict", {})
        if "rate_goal_met" in v:
            goal = "[green]met[/]" if v["rate_goal_met"] else "[red]MISSED[/]"
        else:
            goal = "n/a"
        t.add_row(
            backend,
            f"{e['seconds']:.1f}",
            f"{e['records_per_second']:,}",
            "–".join(f"{r:,}" for r in _range(e, "records_per_second")),
            f"{e['status_records_per_second']:,}",
            f"{e['client_cpu_seconds']:.1f}",
            "—" if e.get("server_cpu_seconds") is None else f"{e['server_cpu_seconds']:.1f}",
            f"{e['rss_growth_mb']:.0f}",
            f"{e['resend_largest']['records_per_second']:,}",
            goal,
        )
    console.print(t)
    if any(e.get("scaling") for e in result["backends"].values()):
        s = Table(title=f"Peak memory vs file size ({ds['largest_file']} cut by status lines)")
        for col in ("backend", "fraction", "lines", "status", "lines/s", "peak RSS +MB", "flat?"):
            s.add_column(col, justify="right" if col != "backend" else "left")
        for backend, e in result["backends"].items():
            v = e.get("verdict", {})
            for i, row in enumerate(e.get("scaling", [])):
                flat = ""
                if i == len(e["scaling"]) - 1 and "memory_flat" in v:
                    flat = (
                        "[green]yes[/]"
                        if v["memory_flat"]
                        else f"[red]NO[/] (+{v['memory_growth_quarter_to_full_mb']} MB)"
                    )
                s.add_row(
                    backend,
                    f"{row['fraction']:.2f}",
                    f"{row['lines']:,}",
                    f"{row['status_records']:,}",
                    f"{row['records_per_second']:,}",
                    f"{row['rss_growth_mb']:.1f}",
                    flat,
                )
        console.print(s)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--subjects", type=int, default=DEFAULT_SUBJECTS, help="synthetic subjects")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--as-of", default=DEFAULT_AS_OF.isoformat(), help="bureau as-of date")
    p.add_argument("--defect-rate", type=float, default=0.02, help="share of defective lines")
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--pg-url", default=DEFAULT_PG_URL, help="admin URL; a scratch DB is made")
    p.add_argument("--chunk-rows", type=int, default=5000)
    p.add_argument("--skip-scaling", action="store_true", help="skip the memory-vs-size runs")
    p.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="full-bureau runs per backend; the median one is reported, with the range",
    )
    p.add_argument(
        "--no-check-worker",
        action="store_true",
        help="read and validate every file in the furnishing process (no check worker)",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="profile a full run per backend with pyinstrument into benchmarks/results/ "
        "(no timing results are saved)",
    )
    p.add_argument("--output", default=str(RESULTS / "ingest.json"))
    p.add_argument("--worker", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.worker:
        res = worker(json.loads(args.worker))
        print(json.dumps(res))
        return
    main_run(args)


if __name__ == "__main__":
    main()
