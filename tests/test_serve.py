"""`credo serve` in its own process: uvicorn listens, the probes answer, and an identifier
sent in a body never reaches the server's output (access log, warnings)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ID_NUMBER = "11010519491231002X"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_answers_probes_and_keeps_identifiers_out_of_its_logs(tmp_path: Path):
    port = _free_port()
    env = {**os.environ, "CREDO_DATA_DIR": str(tmp_path / "data"), "CREDO_LOG_LEVEL": "INFO"}
    credo = Path(sys.executable).with_name("credo")
    log = (tmp_path / "server.log").open("w+")
    proc = subprocess.Popen(
        [str(credo), "serve", "--port", str(port), "--log-level", "info"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                ready = httpx.get(f"{base}/readyz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, "the server exited before it was ready"
                assert time.monotonic() < deadline, "the server did not start within 60 s"
                time.sleep(0.3)
        assert ready.status_code == 200
        assert ready.json() == {"status": "ok", "checks": {"database": "ok", "schema": "ok"}}
        assert httpx.get(f"{base}/healthz").json()["status"] == "ok"

        body = {"id_type": "prc_id", "id_number": ID_NUMBER, "purpose": "loan_approval",
                "consent_ref": "C0000000000000"}  # fmt: skip
        no_key = httpx.post(f"{base}/v1/scores", json=body)
        assert no_key.status_code == 401
        assert no_key.headers["content-type"] == "application/problem+json"
        bad_key = httpx.post(f"{base}/v1/reports", json=body,
                             headers={"Authorization": f"Bearer credo_{ID_NUMBER}"})  # fmt: skip
        assert bad_key.status_code == 401
        assert ID_NUMBER not in no_key.text + bad_key.text

        # an identifier put in a URL is refused and never reaches the access log either
        assert httpx.get(f"{base}/v1/consents/{ID_NUMBER}?q={ID_NUMBER}").status_code == 401
        metrics = httpx.get(f"{base}/metrics").text
        assert 'route="/v1/scores",status="401"' in metrics
        assert "/openapi.json" in httpx.get(f"{base}/docs").text
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    log.seek(0)
    output = log.read()
    assert '"POST /v1/scores" 401' in output  # the access log is on ...
    assert '"GET /v1/consents/{ref}" 401' in output  # ... names route templates ...
    assert ID_NUMBER not in output  # ... and never holds the identifier
