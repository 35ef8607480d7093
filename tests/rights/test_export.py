"""The subject's data download (`credo.rights.export`): every section, every version, the
subject's own words decrypted, nothing of anyone else, one ledger entry."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import orjson
import pytest
from sqlalchemy import select

from credo.account.models import Account
from credo.audit import service as audit
from credo.audit.models import AuditEntry
from credo.errors import NotFound
from credo.notify.models import Notification
from credo.rights import controls
from credo.rights.export import DISPUTE_REASON_COLUMN, FORMAT, export_subject
from credo.rights.models import Dispute, DisputeEvent, DisputeRecordType
from furnishing.bureau import (
    ACME_ADDRESS,
    ACME_NAME,
    ACME_USCC,
    BANK,
    LI_ADDRESS,
    LI_ID,
    LI_NAME,
    LI_PHONE,
    LI_PHONE_E164,
    ZHANG_ID,
    ZHANG_NAME,
    account,
    person,
    public_record,
    run,
    status,
    write_jsonl,
)

from .test_controls import ACTOR, T0, THEFT_REPORT, World, world  # noqa: F401

ZHANG_PHONE = "13912345678"
SECTIONS = [
    "format", "generated_at", "subject", "contact_details", "accounts", "public_records",
    "inquiries", "consents", "disputes", "statements", "flags", "opt_outs", "notifications",
    "scores", "identity_reviews", "access_credentials", "ledger",
]  # fmt: skip


@pytest.fixture
def full(world: World, cn, tmp_path) -> World:  # noqa: F811
    """Zhang with a corrected account and status, a phone added, a court judgment, a
    statement replaced, a freeze, an alert, an opt-out, a consent and a dispute."""
    s, ref = world.session, world.zhang.ref
    later = [
        person(phone=ZHANG_PHONE),
        account("CC-1", credit_limit="25000.00"),
        status("CC-1", "2024-06", balance="1600.00"),
        public_record(ZHANG_ID, id_type="prc_id", kind="court_judgment",
                      case_ref="(2024)京0105民初1号"),
    ]  # fmt: skip
    run(s, write_jsonl(tmp_path / "later.jsonl", later), world.keyring, cn)
    for i, text in enumerate(("第一版声明", "第二版声明")):
        controls.set_statement(s, subject_ref=ref, text=text, actor=ACTOR, keyring=world.keyring,
                               now=T0 + timedelta(days=i))  # fmt: skip
    controls.place_freeze(s, subject_ref=ref, actor=ACTOR, now=T0)
    controls.place_fraud_alert(s, subject_ref=ref, actor=ACTOR, now=T0,
                               identity_theft_report_sha256=THEFT_REPORT)  # fmt: skip
    controls.opt_out(s, subject_ref=ref, use="prescreen", actor=ACTOR, now=T0)
    controls.set_statement(s, subject_ref=world.li.ref, text="李四的声明", actor="subject:li",
                           keyring=world.keyring)  # fmt: skip
    controls.place_freeze(s, subject_ref=world.li.ref, actor="subject:li")
    world.query("post_loan_management")
    account_id = s.scalar(select(Account.id).where(Account.subject_id == world.zhang.id))
    dispute = Dispute(
        ref="D000000000001", subject_id=world.zhang.id, record_type=DisputeRecordType.status,
        target_key="status:1:2024-05", account_id=account_id, period=date(2024, 5, 1),
        reason_enc=world.keyring.encrypt("五月我已按时还款", column=DISPUTE_REASON_COLUMN),
        filed_by=ACTOR, filed_at=T0, due_on=date(2024, 7, 22),
    )  # fmt: skip
    s.add(dispute)
    s.flush()
    s.add(DisputeEvent(dispute_id=dispute.id, at=T0, actor=ACTOR, kind="filed", detail="{}"))
    s.flush()
    audit.write_pending(s)
    return world


def _export(w: World) -> dict:
    doc = export_subject(w.session, w.zhang.id, keyring=w.keyring, actor="ops:alice",
                         now=T0 + timedelta(days=5))  # fmt: skip
    audit.write_pending(w.session)
    return doc


def test_the_export_has_every_section_in_its_versioned_format(full):
    doc = _export(full)
    assert list(doc) == SECTIONS
    assert doc["format"] == FORMAT == "credo-subject-export/1"
    assert doc["generated_at"] == "2024-07-07T09:00:00+00:00"
    # the whole document is JSON as it stands
    assert orjson.loads(orjson.dumps(doc)) == doc


def test_identity_and_contact_details_are_decrypted_with_their_history(full):
    doc = _export(full)
    me = doc["subject"]
    assert (me["ref"], me["id_number"], me["name"], me["birth_date"]) == (
        full.zhang.ref, ZHANG_ID, ZHANG_NAME, "1985-03-14",
    )  # fmt: skip
    contacts = doc["contact_details"]
    assert [(c["version"], c["current"], c["phone"]) for c in contacts] == [
        (1, False, None), (2, True, "+8613912345678"),
    ]  # fmt: skip
    assert contacts[0]["superseded_by_batch"] == contacts[1]["batch"] is not None
    assert all(c["furnisher"]["code"] == BANK and c["name"] == ZHANG_NAME for c in contacts)


def test_accounts_and_statuses_come_in_every_version(full):
    (acct,) = _export(full)["accounts"]
    assert acct["account_ref"] == "CC-1" and acct["furnisher"]["code"] == BANK
    assert [(v["version"], v["current"], v["credit_limit_cents"]) for v in acct["versions"]] == [
        (1, False, 2_000_000), (2, True, 2_500_000),
    ]  # fmt: skip
    old, new = acct["versions"]
    assert old["superseded_at"] is not None and old["superseded_by_batch"] == new["batch"]
    june = [r for r in acct["statuses"] if r["period"] == "2024-06"]
    assert [(r["balance_cents"], r["current"]) for r in june] == [(150_000, False), (160_000, True)]
    assert {r["period"] for r in acct["statuses"]} == {"2024-04", "2024-05", "2024-06"}


def test_records_inquiries_consents_and_disputes(full):
    doc = _export(full)
    (pr,) = doc["public_records"]
    assert (pr["kind"], pr["case_ref"], pr["current"]) == (
        "court_judgment", "(2024)京0105民初1号", True,
    )  # fmt: skip
    assert [(q["purpose"], q["kind"], q["source"]) for q in doc["inquiries"]] == [
        ("post_loan_management", "soft", "api"), ("loan_approval", "hard", "furnished"),
    ]  # fmt: skip
    (consent,) = doc["consents"]
    assert consent["purpose"] == "post_loan_management" and consent["institution"]["code"] == BANK
    (dispute,) = doc["disputes"]
    assert (dispute["ref"], dispute["reason"], dispute["account_ref"], dispute["period"]) == (
        "D000000000001", "五月我已按时还款", "CC-1", "2024-05",
    )  # fmt: skip
    assert [e["kind"] for e in dispute["events"]] == ["filed"]


def test_the_subjects_controls_and_notices(full):
    from credo.audit import service as audit

    # the dispute's own entries are targeted by its ref, another subject's by theirs
    audit.append(full.session, actor="subject", action="dispute.file", target="D000000000001")
    audit.append(full.session, actor="subject", action="dispute.file", target="D000000000999")
    doc = _export(full)
    assert [(s["text"], s["removed_at"] is None) for s in doc["statements"]] == [
        ("第一版声明", False), ("第二版声明", True),
    ]  # fmt: skip
    flags = {f["kind"]: f for f in doc["flags"]}
    assert flags["freeze"]["lifted_at"] is None
    assert flags["fraud_alert"]["identity_theft_report_sha256"] == THEFT_REPORT
    assert flags["fraud_alert"]["expires_at"] == "2031-07-02T09:00:00+00:00"
    assert [(o["use"], o["revoked_at"]) for o in doc["opt_outs"]] == [("prescreen", None)]
    assert {n["kind"] for n in doc["notifications"]} == {"freeze.placed", "fraud_alert.placed"}
    assert all(isinstance(n["payload"], dict) for n in doc["notifications"])
    actions = [e["action"] for e in doc["ledger"]]
    for action in ("statement.set", "freeze.place", "fraud_alert.place", "opt_out.add",
                   "query.authorise", "dispute.file", "consent.grant"):  # fmt: skip
        assert action in actions
    assert [e["target"] for e in doc["ledger"] if e["action"] == "dispute.file"] == [
        "D000000000001"
    ]
    # the credentials issued to the subject, without their secrets
    assert doc["access_credentials"] == []
    from credo.access import subject_access

    _, token = subject_access.issue(full.session, subject_ref=full.zhang.ref,
                                    verified_by="counter: ID card seen", actor="ops")  # fmt: skip
    (cred,) = _export(full)["access_credentials"]
    assert cred["verified_by"] == "counter: ID card seen" and cred["revoked_at"] is None
    assert token[-43:] not in orjson.dumps(cred).decode()
    assert set(cred) == {"credential_id", "verified_by", "created_at", "expires_at",
                         "revoked_at", "last_used_at"}  # fmt: skip


def test_nothing_of_another_subject_is_in_it(full):
    text = orjson.dumps(_export(full)).decode()
    for secret in (LI_ID, LI_NAME, LI_PHONE, LI_PHONE_E164, LI_ADDRESS, full.li.ref, "李四的声明",
                   ACME_USCC, ACME_NAME, ACME_ADDRESS, "LOAN-1", "RL-1"):  # fmt: skip
        assert secret not in text, secret
    li = export_subject(full.session, full.li.id, keyring=full.keyring, actor="ops")
    assert ZHANG_ID not in orjson.dumps(li).decode()
    assert [s["text"] for s in li["statements"]] == ["李四的声明"]


def test_the_export_is_one_ledger_entry_and_writes_nothing_else(full):
    before = full.count(Notification)
    _export(full)
    (entry,) = full.ledger("subject.export")
    assert (entry.actor, entry.target) == ("ops:alice", f"subject:{full.zhang.ref}")
    details = orjson.loads(entry.details)
    assert details["format"] == FORMAT and details["sections"]["accounts"] == 1
    assert ZHANG_NAME not in entry.details and full.count(Notification) == before
    last = full.session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert last.action == "subject.export"


def test_an_unknown_subject_is_404(world):  # noqa: F811
    with pytest.raises(NotFound):
        export_subject(world.session, 10**9, keyring=world.keyring, actor="ops",
                       now=datetime(2024, 7, 2, tzinfo=UTC))  # fmt: skip
