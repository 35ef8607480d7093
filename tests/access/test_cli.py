"""``credo key`` and ``credo consent`` against the configured (temporary SQLite) database."""

from __future__ import annotations

import hashlib
import json

import pytest
import typer
from sqlalchemy import select, text

from cli_support import fails, furnished_refs, ok
from credo.access import keys
from credo.access.cli import consent_app, key_app
from credo.access.flows import find_subject
from credo.db import get_engine, session_scope
from credo.errors import Unauthorized
from credo.security import get_keyring
from credo.subject.models import Subject
from furnishing.bureau import BANK, ZHANG_ID

root = typer.Typer()
root.add_typer(key_app, name="key")
root.add_typer(consent_app, name="consent")


@pytest.fixture
def engine(tmp_path):
    """The configured database with BANK and the small bureau furnished by it."""
    furnished_refs(tmp_path)
    return get_engine()


@pytest.fixture
def zhang_ref(engine) -> str:
    with session_scope(engine) as session:
        return find_subject(session, get_keyring(), id_type="prc_id", id_number=ZHANG_ID).ref


def _ok(args: list[str]):
    return ok(root, args)


def _fails(args: list[str], message: str) -> None:
    fails(root, args, message)


def test_key_create_prints_the_secret_once_with_a_warning(engine):
    result = _ok(["key", "create", BANK, "--role", "querier", "--role", "furnisher",
                  "--expires", "2099-01-01"])  # fmt: skip
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("credo_K") and "shown once" in result.output
    assert "roles: furnisher, querier; expires 2099-01-01 00:00Z" in " ".join(result.output.split())
    with session_scope(engine) as session:
        principal = keys.authenticate(session, token)
        row = session.execute(text("SELECT * FROM api_key")).one()
    assert principal.institution_code == BANK
    assert not any(token[19:] in str(v) for v in row)
    listing = _ok(["key", "list", "--json"])
    assert token[19:] not in listing.output
    (item,) = json.loads(listing.stdout)
    assert (item["key_id"], item["status"], item["roles"]) == (
        principal.key_id, "active", ["furnisher", "querier"],
    )  # fmt: skip
    assert item["last_used_at"] is not None


def test_key_create_json_carries_the_secret_and_the_warning(engine):
    out = json.loads(_ok(["key", "create", "CREDO", "--role", "operator", "--json"]).stdout)
    assert out["secret"].startswith(f"credo_{out['key_id']}_")
    assert "shown once" in out["warning"] and out["expires_at"] is None


def test_key_create_refuses_bad_input(engine):
    _fails(["key", "create", "NOPE", "--role", "querier"], "institution 'NOPE' is not registered")
    _fails(["key", "create", BANK, "--role", "root"],
           "unknown role 'root'; expected one of furnisher, querier, operator")  # fmt: skip
    _fails(["key", "create", BANK, "--role", "querier", "--expires", "2001-01-01"],
           "expiry must be in the future; got 2001-01-01 00:00Z")  # fmt: skip
    _fails(["key", "create", BANK, "--role", "querier", "--expires", "soon"],
           "expiry must be YYYY-MM-DD or an ISO date and time; got 'soon'")  # fmt: skip
    assert json.loads(_ok(["key", "list", "--json"]).stdout) == []


def test_key_rotate_and_revoke(engine):
    first = json.loads(_ok(["key", "create", BANK, "--role", "querier", "--json"]).stdout)
    rotated = _ok(["key", "rotate", first["key_id"], "--grace", "2h"])
    new_token = rotated.stdout.strip().splitlines()[-1]
    assert f"{first['key_id']} stops working at" in rotated.output
    with session_scope(engine) as session:
        assert keys.authenticate(session, first["secret"]).key_id == first["key_id"]  # grace
        new_id = keys.authenticate(session, new_token).key_id
    _fails(["key", "rotate", first["key_id"]], f"already rotated to {new_id}")
    _fails(["key", "rotate", new_id, "--grace", "forever"], "grace must look like 30m, 24h or 7d")
    assert "revoked API key" in _ok(["key", "revoke", first["key_id"]]).output
    with session_scope(engine) as session, pytest.raises(Unauthorized):
        keys.authenticate(session, first["secret"])
    _fails(["key", "revoke", first["key_id"]], "already revoked")
    _fails(["key", "revoke", "KNOPE"], "API key 'KNOPE' does not exist")
    statuses = {k["key_id"]: k["status"] for k in json.loads(_ok(["key", "list", BANK,
                                                                  "--json"]).stdout)}  # fmt: skip
    assert statuses == {first["key_id"]: "revoked", new_id: "active"}
    assert new_id in _ok(["key", "list"]).output


def test_consent_add_hashes_the_evidence_then_list_and_revoke(engine, zhang_ref, tmp_path):
    evidence = tmp_path / "consent.pdf"
    evidence.write_bytes(b"%PDF signed by the subject")
    args = ["consent", "add", "--subject", zhang_ref, "--institution", BANK,
            "--purpose", "loan_approval", "--scope", "report", "--expires", "2099-12-31",
            "--evidence", str(evidence)]  # fmt: skip
    added = json.loads(_ok([*args, "--json"]).stdout)
    assert added["evidence_sha256"] == hashlib.sha256(evidence.read_bytes()).hexdigest()
    assert (added["subject"], added["institution"], added["status"]) == (zhang_ref, BANK, "active")
    assert "for loan_approval (report) until 2099-12-31" in " ".join(_ok(args).output.split())
    listed = json.loads(_ok(["consent", "list", "--subject", zhang_ref, "--json"]).stdout)
    assert len(listed) == 2 and added["ref"] in {c["ref"] for c in listed}
    assert added["ref"] in _ok(["consent", "list", "--institution", BANK]).output
    assert "revoked consent" in _ok(["consent", "revoke", added["ref"]]).output
    statuses = {
        c["ref"]: c["status"] for c in json.loads(_ok(["consent", "list", "--json"]).stdout)
    }
    assert statuses[added["ref"]] == "revoked"
    _fails(["consent", "revoke", added["ref"]], "was already revoked")


def test_consent_add_refuses_bad_input(engine, zhang_ref, tmp_path):
    evidence = tmp_path / "consent.pdf"
    evidence.write_bytes(b"signed")
    base = ["consent", "add", "--subject", zhang_ref, "--institution", BANK,
            "--purpose", "loan_approval", "--scope", "both", "--expires", "2099-01-01",
            "--evidence", str(evidence)]  # fmt: skip

    def with_(flag: str, value: str) -> list[str]:
        out = list(base)
        out[out.index(flag) + 1] = value
        return out

    _fails(with_("--purpose", "gossip"),
           "unknown purpose 'gossip'; expected one of loan_approval, credit_card_approval, "
           "guarantee_review, insurance_underwriting, marketplace_risk, post_loan_management, "
           "self_query")  # fmt: skip
    _fails(with_("--scope", "everything"), "unknown scope 'everything'")
    _fails(with_("--institution", "NOPE"), "institution 'NOPE' is not registered")
    _fails(with_("--subject", "SNOPE"), "subject 'SNOPE' does not exist")
    _fails(with_("--expires", "2000-01-01"), "expiry must be in the future")
    _fails(with_("--evidence", str(tmp_path / "missing.pdf")), "cannot read evidence file")
    with session_scope(engine) as session:
        assert session.scalar(select(Subject.id).where(Subject.ref == zhang_ref))
    assert json.loads(_ok(["consent", "list", "--json"]).stdout) == []
