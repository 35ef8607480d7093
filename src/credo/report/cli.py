"""`credo report`: one subject's credit report as JSON, HTML or PDF, in Chinese or English."""

from __future__ import annotations

import enum
import sys
from datetime import date
from pathlib import Path

import typer

from credo.core.masking import shown
from credo.errors import Invalid
from credo.report.render import render
from credo.report.service import STAFF_PURPOSES, build_report
from credo.report.snapshot import Viewer


class Format(enum.StrEnum):
    json = "json"
    html = "html"
    pdf = "pdf"


class Lang(enum.StrEnum):
    zh = "zh"
    en = "en"


def _as_of(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"--as-of must be YYYY-MM-DD; got {shown(value)}") from None


def report(
    subject_ref: str = typer.Argument(..., help="the subject's reference (never an id number)"),
    fmt: Format = typer.Option(Format.json, "--format", "-f", help="json, html or pdf"),
    lang: Lang = typer.Option(Lang.zh, "--lang", help="zh or en"),
    as_of: str | None = typer.Option(
        None,
        "--as-of",
        help="YYYY-MM-DD: the report as it would have looked at the end of that day",
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="file to write; default: JSON to stdout, HTML/PDF to ./"
    ),
    viewer: Viewer = typer.Option(
        Viewer.operator, help="who reads it: subject, institution or operator (masking differs)"
    ),
    institution: str | None = typer.Option(
        None, "--institution", "-i", help="the querying institution's code"
    ),
    purpose: str | None = typer.Option(
        None,
        help="why: for bureau staff (the default viewer) dispute_review, data_quality or "
        "customer_service; for an institution's view loan_approval, post_loan_management, ...",
    ),
) -> None:
    """Serve one subject's credit report (logged in the audit ledger with who and why)."""
    # imported here: credo.cli's __init__ imports this module to register the command
    from credo.cli.common import actor, cli_session
    from credo.security.keys import write_private

    if viewer is Viewer.operator and purpose is None:
        # staff access to credit information is logged with its reason (征信业管理条例 Art. 22)
        raise typer.BadParameter(
            f"say why bureau staff read this report: one of {', '.join(STAFF_PURPOSES)}",
            param_hint="--purpose",
        )

    with cli_session() as session:
        doc = build_report(
            session,
            subject_ref,
            viewer=viewer,
            institution=institution,
            purpose=purpose,
            as_of=_as_of(as_of),
            lang=lang.value,
            actor=actor(),
            format=fmt.value,
        )
        body = render(doc, fmt.value)
        if out is None and fmt is Format.json:
            sys.stdout.write(body.decode())
            return
        if out is None:
            header = doc["header"]
            out = Path(f"credit-report-{doc['identity']['subject_ref']}-{header['as_of']}-"
                       f"{lang.value}.{fmt.value}")  # fmt: skip
        out.parent.mkdir(parents=True, exist_ok=True)
        # written before the transaction commits: a report that could not be delivered is
        # not logged as served
        write_private(out, body)
    typer.echo(str(out))
