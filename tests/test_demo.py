"""`credo demo` end to end on a small bureau: furnish, train, validate, publish, score."""

from __future__ import annotations

import json
import shlex

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
    listed = CliRunner().invoke(app, ["model", "list", "--json"])
    statuses = {m["label"]: m["status"] for m in json.loads(listed.output)}
    assert statuses == {"person-scorecard@1": "champion", "person-challenger@1": "validated"}
    # the subject's side: a credential, a repair plan, and curls that work as printed
    me = next(line.split("=", 1)[1] for line in r.output.splitlines()
              if line.startswith("export CREDO_ME="))  # fmt: skip
    key = next(line.split("=", 1)[1] for line in r.output.splitlines()
               if line.startswith("export CREDO_KEY="))  # fmt: skip
    [plan_file] = (out / "reports").glob("repair-plan-*-en.json")
    plan = json.loads(plan_file.read_text("utf-8"))
    assert plan["note"] and plan["current"]["score"] is not None
    bodies = {}
    for c in curls:
        words = shlex.split(c)
        path = words[words.index("-X") + 2 if "-X" in words else 2].split("8000", 1)[1]
        if "-d" in words:
            bodies[(words[words.index("-X") + 1], path.split("?")[0])] = json.loads(
                words[words.index("-d") + 1]
            )
    from fastapi.testclient import TestClient

    from credo.api.app import create_app

    with TestClient(create_app()) as client:
        subject = {"Authorization": f"Bearer {me}"}
        bank = {"Authorization": f"Bearer {key}"}
        filed = client.post("/v1/me/disputes", headers=subject,
                            json=bodies[("POST", "/v1/me/disputes")])  # fmt: skip
        assert filed.status_code == 201, filed.text
        assert client.put("/v1/me/freeze", headers=subject).status_code == 201
        score = client.post("/v1/scores", headers=bank, json=bodies[("POST", "/v1/scores")])
        assert score.status_code == 403 and score.json()["reason"] == "file_frozen"
        assert client.delete("/v1/me/freeze", headers=subject).status_code == 204
        score = client.post("/v1/scores", headers=bank, json=bodies[("POST", "/v1/scores")])
        assert score.status_code == 200, score.text
        report = client.get("/v1/me/report?format=json", headers=subject).json()
        assert [d["status"] for d in report["disputes"]] == ["open"]
