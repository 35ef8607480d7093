"""The `credo` command line: every command group is registered here."""

from __future__ import annotations

import logging
import os

import typer

from credo.access.cli import consent_app, key_app
from credo.access.subject_cli import subject_access_app
from credo.api.cli import serve
from credo.audit.cli import app as audit_app
from credo.cli.db import app as db_app
from credo.cli.demo import demo
from credo.cli.worker import worker
from credo.furnishing.cli import batch_app, furnish
from credo.institution.cli import app as institution_app
from credo.notify.cli import app as notify_app
from credo.repair.cli import app as repair_app
from credo.report.cli import report
from credo.retention.cli import app as retention_app
from credo.rights.controls_cli import app as rights_app
from credo.rights.dispute_cli import app as dispute_app
from credo.scoring.cli import app as model_app
from credo.scoring.cli import score
from credo.security.cli import app as keys_app
from credo.subject.cli import app as review_app
from credo.synth.cli import synth

app = typer.Typer(
    name="credo",
    help="Credo: credit reporting and credit risk platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db_app, name="db")
app.add_typer(institution_app, name="institution")
app.command("furnish")(furnish)
app.add_typer(batch_app, name="batch")
app.add_typer(review_app, name="review")
app.add_typer(audit_app, name="audit")
app.add_typer(model_app, name="model")
app.command("score")(score)
app.command("report")(report)
app.add_typer(keys_app, name="keys")
app.add_typer(key_app, name="key")
app.add_typer(consent_app, name="consent")
app.add_typer(subject_access_app, name="subject-access")
app.add_typer(dispute_app, name="dispute")
app.add_typer(rights_app, name="rights")
app.add_typer(repair_app, name="repair")
app.add_typer(retention_app, name="retention")
app.add_typer(notify_app, name="notify")
app.command("synth")(synth)
app.command("demo")(demo)
app.command("serve")(serve)
app.command("worker")(worker)


def main() -> None:
    """Console-script entry point."""
    logging.basicConfig(
        level=os.environ.get("CREDO_LOG_LEVEL", "WARNING"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    app()
