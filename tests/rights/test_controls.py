"""The subject's controls (`credo.rights.controls`): statement, freeze, fraud alert, opt-outs,
with the clock passed in; and their enforcement in `credo.access.flows.authorise_query`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from credo.access import consent as consents
from credo.access import keys
from credo.access.flows import authorise_query
from credo.audit import service as audit
from credo.audit.models import AuditEntry
from credo.config import get_profile
from credo.db import utcnow
from credo.errors import Forbidden, Invalid, NotFound
from credo.inquiry.models import Inquiry, InquiryKind
from credo.notify.models import Notification
from credo.rights import controls
from credo.rights.models import FileFlag, FlagKind, OptOut, OptOutUse, PersonalStatement
from credo.subject.models import Subject
from furnishing.bureau import (
    BANK,
    LI_ID,
    ZHANG_ID,
    furnish_small_bureau,
    subject_of,
)

T0 = datetime(2024, 7, 2, 9, 0, tzinfo=UTC)
EVIDENCE = hashlib.sha256(b"signed consent form").hexdigest()
THEFT_REPORT = hashlib.sha256(b"police report 2024-123").hexdigest()
ACTOR = "subject:S1/U1"


@dataclass
class World:
    session: Session
    keyring: object
    zhang: Subject
    li: Subject
    token: str

    def ledger(self, action: str) -> list[AuditEntry]:
        audit.write_pending(self.session)  # entries are written at commit; here before it
        stmt = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
        return list(self.session.scalars(stmt))

    def notices(self, kind: str) -> list[Notification]:
        return list(self.session.scalars(select(Notification).where(Notification.kind == kind)))

    def count(self, model) -> int:
        return self.session.scalar(select(func.count()).select_from(model))

    def query(self, purpose: str, *, profile: str = "cn", subject: Subject | None = None):
        subject = subject or self.zhang
        consent = consents.grant(
            self.session, subject_ref=subject.ref, institution_code=BANK, purpose=purpose,
            scope="both", expires_at=utcnow() + timedelta(days=30), evidence_sha256=EVIDENCE,
            actor="test",
        )  # fmt: skip
        return authorise_query(
            self.session, keys.authenticate(self.session, self.token), id_type="prc_id",
            id_number=ZHANG_ID if subject is self.zhang else LI_ID, purpose=purpose,
            consent_ref=consent.ref, scope="score", keyring=self.keyring,
            profile=get_profile(profile),
        )  # fmt: skip

    def refused(self, purpose: str, reason: str, **kw) -> Forbidden:
        before = self.count(Inquiry)
        with pytest.raises(Forbidden) as exc:
            self.query(purpose, **kw)
        assert exc.value.extra["reason"] == reason, exc.value.message
        assert self.count(Inquiry) == before
        return exc.value


@pytest.fixture
def world(session, keyring, cn, tmp_path) -> World:
    furnish_small_bureau(session, keyring, cn, tmp_path / "bureau.jsonl")
    zhang, li = subject_of(session, keyring, ZHANG_ID), subject_of(session, keyring, LI_ID)
    _, token = keys.create_key(session, institution_code=BANK, roles=["querier"], actor="test")
    return World(session, keyring, zhang, li, token)


# -- personal statement -------------------------------------------------------------------------
def _set(world, text: str, at: datetime = T0, **kw):
    return controls.set_statement(world.session, subject_ref=world.zhang.ref, text=text,
                                  actor=ACTOR, keyring=world.keyring, now=at, **kw)  # fmt: skip


def test_a_statement_is_stored_encrypted_and_replacing_it_keeps_the_history(world):
    first, changed = _set(world, "  2023年5月的逾期因住院所致。  ")
    assert changed and first.text == "2023年5月的逾期因住院所致。"
    later = T0 + timedelta(days=3)
    second, changed = _set(world, "已全部结清。", later)
    assert changed and (second.text, second.created_at) == ("已全部结清。", later)
    current = controls.current_statement(world.session, world.zhang.id, keyring=world.keyring)
    assert (current.text, current.created_at, current.created_by) == ("已全部结清。", later, ACTOR)
    rows = list(world.session.scalars(select(PersonalStatement).order_by(PersonalStatement.id)))
    assert [(r.removed_at, r.removed_by) for r in rows] == [(later, ACTOR), (None, None)]
    assert all("结清".encode() not in r.text_enc for r in rows)
    entries = world.ledger("statement.set")
    assert [orjson.loads(e.details) for e in entries] == [
        {"chars": 16, "replaced": False}, {"chars": 6, "replaced": True},
    ]  # fmt: skip
    assert all(e.target == f"subject:{world.zhang.ref}" and "结清" not in e.details
               for e in entries)  # fmt: skip


def test_the_same_words_again_change_nothing(world):
    _set(world, "已全部结清。")
    _, changed = _set(world, " 已全部结清。", T0 + timedelta(days=1))
    assert not changed
    assert world.count(PersonalStatement) == 1 and len(world.ledger("statement.set")) == 1


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("x" * 51, "text: is 51 characters long; a statement has at most 50"),
        ("   ", "text: is empty; write 1 to 50 characters"),
        ("", "text: is empty; write 1 to 50 characters"),
        # printed on every report: a NUL showed as a box in the PDF
        ("I paid \x00", "text: holds control characters; tabs and new lines are fine"),
        ("\x1b[2Jabroad", "text: holds control characters; tabs and new lines are fine"),
    ],
)
def test_a_statement_over_the_limit_or_empty_is_refused_and_changes_nothing(world, text, words):
    _set(world, "原来的声明", max_chars=50)
    with pytest.raises(Invalid) as exc:
        _set(world, text, T0 + timedelta(days=1), max_chars=50)
    assert exc.value.message == words and exc.value.status == 422
    assert exc.value.extra["errors"] == [{"field": "text", "message": words.removeprefix("text: ")}]
    assert exc.value.extra["max_chars"] == 50
    assert world.count(PersonalStatement) == 1
    current = controls.current_statement(world.session, world.zhang.id, keyring=world.keyring)
    assert current.text == "原来的声明"


def test_the_limit_is_the_setting_and_counts_characters_not_bytes(world):
    # statement_max_chars defaults to 500; Chinese characters are 3 bytes each in UTF-8
    assert _set(world, "声" * 500)[0].text == "声" * 500
    with pytest.raises(Invalid, match="501 characters long; a statement has at most 500"):
        _set(world, "声" * 501)


def test_removing_a_statement_keeps_it_in_history_and_a_second_removal_is_404(world):
    _set(world, "已全部结清。")
    controls.remove_statement(world.session, subject_ref=world.zhang.ref, actor=ACTOR,
                              now=T0 + timedelta(days=1))  # fmt: skip
    assert controls.current_statement(world.session, world.zhang.id, keyring=world.keyring) is None
    assert world.count(PersonalStatement) == 1
    with pytest.raises(NotFound) as exc:
        controls.remove_statement(world.session, subject_ref=world.zhang.ref, actor=ACTOR)
    assert exc.value.extra["reason"] == "no_statement"
    assert len(world.ledger("statement.remove")) == 1


def test_statements_are_per_subject(world):
    _set(world, "张三的声明")
    assert controls.current_statement(world.session, world.li.id, keyring=world.keyring) is None
    with pytest.raises(NotFound):
        controls.remove_statement(world.session, subject_ref=world.li.ref, actor=ACTOR)


# -- freeze ---------------------------------------------------------------------------------------
def test_a_freeze_is_placed_once_notified_and_lifted_at_once(world):
    placed = controls.place_freeze(world.session, subject_ref=world.zhang.ref, actor=ACTOR, now=T0)
    assert placed.created and placed.row.expires_at is None
    assert controls.active_flags(world.session, world.zhang.id, T0).frozen
    assert not controls.active_flags(
        world.session, world.zhang.id, T0 - timedelta(seconds=1)
    ).frozen
    assert not controls.active_flags(world.session, world.li.id, T0).frozen
    again = controls.place_freeze(world.session, subject_ref=world.zhang.ref, actor=ACTOR,
                                  now=T0 + timedelta(days=1))  # fmt: skip
    assert not again.created and again.row is placed.row and again.row.placed_at == T0
    assert world.count(FileFlag) == 1 and len(world.notices("freeze.placed")) == 1
    lift_at = T0 + timedelta(days=2)
    lifted = controls.lift_freeze(world.session, subject_ref=world.zhang.ref, actor=ACTOR,
                                  now=lift_at)  # fmt: skip
    assert (lifted.lifted_at, lifted.lifted_by) == (lift_at, ACTOR)
    assert not controls.active_flags(world.session, world.zhang.id, lift_at).frozen
    (notice,) = world.notices("freeze.lifted")
    assert notice.subject_id == world.zhang.id
    assert orjson.loads(notice.payload)["ref"] == placed.row.ref
    assert [len(world.ledger(a)) for a in ("freeze.place", "freeze.lift")] == [1, 1]


def test_lifting_a_freeze_that_is_not_there_is_404_and_changes_nothing(world):
    with pytest.raises(NotFound) as exc:
        controls.lift_freeze(world.session, subject_ref=world.zhang.ref, actor=ACTOR, now=T0)
    assert exc.value.extra["reason"] == "no_freeze"
    assert world.count(FileFlag) == 0 and world.count(Notification) == 0
    assert world.ledger("freeze.lift") == []


# -- fraud alert ----------------------------------------------------------------------------------
def _alert(world, at=T0, report=None):
    return controls.place_fraud_alert(world.session, subject_ref=world.zhang.ref, actor=ACTOR,
                                      identity_theft_report_sha256=report, now=at)  # fmt: skip


def _alert_at(world, at):
    return controls.active_flags(world.session, world.zhang.id, at).fraud_alert


def test_a_fraud_alert_lasts_one_year(world):
    change = _alert(world)
    assert change.created and change.row.expires_at == datetime(2025, 7, 2, 9, 0, tzinfo=UTC)
    assert _alert_at(world, T0 + timedelta(days=364)) is change.row
    assert _alert_at(world, datetime(2025, 7, 2, 9, 0, tzinfo=UTC)) is None
    (notice,) = world.notices("fraud_alert.placed")
    assert orjson.loads(notice.payload)["extended"] is False
    assert not controls.active_flags(world.session, world.zhang.id, T0).frozen


def test_an_identity_theft_report_makes_it_seven_years(world):
    change = _alert(world, report=THEFT_REPORT.upper())
    assert change.row.expires_at == datetime(2031, 7, 2, 9, 0, tzinfo=UTC)
    assert change.row.identity_theft_report_sha256 == THEFT_REPORT
    assert _alert_at(world, datetime(2031, 7, 1, tzinfo=UTC)) is change.row
    assert _alert_at(world, datetime(2031, 7, 3, tzinfo=UTC)) is None


def test_a_report_extends_a_one_year_alert_and_a_repeat_changes_nothing(world):
    first = _alert(world).row
    assert not _alert(world, T0 + timedelta(days=10)).created
    later = T0 + timedelta(days=30)
    extended = _alert(world, later, THEFT_REPORT)
    assert extended.created and extended.row.expires_at == datetime(2031, 8, 1, 9, 0, tzinfo=UTC)
    assert (first.lifted_at, first.lifted_by) == (later, ACTOR)
    # a 7-year alert is never shortened by a later request without the report
    assert _alert(world, later + timedelta(days=1)).row is extended.row
    assert world.count(FileFlag) == 2 and len(world.ledger("fraud_alert.place")) == 2


def test_an_expired_alert_is_closed_as_expired_when_a_new_one_is_placed(world):
    old = _alert(world).row
    two_years = T0 + timedelta(days=730)
    new = _alert(world, two_years)
    assert new.created and new.row is not old
    assert (old.lifted_at, old.lifted_by) == (old.expires_at, controls.EXPIRED)
    assert _alert_at(world, two_years) is new.row


def test_removing_an_expired_alert_is_404(world):
    _alert(world)
    with pytest.raises(NotFound) as exc:
        controls.remove_fraud_alert(world.session, subject_ref=world.zhang.ref, actor=ACTOR,
                                    now=T0 + timedelta(days=400))  # fmt: skip
    assert exc.value.extra["reason"] == "no_fraud_alert"
    assert world.ledger("fraud_alert.remove") == []


def test_a_malformed_report_hash_is_refused_and_changes_nothing(world):
    with pytest.raises(Invalid) as exc:
        _alert(world, report="not-a-hash")
    assert exc.value.extra["errors"][0]["field"] == "identity_theft_report_sha256"
    assert world.count(FileFlag) == 0 and world.count(Notification) == 0


def test_a_fraud_alert_can_be_removed_early(world):
    row = _alert(world).row
    controls.remove_fraud_alert(world.session, subject_ref=world.zhang.ref, actor=ACTOR,
                                now=T0 + timedelta(days=5))  # fmt: skip
    assert row.lifted_by == ACTOR and _alert_at(world, T0 + timedelta(days=5)) is None
    assert len(world.notices("fraud_alert.removed")) == 1


# -- opt-outs -------------------------------------------------------------------------------------
def test_opting_out_and_in_again(world):
    ref = world.zhang.ref
    assert controls.opt_outs(world.session, world.zhang.id) == {
        OptOutUse.prescreen: None, OptOutUse.marketing: None,
    }  # fmt: skip
    made = controls.opt_out(world.session, subject_ref=ref, use="prescreen", actor=ACTOR, now=T0)
    assert made.created and made.row.use is OptOutUse.prescreen
    assert not controls.opt_out(
        world.session, subject_ref=ref, use="prescreen", actor=ACTOR
    ).created
    state = controls.opt_outs(world.session, world.zhang.id)
    assert state[OptOutUse.prescreen] is made.row and state[OptOutUse.marketing] is None
    assert controls.is_opted_out(world.session, world.zhang.id, OptOutUse.prescreen, T0)
    later = T0 + timedelta(days=1)
    controls.opt_in(world.session, subject_ref=ref, use="prescreen", actor=ACTOR, now=later)
    assert not controls.is_opted_out(world.session, world.zhang.id, OptOutUse.prescreen, later)
    # the history stays: opted out at T0
    assert controls.is_opted_out(world.session, world.zhang.id, OptOutUse.prescreen, T0)
    assert [len(world.ledger(a)) for a in ("opt_out.add", "opt_out.revoke")] == [1, 1]


def test_an_unknown_use_or_opting_in_without_an_opt_out_changes_nothing(world):
    with pytest.raises(Invalid) as exc:
        controls.opt_out(world.session, subject_ref=world.zhang.ref, use="email", actor=ACTOR)
    assert exc.value.extra["errors"][0]["field"] == "use"
    assert "expected one of prescreen, marketing" in exc.value.message
    with pytest.raises(NotFound) as exc:
        controls.opt_in(world.session, subject_ref=world.zhang.ref, use="marketing", actor=ACTOR)
    assert exc.value.extra["reason"] == "no_opt_out"
    assert world.count(OptOut) == 0


# -- enforcement in authorise_query ---------------------------------------------------------------
def test_a_frozen_file_refuses_hard_inquiries_only_until_lifted(world):
    controls.place_freeze(world.session, subject_ref=world.zhang.ref, actor=ACTOR)
    for purpose in ("loan_approval", "credit_card_approval", "guarantee_review",
                    "insurance_underwriting"):  # fmt: skip
        err = world.refused(purpose, "file_frozen")
        assert err.status == 403
        assert err.message == (
            f"the subject has frozen their credit file: new hard inquiries ({purpose}) are "
            "refused until the subject lifts the freeze"
        )
    for purpose in ("post_loan_management", "marketplace_risk", "prescreen"):
        assert world.query(purpose).inquiry.kind is InquiryKind.soft
    # another subject's file is not frozen
    assert world.query("loan_approval", subject=world.li).inquiry.kind is InquiryKind.hard
    controls.lift_freeze(world.session, subject_ref=world.zhang.ref, actor=ACTOR)
    assert world.query("loan_approval").inquiry.kind is InquiryKind.hard


def test_a_freeze_is_checked_only_after_the_consent(world):
    controls.place_freeze(world.session, subject_ref=world.zhang.ref, actor=ACTOR)
    principal = keys.authenticate(world.session, world.token)
    with pytest.raises(Forbidden) as exc:
        authorise_query(world.session, principal, id_type="prc_id", id_number=ZHANG_ID,
                        purpose="loan_approval", consent_ref="C0000000000000", scope="score",
                        keyring=world.keyring)  # fmt: skip
    assert exc.value.extra["reason"] == "no_consent"


def test_opt_outs_refuse_their_use_only(world):
    ref = world.zhang.ref
    controls.opt_out(world.session, subject_ref=ref, use="prescreen", actor=ACTOR)
    assert world.refused("prescreen", "opted_out").message == (
        "the subject has opted out of prescreen uses of their file"
    )
    assert world.query("marketing", profile="us").inquiry.kind is InquiryKind.soft
    assert world.query("prescreen", subject=world.li).inquiry.kind is InquiryKind.soft
    controls.opt_out(world.session, subject_ref=ref, use="marketing", actor=ACTOR)
    world.refused("marketing", "opted_out", profile="us")
    controls.opt_in(world.session, subject_ref=ref, use="prescreen", actor=ACTOR)
    assert world.query("prescreen").inquiry.kind is InquiryKind.soft


def test_marketing_is_not_lawful_in_the_cn_profile_for_anyone(world):
    err = world.refused("marketing", "purpose_not_lawful")
    assert err.message == (
        "marketing is not a lawful purpose for querying a credit file in the cn profile"
    )
    assert world.query("marketing", profile="us").inquiry.kind is InquiryKind.soft


def test_flags_of_a_kind_are_independent(world):
    _alert(world)
    assert not controls.active_flags(world.session, world.zhang.id, T0).frozen
    assert world.query("loan_approval").inquiry.kind is InquiryKind.hard
    assert {f.kind for f in world.session.scalars(select(FileFlag))} == {FlagKind.fraud_alert}
