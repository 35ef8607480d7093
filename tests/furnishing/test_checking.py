"""Reading and validating a file in the check worker (`credo.furnishing.checking`): the same
chunks and the same stored outcome as in-process, and every way it can fail loses nothing."""

from __future__ import annotations

import os
import pickle
import signal
import threading
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from credo.account.models import StatusRecord
from credo.errors import FormatError
from credo.furnishing import checking
from credo.furnishing.checking import FileCheck, checked_chunks
from credo.furnishing.models import FurnishingBatch
from credo.furnishing.reader import sniff
from credo.furnishing.service import file_sha256
from credo.furnishing.store import RecordStore

from .bureau import AS_OF, add_institution, run, table_counts
from .test_service import _snapshot, _write, generated_bureau

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The generated bureau with its defects, as JSON Lines and as CSV."""
    tmp = tmp_path_factory.mktemp("checking")
    rows = generated_bureau(60)
    return {fmt: _write(tmp, "bureau", rows, fmt) for fmt in ("jsonl", "csv")}


def _chunks(path, cn, *, worker_min_bytes):
    check = FileCheck(path, sniff(path).fmt, AS_OF, cn, 97)
    got = list(checked_chunks(check, worker_min_bytes=worker_min_bytes))
    return check, got


def _plain(chunk) -> tuple:
    """A chunk as comparable values (numpy arrays as lists)."""
    lane, lane_values = chunk.lane, None
    if lane is not None:
        columns = (lane.line, lane.ref, lane.month, lane.balance, lane.due, lane.paid,
                   lane.dpd, lane.notified, lane.text, lane.hash)  # fmt: skip
        lane_values = tuple(v.tolist() if isinstance(v, np.ndarray) else v for v in columns)
    return chunk.rows, lane_values, chunk.good, chunk.bad, chunk.bytes_read


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_worker_gives_the_same_chunks_as_reading_here(files, cn, fmt):
    path = files[fmt]
    here, here_chunks = _chunks(path, cn, worker_min_bytes=None)
    there, there_chunks = _chunks(path, cn, worker_min_bytes=0)
    assert checking.worker_pid() is not None  # it really ran in the worker
    assert len(here_chunks) > 5
    assert [_plain(c) for c in there_chunks] == [_plain(c) for c in here_chunks]
    # some rows of every kind: lane statuses, other good rows, rejected rows
    assert any(c.lane is not None for c in here_chunks)
    assert sum(len(c.good) for c in here_chunks) > 100
    assert sum(len(c.bad) for c in here_chunks) > 10
    assert here.sha256 == there.sha256 == file_sha256(path)
    assert here.size == there.size == path.stat().st_size


def test_records_pickle_to_equal_records(files, cn):
    """The records' tuple pickling (`_pickled_as_tuple`) keeps every field."""
    _, chunks = _chunks(files["jsonl"], cn, worker_min_bytes=None)
    recs = [rec for c in chunks for _, _, rec, _ in c.good]
    recs += [c.lane.record(i) for c in chunks if c.lane is not None for i in range(len(c.lane))]
    assert {type(r).__name__ for r in recs} >= {"SubjectRec", "AccountRec", "StatusRec"}
    assert pickle.loads(pickle.dumps(recs)) == recs


def test_small_files_are_read_here(files, cn):
    before = checking.worker_pid()
    size = files["jsonl"].stat().st_size
    _, chunks = _chunks(files["jsonl"], cn, worker_min_bytes=size + 1)
    assert chunks and checking.worker_pid() == before


def test_a_busy_worker_is_not_waited_for(files, cn):
    """Another thread furnishing through the worker: this file is read here instead."""
    checking._worker_lock.acquire()
    try:
        before = checking.worker_pid()
        result: list = []
        t = threading.Thread(
            target=lambda: result.append(_chunks(files["csv"], cn, worker_min_bytes=0))
        )
        t.start()
        t.join(timeout=60)
        assert result and result[0][1]
        assert checking.worker_pid() == before
    finally:
        checking._worker_lock.release()


def _outcome(r) -> tuple:
    errors = [(e["line"], e["field"], e["reason"]) for e in r.errors]
    return (r.lines, r.accepted, r.corrections, r.duplicates, r.rejected, r.flagged, r.changes,
            r.file_sha256, r.rejections_by_reason, errors)  # fmt: skip


def test_furnishing_through_the_worker_stores_the_same(engine, files, keyring, cn):
    outcomes = []
    for worker_min_bytes in (None, 0):
        with Session(engine) as session:
            add_institution(session)
            reports = [
                run(session, files[fmt], keyring, cn, chunk_rows=97,
                    worker_min_bytes=worker_min_bytes)
                for fmt in ("jsonl", "csv")
            ]  # fmt: skip
            outcomes.append(
                ([_outcome(r) for r in reports], table_counts(session), _snapshot(session))
            )
            session.rollback()
    first, second = outcomes
    jsonl, csv = first[0]
    # accepted, corrected and rejected lines in the first file; the CSV file holds the same
    # rows, so none is new the second time (its repeated months correct each other again)
    assert jsonl[1] > 500 and jsonl[2] > 100 and jsonl[4] > 10
    assert (csv[1], csv[4]) == (0, jsonl[4]) and csv[3] > 500
    assert first == second


def _ready_worker(files, cn) -> None:
    """A worker up and ready (a file read through it; a fresh one waited for)."""
    _chunks(files["csv"], cn, worker_min_bytes=0)
    assert checking._worker.ready(wait=True)


def _assert_nothing_written(engine):
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(StatusRecord)) == 0
        assert session.scalar(select(func.count()).select_from(FurnishingBatch)) == 0


def _furnish_then_check_recovery(engine, path, keyring, cn):
    """After a failure, the same file goes through the worker as if nothing had happened."""
    with Session(engine) as session:
        report = run(session, path, keyring, cn, chunk_rows=97, worker_min_bytes=0)
        session.commit()
        stored = session.scalar(select(func.count()).select_from(StatusRecord))
    assert report.accepted > 500 and stored == report.changes["status_record"]["inserted"]


def test_a_store_failure_stops_the_worker_and_writes_nothing(
    engine, files, keyring, cn, monkeypatch
):
    with Session(engine) as session:
        add_institution(session)
        session.commit()
    real, calls = RecordStore.store_chunk, []

    def failing(self, good, lane):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("store crashed")
        return real(self, good, lane)

    monkeypatch.setattr(RecordStore, "store_chunk", failing)
    _ready_worker(files, cn)
    with Session(engine) as session, pytest.raises(RuntimeError, match="store crashed"):
        run(session, files["jsonl"], keyring, cn, chunk_rows=97, worker_min_bytes=0)
    # the worker was halfway through the file, blocked on the full pipe: it was stopped
    assert checking.worker_pid() is None
    _assert_nothing_written(engine)
    monkeypatch.setattr(RecordStore, "store_chunk", real)
    _furnish_then_check_recovery(engine, files["jsonl"], keyring, cn)


def test_an_error_in_the_worker_reaches_the_batch(engine, files, keyring, cn, monkeypatch):
    """The file is replaced after the batch looked at it and before the worker opens it: the
    worker's error (with its traceback as a note) is raised in the batch, nothing is written,
    and the worker stays up for the next file."""
    with Session(engine) as session:
        add_institution(session)
        session.commit()
    _ready_worker(files, cn)
    path = files["jsonl"]
    original = path.read_bytes()
    real = checking.CheckWorker.check

    def replaced_first(self, check):
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(original)
        tmp.replace(path)  # the same bytes, another file
        return real(self, check)

    monkeypatch.setattr(checking.CheckWorker, "check", replaced_first)
    with Session(engine) as session, pytest.raises(FormatError, match="changed") as caught:
        run(session, path, keyring, cn, chunk_rows=97, worker_min_bytes=0)
    assert any("in the check worker" in n for n in caught.value.__notes__)
    pid = checking.worker_pid()
    assert pid is not None
    _assert_nothing_written(engine)
    monkeypatch.setattr(checking.CheckWorker, "check", real)
    _furnish_then_check_recovery(engine, path, keyring, cn)
    assert checking.worker_pid() == pid


def test_a_file_changed_while_it_is_read_fails_in_process_too(tmp_path, files, cn):
    path = tmp_path / "f.jsonl"
    path.write_bytes(files["jsonl"].read_bytes())
    check = FileCheck(path, "jsonl", AS_OF, cn, 97)
    chunks = checked_chunks(check, worker_min_bytes=None)
    next(chunks)
    with path.open("ab") as fh:  # a furnisher still writing it
        fh.write(b"\n")
    with pytest.raises(FormatError, match="changed while it was being furnished"):
        list(chunks)


def _reference(engine, files, keyring, cn) -> tuple:
    """The outcome of furnishing the JSON file with no worker (then rolled back)."""
    with Session(engine) as session:
        report = run(session, files["jsonl"], keyring, cn, chunk_rows=7)
        got = (_outcome(report), table_counts(session), _snapshot(session))
        session.rollback()
    return got


@pytest.mark.parametrize("when", ["started", "starting"])
def test_a_killed_worker_costs_only_time(engine, files, keyring, cn, when, caplog, monkeypatch):
    """Killed while it sends chunks, or while the batch checks the first chunks itself because
    the worker is still starting: the chunks it did not deliver are read here, and the batch
    ends exactly as without a worker. (One that dies before it ever started is taken for one
    that cannot start: the process stops trying.)"""
    monkeypatch.setattr(checking, "_worker_disabled", False)  # and back after the test
    with Session(engine) as session:
        add_institution(session)
        session.commit()
    expected = _reference(engine, files, keyring, cn)
    if when == "started":
        _ready_worker(files, cn)
    else:
        checking.shutdown_worker()  # the next file starts a fresh one
    killed = []

    def kill_after_first_chunk(done, total):
        worker = checking._worker
        if not killed and worker is not None and worker.alive():
            os.kill(worker.process.pid, signal.SIGKILL)
            killed.append(worker.process.pid)
            worker.process.wait()
            if when == "starting":  # let the batch see it gone before it finishes the file here
                worker._reader.join(timeout=10)

    with Session(engine) as session:
        # small chunks: many more than the pipe and the queue hold when the worker dies
        report = run(session, files["jsonl"], keyring, cn, chunk_rows=7, worker_min_bytes=0,
                     progress=kill_after_first_chunk)  # fmt: skip
        got = (_outcome(report), table_counts(session), _snapshot(session))
        session.rollback()
    assert killed and got == expected
    if when == "starting":
        assert "before it started: files are read in this process" in caplog.text
        assert checking._worker_disabled
        return
    assert "the rest is read in this process" in caplog.text
    # the next large file starts a new worker
    _chunks(files["csv"], cn, worker_min_bytes=0)
    assert checking._worker.ready(wait=True)
    assert checking.worker_pid() not in (None, killed[0])


def test_a_worker_that_cannot_start_leaves_every_file_to_this_process(
    engine, files, keyring, cn, monkeypatch, caplog
):
    """An interpreter that cannot run the worker (here: not Python at all): the file is read
    here with the same outcome, and later files do not try again."""
    with Session(engine) as session:
        add_institution(session)
        session.commit()
    expected = _reference(engine, files, keyring, cn)
    checking.shutdown_worker()
    monkeypatch.setattr(checking, "_worker_disabled", False)
    monkeypatch.setattr(checking.sys, "executable", "/bin/false")
    real_ready = checking.CheckWorker.ready

    def patient(self, *, wait=False):  # so that it dies before the file is done here
        return real_ready(self, wait=True)

    monkeypatch.setattr(checking.CheckWorker, "ready", patient)
    with Session(engine) as session:
        report = run(session, files["jsonl"], keyring, cn, chunk_rows=7, worker_min_bytes=0)
        got = (_outcome(report), table_counts(session), _snapshot(session))
        session.rollback()
    assert got == expected
    assert "before it started: files are read in this process" in caplog.text
    assert checking._worker_disabled and checking.worker_pid() is None
    _, chunks = _chunks(files["csv"], cn, worker_min_bytes=0)
    assert chunks and checking._worker is None  # no new attempt


def test_a_relative_path_is_the_batchs_file(tmp_path, files, cn, monkeypatch):
    """The worker has its own working directory: it is sent the absolute path."""
    _ready_worker(files, cn)
    (tmp_path / "f.jsonl").write_bytes(files["jsonl"].read_bytes())
    monkeypatch.chdir(tmp_path)
    check = FileCheck(Path("f.jsonl"), "jsonl", AS_OF, cn, 97)
    got = list(checked_chunks(check, worker_min_bytes=0))
    assert sum(c.rows for c in got) > 1000
    assert check.sha256 == file_sha256(files["jsonl"])


def test_a_starting_worker_takes_over_after_the_first_chunks(files, cn, monkeypatch):
    """While a fresh worker imports, the first chunks are checked here; the worker then
    checks the rest, skipping those: the same chunks as reading it all here."""
    _, expected = _chunks(files["jsonl"], cn, worker_min_bytes=None)
    checking.shutdown_worker()
    real, asked = checking.CheckWorker.ready, []

    def slow_start(self, *, wait=False):
        asked.append(wait)
        if not wait and len(asked) <= 3:
            return False
        return real(self, wait=True)

    real_check, handed_over_at = checking.CheckWorker.check, []

    def spy(self, check):
        handed_over_at.append(check.skip_chunks)
        return real_check(self, check)

    monkeypatch.setattr(checking.CheckWorker, "ready", slow_start)
    monkeypatch.setattr(checking.CheckWorker, "check", spy)
    check, got = _chunks(files["jsonl"], cn, worker_min_bytes=0)
    assert handed_over_at == [3]  # three chunks checked here, the rest in the worker
    assert check.skip_chunks == len(got) > 3
    assert checking.worker_pid() is not None
    assert [_plain(c) for c in got] == [_plain(c) for c in expected]
    assert check.sha256 == file_sha256(files["jsonl"])
