"""Institution-API benchmark: latency and throughput of ``POST /v1/scores`` and ``/v1/reports``.

The server (``credo serve``, uvicorn) runs in its own process on PostgreSQL, holding a synthetic
bureau of ``--subjects`` subjects (100,000 by default) built with the project's own pipeline:
``credo.synth.generate``, every file furnished with ``credo.furnishing.service.furnish``, a
scorecard trained, validated and published as the person champion, everyone scored. Then a
querier key is issued to one bank and consents are granted for ``--sample`` persons drawn from
the generated files (the database keeps only blind indexes, so the identifier numbers to query
come from the files). The bureau is built once into its own database and reused while
``benchmarks/.cache/api/<database>.json`` (git-ignored: it holds the secret key and the API
token) says it was fully built with the same parameters; ``--rebuild`` forces a new one.

The load comes from this process (one asyncio event loop, a minimal HTTP/1.1 keep-alive client
so that the client spends as little of the two cores as possible):

* **fixed rate** (open loop): ``--rate`` requests/s for ``--seconds`` seconds, each request
  timed from the moment it was *scheduled* (a slow answer delays nothing, so there is no
  coordinated omission), for scores and JSON reports;
* **max throughput** (closed loop): ``--concurrency`` clients sending back to back for
  ``--max-seconds`` seconds, for scores and JSON reports;
* **sustained**: when the fixed rate is beyond the measured maximum, the fixed-rate run again
  at ``--sustained`` (0.7) times that maximum, to show the latency of a server that keeps up;
* **PDF reports**: ``--pdfs`` requests one after the other (time per PDF);
* **hot**: scores and JSON reports (max and fixed rate) once more on only ``--hot`` (200)
  persons, queried twice each beforehand so that their pages sit in PostgreSQL's buffer cache:
  the API's own cost without reads from disk.

Each run also records the CPU seconds per request of the server processes, of this client and
of the rest of the machine (mostly PostgreSQL), and samples ``pg_stat_activity`` every 50 ms
(backends running, and waiting on the audit ledger's advisory lock).

Every non-200 answer is an error and is shown with its status and body. For each uvicorn worker
count in ``--workers`` the whole set is run against a fresh server. Goals (computed, never
asserted), on 2 cores: JSON report p99 < 50 ms at 200 requests/s; score p99 < 20 ms (at the same
fixed rate); PDF report < 1 s (p99). Results: a Rich table and
``benchmarks/results/api-<timestamp>.json`` plus ``results/api.json`` (the latest full-size
run). See ``benchmarks/README.md``.

    .venv/bin/python benchmarks/api.py          # 100,000 subjects (the bureau is built once)
    .venv/bin/python benchmarks/api.py --subjects 2000 --seconds 10 --max-seconds 5 --pdfs 20
    .venv/bin/python benchmarks/api.py --build-only                # build (or check) the bureau
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import csv
import gc
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import machine

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / ".cache" / "api"
RESULTS = HERE / "results"
BIN = Path(sys.executable).parent

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_SUBJECTS = 100_000
DEFAULT_SEED = 20240601
DEFAULT_AS_OF = date(2026, 10, 31)
DEFAULT_DB = "credo_bench_api"
#: the institution that queries (a bank of the synthetic bureau) and the purpose it gives
QUERIER = "BANK01"
PURPOSE = "loan_approval"
CONSENT_DAYS = 365
ACTOR = "bench:api"

#: a request slower than this counts in a phase's `slow_seconds`
SLOW_MS = 50.0
GOAL_RATE = 200.0  # requests/s at which the JSON report latency goal is set
GOAL_REPORT_P99_MS = 50.0
GOAL_SCORE_P99_MS = 20.0
GOAL_PDF_S = 1.0
#: a fixed-rate run "held" its rate when it completed at least this share of it
RATE_SLACK = 0.98


# -- the bureau: built once, reused while the marker matches --------------------------------
def _db_url(admin_url: str, name: str) -> str:
    from sqlalchemy import make_url

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _admin_engine(admin_url: str):
    from sqlalchemy import create_engine

    return create_engine(admin_url, isolation_level="AUTOCOMMIT")


def _database_exists(admin_url: str, name: str) -> bool:
    from sqlalchemy import text

    engine = _admin_engine(admin_url)
    try:
        with engine.connect() as conn:
            return bool(
                conn.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                ).scalar()
            )
    finally:
        engine.dispose()


def _recreate_database(admin_url: str, name: str) -> None:
    from sqlalchemy import text

    engine = _admin_engine(admin_url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()


def marker_path(db_name: str) -> Path:
    return CACHE / f"{db_name}.json"


def bureau_params(args) -> dict[str, Any]:
    return {
        "subjects": args.subjects,
        "seed": args.seed,
        "as_of": args.as_of,
        "defect_rate": args.defect_rate,
    }


def _write_private(path: Path, data: dict) -> None:
    """Write JSON readable by the owner only (it holds the secret key and the API token)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=1)
    tmp.replace(path)


def _child_env(url: str, secret: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CREDO_DATABASE_URL=url,
        CREDO_SECRET_KEY=secret,
        CREDO_DATA_DIR=str(CACHE / "data"),
        CREDO_LOG_LEVEL=env.get("CREDO_LOG_LEVEL", "WARNING"),
    )
    return env


def _run_worker(kind: str, spec: dict, env: dict[str, str]) -> dict:
    """Run `kind` (build / access / check) in a child process with the bureau's settings."""
    proc = subprocess.run(
        [sys.executable, __file__, f"--{kind}-worker", json.dumps(spec)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{kind} worker failed (exit {proc.returncode}); see the output above")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ensure_bureau(args) -> dict:
    """The marker of a fully built bureau for these parameters (building it when needed)."""
    params = bureau_params(args)
    path = marker_path(args.db_name)
    marker = None
    if path.is_file() and not args.rebuild:
        marker = json.loads(path.read_text())
        if marker.get("params") != params or not marker.get("complete"):
            print(f"{path.relative_to(ROOT)}: built with other parameters; rebuilding", flush=True)
            marker = None
        elif not _database_exists(args.pg_url, args.db_name):
            print(f"database {args.db_name} is gone; rebuilding", flush=True)
            marker = None
    if marker is not None:
        url = _db_url(args.pg_url, args.db_name)
        check = _run_worker(
            "check",
            {"key_id": marker["access"]["key_id"], "querier": QUERIER},
            _child_env(url, marker["secret"]),
        )
        if check["subjects"] != marker["build"]["subjects_on_file"]:
            print(
                f"database {args.db_name} holds {check['subjects']:,} subjects, the marker says "
                f"{marker['build']['subjects_on_file']:,}; rebuilding",
                flush=True,
            )
            marker = None
        else:
            if check["analyzed"]:
                print(f"analyzed tables that had no statistics: {', '.join(check['analyzed'])}")
            if marker.get("synth_fingerprint") != machine.synth_fingerprint():
                print(
                    "note: the synthetic generator changed since this bureau was built "
                    "(--rebuild to build it again)",
                    flush=True,
                )
            expires = datetime.fromisoformat(marker["access"]["consents_expire"])
            if not check["key_active"] or expires < datetime.now(UTC) + timedelta(days=1):
                print("the API key or the consents are no longer valid; issuing new ones")
                marker["access"] = grant_access(args, marker, marker["access"]["ids"])
                _write_private(path, marker)
            if len(marker["access"]["queries"]) < args.sample:
                print(
                    f"note: the bureau has {len(marker['access']['queries']):,} consented persons"
                    f" (--sample {args.sample:,}); --rebuild for more",
                    flush=True,
                )
            print(
                f"reusing bureau {args.db_name}: {marker['build']['subjects_on_file']:,} "
                f"subjects, built {marker['built_at']} (git {marker['git_commit']})",
                flush=True,
            )
            return marker
    return build_bureau(args, params)


def build_bureau(args, params: dict) -> dict:
    secret = base64.b64encode(os.urandom(32)).decode()
    url = _db_url(args.pg_url, args.db_name)
    marker_path(args.db_name).unlink(missing_ok=True)
    print(f"building bureau {args.db_name}: {args.subjects:,} subjects ...", flush=True)
    _recreate_database(args.pg_url, args.db_name)
    files = CACHE / f"files-{args.db_name}"
    shutil.rmtree(files, ignore_errors=True)
    t0 = time.perf_counter()
    try:
        build = _run_worker(
            "build",
            {
                **params,
                "files": str(files),
                "sample": args.sample,
                "querier": QUERIER,
            },
            _child_env(url, secret),
        )
    finally:
        if not args.keep_files:
            shutil.rmtree(files, ignore_errors=True)
    build["total_seconds"] = round(time.perf_counter() - t0, 1)
    ids = build.pop("sample_ids")
    marker = {
        "params": params,
        "database": args.db_name,
        "secret": secret,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": machine.git("rev-parse", "--short", "HEAD"),
        "synth_fingerprint": machine.synth_fingerprint(),
        "build": build,
        "complete": True,
    }
    marker["access"] = grant_access(args, marker, ids)
    _write_private(marker_path(args.db_name), marker)
    print(f"bureau built in {build['total_seconds']:.0f}s", flush=True)
    return marker


def grant_access(args, marker: dict, ids: list[str]) -> dict:
    """A querier key for `QUERIER` and one consent per sampled person (in a child process)."""
    url = _db_url(args.pg_url, args.db_name)
    print(f"issuing a querier key and up to {args.sample:,} consents ...", flush=True)
    access = _run_worker(
        "access",
        {"ids": ids, "want": args.sample, "querier": QUERIER},
        _child_env(url, marker["secret"]),
    )
    access["ids"] = ids
    return access


def build_worker(spec: dict) -> dict:
    """In the child: generate, furnish, train / validate / publish, score everyone, sample."""
    from sqlalchemy import func, select

    from credo import migrate
    from credo.config import get_settings
    from credo.db import get_engine, session_scope
    from credo.furnishing.service import furnish
    from credo.institution import service as institutions
    from credo.scoring import registry, service
    from credo.scoring.cli import train_model, validate_model
    from credo.security import get_keyring
    from credo.subject.models import Subject
    from credo.synth import generate

    out: dict[str, Any] = {}
    settings = get_settings()
    engine = get_engine()
    migrate.upgrade(engine)
    files = Path(spec["files"])
    as_of = date.fromisoformat(spec["as_of"])

    t0 = time.perf_counter()
    _log(f"generating {spec['subjects']:,} subjects")
    generate(
        files,
        subjects=spec["subjects"],
        seed=spec["seed"],
        as_of=as_of,
        defect_rate=spec["defect_rate"],
    )
    out["generate_seconds"] = round(time.perf_counter() - t0, 1)
    manifest = json.loads((files / "manifest.json").read_text())
    out["lines"] = sum(f["lines"] for f in manifest["files"])
    _log(f"  {out['lines']:,} lines in {len(manifest['files'])} files, {out['generate_seconds']}s")

    with session_scope(engine) as session:
        for inst in manifest["institutions"]:
            institutions.create(
                session, code=inst["code"], name=inst["name"], kind=inst["kind"], actor=ACTOR
            )
    keyring = get_keyring()
    t0 = time.perf_counter()
    out["files"] = []
    for f in sorted(manifest["files"], key=lambda f: f["order"]):
        t1 = time.perf_counter()
        with session_scope(engine) as session:
            report = furnish(
                session,
                path=files / f["name"],
                institution_code=f["institution"],
                keyring=keyring,
                profile=settings.jurisdiction,
                actor=ACTOR,
                as_of=as_of,
                chunk_rows=settings.furnish_chunk_rows,
            )
        seconds = time.perf_counter() - t1
        out["files"].append(
            {"file": f["name"], "lines": report.lines, "accepted": report.accepted,
             "rejected": report.rejected, "seconds": round(seconds, 1)}
        )  # fmt: skip
        _log(
            f"  furnished {f['name']}: {report.lines:,} lines in {seconds:.0f}s "
            f"({report.lines / max(seconds, 1e-9):,.0f}/s)"
        )
    out["furnish_seconds"] = round(time.perf_counter() - t0, 1)

    t0 = time.perf_counter()
    _log("training, validating and publishing the person scorecard")
    with session_scope(engine) as s:
        version, training = train_model(
            s, kind="scorecard", segment="person", name=None, window=12,
            observation_dates=None, test_size=0.3, seed=42, author=ACTOR,
        )  # fmt: skip
        summary, _, _, passed = validate_model(
            s, version, out_dir=files / "reports", min_auc=0.6, n_boot=100, cv_folds=0,
            author=ACTOR,
        )  # fmt: skip
        label = version.label
    if not passed:
        raise SystemExit(f"{label} did not pass validation (AUC {summary['auc']}); no champion")
    with session_scope(engine) as s:
        registry.publish(s, registry.get(s, label), actor=ACTOR)
    out["model"] = {"label": label, "training_rows": training["rows"],
                    "holdout_auc": training["holdout_auc"]}  # fmt: skip
    out["model_seconds"] = round(time.perf_counter() - t0, 1)
    _log(f"  {label}: {training['rows']:,} samples, hold-out AUC {training['holdout_auc']:.3f}")

    t0 = time.perf_counter()
    with session_scope(engine) as s:
        run = service.score_subjects(s, actor=ACTOR, trigger="batch", keep=False)
        out["scored"] = run.scored
    out["score_seconds"] = round(time.perf_counter() - t0, 1)
    _log(f"  scored {out['scored']:,} subjects in {out['score_seconds']}s")

    with session_scope(engine) as s:
        out["subjects_on_file"] = s.scalar(select(func.count()).select_from(Subject))
    out["sample_ids"] = _sample_persons(files / "truth.csv", spec["sample"], spec["seed"])
    with _autocommit(engine) as conn:
        conn.exec_driver_sql("ANALYZE")
        out["database_mb"] = round(
            conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar() / 2**20
        )
    return out


def _sample_persons(truth: Path, n: int, seed: int) -> list[str]:
    """PRC id numbers of `n` persons (plus spares: some may have no file) from truth.csv."""
    with truth.open(newline="") as fh:
        ids = [r["id_number"] for r in csv.DictReader(fh) if r["id_type"] == "prc_id"]
    rng = random.Random(seed)
    return rng.sample(ids, min(len(ids), n + n // 5 + 10))


def access_worker(spec: dict) -> dict:
    """In the child: a querier key and a consent per sampled person that has a file."""
    from credo import migrate
    from credo.access import consent, keys
    from credo.access.flows import find_subject
    from credo.db import get_engine, session_scope
    from credo.errors import NotFound
    from credo.security import get_keyring

    engine = get_engine()
    migrate.ensure_schema(engine)  # the code may have brought migrations since the build began
    keyring = get_keyring()
    expires = datetime.now(UTC) + timedelta(days=CONSENT_DAYS)
    evidence = hashlib.sha256(b"credo api benchmark consent").hexdigest()
    sample, want = spec["ids"], spec["want"]
    pairs: list[list[str]] = []
    missing = 0
    t0 = time.perf_counter()
    with session_scope(engine) as session:
        key, token = keys.create_key(
            session, institution_code=spec["querier"], roles=["querier"], actor=ACTOR
        )
        key_id = key.key_id
    for i in range(0, len(sample), 500):
        with session_scope(engine) as session:
            for number in sample[i : i + 500]:
                if len(pairs) >= want:
                    break
                try:
                    subject = find_subject(session, keyring, id_type="prc_id", id_number=number)
                except NotFound:
                    missing += 1
                    continue
                c = consent.grant(
                    session, subject_ref=subject.ref, institution_code=spec["querier"],
                    purpose=PURPOSE, scope="both", expires_at=expires, evidence_sha256=evidence,
                    actor=ACTOR,
                )  # fmt: skip
                pairs.append([number, c.ref])
    _log(
        f"  {len(pairs):,} consents in {time.perf_counter() - t0:.1f}s "
        f"({missing} sampled persons have no file)"
    )
    return {
        "institution": spec["querier"],
        "key_id": key_id,
        "token": token,
        "consents_expire": expires.isoformat(),
        "queries": pairs,
        "no_file": missing,
    }


def check_worker(spec: dict) -> dict:
    """In the child: subjects on file and whether the benchmark's key is still active."""
    from sqlalchemy import func, select

    from credo import migrate
    from credo.access import keys
    from credo.db import get_engine, session_scope
    from credo.errors import NotFound
    from credo.subject.models import Subject

    engine = get_engine()
    migrate.ensure_schema(engine)  # the API may have brought migrations since the build
    with session_scope(engine) as s:
        subjects = s.scalar(select(func.count()).select_from(Subject))
        try:
            active = keys.status(keys.get(s, key_id=spec["key_id"])) == "active"
        except NotFound:
            active = False
    return {"subjects": subjects, "key_active": active, "analyzed": _analyze_missing(engine)}


def _autocommit(engine):
    """A connection whose statements commit as they run: VACUUM must, and ANALYZE's
    statistics would be rolled back with the connection's transaction at close."""
    return engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def _analyze_missing(engine) -> list[str]:
    """ANALYZE the tables that hold rows but have no planner statistics (a bureau built
    before the build's final ANALYZE was committed had six; autovacuum may be off), committed;
    returns their names."""
    from sqlalchemy import text

    with _autocommit(engine) as conn:
        tables = (
            conn.execute(
                text(
                    "SELECT c.relname FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.reltuples > 0 "
                    "AND NOT EXISTS (SELECT 1 FROM pg_statistic s WHERE s.starelid = c.oid) "
                    "ORDER BY 1"
                )
            )
            .scalars()
            .all()
        )
        for table in tables:
            conn.exec_driver_sql(f'ANALYZE "{table}"')
    return list(tables)


#: the tables a run writes: vacuumed before each configuration, as autovacuum would do
WRITTEN_TABLES = ("inquiry", "subject_score", "audit_entry", "audit_checkpoint")


def reset_worker(spec: dict) -> dict:
    """In the child: delete the inquiries earlier benchmark runs wrote through the API, so that
    reports do not grow from run to run (the audit-ledger entries and the scores stay), then
    VACUUM ANALYZE the tables runs write. A production server runs autovacuum; a server with it
    off (as on the reference machine) would otherwise keep every dead row of every earlier run
    (each ledger entry is updated once, when it is sealed) and slow down run after run."""
    from sqlalchemy import text

    from credo.db import get_engine

    engine = get_engine()
    with engine.begin() as conn:
        n = conn.execute(
            text(
                "DELETE FROM inquiry WHERE source = 'api' AND institution_id = "
                "(SELECT id FROM institution WHERE code = :code)"
            ),
            {"code": spec["querier"]},
        ).rowcount
    t0 = time.perf_counter()
    with _autocommit(engine) as conn:
        conn.execute(text(f"VACUUM (ANALYZE) {', '.join(WRITTEN_TABLES)}"))
    return {"deleted_inquiries": n, "vacuum_seconds": round(time.perf_counter() - t0, 1)}


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- the server ------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``credo serve`` in its own process group; CPU seconds of the whole tree on demand."""

    def __init__(self, env: dict[str, str], workers: int, log: Path) -> None:
        self.port = _free_port()
        self.workers = workers
        self.log = log
        self._fh = log.open("w")
        cmd = [str(BIN / "credo"), "serve", "--host", "127.0.0.1", "--port", str(self.port),
               "--workers", str(workers)]  # fmt: skip
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=self._fh, stderr=subprocess.STDOUT, cwd=ROOT,
            start_new_session=True,
        )  # fmt: skip

    def wait_ready(self, timeout: float = 90.0) -> float:
        import httpx

        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise SystemExit(f"credo serve exited ({self.proc.returncode}):\n{self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2).status_code == 200:
                    return time.perf_counter() - t0
            time.sleep(0.2)
        raise SystemExit(f"credo serve not ready after {timeout:.0f}s:\n{self.tail()}")

    def cpu_seconds(self) -> float:
        import psutil

        total = 0.0
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.proc.pid)
            for p in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    t = p.cpu_times()
                    total += t.user + t.system
        return total

    def tail(self, lines: int = 40) -> str:
        self._fh.flush()
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._fh.close()


# -- the client: minimal HTTP/1.1 over keep-alive connections --------------------------------
class Conn:
    """One keep-alive connection; `request` sends prepared bytes and reads one response."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, raw: bytes) -> tuple[int, bytes, bytes]:
        """(status, content type, body); reconnects once if an idle connection was closed."""
        for attempt in (0, 1):
            fresh = self.writer is None
            if fresh:
                await self._open()
            try:
                self.writer.write(raw)
                head = await self.reader.readuntil(b"\r\n\r\n")
                break
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                self.close()
                if fresh or attempt or (isinstance(exc, asyncio.IncompleteReadError)
                                        and exc.partial):  # fmt: skip
                    raise
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                k, _, v = line.partition(b":")
                headers[k.strip().lower()] = v.strip()
        if b"content-length" in headers:
            body = await self.reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")  # no trailers expected
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            body = b"".join(parts)
        else:
            body = await self.reader.read()
            self.close()
        if headers.get(b"connection", b"").lower() == b"close":
            self.close()
        return status, headers.get(b"content-type", b""), body


class Requests:
    """Prepared request bytes for each consented subject, in a shuffled endless cycle."""

    def __init__(self, port: int, token: str, queries: list[list[str]], seed: int) -> None:
        self.port, self.token = port, token
        self.queries = list(queries)
        random.Random(seed).shuffle(self.queries)
        self._i = 0

    def _raw(self, path: str, body: dict) -> bytes:
        payload = json.dumps(body).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
            f"Accept: */*\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        return head.encode() + payload

    def next(self, kind: str) -> bytes:
        number, consent_ref = self.queries[self._i % len(self.queries)]
        self._i += 1
        body = {"id_type": "prc_id", "id_number": number, "purpose": PURPOSE,
                "consent_ref": consent_ref}  # fmt: skip
        if kind == "score":
            return self._raw("/v1/scores", body)
        return self._raw("/v1/reports", {**body, "format": kind, "lang": "zh"})


#: what a 200 answer must look like, by request kind
def _body_ok(kind: str, ctype: bytes, body: bytes) -> bool:
    if kind == "pdf":
        return body.startswith(b"%PDF")
    return ctype.startswith(b"application/json") and body[:1] == b"{"


class Recorder:
    """Latencies of successful requests; errors by (status, body) with a count."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.latencies: list[float] = []
        #: when each successful request was due (perf_counter), for `slow_seconds`
        self.starts: list[float] = []
        self.errors: dict[tuple[int, str], int] = {}
        self.bytes = 0
        self._wall_offset = time.time() - time.perf_counter()

    def ok(self, seconds: float, size: int, start: float) -> None:
        self.latencies.append(seconds)
        self.starts.append(start)
        self.bytes += size

    def slow_seconds(self, over_ms: float = SLOW_MS, top: int = 3) -> list[dict]:
        """The wall-clock seconds (UTC, by when the request was due) with the most requests
        slower than `over_ms`: where a p99 came from, to hold against the server's and
        PostgreSQL's logs."""
        by_second: dict[int, list[float]] = {}
        for start, lat in zip(self.starts, self.latencies, strict=True):
            if lat * 1000 > over_ms:
                by_second.setdefault(int(start + self._wall_offset), []).append(lat * 1000)
        worst = sorted(by_second.items(), key=lambda kv: -len(kv[1]))[:top]
        return [
            {"second": datetime.fromtimestamp(sec, UTC).isoformat(timespec="seconds"),
             "requests_over": len(lats), "max_ms": round(max(lats), 1)}
            for sec, lats in sorted(worst)
        ]  # fmt: skip

    def error(self, status: int, body: str) -> None:
        key = (status, body[:500])
        self.errors[key] = self.errors.get(key, 0) + 1

    def record(self, seconds: float, status: int, ctype: bytes, body: bytes, start: float) -> None:
        if status == 200 and _body_ok(self.kind, ctype, body):
            self.ok(seconds, len(body), start)
        elif status == 200:
            self.error(200, f"unexpected body ({ctype.decode()}): {body[:200]!r}")
        else:
            self.error(status, body.decode("utf-8", "replace"))

    @property
    def n_errors(self) -> int:
        return sum(self.errors.values())


async def _timed(conn: Conn, raw: bytes, rec: Recorder, start: float, timeout: float) -> None:
    try:
        status, ctype, body = await asyncio.wait_for(conn.request(raw), timeout)
    except TimeoutError:
        conn.close()
        rec.error(0, f"no answer within {timeout:g} s (connection closed)")
        return
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        conn.close()
        rec.error(0, f"{exc.__class__.__name__}: {exc}")
        return
    rec.record(time.perf_counter() - start, status, ctype, body, start)


async def fixed_rate(
    port: int,
    reqs: Requests,
    kind: str,
    rate: float,
    seconds: float,
    pool: int,
    timeout: float,
    backlog: float,
) -> dict:
    """Open loop: request i is due at t0 + i/rate, whatever happened to earlier ones; its
    latency counts from that moment (waiting for a free connection included). At most `pool`
    requests are in flight; one that waited `backlog` seconds for a connection is not sent and
    counts as an error, so an overloaded server gets no more than `pool` requests at a time
    (no pile of abandoned work to spoil the next run) and the run ends soon after `seconds`."""
    rec = Recorder(kind)
    free: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(pool):
        free.put_nowait(Conn("127.0.0.1", port))
    n = int(rate * seconds)
    late = 0

    async def one(raw: bytes, due: float) -> None:
        try:
            conn = await asyncio.wait_for(free.get(), max(0.0, due + backlog - time.perf_counter()))
        except TimeoutError:
            rec.error(0, f"not sent: every connection still busy {backlog:g} s after it was due")
            return
        try:
            await _timed(conn, raw, rec, due, timeout)
        finally:
            free.put_nowait(conn)

    tasks = []
    t0 = time.perf_counter() + 0.05
    for i in range(n):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.005:
            late += 1
        tasks.append(asyncio.create_task(one(reqs.next(kind), due)))
    sent_end = time.perf_counter()
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - t0
    while not free.empty():
        free.get_nowait().close()
    return _summary(rec, wall, target_rate=rate, sending_seconds=sent_end - t0, client_late=late)


async def closed_loop(
    port: int, reqs: Requests, kind: str, concurrency: int, seconds: float, timeout: float
) -> dict:
    """Closed loop: `concurrency` clients, each sending its next request when the last is
    answered, for `seconds`; throughput is answers per second."""
    rec = Recorder(kind)
    stop = time.perf_counter() + seconds

    async def client() -> None:
        conn = Conn("127.0.0.1", port)
        while time.perf_counter() < stop:
            await _timed(conn, reqs.next(kind), rec, time.perf_counter(), timeout)
        conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return _summary(rec, time.perf_counter() - t0, concurrency=concurrency)


async def sequential(port: int, reqs: Requests, kind: str, count: int, timeout: float) -> dict:
    rec = Recorder(kind)
    conn = Conn("127.0.0.1", port)
    t0 = time.perf_counter()
    for _ in range(count):
        await _timed(conn, reqs.next(kind), rec, time.perf_counter(), timeout)
    wall = time.perf_counter() - t0
    conn.close()
    return _summary(rec, wall)


def _pct(sorted_ms: list[float], q: float) -> float | None:
    if not sorted_ms:
        return None
    k = min(len(sorted_ms) - 1, max(0, round(q / 100 * len(sorted_ms) + 0.5) - 1))
    return round(sorted_ms[k], 2)  # nearest rank


def _summary(rec: Recorder, wall: float, **extra: Any) -> dict:
    ms = sorted(x * 1000 for x in rec.latencies)
    return {
        "requests": len(ms) + rec.n_errors,
        "ok": len(ms),
        "errors": rec.n_errors,
        "error_samples": [
            {"status": s, "body": b, "count": c}
            for (s, b), c in sorted(rec.errors.items(), key=lambda kv: -kv[1])[:10]
        ],
        "seconds": round(wall, 2),
        "throughput": round(len(ms) / wall, 1) if wall else None,
        "p50_ms": _pct(ms, 50),
        "p90_ms": _pct(ms, 90),
        "p99_ms": _pct(ms, 99),
        "max_ms": round(ms[-1], 2) if ms else None,
        "mean_ms": round(sum(ms) / len(ms), 2) if ms else None,
        "mean_body_bytes": round(rec.bytes / len(ms)) if ms else None,
        "requests_over_slow_ms": sum(1 for x in ms if x > SLOW_MS),
        "slow_seconds": rec.slow_seconds(),
        **extra,
    }


# -- one worker configuration ------------------------------------------------------------------
PHASES = ("score_max", "score_fixed", "score_sustained", "report_max", "report_fixed",
          "report_sustained", "pdf_sequential", "score_max_hot", "score_fixed_hot",
          "report_max_hot", "report_fixed_hot")  # fmt: skip


def _cpu_busy() -> float:
    """Busy CPU seconds of the whole machine (every core) since boot."""
    import psutil

    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0) - getattr(t, "steal", 0.0)


def run_config(args, marker: dict, workers: int) -> dict:
    import psutil

    url = _db_url(args.pg_url, args.db_name)
    env = _child_env(url, marker["secret"])
    env.update(CREDO_API_RATE_PER_SECOND="1000000", CREDO_API_RATE_BURST="1000000")
    reset = _run_worker("reset", {"querier": QUERIER}, env)
    print(
        f"[{workers} worker{'s' if workers > 1 else ''}] deleted {reset['deleted_inquiries']:,} "
        f"inquiries of earlier runs, vacuumed {', '.join(WRITTEN_TABLES)} in "
        f"{reset['vacuum_seconds']:.1f}s; starting credo serve",
        flush=True,
    )
    log = CACHE / f"serve-{workers}w.log"
    server = Server(env, workers, log)
    me = psutil.Process()
    cores = psutil.cpu_count() or 1
    out: dict[str, Any] = {"workers": workers, "reset": reset, "phases": {}}
    try:
        out["startup_seconds"] = round(server.wait_ready(), 2)
        queries = marker["access"]["queries"][: args.sample]
        reqs = Requests(server.port, marker["access"]["token"], queries, args.seed + workers)
        hot = Requests(server.port, marker["access"]["token"], queries[: args.hot], args.seed)
        timeout = args.timeout

        async def measure(
            name: str, kind: str, mode: str, rate: float | None = None, reqs: Requests = reqs
        ) -> dict:
            out.setdefault("settle_seconds", {})[name] = await settle(server)
            # this client's own collector, like the server's (credo.api.app), walks only what
            # was made since: a full pass over everything stalled the sending for 30-50 ms
            gc.collect()
            gc.freeze()
            load0 = os.getloadavg()[0]
            c0, s0, b0 = me.cpu_times(), server.cpu_seconds(), _cpu_busy()
            pg0 = PgCpu.sample(url)
            with PgActivity(url) as pg:
                if mode == "fixed":
                    res = await fixed_rate(server.port, reqs, kind, rate, args.seconds,
                                           args.pool, timeout, args.backlog)  # fmt: skip
                elif mode == "max":
                    res = await closed_loop(server.port, reqs, kind, args.concurrency,
                                            args.max_seconds, timeout)  # fmt: skip
                else:
                    res = await sequential(server.port, reqs, kind, args.pdfs, timeout)
            c1, s1, b1 = me.cpu_times(), server.cpu_seconds(), _cpu_busy()
            pg1 = PgCpu.sample(url)
            res["load_average"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
            res["postgres_backends"] = pg.summary()
            done = max(res["requests"], 1)
            client = (c1.user - c0.user) + (c1.system - c0.system)
            res["cpu_ms_per_request"] = {
                "server": round((s1 - s0) * 1000 / done, 2),
                "client": round(client * 1000 / done, 2),
                # PostgreSQL's backends, mostly (plus anything else the machine ran)
                "other": round(max(0.0, (b1 - b0) - (s1 - s0) - client) * 1000 / done, 2),
                # of which: the bureau database's own backends (the API's connections and its
                # sealer's), and PostgreSQL's shared background processes (WAL writer,
                # checkpointer, background writer, autovacuum: other databases' work too)
                **PgCpu.per_request(pg0, pg1, done),
            }
            res["machine_busy"] = round((b1 - b0) / (res["seconds"] * cores), 3)
            res["kind"], res["mode"] = kind, mode
            res["subjects"] = len(reqs.queries)
            res["subject_set"] = "hot" if name.endswith("_hot") else "all"
            out["phases"][name] = res
            _print_phase(name, res)
            return res

        async def warm(requests: Requests, kind: str, n: int) -> None:
            """`n` unrecorded requests, 2 per worker at a time."""
            for _ in range(max(1, -(-n // (2 * workers)))):
                await asyncio.gather(
                    *(sequential(server.port, requests, kind, 1, timeout)
                      for _ in range(2 * workers))
                )  # fmt: skip

        async def go() -> None:
            # warm-up (not recorded): every worker process loads its model, templates, fonts
            for kind in ("score", "json", "pdf"):
                await warm(reqs, kind, args.warmup if kind != "pdf" else 2 * workers)
            for kind, prefix in (("score", "score"), ("json", "report")):
                best = None
                if _wanted(args, f"{prefix}_max"):
                    best = (await measure(f"{prefix}_max", kind, "max"))["throughput"]
                if _wanted(args, f"{prefix}_fixed"):
                    await measure(f"{prefix}_fixed", kind, "fixed", args.rate)
                # latency at a load the server does sustain, when the fixed rate is beyond it
                sustained = round(args.sustained * best, 1) if best else None
                if _wanted(args, f"{prefix}_sustained") and sustained and sustained < args.rate:
                    await measure(f"{prefix}_sustained", kind, "fixed", sustained)
            if _wanted(args, "pdf_sequential"):
                await measure("pdf_sequential", "pdf", "sequential")
            # the same on a few subjects whose pages stay in PostgreSQL's buffer cache: the
            # API's own cost, without reads from disk
            if not args.hot:
                return
            for kind, prefix in (("score", "score"), ("json", "report")):
                if not any(_wanted(args, f"{prefix}_{m}_hot") for m in ("max", "fixed")):
                    continue
                await warm(hot, kind, 2 * len(hot.queries))
                for mode in ("max", "fixed"):
                    if _wanted(args, f"{prefix}_{mode}_hot"):
                        rate = args.rate if mode == "fixed" else None
                        await measure(f"{prefix}_{mode}_hot", kind, mode, rate, hot)

        asyncio.run(go())
        if server.proc.poll() is not None:
            out["server_exit"] = server.proc.returncode
        out["server_log_tail"] = server.tail(20)
    finally:
        server.stop()
    return out


class PgCpu:
    """CPU seconds of the bureau database's backends (from ``/proc``, through psutil), apart
    from the rest of the machine: a shared machine's other work is not PostgreSQL's. A backend
    that ends during a phase takes its CPU with it (the server keeps its pool open)."""

    BACKGROUND = ("walwriter", "checkpointer", "background writer", "autovacuum")

    @staticmethod
    def sample(url: str) -> dict | None:
        import psutil
        import psycopg
        from sqlalchemy import make_url

        dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
        with psycopg.connect(dsn, autocommit=True) as conn:
            pids = [r[0] for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND application_name <> %s", (PgActivity.NAME,)
            )]  # fmt: skip
        out: dict[str, dict[int, float]] = {"db": {}, "background": {}}
        try:
            for pid in pids:
                with contextlib.suppress(psutil.NoSuchProcess):
                    t = psutil.Process(pid).cpu_times()
                    out["db"][pid] = t.user + t.system
            for p in psutil.process_iter(["name", "cmdline"]):
                cmd = " ".join(p.info["cmdline"] or ())
                if cmd.startswith("postgres:") and any(b in cmd for b in PgCpu.BACKGROUND):
                    with contextlib.suppress(psutil.NoSuchProcess):
                        t = p.cpu_times()
                        out["background"][p.pid] = t.user + t.system
        except psutil.AccessDenied:  # PostgreSQL under another user, no access to /proc
            return None
        return out

    @staticmethod
    def per_request(before: dict | None, after: dict | None, done: int) -> dict:
        if before is None or after is None:
            return {"postgres_db": None, "postgres_background": None}
        per = {
            part: sum(v - before[part].get(pid, 0.0) for pid, v in after[part].items())
            for part in ("db", "background")
        }
        return {
            f"postgres_{part}": round(seconds * 1000 / done, 2) for part, seconds in per.items()
        }


class PgActivity:
    """Samples the bureau database's backends (``pg_stat_activity``) every `interval` seconds
    in a thread: how many run a statement, how many of those wait on a lock (the audit ledger
    serialises its writers with an advisory lock), how many sit idle inside a transaction."""

    QUERY = """
        SELECT count(*) FILTER (WHERE state = 'active'),
               count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock'
                                AND wait_event = 'advisory'),
               count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock'),
               count(*) FILTER (WHERE state LIKE 'idle in transaction%')
        FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
    """

    #: its own connection's name, left out of `PgCpu`
    NAME = "credo-bench-monitor"

    def __init__(self, url: str, interval: float = 0.05) -> None:
        import threading

        from sqlalchemy import make_url

        self._dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.samples: list[tuple[int, int, int, int]] = []

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self._dsn, autocommit=True, application_name=self.NAME) as conn:
            while not self._stop.wait(self._interval):
                self.samples.append(conn.execute(self.QUERY).fetchone())

    def __enter__(self) -> PgActivity:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict:
        n = len(self.samples) or 1
        cols = list(zip(*self.samples, strict=True)) or [(), (), (), ()]
        return {
            "samples": len(self.samples),
            "mean_active": round(sum(cols[0]) / n, 2),
            "mean_waiting_on_advisory_lock": round(sum(cols[1]) / n, 2),
            "share_of_time_someone_waits_on_advisory_lock": round(
                sum(1 for x in cols[1] if x) / n, 3
            ),
            "mean_waiting_on_any_lock": round(sum(cols[2]) / n, 2),
            "mean_idle_in_transaction": round(sum(cols[3]) / n, 2),
        }


async def settle(server: Server, idle: float = 0.05, most: float = 60.0) -> float:
    """Wait until the server is idle (under `idle` of a core over half a second), so that no
    work left from the previous run is counted in the next; returns the seconds waited."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < most:
        c0 = server.cpu_seconds()
        await asyncio.sleep(0.5)
        if server.cpu_seconds() - c0 < idle * 0.5:
            break
    return round(time.perf_counter() - t0, 1)


def _wanted(args, phase: str) -> bool:
    return not args.only or phase in args.only


def _print_phase(name: str, r: dict) -> None:
    cpu = r["cpu_ms_per_request"]
    load = f" @{r['target_rate']:g}/s" if "target_rate" in r else ""
    print(
        f"  {name + load:<24} {r['ok']:>6,} ok {r['errors']:>4} err {r['throughput']:>7,.1f}/s"
        f"  p50 {_fmt(r['p50_ms'])}  p99 {_fmt(r['p99_ms'])}  max {_fmt(r['max_ms'])} ms;"
        f"  CPU ms/req: server {cpu['server']}, postgres+other {cpu['other']} (the database's "
        f"backends {cpu.get('postgres_db')}, PostgreSQL background "
        f"{cpu.get('postgres_background')}), client {cpu['client']};"
        f" machine {r['machine_busy']:.0%} busy, load {r['load_average'][0]:g}"
        f"→{r['load_average'][1]:g}; PG backends active {r['postgres_backends']['mean_active']},"
        f" waiting on the ledger lock {r['postgres_backends']['mean_waiting_on_advisory_lock']}",
        flush=True,
    )
    for e in r["error_samples"][:3]:
        print(f"    {e['count']}x {e['status']}: {e['body'][:300]}", flush=True)
    if r.get("slow_seconds") and r.get("mode") == "fixed":
        where = ", ".join(f"{w['second'][11:19]} ({w['requests_over']}, max {w['max_ms']:g} ms)"
                          for w in r["slow_seconds"])  # fmt: skip
        print(f"    over {SLOW_MS:g} ms: {r['requests_over_slow_ms']:,}, most at {where} UTC",
              flush=True)  # fmt: skip


def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:,.1f}"


# -- verdicts, table, results --------------------------------------------------------------
def verdicts(result: dict) -> dict:
    """Per worker count: each goal met or missed, with the numbers it was judged on."""
    out = {}
    for w, cfg in result["configs"].items():
        ph = cfg["phases"]
        v = {}
        if "report_fixed" in ph:
            r = ph["report_fixed"]
            held = (r["throughput"] or 0) >= RATE_SLACK * result["settings"]["rate"]
            v["report_json_p99"] = {
                "goal": f"p99 < {GOAL_REPORT_P99_MS:g} ms at {GOAL_RATE:g}/s, no errors",
                "short": f"p99<{GOAL_REPORT_P99_MS:g}ms",
                "met": bool(
                    r["p99_ms"] is not None and r["p99_ms"] < GOAL_REPORT_P99_MS
                    and held and r["errors"] == 0
                    and result["settings"]["rate"] >= GOAL_RATE
                ),
            }  # fmt: skip
        if "score_fixed" in ph:
            r = ph["score_fixed"]
            v["score_p99"] = {
                "goal": f"p99 < {GOAL_SCORE_P99_MS:g} ms (at {result['settings']['rate']:g}/s),"
                " no errors",
                "short": f"p99<{GOAL_SCORE_P99_MS:g}ms",
                "met": bool(
                    r["p99_ms"] is not None and r["p99_ms"] < GOAL_SCORE_P99_MS
                    and r["errors"] == 0
                ),
            }  # fmt: skip
        if "pdf_sequential" in ph:
            r = ph["pdf_sequential"]
            v["pdf"] = {
                "goal": f"p99 < {GOAL_PDF_S:g} s per PDF, no errors",
                "short": f"p99<{GOAL_PDF_S:g}s",
                "met": bool(
                    r["p99_ms"] is not None and r["p99_ms"] < GOAL_PDF_S * 1000
                    and r["errors"] == 0
                ),
            }  # fmt: skip
        out[w] = v
    return out


ROW_GOALS = {
    "score_fixed": "score_p99",
    "report_fixed": "report_json_p99",
    "pdf_sequential": "pdf",
}
ENDPOINTS = {
    "score": "POST /v1/scores",
    "json": "POST /v1/reports (json)",
    "pdf": "POST /v1/reports (pdf)",
}


def print_table(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(width=None if sys.stdout.isatty() else 160)
    m, ds, st = result["machine"], result["bureau"], result["settings"]
    console.print(
        f"[bold]API benchmark[/] — {ds['subjects_on_file']:,} subjects on file "
        f"({ds['subjects']:,} generated, {ds['lines']:,} lines furnished), PostgreSQL "
        f"{m['postgresql_server_version']}; {m['cpu_model']}, {m['usable_cores']} cores, "
        f"Python {m['python']}; {st['consented_persons']:,} consented persons queried"
    )
    t = Table(
        title="Institution API (latency from the scheduled send; errors = any non-200; goals "
        "need no errors)"
    )
    cols = ("workers", "endpoint", "subjects", "load", "requests", "errors", "req/s", "p50 ms",
            "p99 ms", "max ms", "srv CPU ms/req", "db CPU ms/req", "goal", "verdict")  # fmt: skip
    for c in cols:
        t.add_column(c, justify="left" if c in ("endpoint", "load", "goal") else "right")
    for w, cfg in result["configs"].items():
        v = result["verdicts"][w]
        for name, r in cfg["phases"].items():
            if r["mode"] == "fixed":
                load = f"{r['target_rate']:g}/s × {st['seconds']:g}s"
                if name.endswith("_sustained"):
                    load += f" ({st['sustained_share_of_max']:g}× max)"
            elif r["mode"] == "max":
                load = f"max: {st['concurrency']} clients × {st['max_seconds']:g}s"
            else:
                load = f"{st['pdfs']} one after another"
            subjects = f"{r['subjects']:,}" + (" hot" if r["subject_set"] == "hot" else "")
            goal = verdict = ""
            if name in ROW_GOALS and ROW_GOALS[name] in v:
                g = v[ROW_GOALS[name]]
                goal = g["short"]
                verdict = "[green]met[/]" if g["met"] else "[red]MISSED[/]"
            t.add_row(
                str(w), ENDPOINTS[r["kind"]], subjects, load, f"{r['requests']:,}",
                f"[red]{r['errors']:,}[/]" if r["errors"] else "0",
                f"{r['throughput']:,.1f}", _fmt(r["p50_ms"]), _fmt(r["p99_ms"]),
                _fmt(r["max_ms"]), f"{r['cpu_ms_per_request']['server']:.1f}",
                _fmt(r["cpu_ms_per_request"].get("postgres_db")), goal, verdict,
            )  # fmt: skip
    console.print(t)
    for w, cfg in result["configs"].items():
        for name, r in cfg["phases"].items():
            for e in r["error_samples"]:
                console.print(
                    Text.assemble(
                        ("error ", "red"),
                        f"{w} worker(s), {name}: {e['count']}× status {e['status']}: {e['body']}",
                    )
                )


def machine_info(pg_url: str) -> dict:
    from importlib.metadata import version

    import psutil
    from sqlalchemy import text

    engine = _admin_engine(pg_url)
    with engine.connect() as conn:
        pg = conn.execute(text("SHOW server_version")).scalar()
        shared = conn.execute(text("SHOW shared_buffers")).scalar()
    engine.dispose()
    versions = {}
    for pkg in ("fastapi", "uvicorn", "starlette", "sqlalchemy", "psycopg", "reportlab"):
        with contextlib.suppress(Exception):
            versions[pkg] = version(pkg)
    return machine.machine_info(
        memory_gb=round(psutil.virtual_memory().total / 2**30, 1),
        postgresql_server_version=pg,
        postgresql_shared_buffers=shared,
        packages=versions,
    )


def check_api_available() -> None:
    app = ROOT / "src" / "credo" / "api" / "app.py"
    if not app.is_file() or "def create_app" not in app.read_text():
        raise SystemExit("credo.api.app:create_app does not exist yet; nothing to benchmark")
    out = subprocess.run([str(BIN / "credo"), "--help"], capture_output=True, text=True)
    if " serve " not in out.stdout:
        raise SystemExit("`credo serve` is not registered yet; nothing to benchmark")


def main_run(args) -> dict:
    started = time.perf_counter()
    marker = ensure_bureau(args)
    if args.build_only:
        return {}
    check_api_available()
    info = machine_info(args.pg_url)
    result: dict[str, Any] = {
        "goals": {
            "report_json_p99_ms": GOAL_REPORT_P99_MS,
            "at_requests_per_second": GOAL_RATE,
            "score_p99_ms": GOAL_SCORE_P99_MS,
            "pdf_seconds": GOAL_PDF_S,
            "judged_on": "p99 of the fixed-rate runs (scores and JSON reports) and of the "
            "sequential PDF run; a run with any error, or a fixed-rate run that did not hold "
            f"{RATE_SLACK:.0%} of its rate, misses",
        },
        "machine": info,
        "bureau": {
            "database": args.db_name,
            **marker["params"],
            **{k: v for k, v in marker["build"].items() if k != "files"},
            "built_at": marker["built_at"],
            "built_at_git": marker["git_commit"],
        },
        "settings": {
            "workers": args.workers,
            "rate": args.rate,
            "seconds": args.seconds,
            "pool": args.pool,
            "concurrency": args.concurrency,
            "max_seconds": args.max_seconds,
            "pdfs": args.pdfs,
            "sustained_share_of_max": args.sustained,
            "hot_subjects": args.hot,
            "warmup": args.warmup,
            "timeout": args.timeout,
            "backlog": args.backlog,
            "querier": QUERIER,
            "purpose": PURPOSE,
            "lang": "zh",
            "consented_persons": len(marker["access"]["queries"][: args.sample]),
            "client": "one asyncio process, minimal HTTP/1.1 keep-alive client (benchmarks/api.py)",
            "server": "credo serve (uvicorn), CREDO_API_RATE_PER_SECOND=1e6",
        },
        "configs": {},
    }
    for w in args.workers:
        result["configs"][str(w)] = run_config(args, marker, w)
    result["verdicts"] = verdicts(result)
    result["total_seconds"] = round(time.perf_counter() - started, 1)
    return result


def save(result: dict, args) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    full = args.subjects == DEFAULT_SUBJECTS and not args.only
    name = f"api-{stamp}.json" if full else f"api-n{args.subjects}-{stamp}.json"
    out = Path(args.output) if args.output else RESULTS / name
    text = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    out.write_text(text)
    if full and not args.output:
        (RESULTS / "api.json").write_text(text)
    return out


def _workers(text: str) -> list[int]:
    try:
        ws = [int(w) for w in text.split(",") if w.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected worker counts like 1,2; got {text!r}") from None
    if not ws or min(ws) < 1:
        raise argparse.ArgumentTypeError("worker counts must be positive")
    return ws


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--subjects", type=int, default=DEFAULT_SUBJECTS, help="synthetic subjects")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--as-of", default=DEFAULT_AS_OF.isoformat(), help="bureau as-of date")
    p.add_argument("--defect-rate", type=float, default=0.02)
    p.add_argument("--sample", type=int, default=2000, help="persons given a consent and queried")
    p.add_argument("--pg-url", default=DEFAULT_PG_URL, help="admin URL of the PostgreSQL server")
    p.add_argument("--db-name", help=f"bureau database (default {DEFAULT_DB}[_n<subjects>])")
    p.add_argument("--rebuild", action="store_true", help="build the bureau even if cached")
    p.add_argument("--build-only", action="store_true", help="build (or check) the bureau, stop")
    p.add_argument("--keep-files", action="store_true", help="keep the generated files")
    p.add_argument("--workers", type=_workers, default=[1, 2], help="uvicorn worker counts")
    p.add_argument("--rate", type=float, default=GOAL_RATE, help="fixed-rate requests/s")
    p.add_argument("--seconds", type=float, default=20, help="length of a fixed-rate run")
    p.add_argument("--pool", type=int, default=64, help="connections of a fixed-rate run")
    p.add_argument(
        "--sustained",
        type=float,
        default=0.7,
        help="when --rate is beyond the measured maximum, also run at this share of the maximum",
    )
    p.add_argument("--concurrency", type=int, default=16, help="clients of a max run")
    p.add_argument("--max-seconds", type=float, default=15, help="length of a max run")
    p.add_argument(
        "--hot",
        type=int,
        default=200,
        help="also run scores and JSON reports on this many persons only, warmed first "
        "(their pages stay in PostgreSQL's buffer cache); 0: skip",
    )
    p.add_argument("--pdfs", type=int, default=100, help="PDF reports one after the other")
    p.add_argument("--warmup", type=int, default=40, help="unrecorded requests per kind")
    p.add_argument("--timeout", type=float, default=60, help="seconds to wait for an answer")
    p.add_argument(
        "--backlog",
        type=float,
        default=10,
        help="fixed rate: seconds a request may wait for a free connection before it fails",
    )
    p.add_argument(
        "--only",
        type=lambda s: [x for x in s.split(",") if x],
        help=f"run only these phases: {','.join(PHASES)}",
    )
    p.add_argument("--output", help="results JSON (default results/api-<timestamp>.json)")
    for w in ("build", "access", "check", "reset"):
        p.add_argument(f"--{w}-worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.db_name is None:
        args.db_name = DEFAULT_DB if args.subjects == DEFAULT_SUBJECTS else (
            f"{DEFAULT_DB}_n{args.subjects}")  # fmt: skip
    return args


WORKERS = {
    "build_worker": build_worker,
    "access_worker": access_worker,
    "check_worker": check_worker,
    "reset_worker": reset_worker,
}


def main(argv=None) -> None:
    args = parse_args(argv)
    for attr, fn in WORKERS.items():
        if getattr(args, attr):
            print(json.dumps(fn(json.loads(getattr(args, attr)))))
            return
    result = main_run(args)
    if not result:
        return
    out = save(result, args)
    print_table(result)
    print(f"saved {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    main()
