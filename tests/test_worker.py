"""`credo worker`: the scheduled jobs (seal, notify, escalate, retention) on a small bureau."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from cli_support import runner
from credo.audit import service as audit
from credo.audit.models import AuditEntry
from credo.cli.root import app
from credo.config import get_settings
from credo.notify.models import Notification
from credo.notify.outbox import enqueue
from credo.rights import disputes
from credo.rights.disputes import RecordName
from credo.rights.models import Dispute
from credo.worker import SCHEDULE, Worker
from furnishing.bureau import BANK, ZHANG_ID, furnish_small_bureau, subject_of

#: the dispute is filed at T0; cn gives the furnisher 20 days
T0 = datetime(2024, 7, 2, 9, 0, tzinfo=UTC)
LATE = T0 + timedelta(days=25)


@pytest.fixture
def world(session, keyring, cn, tmp_path):
    """The small bureau, one dispute filed at T0 and one notice due at T0, all committed."""
    furnish_small_bureau(session, keyring, cn, tmp_path / "bureau.jsonl")
    zhang = subject_of(session, keyring, ZHANG_ID)
    d = disputes.file(
        session, keyring=keyring, subject_id=zhang.id, profile=cn, now=T0,
        name=RecordName("status", institution=BANK, account_ref="CC-1", period="2024-05"),
        reason="I paid this month on time", actor=f"subject:{zhang.ref}/U1",
    )  # fmt: skip
    # the filing queued its own notices; one more, to the subject
    enqueue(session, kind="dispute.decided", payload={"dispute_ref": d.ref}, now=T0,
            subject_id=zhang.id)  # fmt: skip
    session.commit()
    return d.ref


def _worker(session, keyring, at: datetime, **kw) -> Worker:
    sessions = sessionmaker(bind=session.get_bind(), expire_on_commit=False)
    return Worker(sessions, get_settings(), keyring, clock=lambda: at, **kw)


def _count(session, action: str) -> int:
    session.expire_all()
    return session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
    )


def test_one_tick_escalates_delivers_erases_and_seals(world, session, keyring):
    pending = session.scalar(select(func.count()).select_from(Notification))
    assert pending >= 2
    results = {r.job: r for r in _worker(session, keyring, LATE).tick(force=True)}
    assert list(results) == list(SCHEDULE)
    assert all(r.ok for r in results.values()), results
    assert results["escalate"].summary == f"escalated 1 dispute(s): {world}"
    # the escalation queued an overdue notice for the furnisher: it goes out in the same tick
    assert results["notify"].summary == f"delivered {pending + 1}, retrying 0, failed 0"
    assert results["retention"].summary.startswith(f"erased 0 expired records as of {LATE.date()}")
    session.expire_all()
    d = session.scalar(select(Dispute).where(Dispute.ref == world))
    assert d.escalated_at is not None and d.escalated_at.date() == LATE.date()
    statuses = session.scalars(select(Notification.status)).all()
    assert [s.value for s in statuses] == ["delivered"] * (pending + 1)
    for action in ("dispute.escalate", "notify.deliver", "retention.erase"):
        assert _count(session, action) == 1, action
    assert audit.verify(session, keyring).ok


def test_a_second_tick_does_nothing_new_and_retention_runs_once_a_day(world, session, keyring):
    w = _worker(session, keyring, LATE)
    w.tick(force=True)
    again = {r.job: r for r in w.tick(force=True)}
    assert again["escalate"].summary == "escalated 0 dispute(s)"
    assert not again["escalate"].changed
    assert again["retention"].summary == f"already ran for {LATE.date()}"
    assert _count(session, "dispute.escalate") == 1
    assert _count(session, "retention.erase") == 1
    # a restarted worker the next day runs it again
    nxt = _worker(session, keyring, LATE + timedelta(days=1)).run_job("retention")
    assert nxt.ok and nxt.summary.startswith("erased 0 expired records as of")
    assert _count(session, "retention.erase") == 2


def test_before_the_deadline_nothing_is_escalated(world, session, keyring):
    on_time = _worker(session, keyring, T0 + timedelta(days=20)).run_job("escalate")
    assert on_time.ok and on_time.summary == "escalated 0 dispute(s)"
    session.expire_all()
    assert session.scalar(select(Dispute.escalated_at).where(Dispute.ref == world)) is None


def test_jobs_run_on_their_own_schedule(world, session, keyring):
    w = _worker(session, keyring, LATE, periods={**SCHEDULE, "seal": 0.0})
    assert [r.job for r in w.tick()] == list(SCHEDULE)
    # only the job whose period has passed runs again
    assert [r.job for r in w.tick()] == ["seal"]


def test_a_failing_job_is_reported_and_does_not_stop_the_others(world, session, keyring,
                                                                monkeypatch):  # fmt: skip
    def broken(*a, **kw):
        raise RuntimeError("gateway down")

    monkeypatch.setattr("credo.worker.deliver_due", broken)
    results = {r.job: r for r in _worker(session, keyring, LATE).tick(force=True)}
    assert not results["notify"].ok
    assert results["notify"].summary == "RuntimeError: gateway down"
    assert results["escalate"].ok and results["escalate"].changed
    # the CLI says so and exits 1
    out = runner.invoke(app, ["worker", "--once", "--only", "notify"])
    assert out.exit_code == 1, out.output
    assert "failed" in out.output and "gateway down" in out.output


def test_the_loop_runs_until_stopped(world, session, keyring):
    w = _worker(session, keyring, LATE)
    stop, seen = threading.Event(), []

    def report(r):
        seen.append(r.job)
        if len(seen) == len(SCHEDULE):
            stop.set()

    t = threading.Thread(target=w.run, args=(stop,), kwargs={"poll": 0.05, "report": report})
    t.start()
    t.join(timeout=60)
    assert not t.is_alive()
    assert seen == list(SCHEDULE)


def test_cli_once_and_bad_job_names(world):
    out = runner.invoke(app, ["worker", "--once", "--only", "seal,escalate"])
    assert out.exit_code == 0, out.output
    assert "seal" in out.output and "escalated" in out.output and "notify" not in out.output
    bad = runner.invoke(app, ["worker", "--once", "--only", "seal,nope"])
    assert bad.exit_code == 2
    assert "unknown job(s) nope" in " ".join(bad.output.split())
    with pytest.raises(ValueError, match="unknown job"):
        Worker(None, get_settings(), None, jobs=("seal", "cron"))
