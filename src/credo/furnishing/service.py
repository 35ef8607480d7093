"""Furnishing batches: stream a file, validate, resolve, store, quarantine, audit.

One batch is one transaction (the caller's `session_scope` commits): either every good row,
every quarantined row, the batch record and its ledger entry land together, or nothing does.
Rows are processed in chunks so memory stays flat however large the file is.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import orjson
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from credo.audit import service as audit
from credo.config import Profile
from credo.db import pg_setting, utcnow
from credo.errors import FormatError, NotFound
from credo.furnishing.checking import Checked, FileCheck, checked_chunks
from credo.furnishing.models import BatchStatus, FurnishingBatch, QuarantinedRow
from credo.furnishing.reader import line_text, sniff
from credo.furnishing.store import RecordStore
from credo.furnishing.validate import Problem, RowValidator
from credo.institution.models import Institution
from credo.security.keys import KeyRing
from credo.security.service import bind_index_key

log = logging.getLogger(__name__)
_NUMBERS = re.compile(r"(?<!Art\. )(?<![#\w])[-+]?\d[\d.,:*+-]*\d|(?<![\w#])\d(?!\w)")

#: at most this many errors are kept in the returned report (all are in the quarantine table)
REPORT_ERROR_LIMIT = 10_000
#: quarantined rows held before they are inserted (bounded memory however bad the file)
QUARANTINE_BATCH_ROWS = 2_000


@dataclass
class BatchReport:
    """What happened to every line of a furnished file."""

    batch_id: str
    institution: str
    file: str
    file_format: str
    file_sha256: str
    as_of: str
    lines: int = 0
    accepted: int = 0
    corrections: int = 0
    duplicates: int = 0
    rejected: int = 0
    flagged: int = 0
    seconds: float = 0.0
    changes: dict[str, dict[str, int]] = field(default_factory=dict)
    rejections_by_reason: dict[str, int] = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)
    errors_total: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class Outcome:
    """Running counts; the store reports each line's fate here."""

    accepted: int = 0
    corrections: int = 0
    duplicates: int = 0
    rejected: int = 0
    flagged: int = 0


def _reason_key(reason: str) -> str:
    """Group reasons that differ only in their numbers ("jumps from 0 in 2024-01 to 90")."""
    return _NUMBERS.sub("…", re.sub(r"#\d+", "#…", reason))[:120]


class BatchRun:
    """State of one batch while it streams through."""

    def __init__(
        self,
        session: Session,
        *,
        keyring: KeyRing,
        profile: Profile,
        batch: FurnishingBatch,
        institution: Institution,
        validator: RowValidator,
        report: BatchReport,
    ) -> None:
        self.session = session
        self.keyring = keyring
        self.batch = batch
        self.report = report
        self.validator = validator
        self.outcome = Outcome()
        self.quarantine: list[dict] = []
        self.store = RecordStore(
            session,
            keyring=keyring,
            profile=profile,
            batch_id=batch.id,
            institution_id=institution.id,
            reject=self.reject,
            outcome=self.outcome,
        )

    def reject(
        self, line: int, rtype: str | None, problems: list[Problem], text: str | None, *, held=False
    ) -> None:
        """Quarantine one line with every problem found on it."""
        if held:
            self.outcome.flagged += 1
        else:
            self.outcome.rejected += 1
        text = line_text(text)
        raw_enc = self.keyring.encrypt(text, column="quarantined_row.raw") if text else None
        for i, p in enumerate(problems):
            self.quarantine.append(
                {
                    "batch_id": self.batch.id,
                    "line_no": line,
                    "record_type": rtype,
                    "field": p.field,
                    "reason": p.reason[:500],
                    "held": held,
                    "masked_value": p.value[:200] if p.value else None,
                    "raw_enc": raw_enc if i == 0 else None,
                }
            )
            key = f"{rtype or '?'}.{p.field or '-'}: {_reason_key(p.reason)}"
            self.report.rejections_by_reason[key] = self.report.rejections_by_reason.get(key, 0) + 1
            self.report.errors_total += 1
            if len(self.report.errors) < REPORT_ERROR_LIMIT:
                self.report.errors.append(
                    {
                        "line": line,
                        "record_type": rtype,
                        "field": p.field,
                        "reason": p.reason,
                        "value": p.value,
                        "held": held,
                    }
                )

    def apply(self, checked: Checked) -> None:
        """Quarantine one checked chunk's bad rows and store its good ones."""
        self.report.lines += checked.rows
        for line, rtype, problems, raw in checked.bad:
            self.reject(line, rtype, problems, raw)
        # quarantined rows go in a few thousand at a time, not after every chunk: a chunk's
        # first statement waits for the last chunk's status COPY (PostgreSQL), and the later
        # it comes, the more of this chunk's own work overlaps that COPY
        if len(self.quarantine) >= QUARANTINE_BATCH_ROWS:
            self.write_quarantine()
        self.store.store_chunk(checked.good, checked.lane)

    def write_quarantine(self) -> None:
        """Insert the quarantined rows collected so far (and at the end of the file)."""
        if self.quarantine:
            # the store's insert: COPY on PostgreSQL for many rows (a file's defects can be
            # tens of thousands)
            self.store.insert_rows(QuarantinedRow, self.quarantine)
            self.quarantine = []


class _Statistics:
    """Keeps PostgreSQL's planner statistics close to the truth while one big file loads.

    A file is furnished in one transaction, and PostgreSQL plans each chunk's lookups from
    statistics that do not count the rows this transaction inserted. Into empty tables, the
    inquiry duplicate check (``institution_id = ? AND content_hash IN (...)``) is then planned
    as a scan of every inquiry of the institution so far, and a 100,000-subject first file
    loads in quadratic time (measured: 100 ms per lookup at 300,000 inquiries, 1.3 ms after
    ANALYZE). ANALYZE inside the transaction samples its own rows too; running it each time the
    lines processed have doubled keeps the statistics within 2x of the truth at O(log n) cost.
    SQLite plans without such statistics and needs none of this.
    """

    TABLES = (
        "subject",
        "subject_info",
        "account",
        "account_version",
        "status_record",
        "inquiry",
        "public_record",
    )

    def __init__(self, session: Session, first_at: int) -> None:
        self.session = session
        self.enabled = session.get_bind().dialect.name == "postgresql"
        self.next_at = first_at
        self.sampled = False  # whether refresh ran ANALYZE on a small sample
        if self.enabled:
            # Statistics that already count as many rows as this file could add stay within
            # 2x of the truth without help: the first ANALYZE waits until the lines processed
            # reach the rows those tables held when the file started (a file into a large
            # bureau triggers none; measured: 15 ANALYZEs, 4.2 s of a 36 s run, before).
            known = self.session.scalar(
                text(
                    "SELECT coalesce(sum(greatest(reltuples, 0)), 0)::bigint FROM pg_class "
                    "WHERE oid = ANY(CAST(:tables AS regclass[]))"
                ),
                {"tables": list(self.TABLES)},
            )
            self.next_at = max(first_at, int(known or 0))

    def refresh(self, done: int) -> None:
        """Called after each full chunk (never after the last, partial one)."""
        if self.enabled and done >= self.next_at:
            # row counts are what the lookups' plans need; a 3,000-row sample a table gives
            # them at a tenth of the default 30,000's cost (4 ANALYZEs took 0.8 s of a 1.2M-line
            # load)
            with pg_setting(self.session, "default_statistics_target", "10"):
                self.session.execute(text("ANALYZE " + ", ".join(self.TABLES)))
            self.next_at = 2 * done
            self.sampled = True

    def finish(self) -> None:
        """Called once the file's rows are all written: when the statistics came from the
        small samples above, ANALYZE once more with the full sample, so that the file does not
        leave them behind. Autovacuum would replace them after the commit, but only when it
        is on and gets to it; meanwhile every query is planned on them (a 3,000-row sample put
        a subject's statuses at 2,900 rows per account and the API read them with a parallel
        sequential scan, 300-600 ms per score)."""
        if self.sampled:
            self.session.execute(text("ANALYZE " + ", ".join(self.TABLES)))


def furnish(
    session: Session,
    *,
    path: Path,
    institution_code: str,
    keyring: KeyRing,
    profile: Profile,
    actor: str,
    as_of: date | None = None,
    chunk_rows: int = 5000,
    progress: Callable[[int, int], None] | None = None,
    today: date | None = None,
    analyze_from_lines: int = 50_000,
    worker_min_bytes: int | None = None,
) -> BatchReport:
    """Furnish one file for one institution; returns the batch report.

    Raises `FormatError` (nothing written) when the file is not the furnishing format at all,
    and `NotFound` for an unknown institution. On PostgreSQL the looked-up tables are ANALYZEd
    inside the file's transaction once `analyze_from_lines` lines have been processed and
    again each time that doubles (see `_Statistics`). A file of at least `worker_min_bytes`
    bytes is read and validated in a worker process while this one stores
    (`credo.furnishing.checking`; None: always here).
    """
    started = time.perf_counter()
    today = today or date.today()
    header = sniff(path)
    institution = session.scalar(select(Institution).where(Institution.code == institution_code))
    if institution is None:
        raise NotFound(f"institution {institution_code!r} is not registered")
    if header.institution is not None and header.institution != institution_code:
        raise FormatError(
            f"{path.name}: the header names institution {header.institution!r}, "
            f"not {institution_code!r}"
        )
    if as_of is not None and header.as_of is not None and as_of != header.as_of:
        raise FormatError(f"{path.name}: header as_of {header.as_of} differs from --as-of {as_of}")
    as_of = as_of or header.as_of or today
    if as_of > today:
        raise FormatError(f"{path.name}: batch date {as_of} is in the future")

    bind_index_key(session, keyring)
    batch = FurnishingBatch(
        ref=uuid.uuid4().hex,
        institution_id=institution.id,
        file_name=path.name[:255],
        file_sha256="",
        file_format=header.fmt,
        format_version=header.format_version,
        as_of=as_of,
        status=BatchStatus.completed,
        actor=actor[:100],
        profile=profile.code,
    )
    session.add(batch)
    session.flush()
    report = BatchReport(
        batch_id=batch.ref,
        institution=institution_code,
        file=path.name,
        file_format=header.fmt,
        file_sha256="",
        as_of=as_of.isoformat(),
    )
    run = BatchRun(
        session,
        keyring=keyring,
        profile=profile,
        batch=batch,
        institution=institution,
        validator=RowValidator(as_of=as_of, profile=profile),
        report=report,
    )
    total = path.stat().st_size
    stats = _Statistics(session, analyze_from_lines)
    lines = 0
    check = FileCheck(path, header.fmt, as_of, profile, chunk_rows)
    chunks = checked_chunks(check, worker_min_bytes=worker_min_bytes)
    unwatch = run.store.watch_connection()
    try:
        with contextlib.closing(chunks):
            for checked in chunks:
                run.apply(checked)
                lines += checked.rows
                if checked.rows >= chunk_rows:
                    stats.refresh(lines)
                if progress:
                    progress(checked.bytes_read, total)
        if progress:
            progress(total, total)
        run.write_quarantine()
        run.store.finish_copy()
        stats.finish()
    except BaseException as exc:
        run.store.finish_copy(exc)
        raise
    finally:
        unwatch()

    out = run.outcome
    report.file_sha256 = check.sha256
    report.accepted, report.corrections = out.accepted, out.corrections
    report.duplicates, report.rejected, report.flagged = out.duplicates, out.rejected, out.flagged
    report.changes = {k: dict(v) for k, v in sorted(run.store.changes.items())}
    batch.file_sha256 = report.file_sha256
    batch.lines = report.lines
    batch.accepted, batch.corrections, batch.duplicates = (
        out.accepted,
        out.corrections,
        out.duplicates,
    )
    batch.rejected, batch.flagged = out.rejected, out.flagged
    batch.changes = orjson.dumps(report.changes, option=orjson.OPT_SORT_KEYS).decode()
    batch.finished_at = utcnow()
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="furnish.batch",
        target=f"batch:{batch.ref}",
        details={
            "institution": institution_code,
            "file_sha256": report.file_sha256,
            "as_of": report.as_of,
            "lines": report.lines,
            "accepted": out.accepted,
            "corrections": out.corrections,
            "duplicates": out.duplicates,
            "rejected": out.rejected,
            "flagged": out.flagged,
            "changes": report.changes,
        },
    )
    audit.checkpoint(session, keyring)
    report.seconds = round(time.perf_counter() - started, 3)
    log.info("batch %s: %d lines in %.2fs", batch.ref, report.lines, report.seconds)
    return report


def file_sha256(path: Path) -> str:
    """SHA-256 of a whole file (used by tests and the CLI)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
