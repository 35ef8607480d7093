"""The dispute service (`credo.rights.disputes`): filing against the subject's own records, the
furnisher's answer, new information and the SLA per profile, escalation, decisions; bad input
changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from credo.audit.models import AuditEntry
from credo.config import Settings
from credo.errors import Conflict, Invalid, NotFound
from credo.furnishing.models import FurnishingBatch
from credo.inquiry.models import Inquiry
from credo.institution.models import Institution
from credo.notify.models import Notification
from credo.rights import disputes as service
from credo.rights.disputes import RecordName
from credo.rights.models import (
    Dispute,
    DisputeEvent,
    DisputeOutcome,
    DisputeRecordType,
    DisputeStatus,
    FurnisherAnswer,
)
from credo.subject.models import Subject
from furnishing.bureau import (
    ACME_USCC,
    BANK,
    LI_ID,
    OTHER_BANK,
    ZHANG_ID,
    furnish_small_bureau,
    subject_of,
)

T0 = datetime(2024, 7, 2, 9, 0, tzinfo=UTC)
EVIDENCE = "ab" * 32
NEW_DOC = "cd" * 32
MAY = RecordName("status", institution=BANK, account_ref="CC-1", period="2024-05")


@dataclass
class World:
    session: Session
    keyring: object
    zhang: Subject
    li: Subject
    acme: Subject
    bank_id: int

    def file(self, name: RecordName = MAY, *, who: Subject | None = None, profile=None, **kw):
        kw.setdefault("reason", "I paid this month on time")
        kw.setdefault("now", T0)
        who = who or self.zhang
        return service.file(
            self.session, keyring=self.keyring, subject_id=who.id, name=name,
            profile=profile or _profile("cn"), actor=f"subject:{who.ref}/U1", **kw,
        )  # fmt: skip

    def counts(self) -> tuple[int, int, int]:
        """Disputes, events and notices on file (flushed)."""
        self.session.flush()
        return tuple(
            self.session.scalar(select(func.count()).select_from(m))
            for m in (Dispute, DisputeEvent, Notification)
        )  # type: ignore[return-value]


def _profile(code: str):
    from credo.config import get_profile

    return get_profile(code)


@pytest.fixture
def world(session, keyring, cn, tmp_path) -> World:
    furnish_small_bureau(session, keyring, cn, tmp_path / "bureau.jsonl")
    people = [
        subject_of(session, keyring, n, t)
        for t, n in (("prc_id", ZHANG_ID), ("prc_id", LI_ID), ("uscc", ACME_USCC))
    ]
    bank_id = session.scalar(select(Institution.id).where(Institution.code == BANK))
    session.commit()
    return World(session, keyring, *people, bank_id)


def _ledger(session, action: str) -> list[AuditEntry]:
    session.commit()
    stmt = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
    return list(session.scalars(stmt))


def _notices(session, kind: str) -> list[Notification]:
    session.flush()
    return list(session.scalars(select(Notification).where(Notification.kind == kind)))


def _events(session, d: Dispute) -> list[str]:
    return [e.kind for e in service.history(session, dispute=d)]


# -- filing --------------------------------------------------------------------------------------
def test_filing_a_status_dispute_marks_it_with_a_deadline_an_event_a_ledger_entry_and_notices(
    world,
):
    d = world.file(evidence_sha256=EVIDENCE.upper())
    assert d.ref.startswith("D") and len(d.ref) == 13
    assert d.record_type is DisputeRecordType.status
    assert d.target_key == f"status:{d.account_id}:2024-05"
    assert d.period == date(2024, 5, 1) and d.institution_id == world.bank_id
    assert d.status is DisputeStatus.open and d.closed_at is None
    assert d.due_on == date(2024, 7, 22)  # cn: 20 days
    assert d.evidence_sha256 == EVIDENCE
    assert b"paid" not in d.reason_enc
    assert service.reason(d, world.keyring) == "I paid this month on time"
    assert _events(world.session, d) == ["filed"]
    received = _notices(world.session, "dispute.received")
    assert {(n.subject_id, n.institution_id) for n in received} == {
        (world.zhang.id, None),
        (None, world.bank_id),
    }
    assert all(orjson.loads(n.payload)["dispute"] == d.ref for n in received)
    [entry] = _ledger(world.session, "dispute.file")
    assert entry.target == d.ref and entry.actor == f"subject:{world.zhang.ref}/U1"
    details = orjson.loads(entry.details) if isinstance(entry.details, str) else entry.details
    assert details["subject"] == world.zhang.ref and details["due_on"] == "2024-07-22"


def test_us_profile_gives_thirty_days(world):
    assert world.file(profile=_profile("us")).due_on == date(2024, 8, 1)


@pytest.mark.parametrize(
    ("name", "who", "key", "answerer"),
    [
        (RecordName("account", institution=BANK, account_ref="CC-1"), "zhang", "account:", BANK),
        (RecordName("public_record", institution=BANK, case_ref="(2024)京0108执123号"), "acme",
         "public_record:{bank}:enforcement:(2024)京0108执123号", BANK),
        (RecordName("public_record", institution=BANK, case_ref="(2024)京0108执123号",
                    kind="enforcement"), "acme", "public_record:", BANK),
        (RecordName("identity", field="name"), "zhang", "identity:name", None),
        (RecordName("identity", field="phone"), "li", "identity:phone", None),
        (RecordName("identity", field="address"), "li", "identity:address", None),
    ],
)  # fmt: skip
def test_every_kind_of_record_resolves_to_the_subjects_own(world, name, who, key, answerer):
    d = world.file(name, who=getattr(world, who))
    assert d.target_key.startswith(key.format(bank=world.bank_id))
    assert d.record_type is DisputeRecordType(name.record_type)
    assert d.institution_id == (world.bank_id if answerer else None)


def test_an_inquiry_is_named_by_its_id_in_the_subjects_inquiry_list(world):
    q = world.session.scalar(select(Inquiry).where(Inquiry.subject_id == world.zhang.id))
    d = world.file(RecordName("inquiry", inquiry_id=q.id))
    assert (d.target_key, d.record_id, d.institution_id) == (f"inquiry:{q.id}", q.id, world.bank_id)


@pytest.mark.parametrize(
    ("name", "who"),
    [
        # 李四's loan, named correctly, by 张三
        (RecordName("status", institution=BANK, account_ref="LOAN-1", period="2024-05"), "zhang"),
        (RecordName("account", institution=BANK, account_ref="LOAN-1"), "zhang"),
        # no such account / month / institution
        (RecordName("account", institution=BANK, account_ref="NOPE"), "zhang"),
        (RecordName("status", institution=BANK, account_ref="CC-1", period="2023-01"), "zhang"),
        (RecordName("account", institution=OTHER_BANK, account_ref="CC-1"), "zhang"),
        # ACME's public record, by 张三
        (RecordName("public_record", institution=BANK, case_ref="(2024)京0108执123号"), "zhang"),
        # 张三 has no phone or address on file
        (RecordName("identity", field="phone"), "zhang"),
        # ACME, an enterprise, has no birth date
        (RecordName("identity", field="birth_date"), "acme"),
    ],
)
def test_a_record_not_on_the_subjects_file_is_404_and_writes_nothing(world, name, who):
    before = world.counts()
    with pytest.raises(NotFound) as exc:
        world.file(name, who=getattr(world, who))
    assert exc.value.extra["reason"] == "record_not_found"
    assert "is not on your file" in exc.value.message
    assert world.counts() == before


def test_another_subjects_inquiry_reads_like_an_unknown_one(world):
    li_inquiry = world.session.scalar(select(Inquiry.id).where(Inquiry.subject_id == world.li.id))
    errors = []
    for inquiry_id in (li_inquiry, 999_999):
        with pytest.raises(NotFound) as exc:
            world.file(RecordName("inquiry", inquiry_id=inquiry_id))
        errors.append(exc.value.message.replace(str(inquiry_id), "N"))
    assert errors[0] == errors[1]


def test_a_second_open_dispute_on_the_same_record_is_409_naming_the_open_one(world):
    first = world.file()
    before = world.counts()
    with pytest.raises(Conflict) as exc:
        world.file(reason="again")
    assert exc.value.extra == {"reason": "dispute_already_open", "dispute": first.ref}
    assert first.ref in exc.value.message
    assert world.counts() == before
    # another month of the same account is another record
    world.file(RecordName("status", institution=BANK, account_ref="CC-1", period="2024-06"))


@pytest.mark.parametrize(
    ("reason", "words"),
    [("", "empty"), ("   \n\t ", "empty"), ("x" * 2001, "2001 characters; at most 2000"),
     (None, "empty"), ("paid\x00", "control characters"),
     ("bad \x1b[31mred\x1b[0m name", "control characters")],
)  # fmt: skip
def test_an_empty_or_overlong_reason_is_422_naming_reason(world, reason, words):
    before = world.counts()
    with pytest.raises(Invalid) as exc:
        world.file(reason=reason)
    assert exc.value.extra["errors"][0]["field"] == "reason"
    assert "reason" in exc.value.message and words in exc.value.message
    assert world.counts() == before


def test_a_reason_of_exactly_2000_characters_is_accepted(world):
    assert service.reason(world.file(reason="y" * 2000), world.keyring) == "y" * 2000


@pytest.mark.parametrize(
    ("name", "field"),
    [
        (RecordName("status", institution=BANK, account_ref="CC-1"), "period"),
        (RecordName("status", institution=BANK, account_ref="CC-1", period="2024-13"), "period"),
        (RecordName("account", account_ref="CC-1"), "institution"),
        (RecordName("account", institution=BANK, account_ref="CC-1", period="2024-05"), "period"),
        (RecordName("identity", field="gender"), "field"),
        (RecordName("identity"), "field"),
        (RecordName("inquiry", inquiry_id=-1), "inquiry_id"),
        (RecordName("public_record", institution=BANK, case_ref="x", kind="war"), "kind"),
        (RecordName("loan", institution=BANK), "record_type"),
    ],
)
def test_a_record_named_wrongly_is_422_naming_the_field(world, name, field):
    before = world.counts()
    with pytest.raises(Invalid) as exc:
        world.file(name)
    assert exc.value.extra["errors"][0]["field"] == field
    assert field in exc.value.message
    assert world.counts() == before


def test_malformed_evidence_is_422(world):
    with pytest.raises(Invalid) as exc:
        world.file(evidence_sha256="not-a-hash")
    assert exc.value.extra["errors"][0]["field"] == "evidence_sha256"


# -- answering -----------------------------------------------------------------------------------
def test_the_furnisher_answers_once_and_only_its_own_disputes(world):
    d = world.file()
    other_bank = world.session.scalar(select(Institution.id).where(Institution.code == OTHER_BANK))
    with pytest.raises(NotFound) as exc:
        service.get_for_institution(world.session, institution_id=other_bank, ref=d.ref)
    assert exc.value.extra["reason"] == "dispute_not_found"
    mine = service.get_for_institution(world.session, institution_id=world.bank_id, ref=d.ref)
    assert [
        x.ref for x in service.open_for_institution(world.session, institution_id=other_bank)
    ] == []
    mine_open = service.open_for_institution(world.session, institution_id=world.bank_id)
    assert [x.ref for x in mine_open] == [d.ref]
    with pytest.raises(Invalid) as exc:
        service.answer(world.session, dispute=mine, answer="maybe", actor="api:BANK_A/K1", now=T0)
    assert exc.value.extra["errors"][0]["field"] == "answer"
    with pytest.raises(Invalid):
        service.answer(world.session, dispute=mine, answer="confirm", correction={"balance": "1"},
                       actor="api:BANK_A/K1", now=T0)  # fmt: skip
    assert d.status is DisputeStatus.open
    service.answer(world.session, dispute=mine, answer="confirm", note="paid late, on 06-12",
                   evidence_sha256=EVIDENCE, actor="api:BANK_A/K1",
                   now=T0 + timedelta(days=3))  # fmt: skip
    assert (d.status, d.answer, d.answered_by) == (
        DisputeStatus.answered, FurnisherAnswer.confirm, "api:BANK_A/K1",
    )  # fmt: skip
    with pytest.raises(Conflict) as exc:
        service.answer(world.session, dispute=mine, answer="confirm", actor="api:BANK_A/K1", now=T0)
    assert exc.value.extra["reason"] == "dispute_already_answered"
    assert _events(world.session, d) == ["filed", "answered"]
    assert len(_ledger(world.session, "dispute.answer")) == 1


def test_a_correct_answer_needs_a_valid_correction(world):
    d = world.file()
    for correction, field in (
        (None, "correction"),
        ({"colour": "red"}, "colour"),
        ({"days_past_due": -3}, "days_past_due"),
    ):
        with pytest.raises(Invalid) as exc:
            service.answer(world.session, dispute=d, answer="correct", correction=correction,
                           actor="api:BANK_A/K1", now=T0)  # fmt: skip
        assert field in exc.value.message, exc.value.message
    assert d.status is DisputeStatus.open and d.correction is None
    service.answer(world.session, dispute=d, answer="correct", correction={"days_past_due": 0},
                   actor="api:BANK_A/K1", now=T0)  # fmt: skip
    assert service.correction_of(d) == {"days_past_due": 0}


# -- deadlines: new information, escalation --------------------------------------------------------
def test_new_information_extends_the_us_deadline_once_by_15_days(world):
    us = _profile("us")
    d = world.file(profile=us)
    assert d.due_on == date(2024, 8, 1)
    service.add_information(world.session, dispute=d, evidence_sha256=NEW_DOC, profile=us,
                            actor="subject", now=T0 + timedelta(days=10))  # fmt: skip
    assert d.due_on == date(2024, 8, 16) and d.extended_at == T0 + timedelta(days=10)
    service.add_information(world.session, dispute=d, evidence_sha256=EVIDENCE, profile=us,
                            actor="subject", now=T0 + timedelta(days=20))  # fmt: skip
    assert d.due_on == date(2024, 8, 16)
    assert _events(world.session, d) == ["filed", "information", "information"]
    details = [service.events_detail(e) for e in service.history(world.session, dispute=d)]
    assert details[1] == {"due_on_was": "2024-08-01", "due_on": "2024-08-16"}
    assert details[2] == {}
    assert len(_ledger(world.session, "dispute.information")) == 2
    notices = _notices(world.session, "dispute.information")
    assert [n.institution_id for n in notices] == [world.bank_id, world.bank_id]


def test_new_information_after_the_due_date_does_not_extend_it(world):
    us = _profile("us")
    d = world.file(profile=us)
    service.add_information(world.session, dispute=d, evidence_sha256=NEW_DOC, profile=us,
                            actor="subject", now=T0 + timedelta(days=31))  # fmt: skip
    assert d.due_on == date(2024, 8, 1) and d.extended_at is None


def test_new_information_in_cn_is_recorded_without_extension(world):
    cn = _profile("cn")
    d = world.file(profile=cn)
    service.add_information(world.session, dispute=d, evidence_sha256=NEW_DOC, profile=cn,
                            actor="subject", now=T0 + timedelta(days=5))  # fmt: skip
    assert d.due_on == date(2024, 7, 22) and d.extended_at is None
    [info] = [e for e in service.history(world.session, dispute=d) if e.kind == "information"]
    assert info.evidence_sha256 == NEW_DOC


def test_new_information_needs_a_document_hash(world):
    d = world.file()
    before = world.counts()
    with pytest.raises(Invalid) as exc:
        service.add_information(world.session, dispute=d, evidence_sha256=None,
                                profile=_profile("us"), actor="subject", now=T0)  # fmt: skip
    assert exc.value.extra["errors"][0]["field"] == "evidence_sha256"
    assert world.counts() == before


@pytest.mark.parametrize(("code", "days"), [("cn", 20), ("us", 30)])
def test_escalation_marks_disputes_past_their_due_date_once(world, code, days):
    profile = _profile(code)
    late = world.file(profile=profile)
    decided = world.file(RecordName("account", institution=BANK, account_ref="CC-1"),
                         profile=profile)  # fmt: skip
    service.decide(world.session, dispute=decided, outcome="confirmed", keyring=world.keyring,
                   settings=Settings(), actor="ops", now=T0 + timedelta(days=1))  # fmt: skip
    due = T0.date() + timedelta(days=days)
    assert late.due_on == due
    # on the last day nothing is overdue yet
    assert service.escalate_overdue(world.session, today=due, now=T0) == []
    assert service.overdue(world.session, today=due) == []
    the_day_after = datetime.combine(due + timedelta(days=1), T0.timetz())
    found = service.escalate_overdue(world.session, today=the_day_after.date(), now=the_day_after)
    assert [d.ref for d in found] == [late.ref]
    assert late.escalated_at == the_day_after and decided.escalated_at is None
    # idempotent: a second run escalates nothing and writes nothing
    again = the_day_after + timedelta(days=3)
    before = world.counts()
    assert service.escalate_overdue(world.session, today=again.date(), now=again) == []
    assert world.counts() == before
    assert [d.ref for d in service.overdue(world.session, today=again.date())] == [late.ref]
    assert [d.ref for d in service.queue(world.session, today=again.date(), overdue_only=True)] == [
        late.ref
    ]
    assert _events(world.session, late) == ["filed", "escalated"]
    [entry] = _ledger(world.session, "dispute.escalate")
    assert entry.target == late.ref
    assert [n.institution_id for n in _notices(world.session, "dispute.overdue")] == [world.bank_id]


# -- decisions -----------------------------------------------------------------------------------
def test_confirmed_closes_the_dispute_and_offers_a_statement(world):
    d = world.file()
    service.decide(world.session, dispute=d, outcome="confirmed", keyring=world.keyring,
                   settings=Settings(), actor="ops", now=T0 + timedelta(days=4))  # fmt: skip
    assert (d.status, d.outcome, d.closed_at) == (
        DisputeStatus.closed, DisputeOutcome.confirmed, T0 + timedelta(days=4),
    )  # fmt: skip
    [to_subject] = [n for n in _notices(world.session, "dispute.decided") if n.subject_id]
    payload = orjson.loads(to_subject.payload)
    assert payload["outcome"] == "confirmed" and "PUT /v1/me/statement" in payload["statement"]
    [entry] = _ledger(world.session, "dispute.decide")
    assert entry.target == d.ref
    # closed: a new dispute of the same record may be filed
    assert world.file(reason="new facts").ref != d.ref


def test_unresolved_needs_a_note_and_keeps_it(world):
    d = world.file()
    with pytest.raises(Invalid) as exc:
        service.decide(world.session, dispute=d, outcome="unresolved", note="  ",
                       keyring=world.keyring, settings=Settings(), actor="ops", now=T0)  # fmt: skip
    assert exc.value.extra["errors"][0]["field"] == "note"
    assert d.status is DisputeStatus.open
    service.decide(world.session, dispute=d, outcome="unresolved", note="records disagree",
                   keyring=world.keyring, settings=Settings(), actor="ops", now=T0)  # fmt: skip
    assert (d.outcome, d.decision_note) == (DisputeOutcome.unresolved, "records disagree")


def test_deciding_a_closed_dispute_is_409_and_changes_nothing(world):
    d = world.file()
    service.decide(world.session, dispute=d, outcome="confirmed", keyring=world.keyring,
                   settings=Settings(), actor="ops", now=T0)  # fmt: skip
    before = world.counts()
    for outcome in ("confirmed", "unresolved"):
        with pytest.raises(Conflict) as exc:
            service.decide(world.session, dispute=d, outcome=outcome, note="n",
                           keyring=world.keyring, settings=Settings(), actor="ops",
                           now=T0)  # fmt: skip
        assert exc.value.extra["reason"] == "dispute_closed"
    with pytest.raises(Conflict):
        service.answer(world.session, dispute=d, answer="confirm", actor="x", now=T0)
    with pytest.raises(Conflict):
        service.add_information(world.session, dispute=d, evidence_sha256=NEW_DOC,
                                profile=_profile("us"), actor="x", now=T0)  # fmt: skip
    assert world.counts() == before
    assert d.outcome is DisputeOutcome.confirmed


@pytest.mark.parametrize(
    ("outcome", "correction", "field"),
    [("maybe", None, "outcome"), ("confirmed", {"days_past_due": 0}, "correction"),
     ("corrected", None, "correction")],
)  # fmt: skip
def test_an_invalid_decision_is_422_and_changes_nothing(world, outcome, correction, field):
    d = world.file()
    before = world.counts()
    with pytest.raises(Invalid) as exc:
        service.decide(world.session, dispute=d, outcome=outcome, correction=correction,
                       keyring=world.keyring, settings=Settings(), actor="ops", now=T0)  # fmt: skip
    assert exc.value.extra["errors"][0]["field"] == field
    assert d.status is DisputeStatus.open and world.counts() == before


def test_an_identity_correction_is_not_kept_in_the_answer(world):
    d = world.file(RecordName("identity", field="name"))
    with pytest.raises(Invalid) as exc:
        service.answer(world.session, dispute=d, answer="correct", correction={"name": "张四"},
                       actor="ops", now=T0)  # fmt: skip
    assert exc.value.extra["errors"][0]["field"] == "correction"


def test_corrected_with_the_operators_correction_supersedes_the_record_and_keeps_the_batch(world):
    d = world.file()
    service.decide(world.session, dispute=d, outcome="corrected", note="statement checked",
                   correction={"balance": "1400.00"}, keyring=world.keyring,
                   settings=Settings(), actor="ops", now=T0 + timedelta(days=2))  # fmt: skip
    assert (d.status, d.outcome) == (DisputeStatus.closed, DisputeOutcome.corrected)
    assert d.correction_batch_id is not None
    assert service.correction_of(d) == {"balance": "1400.00"}
    [decided] = [e for e in service.history(world.session, dispute=d) if e.kind == "decided"]
    batch = world.session.get(FurnishingBatch, d.correction_batch_id)
    detail = service.events_detail(decided)
    # the history names the batch by its public reference, never its row id
    assert detail["correction_batch"] == batch.ref and "correction_batch_id" not in detail
    assert {"rescored", "institutions_notified"} <= set(detail)
    assert service.current_record(world.session, d)["balance"] == "1400.00"
    assert [e.target for e in _ledger(world.session, "dispute.decide")] == [d.ref]


def test_a_dispute_whose_account_was_erased_shows_no_current_record(world):
    """Retention erases a negative account whole (account, versions, months) while a dispute
    of it may still be open: the furnisher's and the operator's views say it is no longer on
    file instead of failing."""
    from sqlalchemy import delete

    from credo.account.models import Account, AccountVersion, StatusRecord
    from credo.rights.dispute_records import current_record

    d = world.file(RecordName("account", institution=BANK, account_ref="CC-1"))
    s = world.file()  # a month of the same account
    assert current_record(world.session, d) is not None
    assert current_record(world.session, s) is not None
    for model in (StatusRecord, AccountVersion):
        world.session.execute(delete(model).where(model.account_id == d.account_id))
    world.session.execute(delete(Account).where(Account.id == d.account_id))
    world.session.flush()
    world.session.expire_all()
    assert current_record(world.session, d) is None
    assert current_record(world.session, s) is None
    listed = service.open_for_institution(world.session, institution_id=world.bank_id)
    assert {x.ref for x in listed} >= {d.ref, s.ref}
