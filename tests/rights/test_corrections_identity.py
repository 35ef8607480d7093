"""Identity corrections (`credo.rights.corrections`): contact details per furnisher, name and
birth date on the subject, and never a personal value in the result, the ledger or a notice."""

from __future__ import annotations

from datetime import date

import orjson
import pytest
from sqlalchemy import select

from api.conftest import scorecard  # noqa: F401 (fixture)
from credo.errors import Invalid
from credo.furnishing.models import FurnishingBatch
from credo.institution.models import Institution, InstitutionKind
from credo.report.snapshot import Viewer, load_snapshot
from credo.subject.models import Subject, SubjectInfo
from credo.subject.resolution import name_dob_blind, phone_blind
from furnishing.bureau import (
    BANK,
    LI_ADDRESS,
    LI_ID,
    LI_NAME,
    LI_PHONE_E164,
    SMALL_BUREAU_SECRETS,
    ZHANG_ID,
    person,
    run,
    table_counts,
    write_jsonl,
)
from rights.test_corrections import NOW, Bureau, build

NEW_PHONE, NEW_PHONE_E164 = "139 0000 1111", "+8613900001111"
NEW_NAME = "张叁"
SECRETS = [*SMALL_BUREAU_SECRETS, NEW_PHONE, NEW_PHONE_E164, NEW_PHONE_E164[1:], NEW_NAME]


@pytest.fixture
def bureau(session, keyring, cn, tmp_path, monkeypatch, request) -> Bureau:
    return build(session, keyring, cn, tmp_path, monkeypatch, request.getfixturevalue("scorecard"))


def infos(b: Bureau, subject: Subject) -> list[SubjectInfo]:
    return list(b.session.scalars(
        select(SubjectInfo).where(SubjectInfo.subject_id == subject.id).order_by(SubjectInfo.id)
    ))  # fmt: skip


def identity_dispute(b: Bureau, subject: Subject, field: str, institution: str | None = BANK):
    inst = b.institution(institution).id if institution else None
    return b.dispute(subject, "identity", f"identity:{field}", field=field, institution_id=inst)


def contacts(b: Bureau, subject: Subject, as_of: date | None = None):
    snap = load_snapshot(b.session, subject.id, as_of=as_of, keyring=b.keyring,
                         viewer=Viewer.subject)  # fmt: skip
    return [(c.phone, c.address) for c in snap.contacts]


def test_a_phone_is_corrected_in_the_furnishers_contact_details_with_history(bureau, cn, tmp_path):
    b = bureau
    (old,) = infos(b, b.li)
    d = identity_dispute(b, b.li, "phone")
    result = b.correct(d, {"phone": NEW_PHONE})
    b.session.commit()
    old_row, new = infos(b, b.li)
    assert old_row.id == old.id and old_row.superseded_by_batch_id == result.batch_id
    kr = b.keyring
    assert kr.decrypt(old_row.phone_enc, column="subject_info.phone") == LI_PHONE_E164
    assert new.version == 2 and new.institution_id == old.institution_id
    assert kr.decrypt(new.phone_enc, column="subject_info.phone") == NEW_PHONE_E164
    assert new.phone_blind == phone_blind(kr, NEW_PHONE_E164)
    assert kr.decrypt(new.address_enc, column="subject_info.address") == LI_ADDRESS
    assert result.fields == ["phone"] and result.changes == {}
    assert result.superseded == result.inserted == {"subject_info": 1}
    assert contacts(b, b.li) == [(NEW_PHONE_E164, LI_ADDRESS)]
    assert contacts(b, b.li, date(2024, 8, 1)) == [(LI_PHONE_E164, LI_ADDRESS)]
    # the furnisher then sends the corrected details itself: nothing new is written
    line = person(LI_ID, LI_NAME, date(1990, 11, 2), phone=NEW_PHONE, address=LI_ADDRESS,
                  gender="F")  # fmt: skip
    report = run(b.session, write_jsonl(tmp_path / "li.jsonl", [line]), b.keyring, cn)
    assert (report.duplicates, report.corrections) == (1, 0)


def test_the_correction_batch_belongs_to_the_bureau(bureau):
    b = bureau
    result = b.correct(identity_dispute(b, b.li, "address"), {"remove": True})
    batch = b.session.get(FurnishingBatch, result.batch_id)
    inst = b.session.get(Institution, batch.institution_id)
    assert inst.kind is InstitutionKind.bureau
    _, new = infos(b, b.li)
    assert new.address_enc is None and new.phone_enc is not None
    assert result.removed and result.fields == ["address"]
    assert contacts(b, b.li) == [(LI_PHONE_E164, None)]


def test_every_furnishers_details_are_corrected_when_the_bureau_answers(bureau, cn, tmp_path):
    b = bureau
    # BANK_B furnishes 李四 with the same phone
    line = person(LI_ID, LI_NAME, date(1990, 11, 2), phone="138 0013 8000")
    run(b.session, write_jsonl(tmp_path / "b.jsonl", [line], institution="BANK_B"), b.keyring,
        cn, institution_code="BANK_B")  # fmt: skip
    result = b.correct(identity_dispute(b, b.li, "phone", None), {"phone": NEW_PHONE})
    assert result.superseded == {"subject_info": 2}
    current = [i for i in infos(b, b.li) if i.superseded_at is None]
    phones = {b.keyring.decrypt(i.phone_enc, column="subject_info.phone") for i in current}
    assert phones == {NEW_PHONE_E164}


def test_a_name_correction_updates_the_subject_and_its_blind_index(bureau, cn, tmp_path):
    b = bureau
    result = b.correct(identity_dispute(b, b.zhang, "name"), {"name": NEW_NAME})
    b.session.commit()
    b.session.refresh(b.zhang)
    kr = b.keyring
    assert kr.decrypt(b.zhang.name_enc, column="subject.name") == NEW_NAME
    assert b.zhang.name_dob_blind == name_dob_blind(kr, NEW_NAME, date(1985, 3, 14))
    assert result.updated == {"subject": 1} and result.superseded == {}
    assert load_snapshot(b.session, b.zhang.id, as_of=None, keyring=kr).identity.name == NEW_NAME
    # a furnisher sending the corrected name is not an identity conflict any more
    line = person(ZHANG_ID, NEW_NAME)
    report = run(b.session, write_jsonl(tmp_path / "z.jsonl", [line]), kr, cn)
    assert report.flagged == 0


@pytest.mark.parametrize(
    ("who", "correction", "says"),
    [
        ("zhang", {"birth_date": "1985-03-15"}, "inside the PRC ID"),
        ("zhang", {"birth_date": "1985-03-14"}, "equals the record on file"),
        ("zhang", {"birth_date": "2030-01-01"}, "in the future"),
        ("acme", {"birth_date": "2001-01-01"}, "persons only"),
    ],
)
def test_a_birth_date_that_the_identifier_contradicts_is_refused(bureau, who, correction, says):
    b = bureau
    d = identity_dispute(b, getattr(b, who), "birth_date")
    b.session.commit()
    counts = table_counts(b.session)
    with pytest.raises(Invalid) as err:
        b.correct(d, correction)
    assert err.value.extra["field"] == "birth_date" and says in err.value.message
    assert correction["birth_date"] not in err.value.message
    b.session.rollback()
    assert table_counts(b.session) == counts


def test_no_personal_value_reaches_the_result_the_ledger_or_a_notice(bureau):
    b = bureau
    b.api_inquiry(b.li, BANK, NOW.date())
    b.api_inquiry(b.zhang, BANK, NOW.date())
    results = [
        b.correct(identity_dispute(b, b.li, "phone"), {"phone": NEW_PHONE}),
        b.correct(identity_dispute(b, b.li, "address"), {"remove": True}),
        b.correct(identity_dispute(b, b.zhang, "name"), {"name": NEW_NAME}),
    ]
    b.session.commit()
    assert all(r.notified_institutions == [BANK] for r in results)
    text = orjson.dumps([r.to_dict() for r in results]).decode() + b.ledger_and_notices()
    assert "dispute.correct" in text
    for secret in SECRETS:
        assert secret not in text
