"""Reading and validating a furnishing file, chunk by chunk, in this process or in a worker.

Everything a batch does before it touches the database is pure: decode each line, validate
it (plain statuses as columns, `validate_statuses`; every other row on its own,
`RowValidator.validate`) and hash the file. `check_rows` does that for one chunk and returns a
`Checked`; iterating a `FileCheck` does it for a whole file.

A large file is read and validated in a separate process (`CheckWorker`) while this process
stores the chunks before it, so the two halves of the work run on two cores instead of one
after the other (docs/operations.md, "Furnishing large files"). The worker is started once
(a fresh interpreter, not a fork: Polars' thread pool does not survive a fork) and serves
every later file of the process. Chunks come back through a pipe into a bounded queue, so at
most a few chunks are in flight and memory stays flat; the worker has no database connection
and no keys, and what it sends never leaves the machine (an anonymous pipe between the two
processes).

Either way, the batch sees the same chunks in the same order with the same contents: the
outcome does not depend on where the checking ran (tested).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import io
import itertools
import logging
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

from credo.config import Profile
from credo.errors import FormatError
from credo.furnishing.columnar import StatusColumns, validate_statuses
from credo.furnishing.reader import HashingReader, RawRow, iter_csv, iter_jsonl
from credo.furnishing.validate import Problem, Record, RowValidator

log = logging.getLogger(__name__)

#: chunks the worker may run ahead of the store (each is `chunk_rows` rows, ~1 MB at 5,000):
#: enough to ride out the stretches when the store and the database take both cores
QUEUE_CHUNKS = 8
#: the worker's niceness (lower CPU priority than the batch and the database server)
WORKER_NICE = 10
#: how often a waiting batch checks that the worker is still alive (seconds)
_POLL_SECONDS = 1.0


@dataclass(slots=True)
class Checked:
    """One chunk of a file, decoded and validated: what the store needs next."""

    #: lines in the chunk (every line, good or bad)
    rows: int
    #: plain statuses the columnar lane took
    lane: StatusColumns | None
    #: every other valid row, in line order: (line, record type, record, raw text)
    good: list[tuple[int, str, Record, str | bytes | None]]
    #: rows that failed: (line, record type or None, problems, raw text)
    bad: list[tuple[int, str | None, list[Problem], str | bytes | None]]
    #: bytes of the file read so far (for progress)
    bytes_read: int = 0


def _line(raw: RawRow) -> int:
    return raw.line


def check_rows(validator: RowValidator, rows: list[RawRow]) -> Checked:
    """Validate one chunk of raw rows.

    Plain status rows are validated a chunk at a time as columns (`validate_statuses`); every
    row that lane does not take is validated on its own, as is every other row, in line order.
    """
    validate, known = validator.validate, validator.status_fields
    plain, others = [], []
    for raw in rows:
        d = raw.data
        if d is not None and d.get("record_type") == "status" and d.keys() <= known:
            plain.append(raw)
        else:
            others.append(raw)
    lane, slow = validate_statuses(validator, plain)
    # in line order: the stored statuses of an account are decided line by line
    ordered = sorted([*others, *slow], key=_line) if slow else others
    good: list = []
    bad: list = []
    for raw in ordered:
        if raw.data is None:
            bad.append((raw.line, None, [Problem(None, raw.error or "unreadable")], raw.text))
            continue
        rtype, rec, problems = validate(raw.data)
        if problems:
            bad.append((raw.line, rtype, problems, raw.text))
        else:
            good.append((raw.line, rtype, rec, raw.text))
    return Checked(len(rows), lane, good, bad)


@dataclass
class FileCheck:
    """The checked chunks of one file; `sha256` and `size` are set once it is read through.

    `skip_chunks`: the first chunks are read (and hashed) but not checked or yielded: they
    were checked elsewhere (`checked_chunks` hands a file over to the worker that way).
    """

    path: Path
    fmt: str
    as_of: date
    profile: Profile
    chunk_rows: int
    skip_chunks: int = 0
    #: (device, inode, size, mtime) the file must still have when it is opened and when it
    #: has been read (`file_identity`): a file read by two processes is one file
    identity: tuple[int, int, int, int] | None = None
    sha256: str | None = None
    size: int = 0

    def _same_file(self, fh) -> None:
        if self.identity is not None and file_identity(os.fstat(fh.fileno())) != self.identity:
            raise FormatError(
                f"{self.path.name}: the file changed while it was being furnished; "
                "nothing was written (send it again once it is complete)"
            )

    def __iter__(self) -> Iterator[Checked]:
        validator = RowValidator(as_of=self.as_of, profile=self.profile)
        skip_rows = self.skip_chunks * self.chunk_rows
        with self.path.open("rb") as fh:
            self._same_file(fh)
            hashing = HashingReader(fh)
            stream = io.BufferedReader(hashing, buffer_size=1 << 20)
            rows_iter = iter_jsonl(stream) if self.fmt == "jsonl" else iter_csv(stream)
            if skip_rows:
                # the same rows the checker read (the row iterator, not raw lines: a CSV row
                # may span lines), left unchecked
                for _ in itertools.islice(rows_iter, skip_rows):
                    pass
            while chunk := list(itertools.islice(rows_iter, self.chunk_rows)):
                checked = check_rows(validator, chunk)
                checked.bytes_read = hashing.bytes_read
                yield checked
            # drain whatever the row iterator did not consume so the hash covers the whole file
            while hashing.read(1 << 20):
                pass
            self._same_file(fh)
        self.sha256, self.size = hashing.sha256.hexdigest(), hashing.bytes_read


def file_identity(st: os.stat_result) -> tuple[int, int, int, int]:
    """What tells a file from its replacement or a later version of it."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


# -- the worker process ------------------------------------------------------------------
# A plain child interpreter (``python -m credo.furnishing.checking``) talking length-prefixed
# pickles over its stdin and stdout: unlike multiprocessing's spawn, it never re-runs the
# parent's main script, so any program may furnish without a ``__main__`` guard.
_FRAME = struct.Struct("<Q")
#: far above any chunk's frame (~1 MB at 5,000 rows); a larger length is a corrupt stream
_MAX_FRAME = 1 << 31


def _write_frame(out: BinaryIO, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_FRAME.pack(len(data)))
    out.write(data)
    out.flush()


def _read_frame(inp: BinaryIO) -> bytes | None:
    head = inp.read(_FRAME.size)
    if len(head) < _FRAME.size:
        return None
    (n,) = _FRAME.unpack(head)
    if n > _MAX_FRAME:
        raise ValueError(f"a {n:,}-byte frame: the worker's output is not frames")
    data = inp.read(n)
    return data if len(data) == n else None


def _serve(inp: BinaryIO, out: BinaryIO) -> None:
    """The worker's loop: one task per file, its chunks back in order, then its digest.

    It first says it is ready (its imports done), so that a batch can check the first chunks
    itself meanwhile (`checked_chunks`)."""
    _write_frame(out, ("ready", 0, None))
    while (frame := _read_frame(inp)) is not None:
        job, check = pickle.loads(frame)
        try:
            for checked in check:
                _write_frame(out, ("chunk", job, checked))
            _write_frame(out, ("done", job, (check.sha256, check.size)))
        except Exception as exc:  # reported to the batch, which raises it
            exc.add_note("in the check worker:\n" + "".join(traceback.format_exception(exc)))
            _write_frame(out, ("error", job, _portable(exc)))


def _portable(exc: BaseException) -> BaseException:
    """`exc` if it survives pickling, else a RuntimeError naming it."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


class WorkerDied(RuntimeError):
    """The checking worker exited while a file was being read."""


class CheckWorker:
    """A child process that reads and validates files for this one (one file at a time).

    A thread here reads its answers off the pipe and unpickles them into a bounded queue, so
    the worker runs up to `QUEUE_CHUNKS` chunks ahead of the store and no further, and the
    unpickling happens while the batch waits for the database (which releases the GIL).
    """

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "credo.furnishing.checking"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        #: answers (kind, job, payload), or None once the pipe is closed
        self._answers: queue.Queue[tuple | None] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._stopping = threading.Event()
        self._reader = threading.Thread(target=self._read, name="credo-check-reader", daemon=True)
        self._reader.start()
        self._jobs = 0
        self._ready = False
        #: why the reader gave up on the worker's output, if it did
        self.failure: str | None = None

    def _read(self) -> None:
        """Read answers off the pipe until it closes. Any failure here (a torn or corrupt
        frame) ends the worker: the batch then sees it gone and carries on without it."""
        out = self.process.stdout
        try:
            while (frame := _read_frame(out)) is not None:
                if not self._put(pickle.loads(frame)):
                    return
        except BaseException as exc:  # any of them ends the stream
            self.failure = f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(OSError):
                self.process.kill()
        self._put(None)

    def _put(self, answer: tuple | None) -> bool:
        while not self._stopping.is_set():
            try:
                self._answers.put(answer, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def alive(self) -> bool:
        return self.process.poll() is None and self._reader.is_alive()

    def ready(self, *, wait: bool = False) -> bool:
        """Whether the worker has started (its first answer); `wait`: until it has."""
        if not self._ready:
            if wait:
                answer = self._get()
            else:
                try:
                    answer = self._answers.get_nowait()
                except queue.Empty:
                    return False
                if answer is None:
                    raise self._died()
            if answer[0] != "ready":  # pragma: no cover - would be a bug
                raise RuntimeError(f"the checking worker did not start: {answer!r}")
            self._ready = True
        return True

    @property
    def started(self) -> bool:
        """Whether it ever said it was ready."""
        return self._ready

    def _died(self) -> WorkerDied:
        with contextlib.suppress(OSError):
            self.process.kill()
        code = self.process.wait()
        why = f"; {self.failure}" if self.failure else ""
        return WorkerDied(f"the check worker exited (code {code}){why}")

    def check(self, check: FileCheck) -> Iterator[Checked]:
        """The chunks of `check`'s file, read in the worker; sets its `sha256` and `size`.

        If the caller stops early (an exception while storing), the worker is stopped too:
        it may be blocked on the full pipe halfway through the file.
        """
        self._jobs += 1
        job = self._jobs
        finished = False
        try:
            self.ready(wait=True)
            try:
                _write_frame(self.process.stdin, (job, check))
            except OSError:  # gone since it said it was ready
                raise self._died() from None
            while True:
                kind, got_job, payload = self._get()
                if got_job != job:  # pragma: no cover - would be a bug
                    raise RuntimeError(f"checking worker answered job {got_job}, not {job}")
                if kind == "chunk":
                    yield payload
                elif kind == "done":
                    check.sha256, check.size = payload
                    finished = True
                    return
                else:  # the worker caught it and is ready for the next file
                    finished = True
                    raise payload
        finally:
            if not finished:
                self.stop()

    def _get(self) -> tuple[str, int, Any]:
        while True:
            try:
                answer = self._answers.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if self.process.poll() is None and self._reader.is_alive():
                    continue
                answer = None
            if answer is None:
                raise self._died()
            return answer

    def stop(self) -> None:
        """End the worker now (it holds no data of its own worth keeping)."""
        self._stopping.set()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                pipe.close()
        self._reader.join(timeout=5)

    def close(self) -> None:
        """Let the worker exit (end of its input); stop it if it does not."""
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        self.stop()


_worker: CheckWorker | None = None
_worker_lock = threading.Lock()


#: set when a worker could not even start (an interpreter that cannot import credo, say):
#: this process then reads every file itself rather than fail at each large one
_worker_disabled = False


def shutdown_worker() -> None:
    """End this process's check worker, if any (a later large file starts a new one). Also
    run at exit; call it when a process is done furnishing but lives on (`credo demo`)."""
    global _worker
    # not under a batch that is using it (at exit, a stuck thread must not hold exit up)
    locked = _worker_lock.acquire(timeout=10)
    try:
        if _worker is not None:
            _worker.close()
            _worker = None
    finally:
        if locked:
            _worker_lock.release()


atexit.register(shutdown_worker)


def checked_chunks(check: FileCheck, *, worker_min_bytes: int | None) -> Iterator[Checked]:
    """The chunks of `check`'s file: from the worker when the file has at least
    `worker_min_bytes` bytes (None: never), else read here.

    One worker serves the process; a file that finds it busy (another thread furnishing) is
    read here instead of waiting. A worker that dies (killed, out of memory, a corrupt answer)
    costs nothing but time: the chunks it did not deliver are read here, the same chunks.
    """
    global _worker, _worker_disabled
    check.path = check.path.resolve()  # the worker has its own working directory
    st = check.path.stat()
    check.identity = file_identity(st)
    if worker_min_bytes is None or st.st_size < worker_min_bytes or _worker_disabled:
        yield from check
        return
    if not _worker_lock.acquire(blocking=False):
        yield from check
        return
    try:
        if _worker is None or not _worker.alive():
            if _worker is not None:
                _worker.stop()
            _worker = CheckWorker()
        worker = _worker
        try:
            yield from _through(worker, check)
        except WorkerDied as exc:
            if not worker.started:
                _worker_disabled = True
                log.warning("%s before it started: files are read in this process", exc)
            else:
                log.warning("%s at chunk %d of %s: the rest is read in this process",
                            exc, check.skip_chunks + 1, check.path.name)  # fmt: skip
            rest = dataclasses.replace(check)
            yield from rest
            check.sha256, check.size = rest.sha256, rest.size
        finally:
            if not worker.alive():
                worker.stop()
                if _worker is worker:
                    _worker = None
    finally:
        _worker_lock.release()


def _through(worker: CheckWorker, check: FileCheck) -> Iterator[Checked]:
    """The chunks of `check`'s file through `worker`; `check.skip_chunks` counts the chunks
    delivered so far (so that a dead worker's file can be finished elsewhere)."""
    if not worker.ready():
        # a worker just started needs ~0.6 s for its imports: check the first chunks here
        # meanwhile, then hand the rest of the file over
        local = dataclasses.replace(check)
        with contextlib.closing(iter(local)) as here:
            for checked in here:
                check.skip_chunks += 1
                yield checked
                if worker.ready():
                    break
            else:  # the whole file was read here
                check.sha256, check.size = local.sha256, local.size
                return
    for checked in worker.check(check):
        check.skip_chunks += 1
        yield checked


def worker_pid() -> int | None:
    """The running worker's process id (benchmarks count its CPU and memory)."""
    w = _worker
    return w.process.pid if w is not None and w.alive() else None


if __name__ == "__main__":  # the worker: python -m credo.furnishing.checking
    # through the module's importable name, so its classes pickle as credo.furnishing.*
    from credo.furnishing import checking

    if hasattr(os, "nice"):
        # behind the batch and the database, which wait for each other: the worker only has to
        # stay a few chunks ahead (measured: 38,000-45,000 lines/s at 10, 35,000-41,000 at 0)
        os.nice(checking.WORKER_NICE)
    # the answers go to a copy of the original stdout; anything else printed goes to stderr
    # and cannot corrupt them
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    # the parent gone (its end of the pipe closed): nothing left to read for
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):
        checking._serve(sys.stdin.buffer, answers)
