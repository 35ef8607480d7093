"""`credo demo` end to end on a small bureau: furnish, train, validate, publish, score."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from credo.cli import app


@pytest.mark.slow
def test_demo_furnishes_trains_validates_publishes_and_scores(tmp_path):
    out = tmp_path / "demo"
    r = CliRunner().invoke(app, ["demo", "--subjects", "400", "--out", str(out)])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "missed: 0" in text and "intact" in text
    assert "person-scorecard@1 published as the person champion" in text
    for name in ("person-scorecard-v1", "person-challenger-v1"):
        report = json.loads((out / "reports" / f"{name}.json").read_text("utf-8"))
        assert report["summary"]["auc"]["value"] > 0.6
        assert (out / "reports" / f"{name}.html").stat().st_size > 50_000
    # the API walkthrough: a key shown once, consents, real sample reports, paste-able curls
    assert "export CREDO_KEY=credo_K" in r.output
    curls = [line for line in r.output.splitlines() if line.startswith("curl -s")]
    assert len(curls) >= 8 and any("/v1/reports" in c and '"format":"pdf"' in c for c in curls)
    samples = sorted(p.name for p in (out / "reports").glob("credit-report-*"))
    assert [p.rsplit("-", 1)[1] for p in samples] == ["en.html", "en.pdf", "zh.html", "zh.pdf"]
    r = CliRunner().invoke(app, ["model", "list", "--json"])
    statuses = {m["label"]: m["status"] for m in json.loads(r.output)}
    assert statuses == {"person-scorecard@1": "champion", "person-challenger@1": "validated"}
