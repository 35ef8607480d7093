"""`credo review`: the identity review queue."""

from __future__ import annotations

import typer
from rich.table import Table
from sqlalchemy import select

from credo.cli.common import cli_session, console
from credo.subject.models import IdentityReview, ReviewStatus, Subject

app = typer.Typer(
    help="Identity review queue (conflicts and possible duplicates).", no_args_is_help=True
)


@app.command("list")
def list_reviews(
    status: ReviewStatus = typer.Option(ReviewStatus.open, help="open or resolved"),
    limit: int = typer.Option(50, min=1),
) -> None:
    """Review cases: which subject, what kind, which fields, from which batch line."""
    with cli_session() as session:
        rows = session.execute(
            select(IdentityReview, Subject.ref)
            .join(Subject, Subject.id == IdentityReview.subject_id)
            .where(IdentityReview.status == status)
            .order_by(IdentityReview.id)
            .limit(limit)
        ).all()
        t = Table("review", "kind", "subject", "fields", "batch line", "opened")
        for r, ref in rows:
            t.add_row(
                f"#{r.id}", r.kind.value, ref, r.fields, f"{r.batch_id}:{r.line_no}",
                f"{r.created_at:%Y-%m-%d %H:%M}",
            )  # fmt: skip
        console.print(t)
