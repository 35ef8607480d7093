"""``credo repair``: a subject's credit repair plan, for an operator at the counter."""

from __future__ import annotations

import sys
from datetime import date

import orjson
import typer
from rich.table import Column, Table

from credo.cli.common import actor, cli_session, console
from credo.errors import Invalid
from credo.repair import plan as repair
from credo.scoring.service import subject_by_ref

app = typer.Typer(help="Credit repair plans.", no_args_is_help=True)

HEADERS = {
    "zh": ("代码", "行动", "月数", "预计评分", "等级", "PD", "提高", "变化"),
    "en": ("code", "action", "months", "score", "grade", "PD", "gain", "changes"),
}


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if value == int(value) else f"{value:.4g}"


@app.command("plan")
def plan_cmd(
    subject: str = typer.Argument(..., help="subject reference"),
    lang: str = typer.Option("zh", "--lang", help="zh or en"),
    as_of: str | None = typer.Option(None, "--as-of", help="YYYY-MM-DD (default today)"),
    json_out: bool = typer.Option(False, "--json", help="print the plan as JSON"),
) -> None:
    """The subject's repair plan on the champion: actions and the score each would reach.

    Showing it is a read of the subject's data: one ledger entry (repair_plan.serve)."""
    with cli_session() as session:
        if lang not in repair.LANGS:
            raise Invalid(f"--lang must be zh or en; got {lang!r}")
        try:
            day = date.fromisoformat(as_of) if as_of else None
        except ValueError:
            raise Invalid(f"--as-of must be YYYY-MM-DD; got {as_of!r}") from None
        subj = subject_by_ref(session, subject)
        plan = repair.serve(session, subj.id, actor=actor(), channel="cli", as_of=day, lang=lang)
    doc = repair.to_dict(plan)
    if json_out:
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    zh = lang == "zh"
    cur = doc["current"]
    console.print(
        f"[bold]{plan.subject_ref}[/bold]: {'当前评分' if zh else 'score now'} "
        f"[bold]{cur['score']:g}[/bold], {'等级' if zh else 'grade'} {cur['grade']}, PD "
        f"{cur['pd']:.2%} ({plan.model}, {'截至' if zh else 'as of'} {plan.as_of})"
    )
    for r in cur["reasons"]:
        console.print(f"  {r['code']:<8} {r['text']}")
    if not doc["actions"]:
        console.print("没有能提高评分的行动。" if zh else "No action would raise the score.")
    else:
        code, *rest = HEADERS[lang]
        t = Table(
            Column(code, no_wrap=True), *rest, title="信用修复计划" if zh else "credit repair plan"
        )
        for a in doc["actions"]:
            changes = "\n".join(f"{c['label']}: {_fmt(c['from'])} → {_fmt(c['to'])}"
                                for c in a["changes"])  # fmt: skip
            t.add_row(a["code"], a["text"], str(a["months"]), f"{a['score']:g}", a["grade"],
                      f"{a['pd']:.2%}", f"+{a['gain']:g}", changes)  # fmt: skip
        console.print(t)
    console.print(doc["note"])
