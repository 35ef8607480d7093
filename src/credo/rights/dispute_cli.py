"""``credo dispute``: the operators' dispute queue.

``queue`` and ``overdue`` list, ``show`` prints one dispute with the subject's reason (a read of
personal data, ledgered) and its history, ``answer`` records an answer (the bureau's own for
identity and self-query disputes, or a furnisher's received out of band, with ``--institution``
naming it), ``decide`` closes a dispute, ``escalate`` marks the overdue ones. Errors are one red
line naming the field, exit code 2.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select

from credo.audit import service as audit
from credo.cli.common import actor as default_actor
from credo.cli.common import cli_session, console
from credo.config import get_settings
from credo.db import utcnow
from credo.errors import Invalid, NotFound
from credo.institution.models import Institution
from credo.rights import disputes as service
from credo.rights.models import Dispute, DisputeStatus
from credo.security import get_keyring
from credo.subject.models import Subject

app = typer.Typer(help="Disputes: queue, overdue, show, answer, decide.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
ActorOption = Annotated[
    str | None,
    typer.Option("--actor", help="who acts, for the ledger (default: CREDO_ACTOR or cli:<user>)"),
]


def _json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _correction(text: str | None) -> dict | None:
    if text is None:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise Invalid(f"--correction is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise Invalid("--correction must be a JSON object of fields, e.g. '{\"days_past_due\": 0}'")
    return value


def _labels(session, rows: list[Dispute]) -> tuple[dict[int, str], dict[int, str]]:
    subjects = {d.subject_id for d in rows}
    insts = {d.institution_id for d in rows if d.institution_id is not None}
    refs = dict(
        session.execute(select(Subject.id, Subject.ref).where(Subject.id.in_(subjects))).all()
    )
    codes = dict(
        session.execute(
            select(Institution.id, Institution.code).where(Institution.id.in_(insts))
        ).all()
    )
    return refs, codes


def _item(d: Dispute, subject_ref: str, code: str | None, today) -> dict[str, Any]:
    return {
        "ref": d.ref,
        "subject_ref": subject_ref,
        "record_type": d.record_type.value,
        "target": d.target_key,
        "institution": code,
        "status": d.status.value,
        "outcome": d.outcome.value if d.outcome else None,
        "filed_at": d.filed_at.isoformat(),
        "due_on": d.due_on.isoformat(),
        "overdue": d.closed_at is None and d.due_on < today,
        "escalated_at": d.escalated_at.isoformat() if d.escalated_at else None,
        "answer": d.answer.value if d.answer else None,
        "correction": service.correction_of(d),
        "decision_note": d.decision_note,
        "closed_at": d.closed_at.isoformat() if d.closed_at else None,
    }


def _print(session, rows: list[Dispute], as_json: bool, title: str) -> None:
    today = utcnow().date()
    refs, codes = _labels(session, rows)
    items = [_item(d, refs[d.subject_id], codes.get(d.institution_id), today) for d in rows]
    if as_json:
        _json(items)
        return
    if not items:
        console.print(f"no disputes {title}")
        return
    t = Table(title=f"disputes {title}")
    for name in ("dispute", "subject", "record", "answers", "status", "due"):
        t.add_column(name, no_wrap=name in {"dispute", "subject", "due"})
    for i in items:
        due = i["due_on"] + (" escalated" if i["escalated_at"] else "")
        due = f"[red]{due}[/red]" if i["overdue"] else due
        status = i["status"] + (
            f" {i['answer'] or i['outcome']}" if i["answer"] or i["outcome"] else ""
        )
        t.add_row(
            i["ref"], i["subject_ref"], i["record_type"], i["institution"] or "bureau", status, due
        )
    console.print(t)


@app.command("queue")
def queue(
    status: Annotated[
        str | None, typer.Option("--status", help="open, answered or closed (default: not closed)")
    ] = None,
    institution: Annotated[str | None, typer.Option("--institution", help="furnisher code")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="only past their due date")] = False,
    as_json: JsonOption = False,
) -> None:
    """The dispute queue, oldest first."""
    with cli_session() as session:
        try:
            wanted = DisputeStatus(status) if status else None
        except ValueError:
            raise Invalid(
                f"--status must be one of {', '.join(DisputeStatus)}; got {status!r}"
            ) from None
        rows = service.queue(
            session, today=utcnow().date(), status=wanted, institution_code=institution,
            overdue_only=overdue,
        )  # fmt: skip
        _print(session, rows, as_json, "in the queue")


@app.command("overdue")
def overdue(as_json: JsonOption = False) -> None:
    """Disputes not closed past their due date, most overdue first."""
    with cli_session() as session:
        _print(session, service.overdue(session, today=utcnow().date()), as_json, "overdue")


@app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="the dispute's ref, e.g. D7K2M9Q4XH3TD")],
    as_json: JsonOption = False,
    actor: ActorOption = None,
) -> None:
    """One dispute with the subject's reason (the read is ledgered) and its history."""
    who = actor or default_actor()
    with cli_session() as session:
        d = service.get(session, ref=ref)
        refs, codes = _labels(session, [d])
        item = _item(d, refs[d.subject_id], codes.get(d.institution_id), utcnow().date())
        item["reason"] = service.reason(d, get_keyring())
        item["evidence_sha256"] = d.evidence_sha256
        item["record_now"] = service.current_record(session, d)
        item["history"] = [
            {"at": e.at.isoformat(), "kind": e.kind, "actor": e.actor, "note": e.note,
             "evidence_sha256": e.evidence_sha256, "detail": service.events_detail(e)}
            for e in service.history(session, dispute=d)
        ]  # fmt: skip
        audit.record(session, actor=who, action="dispute.read", target=d.ref,
                     details={"fields": ["reason"]})  # fmt: skip
    if as_json:
        _json(item)
        return
    for key in ("ref", "subject_ref", "record_type", "target", "institution", "status", "outcome",
                "filed_at", "due_on", "escalated_at", "answer", "correction", "decision_note",
                "closed_at", "evidence_sha256"):  # fmt: skip
        console.print(
            f"[bold]{key}[/bold]: {escape(str(item[key] if item[key] is not None else '-'))}"
        )
    console.print(f"[bold]record now[/bold]: {escape(str(item['record_now'] or '-'))}")
    # the subject's and the furnisher's words are text, never Rich markup
    console.print(f"[bold]reason[/bold]: {escape(item['reason'])}")
    t = Table(title="history")
    for name in ("at", "step", "by", "note", "detail"):
        t.add_column(name)
    for e in item["history"]:
        t.add_row(
            e["at"][:19],
            e["kind"],
            e["actor"],
            escape(e["note"] or ""),
            escape(orjson.dumps(e["detail"]).decode()),
        )
    console.print(t)


@app.command("answer")
def answer(
    ref: Annotated[str, typer.Argument(help="the dispute's ref")],
    answer: Annotated[str, typer.Option("--answer", help="confirm or correct")],
    correction: Annotated[
        str | None, typer.Option("--correction", help='correct: JSON, e.g. {"days_past_due": 0}')
    ] = None,
    evidence: Annotated[str | None, typer.Option("--evidence", help="SHA-256 of evidence")] = None,
    note: Annotated[str | None, typer.Option("--note", help="what was checked")] = None,
    institution: Annotated[
        str | None,
        typer.Option("--institution", help="the furnisher whose answer this is, when it has one"),
    ] = None,
    actor: ActorOption = None,
) -> None:
    """Record an answer: the bureau's, or its furnisher's (name it with --institution)."""
    who = actor or default_actor()
    with cli_session() as session:
        d = service.get(session, ref=ref)
        if d.institution_id is not None:
            code = session.scalar(
                select(Institution.code).where(Institution.id == d.institution_id)
            )
            if institution is None:
                raise Invalid(
                    f"--institution is required: {d.ref} is answered by its furnisher {code}"
                )
            if institution != code:
                raise NotFound(f"dispute {d.ref} is not answered by {institution}")
        elif institution is not None:
            raise Invalid(f"--institution: the bureau answers {d.ref}, not a furnisher")
        service.answer(
            session, dispute=d, answer=answer, correction=_correction(correction),
            evidence_sha256=evidence, note=note, profile=get_settings().jurisdiction, actor=who,
            now=utcnow(),
        )  # fmt: skip
        console.print(f"answered dispute [bold]{d.ref}[/bold]: {d.answer.value}")


@app.command("decide")
def decide(
    ref: Annotated[str, typer.Argument(help="the dispute's ref")],
    outcome: Annotated[str, typer.Option("--outcome", help="corrected, confirmed or unresolved")],
    note: Annotated[str | None, typer.Option("--note", help="required for unresolved")] = None,
    correction: Annotated[
        str | None,
        typer.Option("--correction", help="corrected: JSON (default: the furnisher's correction)"),
    ] = None,
    actor: ActorOption = None,
) -> None:
    """Close a dispute: corrected, confirmed or unresolved."""
    who = actor or default_actor()
    with cli_session() as session:
        d = service.get(session, ref=ref)
        service.decide(
            session, dispute=d, outcome=outcome, note=note, correction=_correction(correction),
            keyring=get_keyring(), settings=get_settings(), actor=who, now=utcnow(),
        )  # fmt: skip
        console.print(f"closed dispute [bold]{d.ref}[/bold]: {d.outcome.value}")


@app.command("escalate")
def escalate(actor: ActorOption = None, as_json: JsonOption = False) -> None:
    """Escalate every dispute past its due date and not closed (once each)."""
    who = actor or default_actor()
    now = utcnow()
    with cli_session() as session:
        found = service.escalate_overdue(session, today=now.date(), actor=who, now=now)
        refs = [d.ref for d in found]
    if as_json:
        _json({"escalated": refs})
    elif refs:
        console.print(f"escalated {len(refs)} dispute(s): {', '.join(refs)}")
    else:
        console.print("no dispute to escalate")
