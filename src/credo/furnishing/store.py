"""Storing validated records: resolve identities, detect duplicates and corrections, write.

Each record type follows the same rule: look up the current version by its natural key; equal
content hash -> duplicate (nothing written); different -> correction (the old row is marked
superseded by this batch, the new row gets version + 1); absent -> new row. Lookups are done per
chunk in bulk, writes are bulk inserts.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import orjson
import polars as pl
from sqlalchemy import LargeBinary, event, select, tuple_, update
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from credo.account.integrity import lock_accounts
from credo.account.models import Account, AccountVersion, StatusRecord
from credo.config import Profile
from credo.core.normalize import name_key
from credo.db import in_values, utcnow
from credo.furnishing.columnar import StatusColumns
from credo.furnishing.models import FurnishingBatch
from credo.furnishing.rules import (
    MAX_DPD_GROWTH_PER_MONTH,
    AccountState,
    check_dpd_aging,
    check_status_against_account,
    months_between,
)
from credo.furnishing.validate import (
    AccountRec,
    Problem,
    StatusRec,
    SubjectRec,
    status_content_hash,
)
from credo.inquiry.models import Inquiry, InquirySource
from credo.public_record.models import PublicRecord
from credo.security.keys import KeyRing
from credo.subject.models import IdentityReview, ReviewKind, ReviewStatus, Subject, SubjectInfo
from credo.subject.resolution import (
    KnownSubject,
    SubjectDirectory,
    id_blind,
    name_dob_blind,
    new_subject_ref,
    phone_blind,
)

Rejector = Callable[..., None]


def _hash(*parts) -> str:
    return hashlib.sha256(
        "\x1f".join("" if p is None else str(p) for p in parts).encode()
    ).hexdigest()


# The content hash of each kind of record: an equal hash is a duplicate, another one a
# correction. Dispute corrections (credo.rights.corrections) hash with these too, so that a
# furnisher re-sending a corrected line later is a duplicate, not a new correction.


def account_hash(rec) -> str:
    """Content hash of a furnished account (its `AccountVersion` attributes)."""
    return _hash(rec.account_type, rec.opened_on, rec.closed_on, rec.currency,
                 rec.credit_limit_cents, rec.principal_cents, rec.term_months, rec.status,
                 rec.subject_notified_on)  # fmt: skip


def public_record_hash(subject_id: int, rec) -> str:
    """Content hash of a public record of the subject `subject_id`."""
    return _hash(subject_id, rec.authority, rec.amount_cents, rec.currency, rec.filed_on,
                 rec.resolved_on, rec.subject_notified_on)  # fmt: skip


def subject_info_hash(keyring: KeyRing, name: str, phone: str | None, address: str | None) -> str:
    """Content hash of a furnisher's identity and contact line: keyed, as it hashes personal
    data, so it cannot be used to confirm a guessed phone or address."""
    return keyring.blind_index(f"{name}|{phone}|{address}", purpose="content")


def status_hash(rec) -> str:
    """`_hash(balance, due, paid, dpd, notified)` of a status, without the generic join: this
    runs once per status line."""
    return status_content_hash(
        rec.balance_cents, rec.amount_due_cents, rec.amount_paid_cents, rec.days_past_due,
        rec.subject_notified_on,
    )  # fmt: skip


_STATUS_COPY_COLUMNS = (
    "account_id", "period", "balance_cents", "amount_due_cents", "amount_paid_cents",
    "days_past_due", "subject_notified_on", "version", "content_hash", "recorded_at",
    "superseded_at", "superseded_by_batch_id", "batch_id", "line_no",
)  # fmt: skip
_NULL = "\\N"  # COPY text format's NULL
#: rows from which an insert goes in with COPY on PostgreSQL (below, one INSERT is cheaper)
_COPY_FROM = 50
_STATUS_COPY_SQL = f"COPY status_record ({', '.join(_STATUS_COPY_COLUMNS)}) FROM STDIN"


#: COPY text format escapes (backslash first)
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(v) -> str:
    """A non-null value in COPY text format (`_copy_field` without the None check)."""
    fmt = _COPY_FORMATS.get(type(v))
    return fmt(v) if fmt is not None else _copy_field(v)


def _copy_field(v) -> str:
    """One value in PostgreSQL's COPY text format."""
    if v is None:
        return _NULL
    t = type(v)
    if t is int:
        return str(v)
    if t is bool:
        return "t" if v else "f"
    if t is bytes:
        return "\\\\x" + v.hex()  # bytea hex input, its backslash escaped
    if isinstance(v, date):  # dates, and aware datetimes (timestamptz)
        return v.isoformat()
    if isinstance(v, str):
        return v.translate(_COPY_ESCAPES)
    if isinstance(v, (float, Decimal)):
        return str(v)
    raise TypeError(f"no COPY text form for a {t.__name__}")


class _Sender:
    """Writes COPY payloads from one thread of its own, started once per batch (starting a
    thread per COPY cost ~1.4 ms each, more than some chunks' COPY). `send` hands it a payload;
    `wait` waits until it is written and returns the exception that stopped it, if any."""

    def __init__(self) -> None:
        self.error: BaseException | None = None
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._done = threading.Event()
        self._done.set()
        self._thread = threading.Thread(target=self._run, name="credo-copy", daemon=True)
        self._thread.start()

    def send(self, copy, payload: bytes) -> None:
        self.error = None
        self._done.clear()
        self._jobs.put((copy, payload))

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            copy, payload = job
            try:
                copy.write(payload)
            except BaseException as exc:  # handed to the batch's thread by wait()
                self.error = exc
            finally:
                self._done.set()

    def wait(self) -> BaseException | None:
        self._done.wait()
        return self.error

    def close(self) -> None:
        """Let the thread end (after the payload it may still be writing)."""
        self._jobs.put(None)


#: the COPY text of the common value types, by exact type (`_copy_field` decides the rest)
_COPY_FORMATS = {
    int: int.__str__,
    str: lambda v: v.translate(_COPY_ESCAPES),
    date: date.isoformat,
    datetime: datetime.isoformat,
    bytes: lambda v: "\\\\x" + v.hex(),
}


def _month_date(m: int) -> date:
    """The first day of month `m`, counted as ``year * 12 + month - 1``."""
    return date(m // 12, m % 12 + 1, 1)


#: which of these inquiry content hashes an institution already has (PostgreSQL): the LATERAL
#: subquery with LIMIT cannot be turned into a join, so each hash is one probe of the unique
#: (institution_id, content_hash) index
_INQUIRY_HASHES_PG = sql_text(
    "SELECT h.hash FROM unnest(CAST(:hashes AS text[])) AS h(hash), "
    "LATERAL (SELECT 1 FROM inquiry i WHERE i.institution_id = :institution "
    "AND i.content_hash = h.hash LIMIT 1) AS found"
)


#: the current version of each of these accounts of an institution (PostgreSQL): per reference,
#: one probe of the unique (institution_id, account_ref) index and one of the current-version
#: index, whatever the statistics say. As a join, the planner scanned both tables whole while
#: they were small (15-20 ms a chunk at 40,000 accounts, against 3.5 ms)
_ACCOUNTS_PG = sql_text(
    "SELECT r.ref, x.* FROM unnest(CAST(:refs AS text[])) AS r(ref), "
    "LATERAL (SELECT a.id, a.subject_id, v.id AS version_id, v.content_hash, v.version, "
    "v.opened_on, v.closed_on, v.status FROM account a JOIN account_version v "
    "ON v.account_id = a.id AND v.superseded_at IS NULL "
    "WHERE a.institution_id = :institution AND a.account_ref = r.ref LIMIT 1) AS x"
)


def _prev_month(d: date) -> date:
    return date(d.year - 1, 12, 1) if d.month == 1 else date(d.year, d.month - 1, 1)


class RecordStore:
    """Writes one batch's validated records chunk by chunk."""

    def __init__(
        self,
        session: Session,
        *,
        keyring: KeyRing,
        profile: Profile,
        batch_id: int,
        institution_id: int,
        reject: Rejector,
        outcome,
    ) -> None:
        self.session = session
        self.keyring = keyring
        self.profile = profile
        self.batch_id = batch_id
        self.institution_id = institution_id
        self.reject = reject
        self.outcome = outcome
        self.now: datetime = utcnow()
        bind = session.get_bind()
        #: status rows go in with COPY on PostgreSQL through psycopg 3
        self._pg = bind.dialect.name == "postgresql"
        self._copy = self._pg and bind.dialect.driver == "psycopg"
        #: the status COPY whose rows were sent but whose completion was not awaited yet
        self._open_copy = None
        self._watched = False
        #: the thread that sends COPY payloads while the connection is watched
        self._sender: _Sender | None = None
        self.subjects = SubjectDirectory(session, keyring)
        self._blinds: dict[tuple[str, str], str] = {}
        #: identifiers (blind) and account refs held for identity review in this batch
        self.held_blinds: dict[str, int] = {}
        self.held_refs: dict[str, int] = {}
        #: subject id -> review id, so statuses of its existing accounts are held too
        self.held_subjects: dict[int, int] = {}
        #: review id -> line of the conflict: only lines after it are held, so the outcome does
        #: not depend on the chunk a line falls in (chunks are stored record type by type)
        self.held_since: dict[int, int] = {}
        #: subjects whose identity this furnisher confirmed with a matching subject record
        self.confirmed: set[int] = set()
        #: subjects this furnisher has not confirmed (looked up once), their stored identity
        #: (name and birth date, encrypted) and those to flag for review at the end of a chunk
        self._unconfirmed: set[int] = set()
        self._identities: dict[int, tuple[bytes, bytes | None]] = {}
        self._to_flag: set[int] = set()
        self.accounts: dict[str, AccountState] = {}
        self.unknown_refs: set[str] = set()
        #: this institution's dispute correction batches (id -> dispute ref): what a dispute
        #: removed or corrected is not put back by a later file (see `_reinsertion`)
        self.dispute_batches: dict[int, str] = {
            bid: name.removeprefix("dispute ").strip()
            for bid, name in session.execute(
                select(FurnishingBatch.id, FurnishingBatch.file_name).where(
                    FurnishingBatch.institution_id == institution_id,
                    FurnishingBatch.file_format == "dispute",
                )
            )
        }
        #: account refs a dispute removed (-> its ref), and per account the content hashes of
        #: the versions a dispute replaced (-> its ref)
        self.removed_refs: dict[str, str] = {}
        self.disputed_account_hashes: dict[int, dict[str, str]] = {}
        #: last accepted (period, days_past_due) per account in this batch
        self.last_dpd: dict[int, tuple[date, int]] = {}
        self.changes: dict[str, dict[str, int]] = defaultdict(
            lambda: {"inserted": 0, "superseded": 0}
        )

    # -- helpers ---------------------------------------------------------------------
    def _blind(self, id_type: str, id_number: str) -> str:
        """`id_blind` of an identifier, computed once per batch (a holder's number recurs on
        its subject, account and inquiry rows)."""
        key = (id_type, id_number)
        blind = self._blinds.get(key)
        if blind is None:
            if len(self._blinds) >= 100_000:
                self._blinds.clear()
            blind = self._blinds[key] = id_blind(self.keyring, id_type, id_number)
        return blind

    def _count(self, table: str, inserted: int = 0, superseded: int = 0) -> None:
        if inserted or superseded:
            c = self.changes[str(table)]
            c["inserted"] += inserted
            c["superseded"] += superseded

    def _versioned(self, line: int, content_hash: str, version: int = 1) -> dict:
        return {
            "batch_id": self.batch_id,
            "line_no": line,
            "content_hash": content_hash,
            "version": version,
            "recorded_at": self.now,
            "superseded_at": None,
            "superseded_by_batch_id": None,
        }

    def _supersede(self, model, ids: list[int]) -> None:
        if not ids:
            return
        table = model.__table__
        self.session.execute(
            update(table)
            .where(table.c.id.in_(ids))
            .values(superseded_at=self.now, superseded_by_batch_id=self.batch_id)
        )
        self._count(table.name, superseded=len(ids))

    def _insert(
        self, model, rows: list[dict], copy_blocks: list[str] = (), copied: int = 0
    ) -> None:
        """Insert `rows` (dicts), and `copied` status rows already in COPY text format in
        `copy_blocks` (PostgreSQL only)."""
        if copy_blocks and not (model is StatusRecord and self._copy):
            raise ValueError("COPY text rows are for status_record on PostgreSQL only")
        if rows or copy_blocks:
            if model is StatusRecord and self._copy:
                self._copy_statuses(rows, copy_blocks)
            elif self._copy and len(rows) >= _COPY_FROM:
                self._copy_rows(model.__table__, rows)
            else:
                self.session.execute(model.__table__.insert(), rows)
            self._count(model.__table__.name, inserted=len(rows) + copied)

    def insert_rows(self, model, rows: list[dict]) -> None:
        """Insert rows of `model` that no change count covers (quarantined lines): with COPY
        on PostgreSQL when there are many, else one executemany INSERT."""
        if self._copy and len(rows) >= _COPY_FROM:
            self._copy_rows(model.__table__, rows)
        elif rows:
            self.session.execute(model.__table__.insert(), rows)

    def _copy_rows(self, table, rows: list[dict]) -> None:
        """Insert `rows` (dicts with the same keys) into `table` with PostgreSQL COPY.

        Values go through each column's SQLAlchemy bind processing (enums, UTC timestamps) and
        are then written as COPY text (`_copy_field`: escaped text, ISO dates and times, hex
        bytea), so they land exactly as an INSERT would store them; COPY skips the statement
        building and parsing of a many-row INSERT.
        """
        self.finish_copy()
        names = list(rows[0])
        dialect = self.session.get_bind().dialect
        # bytea goes in as hex text, not through the driver's Binary wrapper
        procs = [
            (n, None if isinstance(c.type, LargeBinary) else c.type.bind_processor(dialect))
            for n, c in ((n, table.c[n]) for n in names)
        ]
        columns = []
        for n, p in procs:  # a column at a time: one comprehension per column, not per value
            values = [row[n] for row in rows]
            if p is not None:
                values = [None if v is None else p(v) for v in values]
            columns.append([_NULL if v is None else _copy_text(v) for v in values])
        lines = ["\t".join(fields) for fields in zip(*columns, strict=True)]
        lines.append("")
        conn = self.session.connection().connection.driver_connection
        cols = ", ".join(f'"{n}"' for n in names)
        self._start_copy(
            conn, f'COPY "{table.name}" ({cols}) FROM STDIN', "\n".join(lines).encode()
        )

    def _insert_returning_ids(self, model, rows: list[dict]) -> list[int]:
        """Insert `rows`; returns their ids in row order.

        On PostgreSQL the ids are drawn from the table's sequence first (one query for the whole
        chunk) and inserted explicitly, which lets the insert be a plain multi-row INSERT
        instead of INSERT ... RETURNING sorted back into parameter order. Elsewhere a Core insert
        returning ids (not the ORM bulk insert: it leaves None values out, so rows with
        different None columns become separate statements spliced together one by one).
        """
        if not rows:
            return []
        table = model.__table__
        if self._pg:
            ids = list(self.session.scalars(
                sql_text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) "
                     "FROM generate_series(1, :n)"),
                {"t": table.name, "n": len(rows)},
            ))  # fmt: skip
            rows = [{**row, "id": i} for row, i in zip(rows, ids, strict=True)]
            if self._copy:
                self._copy_rows(table, rows)
            else:
                self.session.execute(table.insert(), rows)
            return ids
        return list(
            self.session.scalars(
                table.insert().returning(table.c.id, sort_by_parameter_order=True), rows
            )
        )

    def _copy_statuses(self, rows: list[dict], blocks: list[str] = ()) -> None:
        """Bulk-load status rows with PostgreSQL COPY in the session's transaction.

        The rows are written as COPY text directly: every column is a number, a date, a UTC
        timestamp or a hex digest, so nothing needs escaping, and formatting them here is several
        times cheaper than adapting each value. Same values as the INSERT path; ids come from
        the sequence.
        """
        self.finish_copy()
        conn = self.session.connection().connection.driver_connection
        out = list(blocks)
        for r in rows:
            sup = r["superseded_at"]
            notified = r["subject_notified_on"]
            out.append(
                f"{r['account_id']}\t{r['period']}\t{r['balance_cents']}\t"
                f"{r['amount_due_cents']}\t{r['amount_paid_cents']}\t{r['days_past_due']}\t"
                f"{_NULL if notified is None else notified}\t{r['version']}\t"
                f"{r['content_hash']}\t{r['recorded_at'].isoformat()}\t"
                f"{_NULL if sup is None else sup.isoformat()}\t"
                f"{_NULL if sup is None else r['superseded_by_batch_id']}\t"
                f"{r['batch_id']}\t{r['line_no']}\n"
            )
        self._start_copy(conn, _STATUS_COPY_SQL, "".join(out).encode())

    def _start_copy(self, conn, sql: str, payload: bytes) -> None:
        """Start a COPY of `payload` and leave it open while the connection is watched.

        The server loads the rows while this process goes on (reading and validating the next
        chunk, building the next insert), and the next statement on the connection finishes
        it first (`finish_copy`). Unwatched, it is finished at once. The rows are sent by a
        thread: a chunk is larger than the socket's buffer, so sending it from here would wait
        for the server to read most of it. The thread spends its time blocked on the socket (no
        GIL), and nothing else uses the connection until `finish_copy` has joined it.
        """
        cur = conn.cursor()
        try:
            copy_cm = cur.copy(sql)
            copy = copy_cm.__enter__()
        except BaseException:
            cur.close()
            raise
        sender = None
        if self._watched:
            if self._sender is None:
                self._sender = _Sender()
            sender = self._sender
            sender.send(copy, payload)
        self._open_copy = (copy_cm, cur, sender)
        if sender is None:
            try:
                copy.write(payload)
            except BaseException as exc:
                self.finish_copy(exc)
                raise
            self.finish_copy()

    def finish_copy(self, exc: BaseException | None = None) -> None:
        """Wait for the last COPY to complete (abort it when `exc` is given).

        Called before any other statement runs on the batch's connection (a
        ``before_cursor_execute`` listener, see `watch_connection`), before the next COPY, and
        when the batch ends. A row the server refuses fails the batch here, as it would have
        in `_copy_statuses`.
        """
        if self._open_copy is None:
            return
        copy_cm, cur, sender = self._open_copy
        self._open_copy = None
        try:
            failed = sender.wait() if sender is not None else None
            if exc is None and failed is not None:
                exc = failed
                copy_cm.__exit__(type(exc), exc, exc.__traceback__)
                raise failed
            if exc is None:
                copy_cm.__exit__(None, None, None)
            else:
                copy_cm.__exit__(type(exc), exc, exc.__traceback__)
        finally:
            cur.close()

    def watch_connection(self) -> Callable[[], None]:
        """Finish an open COPY before any statement on this batch's connection; returns the
        function that stops watching (call it when the batch ends)."""
        if not self._copy:
            return lambda: None
        conn = self.session.connection()

        def before(*_args, **_kw) -> None:
            self.finish_copy()

        event.listen(conn, "before_cursor_execute", before)
        self._watched = True

        def unwatch() -> None:
            self._watched = False
            event.remove(conn, "before_cursor_execute", before)
            if self._sender is not None:
                self._sender.close()
                self._sender = None

        return unwatch

    def _holder(self, line, rtype, rec, text) -> KnownSubject | None:
        """The subject an account / public record / inquiry row belongs to, or reject it."""
        blind = self._blind(rec.id_type, rec.id_number)
        if self._held(self.held_blinds.get(blind), line):
            self._hold(line, rtype, text, "id_number", self.held_blinds[blind])
            return None
        subject = self.subjects.get(blind)
        if subject is None:
            self.reject(
                line,
                rtype,
                [Problem("id_number", "no subject on file with this identifier; furnish its "
                         "subject record first")],
                text,
            )  # fmt: skip
        return subject

    def _held(self, review_id: int | None, line: int) -> bool:
        return review_id is not None and line > self.held_since[review_id]

    def _hold(self, line, rtype, text, field, review_id: int) -> None:
        reason = f"held: identity conflict under review (review #{review_id}); nothing applied"
        self.reject(line, rtype, [Problem(field, reason)], text, held=True)

    # -- entry point -----------------------------------------------------------------
    def store_chunk(
        self, rows: list[tuple[int, str, object, str | None]], lane: StatusColumns | None = None
    ) -> None:
        """Store one chunk of validated rows, record types in dependency order; `lane` holds
        the chunk's statuses validated as columns (`credo.furnishing.columnar`)."""
        by_type: dict[str, list] = defaultdict(list)
        for row in rows:
            by_type[row[1]].append(row)
        blinds = {
            self._blind(r[2].id_type, r[2].id_number)
            for t in ("subject", "account", "public_record", "inquiry")
            for r in by_type.get(t, ())
        }
        self.subjects.prefetch(blinds)
        if by_type.get("subject"):
            self._subjects(by_type["subject"])
        if by_type.get("account"):
            self._accounts(by_type["account"])
        if by_type.get("public_record"):
            self._public_records(by_type["public_record"])
        if by_type.get("inquiry"):
            self._inquiries(by_type["inquiry"])
        # last: on PostgreSQL its COPY is left to complete while the next chunk is validated
        if by_type.get("status") or lane is not None:
            self._statuses(by_type.get("status", []), lane)

    # -- subjects --------------------------------------------------------------------
    def _subjects(self, rows) -> None:
        self._prefetch_conflicts(rows)
        self._subjects_rows(rows)
        self._flag_for_review()

    def _prefetch_conflicts(self, rows) -> None:
        """What a conflict needs to know, for every subject on file that a row of this chunk
        conflicts with, in two queries: the stored name and birth date (to name the fields
        that differ) and whether this furnisher confirmed the identity before."""
        kr, ids = self.keyring, set()
        for _, _, rec, _ in rows:
            known = self.subjects.get(self._blind(rec.id_type, rec.id_number))
            if (
                known is not None
                and known.id > 0
                and known.id not in self._identities
                and known.name_dob_blind != name_dob_blind(kr, rec.name, rec.birth_date)
            ):
                ids.add(known.id)
        if not ids:
            return
        for sid, name_enc, dob_enc in self.session.execute(
            select(Subject.id, Subject.name_enc, Subject.birth_date_enc).where(
                in_values(self.session, Subject.id, sorted(ids))
            )
        ):
            self._identities[sid] = (name_enc, dob_enc)
        unchecked = sorted(ids - self.confirmed)
        self.confirmed.update(
            self.session.scalars(
                select(SubjectInfo.subject_id)
                .where(
                    in_values(self.session, SubjectInfo.subject_id, unchecked),
                    SubjectInfo.institution_id == self.institution_id,
                    SubjectInfo.superseded_at.is_(None),
                )
                .distinct()
            )
        )
        self._unconfirmed.update(set(unchecked) - self.confirmed)

    def _open_review(self, *, kind, subject_id, other_subject_id, line, fields, rec) -> int:
        """Record an identity review case (`open_review`'s row, in one round trip); the
        subjects are flagged ``needs_review`` together at the end of the chunk's subjects."""
        detail = {"name": rec.name, "birth_date": rec.birth_date}
        review_id = self.session.scalar(
            IdentityReview.__table__.insert().returning(IdentityReview.id),
            {
                "kind": kind,
                "status": ReviewStatus.open,
                "subject_id": subject_id,
                "other_subject_id": other_subject_id,
                "batch_id": self.batch_id,
                "line_no": line,
                "fields": ",".join(fields),
                "detail_enc": self.keyring.encrypt(
                    orjson.dumps(detail, default=str).decode(), column="identity_review.detail"
                ),
                "resolution": None,
                "created_at": utcnow(),
                "resolved_at": None,
            },
        )
        self._to_flag.update(x for x in (subject_id, other_subject_id) if x is not None)
        return review_id

    def _flag_for_review(self) -> None:
        if self._to_flag:
            self.session.execute(
                update(Subject)
                .where(in_values(self.session, Subject.id, sorted(self._to_flag)))
                .values(needs_review=True)
            )
            self._to_flag.clear()

    def _conflict_fields(self, subject_id: int, name: str, birth_date: date | None) -> list[str]:
        """Which of name / birth_date differ from the identity on file (`conflict_fields`)."""
        got = self._identities.get(subject_id)
        if got is None:
            return self.subjects.conflict_fields(subject_id, name, birth_date)
        name_enc, dob_enc = got
        fields = []
        stored_name = self.keyring.decrypt(name_enc, column="subject.name")
        if name_key(stored_name) != name_key(name):
            fields.append("name")
        stored_dob = self.keyring.decrypt(dob_enc, column="subject.birth_date") if dob_enc else ""
        if stored_dob != (birth_date.isoformat() if birth_date else ""):
            fields.append("birth_date")
        return fields or ["name"]

    def _subjects_rows(self, rows) -> None:
        kr = self.keyring
        new_rows: list[tuple[int, SubjectRec, str, str, str | None]] = []
        info_rows: list[tuple[int, SubjectRec, int, str | None]] = []
        pending_new: dict[str, KnownSubject] = {}
        #: lines conflicting with a subject created earlier in this chunk (decided after insert)
        late: list[tuple[int, str, SubjectRec, str | None, str]] = []
        late_blinds: set[str] = set()
        for line, rtype, rec, text in rows:
            blind = self._blind(rec.id_type, rec.id_number)
            if blind in self.held_blinds:
                self._hold(line, rtype, text, "id_number", self.held_blinds[blind])
                continue
            if blind in late_blinds:  # after a conflict every later line of it is held
                late.append((line, rtype, rec, text, blind))
                continue
            ndb = name_dob_blind(kr, rec.name, rec.birth_date)
            pblind = phone_blind(kr, rec.phone) if rec.phone else None
            known = pending_new.get(blind) or self.subjects.get(blind)
            if known is not None and known.name_dob_blind == ndb and known.id != -1:
                self.confirmed.add(known.id)
            if known is not None and known.name_dob_blind != ndb:
                if known.id == -1:
                    # the same new identifier twice in one chunk with different identities
                    late.append((line, rtype, rec, text, blind))
                    late_blinds.add(blind)
                else:
                    self._conflict(line, rtype, rec, text, blind, known.id)
                continue
            if known is None:
                pending_new[blind] = KnownSubject(-1, ndb, rec.subject_type)
                new_rows.append((line, rec, blind, ndb, pblind))
            info_rows.append((line, rec, blind, pblind))
        if new_rows:
            self._insert_subjects(new_rows)
        # as if the conflicting line had come in a later chunk: a review case, not just a hold
        for line, rtype, rec, text, blind in late:
            if self._held(self.held_blinds.get(blind), line):
                self._hold(line, rtype, text, "id_number", self.held_blinds[blind])
                continue
            known = self.subjects.get(blind)
            if known.name_dob_blind == name_dob_blind(kr, rec.name, rec.birth_date):
                pblind = phone_blind(kr, rec.phone) if rec.phone else None
                info_rows.append((line, rec, blind, pblind))
            else:
                self._conflict(line, rtype, rec, text, blind, known.id)
        self._subject_infos(info_rows)

    def _confirmed(self, subject_id: int) -> bool:
        """Has this furnisher already matched the subject's identity (earlier line or batch)?"""
        if subject_id in self.confirmed:
            return True
        if subject_id in self._unconfirmed:
            return False
        found = self.session.scalar(
            select(SubjectInfo.id)
            .where(
                SubjectInfo.subject_id == subject_id,
                SubjectInfo.institution_id == self.institution_id,
                SubjectInfo.superseded_at.is_(None),
            )
            .limit(1)
        )
        if found is not None:
            self.confirmed.add(subject_id)
        return found is not None

    def _conflict(self, line, rtype, rec: SubjectRec, text, blind: str, subject_id: int) -> None:
        """Hold a subject line whose identity differs from the subject on file; open a review.

        If this furnisher has not itself confirmed the identity on file (by an earlier matching
        subject record), its records for the identifier may belong to someone else, so every
        later line of the batch for it is held too. If it has, only the conflicting line is held:
        its accounts are attributable through the identity it confirmed.
        """
        fields = self._conflict_fields(subject_id, rec.name, rec.birth_date)
        review_id = self._open_review(
            kind=ReviewKind.identity_conflict, subject_id=subject_id, other_subject_id=None,
            line=line, fields=fields, rec=rec,
        )  # fmt: skip
        if not self._confirmed(subject_id):
            self.held_blinds[blind] = review_id
            self.held_subjects[subject_id] = review_id
            self.held_since[review_id] = line
        self.reject(
            line, rtype,
            [Problem(f, "identity conflict: differs from the subject on file with this "
                     f"identifier; held for review #{review_id}") for f in fields],
            text, held=True,
        )  # fmt: skip

    def _insert_subjects(self, new_rows) -> None:
        kr = self.keyring
        payload = [
            {
                "ref": new_subject_ref(),
                "subject_type": rec.subject_type,
                "id_type": rec.id_type,
                "id_blind": blind,
                "id_enc": kr.encrypt(rec.id_number, column="subject.id_number"),
                "name_enc": kr.encrypt(rec.name, column="subject.name"),
                "birth_date_enc": kr.encrypt(
                    rec.birth_date.isoformat(), column="subject.birth_date"
                )
                if rec.birth_date
                else None,
                "name_dob_blind": ndb,
                "gender": rec.gender,
                "region": rec.region,
                "birth_year": rec.birth_date.year if rec.birth_date else None,
                "needs_review": False,
                "created_at": self.now,
                "batch_id": self.batch_id,
            }
            for _, rec, blind, ndb, _ in new_rows
        ]
        # candidate duplicates are looked up before the new rows exist
        candidates = self.subjects.candidates_many([(ndb, pb) for _, _, _, ndb, pb in new_rows])
        ids = self._insert_returning_ids(Subject, payload)
        self._count("subject", inserted=len(ids))
        # ...and against the earlier new subjects of this chunk, which the lookup could not see
        chunk_ndb: dict[str, int] = {}
        chunk_phone: dict[str, int] = {}
        for (line, rec, blind, ndb, pb), sid, other in zip(new_rows, ids, candidates, strict=True):
            if other is None:
                other = chunk_ndb.get(ndb) or (chunk_phone.get(pb) if pb else None)
            chunk_ndb.setdefault(ndb, sid)
            if pb:
                chunk_phone.setdefault(pb, sid)
            self.subjects.remember(blind, KnownSubject(sid, ndb, rec.subject_type))
            self.confirmed.add(sid)
            if other is not None:
                self._open_review(
                    kind=ReviewKind.possible_duplicate, subject_id=sid, other_subject_id=other,
                    line=line, fields=["name", "birth_date", "phone"], rec=rec,
                )  # fmt: skip

    def _subject_infos(self, info_rows) -> None:
        kr = self.keyring
        resolved = [
            (line, rec, self.subjects.get(blind).id, pb) for line, rec, blind, pb in info_rows
        ]
        sids = {sid for _, _, sid, _ in resolved}
        current: dict[int, tuple[int, str, int]] = {}
        for part in _parts(sorted(sids)):
            for rid, sid, h, v in self.session.execute(
                select(SubjectInfo.id, SubjectInfo.subject_id, SubjectInfo.content_hash,
                       SubjectInfo.version)
                .where(in_values(self.session, SubjectInfo.subject_id, part),
                       SubjectInfo.institution_id == self.institution_id,
                       SubjectInfo.superseded_at.is_(None))
            ):  # fmt: skip
                current[sid] = (rid, h, v)
        versions = _Versions(self, SubjectInfo, current)
        for line, rec, sid, pb in resolved:
            h = subject_info_hash(kr, rec.name, rec.phone, rec.address)
            version = versions.decide(sid, h)
            if version is None:
                continue
            versions.pending[sid] = {
                **self._versioned(line, h, version),
                "subject_id": sid,
                "institution_id": self.institution_id,
                "name_enc": kr.encrypt(rec.name, column="subject_info.name"),
                "phone_enc": kr.encrypt(rec.phone, column="subject_info.phone")
                if rec.phone
                else None,
                "phone_blind": pb,
                "address_enc": kr.encrypt(rec.address, column="subject_info.address")
                if rec.address
                else None,
            }
        versions.write()

    # -- accounts --------------------------------------------------------------------
    def _load_accounts(self, refs: set[str]) -> None:
        todo = sorted(r for r in refs if r not in self.accounts and r not in self.unknown_refs)
        for part in _parts(todo):
            if self._pg:
                rows = self.session.execute(
                    _ACCOUNTS_PG, {"institution": self.institution_id, "refs": part}
                ).all()
            else:
                rows = self._accounts_query(part)
            found = set()
            for ref, aid, sid, vid, h, v, opened, closed, status in rows:
                found.add(ref)
                st = AccountState(aid, opened, closed, str(status), sid, vid, h, v)
                self.accounts[ref] = st
            if self.dispute_batches:
                self._load_disputed_accounts(found, set(part) - found)
            self.unknown_refs.update(set(part) - found)

    def _accounts_query(self, part: list[str]) -> list:
        """`_ACCOUNTS_PG` as a join (SQLite plans it as index probes by itself)."""
        return self.session.execute(
            select(Account.account_ref, Account.id, Account.subject_id, AccountVersion.id,
                   AccountVersion.content_hash, AccountVersion.version,
                   AccountVersion.opened_on, AccountVersion.closed_on, AccountVersion.status)
            .join(AccountVersion, (AccountVersion.account_id == Account.id)
                  & AccountVersion.superseded_at.is_(None))
            .where(Account.institution_id == self.institution_id,
                   in_values(self.session, Account.account_ref, part))
        ).all()  # fmt: skip

    def _load_disputed_accounts(self, found: set[str], missing: set[str]) -> None:
        """What disputes did to these accounts: removed (no current version) or corrected
        (a version replaced by a dispute's correction batch)."""
        batches = list(self.dispute_batches)
        for ref, aid, h, bid in self.session.execute(
            select(Account.account_ref, Account.id, AccountVersion.content_hash,
                   AccountVersion.superseded_by_batch_id)
            .join(AccountVersion, AccountVersion.account_id == Account.id)
            .where(Account.institution_id == self.institution_id,
                   Account.account_ref.in_(sorted(found | missing)),
                   AccountVersion.superseded_by_batch_id.in_(batches))
        ):  # fmt: skip
            if ref in missing:
                self.removed_refs[ref] = self.dispute_batches[bid]
            else:
                self.disputed_account_hashes.setdefault(aid, {})[h] = self.dispute_batches[bid]

    def _reinsertion(self, line, rtype, text, field: str, what: str, dispute: str) -> None:
        """Reject a line that would put back what a dispute removed or corrected."""
        reason = (
            f"{what} after dispute {dispute}; a furnisher may not report it again as it was "
            "(send a corrected record, or ask the bureau to reinsert it with evidence)"
        )
        self.reject(line, rtype, [Problem(field, reason)], text)

    def _accounts(self, rows) -> None:
        self._load_accounts({r[2].account_ref for r in rows})
        new_accounts: list[tuple[int, AccountRec, int, str]] = []
        versions: list[tuple[AccountRec, int, dict]] = []
        supersede: list[int] = []
        for line, rtype, rec, text in rows:
            if self._held(self.held_refs.get(rec.account_ref), line):
                self._hold(line, rtype, text, "account_ref", self.held_refs[rec.account_ref])
                continue
            holder = self._holder(line, rtype, rec, text)
            if holder is None:
                blind = self._blind(rec.id_type, rec.id_number)
                if self._held(self.held_blinds.get(blind), line):
                    self.held_refs[rec.account_ref] = self.held_blinds[blind]
                continue
            h = account_hash(rec)
            if rec.account_ref in self.removed_refs:
                self._reinsertion(line, rtype, text, "account_ref", "this account was removed",
                                  self.removed_refs[rec.account_ref])  # fmt: skip
                continue
            st = self.accounts.get(rec.account_ref)
            if (
                st is not None
                and st.content_hash != h
                and (d := self.disputed_account_hashes.get(st.account_id, {}).get(h))
            ):
                self._reinsertion(
                    line,
                    rtype,
                    text,
                    "account_ref",
                    "this is the account as it read before it was corrected",
                    d,
                )
                continue
            if st is not None and st.subject_id != holder.id:
                self.reject(line, rtype, [Problem(
                    "id_number", "this account_ref is on file for a different subject; an "
                    "account cannot change holder")], text)  # fmt: skip
                continue
            if st is None:
                st = AccountState(-1, rec.opened_on, rec.closed_on, rec.status, holder.id, None, h)
                self.accounts[rec.account_ref] = st
                self.unknown_refs.discard(rec.account_ref)
                new_accounts.append((line, rec, holder.id, h))
                self.outcome.accepted += 1
                continue
            if st.content_hash == h:
                self.outcome.duplicates += 1
                continue
            if st.version_id is not None:
                supersede.append(st.version_id)
            st.version += 1
            st.content_hash, st.version_id = h, None
            st.opened_on, st.closed_on, st.status = rec.opened_on, rec.closed_on, rec.status
            versions.append((rec, st.version, self._versioned(line, h, st.version)))
            self.outcome.corrections += 1
        if new_accounts:
            ids = self._insert_returning_ids(
                Account,
                [{"institution_id": self.institution_id, "account_ref": rec.account_ref,
                  "subject_id": sid, "created_at": self.now} for _, rec, sid, _ in new_accounts],
            )  # fmt: skip
            self._count("account", inserted=len(ids))
            for (line, rec, _, h), aid in zip(new_accounts, ids, strict=True):
                self.accounts[rec.account_ref].account_id = aid
                versions.insert(0, (rec, 1, self._versioned(line, h, 1)))
        self._supersede(AccountVersion, supersede)
        # several versions of one account in one chunk: all but the last are born superseded
        last: dict[str, int] = {}
        for i, (rec, _, _) in enumerate(versions):
            last[rec.account_ref] = i
        payload = []
        for i, (rec, _, base) in enumerate(versions):
            if last[rec.account_ref] != i:
                base = {**base, "superseded_at": self.now, "superseded_by_batch_id": self.batch_id}
                self._count("account_version", superseded=1)
            payload.append({
                **base, "account_id": self.accounts[rec.account_ref].account_id,
                "account_type": rec.account_type, "opened_on": rec.opened_on,
                "closed_on": rec.closed_on, "currency": rec.currency,
                "credit_limit_cents": rec.credit_limit_cents,
                "principal_cents": rec.principal_cents, "term_months": rec.term_months,
                "status": rec.status, "subject_notified_on": rec.subject_notified_on,
            })  # fmt: skip
        if payload:
            ids = self._insert_returning_ids(AccountVersion, payload)
            self._count(AccountVersion.__table__.name, inserted=len(ids))
            # remember the current version's id: a later chunk's correction must supersede it
            for (rec, _, _), vid, row in zip(versions, ids, payload, strict=True):
                if row["superseded_at"] is None:
                    self.accounts[rec.account_ref].version_id = vid

    # -- monthly statuses ------------------------------------------------------------
    def _statuses(self, rows, lane: StatusColumns | None = None) -> None:
        """Store one chunk's statuses: `rows` validated one by one, `lane` as columns.

        An account whose lane rows all pass the cross-record rules in one vectorised pass
        (`_lane_accounts`) is stored straight from the columns; every other account's rows go
        through the row-by-row loop below in line order. Each account's outcome depends only on
        its own rows and stored months, so splitting by account gives the same result as the
        loop over every row (tested).
        """
        refs = {r[2].account_ref for r in rows}
        if lane is not None:
            refs.update(lane.ref)
        self._load_accounts(refs)
        # per account, the range of periods this chunk touches (and the month before it)
        spans: dict[int, tuple[date, date]] = {}
        for _, _, rec, _ in rows:
            st = self.accounts.get(rec.account_ref)
            if st is not None and st.account_id > 0:
                lo, hi = spans.get(st.account_id, (rec.period, rec.period))
                spans[st.account_id] = (min(lo, _prev_month(rec.period)), max(hi, rec.period))
        lane_aid = None
        if lane is not None:
            # each distinct reference looked up once, mapped onto the rows by Polars
            ids = {r: getattr(self.accounts.get(r), "account_id", -1) for r in set(lane.ref)}
            lane_aid = (
                pl.Series(lane.ref, dtype=pl.String)
                .replace_strict(list(ids), list(ids.values()), return_dtype=pl.Int64)
                .to_numpy()
            )
            known = lane_aid > 0
            if known.any():
                frame = pl.DataFrame({"aid": lane_aid[known], "m": lane.month[known]})
                per_account = frame.group_by("aid").agg(
                    lo=pl.col("m").min() - 1, hi=pl.col("m").max()
                )
                for aid, m_lo, m_hi in per_account.iter_rows():
                    p_lo, p_hi = _month_date(m_lo), _month_date(m_hi)
                    lo, hi = spans.get(aid, (p_lo, p_hi))
                    spans[aid] = (min(lo, p_lo), max(hi, p_hi))
        stored: dict[tuple[int, date], tuple[int, str, int, int]] = {}
        if spans:
            # one indexed range scan (account_id leads the partial unique index); a tuple IN
            # list made PostgreSQL fall back to scanning the whole table as it grew
            lo = min(v[0] for v in spans.values())
            hi = max(v[1] for v in spans.values())
            for part in _parts(sorted(spans)):
                for rid, aid, period, h, v, dpd in self.session.execute(
                    select(StatusRecord.id, StatusRecord.account_id, StatusRecord.period,
                           StatusRecord.content_hash, StatusRecord.version,
                           StatusRecord.days_past_due)
                    .where(in_values(self.session, StatusRecord.account_id, part),
                           StatusRecord.period >= lo, StatusRecord.period <= hi,
                           StatusRecord.superseded_at.is_(None))
                ):  # fmt: skip
                    a_lo, a_hi = spans[aid]
                    if a_lo <= period <= a_hi:
                        stored[(aid, period)] = (rid, h, v, dpd)
        # what a foreign key would do on PostgreSQL, once for the chunk (migration 0007)
        lock_accounts(self.session, spans)
        #: (account, month) -> {content hash a dispute replaced or removed: dispute ref}
        disputed: dict[tuple[int, date], dict[str, str]] = {}
        if spans and self.dispute_batches:
            for part in _parts(sorted(spans)):
                for aid, period, h, bid in self.session.execute(
                    select(StatusRecord.account_id, StatusRecord.period,
                           StatusRecord.content_hash, StatusRecord.superseded_by_batch_id)
                    .where(StatusRecord.account_id.in_(part), StatusRecord.period >= lo,
                           StatusRecord.period <= hi,
                           StatusRecord.superseded_by_batch_id.in_(list(self.dispute_batches)))
                ):  # fmt: skip
                    disputed.setdefault((aid, period), {})[h] = self.dispute_batches[bid]
        versions = _Versions(self, StatusRecord, stored)
        if lane is not None:
            slow_refs = {r[2].account_ref for r in rows}
            disputed_aids = {aid for aid, _ in disputed}
            demoted = self._lane_statuses(
                lane, lane_aid, stored, slow_refs, disputed_aids, versions
            )
            if demoted:
                rows = sorted([*rows, *demoted], key=lambda r: r[0])
        pending, decide, last_dpd = versions.pending, versions.decide, self.last_dpd
        batch_id, now = self.batch_id, self.now
        for line, rtype, rec, text in rows:
            ref = rec.account_ref
            if self._held(self.held_refs.get(ref), line):
                self._hold(line, rtype, text, "account_ref", self.held_refs[ref])
                continue
            st = self.accounts.get(ref)
            if st is None and ref in self.removed_refs:
                self._reinsertion(line, rtype, text, "account_ref", "this account was removed",
                                  self.removed_refs[ref])  # fmt: skip
                continue
            if st is None:
                self.reject(line, rtype, [Problem(
                    "account_ref", "unknown account: no account record with this account_ref from "
                    "this institution (send the account record first)", ref)], text)  # fmt: skip
                continue
            if self._held(self.held_subjects.get(st.subject_id), line):
                self._hold(line, rtype, text, "account_ref", self.held_subjects[st.subject_id])
                continue
            problem = check_status_against_account(rec, st)
            if problem is None:
                prev = self.last_dpd.get(st.account_id)
                if prev is None or months_between(prev[0], rec.period) <= 0:
                    pm = _prev_month(rec.period)
                    got = pending.get((st.account_id, pm)) or stored.get((st.account_id, pm))
                    if isinstance(got, dict):
                        prev = (pm, got["days_past_due"])
                    elif got is not None:
                        prev = (pm, got[3])
                    else:
                        prev = None
                if prev is not None:
                    problem = check_dpd_aging(prev[0], prev[1], rec)
            if problem is not None:
                self.reject(line, rtype, [problem], text)
                continue
            key = (st.account_id, rec.period)
            notified = rec.subject_notified_on
            h = status_hash(rec)
            if disputed and (d := disputed.get(key)):
                removed = key not in stored and key not in pending
                if removed or h in d:
                    what = (
                        "this month was removed"
                        if removed
                        else "this is the month as it read before it was corrected"
                    )
                    self._reinsertion(line, rtype, text, "period", what,
                                      next(iter(d.values())))  # fmt: skip
                    continue
            last = last_dpd.get(st.account_id)
            if last is None or rec.period >= last[0]:
                last_dpd[st.account_id] = (rec.period, rec.days_past_due)
            version = decide(key, h)
            if version is None:
                continue
            pending[key] = {
                "batch_id": batch_id, "line_no": line, "content_hash": h, "version": version,
                "recorded_at": now, "superseded_at": None, "superseded_by_batch_id": None,
                "account_id": st.account_id, "period": rec.period,
                "balance_cents": rec.balance_cents, "amount_due_cents": rec.amount_due_cents,
                "amount_paid_cents": rec.amount_paid_cents, "days_past_due": rec.days_past_due,
                "subject_notified_on": notified,
            }  # fmt: skip
        versions.write()

    def _lane_statuses(
        self,
        lane: StatusColumns,
        aid: np.ndarray,
        stored: dict,
        slow_refs: set[str],
        disputed_aids: set[int],
        versions: _Versions,
    ) -> list[tuple[int, str, StatusRec, str | None]]:
        """Store the lane's rows of every account whose rows all pass the rules at once.

        The rules are the row-by-row loop's, for an account whose rows in this chunk are in
        ascending period order and all pass: the previous month a row is aged against is then
        the account's row before it (or, for its first row, the last month this batch stored
        for it, else the stored calendar month before). Returns, as records for the loop, the
        rows of every other account: unknown, held or disputed ones, accounts with rows outside
        the lane, out of order, or with any row breaking a rule (whose problems the loop
        reports exactly as before).
        """
        n = len(lane)
        demote = np.zeros(n, bool)
        # -- per account: can its rows be stored from the columns at all?
        ok_aid: dict[int, tuple[int, int, int]] = {}  # account -> (opened, closed, closed flag)
        blocked: set[int] = set()
        for ref in set(lane.ref):
            st = self.accounts.get(ref)
            if st is None or st.account_id <= 0:
                continue  # demoted below (aid <= 0)
            if (
                ref in slow_refs
                or ref in self.held_refs
                or st.subject_id in self.held_subjects
                or st.account_id in disputed_aids
            ):
                blocked.add(st.account_id)
                continue
            closed = st.closed_on
            ok_aid[st.account_id] = (
                st.opened_on.year * 12 + st.opened_on.month - 1,
                -1 if closed is None else closed.year * 12 + closed.month - 1,
                1 if (st.status == "closed" and closed is not None) else 0,
            )
        demote |= aid <= 0
        if blocked:
            demote |= np.isin(aid, np.fromiter(blocked, np.int64, len(blocked)))
        order = np.lexsort((lane.line, aid))
        a, m = aid[order], lane.month[order]
        dpd, bal = lane.dpd[order], lane.balance[order]
        first = np.ones(n, bool)
        first[1:] = a[1:] != a[:-1]
        prev_m = np.empty(n, np.int64)
        prev_dpd = np.empty(n, np.int64)
        prev_m[1:], prev_dpd[1:] = m[:-1], dpd[:-1]
        has_prev = ~first
        bad = ~first & (m <= prev_m)  # periods must ascend within the account
        acct = np.zeros((n, 3), np.int64)
        starts = np.flatnonzero(first)
        for i, j in zip(starts.tolist(), [*starts[1:].tolist(), n], strict=True):
            x = int(a[i])
            info = ok_aid.get(x)
            if info is None:
                continue
            acct[i:j] = info
            last = self.last_dpd.get(x)
            if last is not None:
                lm = last[0].year * 12 + last[0].month - 1
                if lm >= m[i]:
                    bad[i] = True  # this batch already stored a later month: the loop decides
                    continue
                prev_m[i], prev_dpd[i], has_prev[i] = lm, last[1], True
            else:
                got = stored.get((x, _month_date(int(m[i]) - 1)))
                if got is not None:
                    prev_m[i], prev_dpd[i], has_prev[i] = m[i] - 1, got[3], True
        bad |= m < acct[:, 0]  # before the account was opened
        bad |= (acct[:, 2] == 1) & (m >= acct[:, 1]) & (bal != 0)  # closed, yet a balance
        months = m - prev_m
        bad |= has_prev & (months > 0) & (dpd > prev_dpd + MAX_DPD_GROWTH_PER_MONTH * months)
        if bad.any():
            demote |= np.isin(aid, np.unique(a[bad]))
        take = order[~demote[order]]  # rows stored from the columns, account by account
        out = [
            (int(lane.line[i]), "status", lane.record(i), lane.text[i])
            for i in np.flatnonzero(demote)
        ]
        if not len(take):
            return out
        # -- content hashes, duplicates and corrections, from the columns
        notified = [lane.notified[i] for i in take]
        t_aid, t_m = aid[take], lane.month[take]
        t_bal, t_due, t_paid = lane.balance[take], lane.due[take], lane.paid[take]
        t_dpd, t_line = lane.dpd[take], lane.line[take]
        hashes = [lane.hash[i] for i in take]  # computed while validating
        stored_m = {(a_, p_.year * 12 + p_.month - 1): v_ for (a_, p_), v_ in stored.items()}
        keep: list[int] = []
        version_of: list[int] = []
        accepted = corrections = duplicates = 0
        supersede = versions.supersede
        pairs = zip(t_aid.tolist(), t_m.tolist(), hashes, strict=True)
        if not stored_m:  # nothing on file for these months (a first load): all new
            keep, version_of, accepted = list(range(len(take))), [1] * len(take), len(take)
            pairs = ()
        for k, (x, mo, h) in enumerate(pairs):
            got = stored_m.get((x, mo))
            if got is None:
                accepted += 1
                keep.append(k)
                version_of.append(1)
            elif got[1] == h:
                duplicates += 1
            else:
                corrections += 1
                supersede.append(got[0])
                keep.append(k)
                version_of.append(got[2] + 1)
        o = self.outcome
        o.accepted += accepted
        o.corrections += corrections
        o.duplicates += duplicates
        # the last month of each account, as the loop would leave it
        last_of = np.ones(len(take), bool)
        last_of[:-1] = t_aid[1:] != t_aid[:-1]
        for k in np.flatnonzero(last_of):
            self.last_dpd[int(t_aid[k])] = (_month_date(int(t_m[k])), int(t_dpd[k]))
        if not keep:
            return out
        sel = np.asarray(keep, dtype=np.int64)
        frame = pl.DataFrame(
            {
                "account_id": t_aid[sel],
                "month": t_m[sel],
                "balance_cents": t_bal[sel],
                "amount_due_cents": t_due[sel],
                "amount_paid_cents": t_paid[sel],
                "days_past_due": t_dpd[sel],
                "subject_notified_on": pl.Series([notified[k] for k in keep], dtype=pl.String),
                "version": pl.Series(version_of, dtype=pl.Int64),
                "content_hash": pl.Series([hashes[k] for k in keep], dtype=pl.String),
                "line_no": t_line[sel],
            }
        ).with_columns(
            period=pl.date(pl.col("month") // 12, pl.col("month") % 12 + 1, 1),
            recorded_at=pl.lit(self.now.isoformat()),
            superseded_at=pl.lit(None, pl.String),
            superseded_by_batch_id=pl.lit(None, pl.Int64),
            batch_id=pl.lit(self.batch_id, pl.Int64),
        )
        if self._copy:
            # COPY text straight from the columns: numbers, ISO dates and timestamps and hex
            # digests, nothing that needs quoting or escaping
            versions.copy_blocks.append(
                frame.select(_STATUS_COPY_COLUMNS).write_csv(
                    separator="\t", include_header=False, null_value=_NULL, quote_style="never"
                )
            )
            versions.copied += len(keep)
        else:
            recorded = self.now
            for row in frame.select(
                c for c in _STATUS_COPY_COLUMNS if c not in ("recorded_at", "superseded_at")
            ).iter_rows(named=True):
                nt = row["subject_notified_on"]
                row.update(
                    recorded_at=recorded,
                    superseded_at=None,
                    subject_notified_on=None if nt is None else date.fromisoformat(nt),
                )
                versions.rows.append(row)
        return out

    # -- public records --------------------------------------------------------------
    def _public_records(self, rows) -> None:
        keys = {(r[2].kind, r[2].case_ref) for r in rows}
        stored: dict[tuple[str, str], tuple[int, str, int]] = {}
        for part in _parts(sorted(keys)):
            for rid, kind, case_ref, h, v in self.session.execute(
                select(PublicRecord.id, PublicRecord.kind, PublicRecord.case_ref,
                       PublicRecord.content_hash, PublicRecord.version)
                .where(PublicRecord.institution_id == self.institution_id,
                       tuple_(PublicRecord.kind, PublicRecord.case_ref).in_(part),
                       PublicRecord.superseded_at.is_(None))
            ):  # fmt: skip
                stored[(str(kind), case_ref)] = (rid, h, v)
        versions = _Versions(self, PublicRecord, stored)
        for line, rtype, rec, text in rows:
            holder = self._holder(line, rtype, rec, text)
            if holder is None:
                continue
            key = (rec.kind, rec.case_ref)
            h = public_record_hash(holder.id, rec)
            version = versions.decide(key, h)
            if version is None:
                continue
            versions.pending[key] = {
                **self._versioned(line, h, version), "subject_id": holder.id,
                "institution_id": self.institution_id, "kind": rec.kind,
                "authority": rec.authority, "case_ref": rec.case_ref,
                "amount_cents": rec.amount_cents, "currency": rec.currency,
                "filed_on": rec.filed_on, "resolved_on": rec.resolved_on,
                "subject_notified_on": rec.subject_notified_on,
            }  # fmt: skip
        versions.write()

    # -- inquiries -------------------------------------------------------------------
    def _inquiries(self, rows) -> None:
        prepared = []
        for line, rtype, rec, text in rows:
            holder = self._holder(line, rtype, rec, text)
            if holder is None:
                continue
            h = _hash(holder.id, rec.inquired_on, rec.purpose, rec.kind, rec.inquiry_ref)
            prepared.append((line, rec, holder.id, h))
        existing: set[str] = set()
        for part in _parts(sorted({p[3] for p in prepared})):
            if self._pg:
                # one index probe per hash whatever the statistics say: inside a big file's
                # transaction they can count none of this institution's inquiries, and the
                # planner then filtered all of them for every chunk (120-270 ms a lookup)
                found = self.session.scalars(_INQUIRY_HASHES_PG, {
                    "institution": self.institution_id, "hashes": part})  # fmt: skip
            else:
                found = self.session.scalars(
                    select(Inquiry.content_hash).where(
                        Inquiry.institution_id == self.institution_id,
                        Inquiry.content_hash.in_(part),
                    )
                )
            existing.update(found)
        payload = []
        for line, rec, sid, h in prepared:
            if h in existing:
                self.outcome.duplicates += 1
                continue
            existing.add(h)
            self.outcome.accepted += 1
            payload.append({
                "subject_id": sid, "institution_id": self.institution_id,
                "inquired_on": rec.inquired_on, "purpose": rec.purpose, "kind": rec.kind,
                "source": InquirySource.furnished, "content_hash": h, "batch_id": self.batch_id,
                "line_no": line, "recorded_at": self.now,
            })  # fmt: skip
        self._insert(Inquiry, payload)


class _Versions:
    """One chunk's writes to one versioned table: each record is a duplicate, a correction or new.

    `stored` maps a natural key to the current stored row as (id, content_hash, version, ...).
    A later line of the same chunk for a key already pending supersedes the pending row, which
    is then written as history (born superseded).
    """

    def __init__(self, store: RecordStore, model, stored: dict) -> None:
        self.store = store
        self.model = model
        self.stored = stored
        self.pending: dict = {}
        self.history: list[dict] = []
        #: rows decided elsewhere (the status lane), written with the others: as dicts, or
        #: (PostgreSQL) as blocks of COPY text holding `copied` rows
        self.rows: list[dict] = []
        self.copy_blocks: list[str] = []
        self.copied = 0
        self.supersede: list[int] = []

    def decide(self, key, content_hash: str) -> int | None:
        """The version a row for `key` gets, or None when it is a duplicate (nothing to write)."""
        out = self.store.outcome
        before = self.pending.get(key)
        if before is not None:
            if before["content_hash"] == content_hash:
                out.duplicates += 1
                return None
            before["superseded_at"] = self.store.now
            before["superseded_by_batch_id"] = self.store.batch_id
            self.history.append(before)
            self.store._count(self.model.__tablename__, superseded=1)
            out.corrections += 1
            return before["version"] + 1
        old = self.stored.get(key)
        if old is not None:
            rid, old_hash, old_version = old[:3]
            if old_hash == content_hash:
                out.duplicates += 1
                return None
            self.supersede.append(rid)
            out.corrections += 1
            return old_version + 1
        out.accepted += 1
        return 1

    def write(self) -> None:
        """Mark superseded rows, then insert history and current rows."""
        self.store._supersede(self.model, self.supersede)
        self.store._insert(
            self.model,
            [*self.history, *self.rows, *self.pending.values()],
            self.copy_blocks,
            self.copied,
        )


def _parts(items: list, size: int = 500):
    for i in range(0, len(items), size):
        yield items[i : i + size]
