"""The bureau's scheduled work in one long-running process: ``credo worker``.

Deadlines and deliveries do not happen by themselves: a dispute past its due date must be
escalated, queued notices must be sent (and retried), expired negative data must be erased, and
ledger entries written unsealed must be sealed. Each of these is a command an operator can run
by hand (``credo dispute escalate``, ``credo notify deliver``, ``credo retention run``,
``credo audit seal``); the worker runs the same service functions on a schedule:

| job | every | what |
|---|---|---|
| ``escalate`` | 10 min | escalate every dispute past its due date (once each) |
| ``retention`` | once a day | erase negative data whose retention has passed, re-score |
| ``notify`` | 5 s | deliver the notices that are due (with their retry back-off) |
| ``seal`` | 5 s | seal unsealed ledger entries, checkpoint when due |

Every job is idempotent and runs in transactions of its own, so several workers (or a worker and
an operator) may run at once: sealing takes the ledger lock or skips, delivery claims notices
with ``FOR UPDATE SKIP LOCKED``, escalation marks each dispute once, and the retention job runs
when the last ``retention.erase`` entry in the ledger is for an earlier day (a restart does not
run it twice). A job that fails is logged and retried at its next turn; it never stops the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from credo.audit import service as audit
from credo.audit.models import AuditEntry
from credo.config import Settings
from credo.db import transaction, utcnow
from credo.notify.deliver import deliver_due
from credo.retention import service as retention
from credo.rights import disputes
from credo.security.keys import KeyRing

log = logging.getLogger(__name__)

#: the jobs in the order a tick runs them (notices the others queue go out in the same tick),
#: with their period in seconds (retention looks every hour and runs once a day)
SCHEDULE: dict[str, float] = {
    "escalate": 600.0,
    "retention": 3600.0,
    "notify": 5.0,
    "seal": 5.0,
}
#: what the worker writes in the ledger as the actor of its jobs
ACTOR = "system:worker"


@dataclass(frozen=True, slots=True)
class JobResult:
    """One run of one job: what it did, or why it failed."""

    job: str
    at: datetime
    ok: bool
    summary: str
    #: whether it changed anything (a quiet run is not logged in the loop)
    changed: bool


@dataclass
class Worker:
    """Runs the scheduled jobs (`tick` once, or `run` until stopped)."""

    sessions: sessionmaker[Session]
    settings: Settings
    keyring: KeyRing
    jobs: tuple[str, ...] = tuple(SCHEDULE)
    periods: dict[str, float] = field(default_factory=lambda: dict(SCHEDULE))
    #: the clock (tests travel in time through it)
    clock: Callable[[], datetime] = utcnow
    _next: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [j for j in self.jobs if j not in SCHEDULE]
        if unknown:
            raise ValueError(
                f"unknown job(s) {', '.join(unknown)}; the jobs are {', '.join(SCHEDULE)}"
            )
        if not self.jobs:
            raise ValueError("no job to run")

    # -- the jobs ------------------------------------------------------------------------
    def _seal(self, now: datetime) -> tuple[str, bool]:
        with transaction(self.sessions) as session:
            sealed = audit.seal(session, wait=False)  # another sealer holds it: it seals
            signed = audit.maybe_checkpoint(session, self.keyring) if sealed else None
        tail = ", checkpoint signed" if signed is not None else ""
        return f"sealed {sealed} ledger entries{tail}", bool(sealed)

    def _notify(self, now: datetime) -> tuple[str, bool]:
        stats = deliver_due(self.sessions, self.settings, self.keyring, now=now,
                            actor=f"{ACTOR}:notify")  # fmt: skip
        text = f"delivered {stats.delivered}, retrying {stats.retrying}, failed {stats.failed}"
        return text, bool(stats.attempted)

    def _escalate(self, now: datetime) -> tuple[str, bool]:
        with transaction(self.sessions) as session:
            found = disputes.escalate_overdue(session, today=now.date(), now=now,
                                              actor=f"{ACTOR}:escalate")  # fmt: skip
            refs = [d.ref for d in found]
        listed = f": {', '.join(refs)}" if refs else ""
        return f"escalated {len(refs)} dispute(s){listed}", bool(refs)

    @staticmethod
    def _last_retention_day(session: Session) -> str | None:
        """The day (ISO) the last retention run judged expiry at, from its ledger entry."""
        details = session.scalar(
            select(AuditEntry.details)
            .where(AuditEntry.action == "retention.erase")
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )
        return orjson.loads(details).get("today") if details else None

    def _retention(self, now: datetime) -> tuple[str, bool]:
        today = now.date()
        with transaction(self.sessions) as session:
            last = self._last_retention_day(session)
            if last is not None and last >= today.isoformat():
                return f"already ran for {last}", False
            report = retention.run(session, self.settings, today=today, actor=f"{ACTOR}:retention")
        text = (
            f"erased {report.total} expired records as of {today}, "
            f"re-scored {report.rescored} subjects"
        )
        return text, bool(report.total)

    # -- scheduling ----------------------------------------------------------------------
    def run_job(self, job: str, now: datetime | None = None) -> JobResult:
        """Run one job now; a failure is caught, logged and returned."""
        now = now or self.clock()
        try:
            summary, changed = getattr(self, f"_{job}")(now)
        except Exception as exc:  # a failing job must not stop the others
            log.exception("worker job %s failed", job)
            return JobResult(job, now, False, f"{type(exc).__name__}: {exc}"[:300], False)
        return JobResult(job, now, True, summary, changed)

    def tick(self, *, force: bool = False) -> list[JobResult]:
        """Run every job that is due (every job with `force`), in schedule order."""
        results = []
        mono = time.monotonic()
        for job in self.jobs:
            if not force and self._next.get(job, 0.0) > mono:
                continue
            self._next[job] = mono + self.periods[job]
            results.append(self.run_job(job))
        return results

    def run(
        self,
        stop: threading.Event,
        *,
        poll: float = 1.0,
        report: Callable[[JobResult], None] | None = None,
    ) -> None:
        """Tick every `poll` seconds until `stop` is set; `report` sees every result."""
        while not stop.is_set():
            for result in self.tick():
                if report is not None:
                    report(result)
            stop.wait(poll)
