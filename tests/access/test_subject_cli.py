"""``credo subject-access`` against the configured (temporary SQLite) database."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import typer
from sqlalchemy import text

from cli_support import fails, furnished_refs, ok
from credo.access import subject_access
from credo.access.subject_cli import subject_access_app
from credo.db import get_engine, session_scope, utcnow
from credo.errors import Unauthorized

root = typer.Typer()
root.add_typer(subject_access_app, name="subject-access")


@pytest.fixture
def refs(tmp_path) -> dict[str, str]:
    """The configured database with the small bureau; the refs of 张三 and 李四."""
    return furnished_refs(tmp_path)


def _ok(args: list[str]):
    return ok(root, ["subject-access", *args])


def _fails(args: list[str], message: str) -> None:
    fails(root, ["subject-access", *args], message)


def test_issue_prints_the_token_once_then_list_and_revoke(refs):
    expires = (utcnow() + timedelta(days=500)).date().isoformat()
    issued = _ok(["issue", refs["zhang"], "--verified-by", "counter: ID card seen",
                  "--expires", expires])  # fmt: skip
    token = issued.stdout.strip().splitlines()[-1]
    assert token.startswith("credo_U") and "shown once" in issued.output
    assert f"to {refs['zhang']} (expires {expires} 00:00Z)" in " ".join(issued.output.split())
    with session_scope(get_engine()) as session:
        me = subject_access.authenticate(session, token)
        row = session.execute(text("SELECT * FROM subject_access")).one()
    assert me.subject_ref == refs["zhang"]
    assert not any(token.split("_", 2)[2] in str(v) for v in row)  # the secret may hold "_"
    other = json.loads(_ok(["issue", refs["li"], "--verified-by", "video call", "--json"]).stdout)
    assert other["secret"].startswith(f"credo_{other['credential_id']}_")
    assert "shown once" in other["warning"] and other["subject"] == refs["li"]
    listing = _ok(["list", "--json"]).stdout
    assert token[20:] not in listing and other["secret"][20:] not in listing
    items = {c["credential_id"]: c for c in json.loads(listing)}
    assert items[me.credential_id]["verified_by"] == "counter: ID card seen"
    assert items[me.credential_id]["last_used_at"] is not None
    assert [c["subject"] for c in json.loads(_ok(["list", refs["li"], "--json"]).stdout)] == [
        refs["li"]
    ]
    assert me.credential_id in _ok(["list"]).output
    assert "revoked subject access credential" in _ok(["revoke", me.credential_id]).output
    with session_scope(get_engine()) as session, pytest.raises(Unauthorized, match="revoked"):
        subject_access.authenticate(session, token)
    statuses = {c["credential_id"]: c["status"] for c in json.loads(_ok(["list", "--json"]).stdout)}
    assert statuses == {me.credential_id: "revoked", other["credential_id"]: "active"}
    _fails(["revoke", me.credential_id], "was already revoked")


def test_issue_refuses_bad_input(refs):
    _fails(["issue", refs["zhang"]], "Missing option '--verified-by'")
    _fails(["issue", refs["zhang"], "--verified-by", ""], "say how the subject's identity")
    _fails(["issue", "SNOPE", "--verified-by", "counter"], "subject 'SNOPE' does not exist")
    _fails(["issue", refs["zhang"], "--verified-by", "counter", "--expires", "2001-01-01"],
           "expiry must be in the future")  # fmt: skip
    _fails(["issue", refs["zhang"], "--verified-by", "counter", "--expires", "2099-01-01"],
           "expiry must be within 1095 days")  # fmt: skip
    _fails(["issue", refs["zhang"], "--verified-by", "counter", "--expires", "soon"],
           "expiry must be YYYY-MM-DD or an ISO date and time; got 'soon'")  # fmt: skip
    _fails(["revoke", "UNOPE"], "'UNOPE' does not exist")
    _fails(["list", "SNOPE"], "subject 'SNOPE' does not exist")
    assert json.loads(_ok(["list", "--json"]).stdout) == []
