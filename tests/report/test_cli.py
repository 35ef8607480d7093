"""``credo report`` (as registered in the ``credo`` command) against a committed SQLite bureau."""

from __future__ import annotations

import base64

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from credo.audit.models import AuditEntry
from credo.cli import app
from furnishing.bureau import ZHANG_ID

from .conftest import SECRETS

runner = CliRunner()


@pytest.fixture
def cli_bureau(request, engine, session, monkeypatch):
    """The bureau committed and configured as the CLI's database and key."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the CLI runs on the SQLite file")
    bureau = request.getfixturevalue("bureau")
    session.commit()
    monkeypatch.setenv("CREDO_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CREDO_SECRET_KEY", base64.b64encode(bytes(range(32))).decode())
    from credo.config import get_settings
    from credo.db import get_engine
    from credo.security import get_keyring

    for cached in (get_settings, get_engine, get_keyring):
        cached.cache_clear()
    return bureau


def _served(engine) -> list[AuditEntry]:
    with Session(engine) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == "report.serve")))


def test_json_goes_to_stdout_and_the_read_is_logged(cli_bureau, engine):
    result = runner.invoke(
        app, ["report", cli_bureau.zhang, "--lang", "en", "--purpose", "customer_service"]
    )
    assert result.exit_code == 0, result.output
    doc = orjson.loads(result.stdout)
    assert doc["header"]["viewer"] == "operator" and doc["header"]["lang"] == "en"
    assert doc["identity"]["subject_ref"] == cli_bureau.zhang
    assert [e.target for e in _served(engine)] == [f"subject:{cli_bureau.zhang}"]
    assert orjson.loads(_served(engine)[0].details)["purpose"] == "customer_service"


def test_staff_must_say_why_they_read_a_report(cli_bureau, engine):
    """Staff access is logged with its reason (Art. 22): no purpose, no report."""
    result = runner.invoke(app, ["report", cli_bureau.zhang])
    assert result.exit_code == 2
    assert "dispute_review, data_quality, customer_service" in " ".join(result.output.split())
    bad = runner.invoke(app, ["report", cli_bureau.zhang, "--purpose", "curiosity"])
    assert bad.exit_code == 2 and "purpose must be one of" in " ".join(bad.output.split())
    assert _served(engine) == []


def test_pdf_and_html_are_written_to_the_file_named(cli_bureau, engine, tmp_path):
    for fmt in ("pdf", "html"):
        out = tmp_path / "out" / f"r.{fmt}"
        args = ["report", cli_bureau.zhang, "--format", fmt, "--out", str(out)]
        args += ["--as-of", "2024-07-20", "--viewer", "institution", "-i", "BANK_A"]
        args += ["--purpose", "loan_approval"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert result.stdout.strip() == str(out)
        assert out.read_bytes()[:5] == (b"%PDF-" if fmt == "pdf" else b"<!DOC")
        assert out.stat().st_mode & 0o777 == 0o600  # a report: the owner's only
    html = (tmp_path / "out" / "r.html").read_text()
    for secret in SECRETS:
        assert secret not in html
    details = [orjson.loads(e.details) for e in _served(engine)]
    assert [(d["format"], d["as_of"], d["institution"]) for d in details] == [
        ("pdf", "2024-07-20", "BANK_A"),
        ("html", "2024-07-20", "BANK_A"),
    ]


def test_html_without_out_goes_to_a_file_in_the_working_directory(
    cli_bureau, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["report", cli_bureau.zhang, "-f", "html", "--as-of", "2024-07-20",
                                 "--purpose", "data_quality"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / result.stdout.strip()).name == (
        f"credit-report-{cli_bureau.zhang}-2024-07-20-zh.html"
    )


def test_an_unknown_reference_fails_without_echoing_it(cli_bureau, engine):
    result = runner.invoke(app, ["report", ZHANG_ID, "--purpose", "customer_service"])
    assert result.exit_code == 2
    assert ZHANG_ID not in result.output and "no subject" in result.output
    assert _served(engine) == []


def test_a_bad_date_is_refused(cli_bureau):
    result = runner.invoke(app, ["report", cli_bureau.zhang, "--as-of", "20240720x",
                                 "--purpose", "customer_service"])  # fmt: skip
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output
