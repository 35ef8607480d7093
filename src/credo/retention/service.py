"""The retention job: erase negative data whose retention has passed (docs/retention.md).

What has expired is decided by `credo.retention.rules` on the current version of each record,
as of `today` -- the same rule reports and features apply on the fly, so erasing changes no
current report and no feature (an as-of report for an earlier date shows what had not expired
then until the job erases it; `credo worker` runs the job daily). An expired record is erased
in every version it has (data minimisation: nothing expired is kept, not even superseded
history), and with it every stored score of the subjects it touched (computed from it):

* a delinquent month: the ``status_record`` rows of that account and month; the account and
  its other months stay;
* a charged-off or transferred account: its ``status_record``, ``account_version`` and
  ``account`` rows;
* a public record: every ``public_record`` row of its key (institution, kind, case ref).

No table has a foreign key to these rows except the account's own versions and statuses,
deleted first; disputes name records by plain id and are kept as the history of the dispute.
One run is one ledger entry (``retention.erase``) with the counts per table and the row ids --
never personal data -- also when nothing had expired, as evidence the job ran. A dry run
erases nothing and writes no entry.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import delete, or_, select, tuple_
from sqlalchemy.orm import Session

from credo.account.models import Account, AccountVersion, StatusRecord
from credo.audit import service as audit
from credo.config import Settings
from credo.public_record.models import PublicRecord
from credo.retention.rules import (
    NEGATIVE_ACCOUNT_STATUSES,
    add_years,
    expired_in_account,
    public_record_expired,
)
from credo.scoring import registry
from credo.scoring import service as scoring
from credo.scoring.models import SubjectScore
from credo.subject.models import Subject

#: accounts examined per query (keeps IN lists short on both backends)
CHUNK = 500
Progress = Callable[[int, int], None]


@dataclass
class RetentionReport:
    """What one run found expired (and erased, unless `dry_run`)."""

    profile: str
    today: date
    dry_run: bool
    #: records per kind: ``delinquent_month``, ``account:<status>``, ``public_record:<kind>``
    by_kind: Counter[str] = field(default_factory=Counter)
    #: row ids per table, every version
    rows: dict[str, list[int]] = field(
        default_factory=lambda: {
            t: []
            for t in (
                "status_record",
                "account_version",
                "account",
                "public_record",
                "subject_score",
            )
        }
    )

    #: subjects whose file lost something (re-scored after erasure)
    subjects: set[int] = field(default_factory=set)
    #: subjects re-scored with their segment's champion after erasure
    rescored: int = 0

    @property
    def counts(self) -> dict[str, int]:
        """Rows per table."""
        return {table: len(ids) for table, ids in self.rows.items()}

    @property
    def total(self) -> int:
        """Expired records found (not rows)."""
        return sum(self.by_kind.values())


def _chunks(ids: list[int], size: int = CHUNK) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _candidate_accounts(session: Session, horizon: date) -> list[int]:
    """Accounts that may hold expired data: nothing dated after `horizon` can have expired."""
    late = select(StatusRecord.account_id).where(
        StatusRecord.superseded_at.is_(None),
        StatusRecord.days_past_due > 0,
        StatusRecord.period <= horizon,
    )
    negative = select(AccountVersion.account_id).where(
        AccountVersion.superseded_at.is_(None),
        AccountVersion.status.in_(sorted(NEGATIVE_ACCOUNT_STATUSES)),
    )
    return sorted(set(session.scalars(late.distinct())) | set(session.scalars(negative)))


def _accounts(session: Session, report: RetentionReport, settings: Settings, ids: list[int]):
    profile = settings.jurisdiction
    versions = {
        v.account_id: v
        for v in session.execute(
            select(AccountVersion.account_id, AccountVersion.status, AccountVersion.closed_on)
            .where(AccountVersion.account_id.in_(ids), AccountVersion.superseded_at.is_(None))
        )
    }  # fmt: skip
    statuses: dict[int, list[tuple[date, int]]] = {i: [] for i in ids}
    for s in session.execute(
        select(StatusRecord.account_id, StatusRecord.period, StatusRecord.days_past_due).where(
            StatusRecord.account_id.in_(ids), StatusRecord.superseded_at.is_(None)
        )
    ):
        statuses[s.account_id].append((s.period, s.days_past_due))
    whole: list[int] = []
    months: list[tuple[int, date]] = []
    for account_id, v in versions.items():
        gone, periods = expired_in_account(
            v.status.value, v.closed_on, statuses[account_id], profile, as_of=report.today
        )
        if gone:
            whole.append(account_id)
            report.by_kind[f"account:{v.status.value}"] += 1
        else:
            months.extend((account_id, p) for p in sorted(periods))
            if periods:
                report.by_kind["delinquent_month"] += len(periods)
    rows = report.rows
    if whole:
        rows["status_record"] += session.scalars(
            select(StatusRecord.id).where(StatusRecord.account_id.in_(whole))
        ).all()
        rows["account_version"] += session.scalars(
            select(AccountVersion.id).where(AccountVersion.account_id.in_(whole))
        ).all()
        rows["account"] += whole
    for chunk in _chunks(months):
        rows["status_record"] += session.scalars(
            select(StatusRecord.id).where(
                tuple_(StatusRecord.account_id, StatusRecord.period).in_(chunk)
            )
        ).all()


def _public_records(session: Session, report: RetentionReport, settings: Settings, horizon: date):
    profile = settings.jurisdiction
    current = session.execute(
        select(PublicRecord.institution_id, PublicRecord.kind, PublicRecord.case_ref,
               PublicRecord.filed_on, PublicRecord.resolved_on)
        .where(PublicRecord.superseded_at.is_(None),
               or_(PublicRecord.filed_on <= horizon, PublicRecord.resolved_on <= horizon))
    ).all()  # fmt: skip
    keys = []
    for r in current:
        if public_record_expired(r.kind.value, r.filed_on, r.resolved_on, profile,
                                 as_of=report.today):  # fmt: skip
            keys.append((r.institution_id, r.kind, r.case_ref))
            report.by_kind[f"public_record:{r.kind.value}"] += 1
    for chunk in _chunks(keys):
        report.rows["public_record"] += session.scalars(
            select(PublicRecord.id).where(
                tuple_(PublicRecord.institution_id, PublicRecord.kind, PublicRecord.case_ref).in_(
                    chunk
                )
            )
        ).all()


def _affected(session: Session, rows: dict[str, list[int]]) -> set[int]:
    """The subjects the rows to erase belong to."""
    out: set[int] = set()
    for chunk in _chunks(sorted(rows["status_record"]), 1000):
        out.update(session.scalars(
            select(Account.subject_id).join(StatusRecord, StatusRecord.account_id == Account.id)
            .where(StatusRecord.id.in_(chunk)).distinct()
        ))  # fmt: skip
    for chunk in _chunks(sorted(rows["account"]), 1000):
        out.update(session.scalars(select(Account.subject_id).where(Account.id.in_(chunk))))
    for chunk in _chunks(sorted(rows["public_record"]), 1000):
        out.update(
            session.scalars(select(PublicRecord.subject_id).where(PublicRecord.id.in_(chunk)))
        )
    return out


def _rescore(session: Session, subjects: set[int], *, actor: str, today: date) -> int:
    """Re-score the subjects with their segment's champion: a stored score must not keep
    reasons (and points) that came from data now erased. Segments without a champion are
    left alone; a subject left without a file is reported not scorable by the scorer."""
    scored = 0
    by_segment: dict[str, list[int]] = {}
    for sid, kind in session.execute(
        select(Subject.id, Subject.subject_type).where(Subject.id.in_(sorted(subjects)))
    ):
        by_segment.setdefault(kind.value, []).append(sid)
    for segment, ids in sorted(by_segment.items()):
        if registry.champion(session, segment) is None:
            continue
        run = scoring.score_subjects(
            session, ids, actor=actor, trigger="batch", as_of=today, segment=segment, keep=False
        )
        scored += run.scored
    return scored


def _stored_scores(session: Session, subjects: set[int]) -> list[int]:
    ids: list[int] = []
    for chunk in _chunks(sorted(subjects)):
        ids += session.scalars(select(SubjectScore.id).where(SubjectScore.subject_id.in_(chunk)))
    return sorted(ids)


def _erase(session: Session, rows: dict[str, list[int]]) -> None:
    # children before the account they reference
    for model, table in (
        (SubjectScore, "subject_score"),
        (StatusRecord, "status_record"),
        (AccountVersion, "account_version"),
        (Account, "account"),
        (PublicRecord, "public_record"),
    ):
        for chunk in _chunks(sorted(rows[table]), 1000):
            session.execute(
                delete(model).where(model.id.in_(chunk)),
                execution_options={"synchronize_session": False},
            )
    session.flush()


def run(
    session: Session,
    settings: Settings,
    *,
    today: date,
    dry_run: bool = False,
    actor: str,
    progress: Progress | None = None,
) -> RetentionReport:
    """Find the negative data expired at `today` and erase it (unless `dry_run`)."""
    profile = settings.jurisdiction
    report = RetentionReport(profile.code, today, dry_run)
    years = min(profile.negative_retention_years, profile.bankruptcy_retention_years)
    # nothing dated after the horizon can have expired (every clock starts at the record's own
    # date); a few days' margin for 29 February
    horizon = add_years(today, -years) + timedelta(days=3)
    candidates = _candidate_accounts(session, horizon)
    done = 0
    for chunk in _chunks(candidates):
        _accounts(session, report, settings, chunk)
        done += len(chunk)
        if progress:
            progress(done, len(candidates))
    _public_records(session, report, settings, horizon)
    report.subjects = _affected(session, report.rows)
    # every stored score of those subjects was computed from data now erased (its reasons and
    # inputs hold it, and as-of reports would show it): erased too, then re-scored below
    report.rows["subject_score"] = _stored_scores(session, report.subjects)
    if dry_run:
        return report
    _erase(session, report.rows)
    audit.record(
        session,
        actor=actor,
        action="retention.erase",
        target=f"retention:{profile.code}",
        details={
            "profile": profile.code,
            "today": today.isoformat(),
            "records": dict(sorted(report.by_kind.items())),
            "rows": report.counts,
            "row_ids": {table: sorted(ids) for table, ids in report.rows.items()},
            "subjects": len(report.subjects),
        },
    )
    if report.subjects:
        report.rescored = _rescore(session, report.subjects, actor=actor, today=today)
    return report
