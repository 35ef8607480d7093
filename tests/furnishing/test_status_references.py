"""status_record's references hold on both backends: SQLite by foreign keys, PostgreSQL by a
lock and check per chunk and statement-level triggers on the parents (migration 0007)."""

from __future__ import annotations

import pytest
import sqlalchemy.exc
from sqlalchemy import delete, func, inspect, select

from credo.account.integrity import PG_SET_CHECKED_FOREIGN_KEYS, lock_accounts
from credo.account.models import Account, AccountVersion, StatusRecord
from credo.errors import IntegrityError
from credo.furnishing.models import FurnishingBatch

from .bureau import furnish_small_bureau


@pytest.fixture
def furnished(session, tmp_path, keyring, cn):
    report = furnish_small_bureau(session, keyring, cn, tmp_path / "bureau.jsonl")
    assert report.changes["status_record"]["inserted"] > 0
    session.flush()
    return session


def _an_account_with_statuses(session) -> int:
    return session.scalar(select(StatusRecord.account_id).order_by(StatusRecord.id).limit(1))


def test_an_account_with_statuses_cannot_be_deleted(furnished):
    session = furnished
    account_id = _an_account_with_statuses(session)
    session.execute(delete(AccountVersion).where(AccountVersion.account_id == account_id))
    with pytest.raises(sqlalchemy.exc.IntegrityError), session.begin_nested():
        session.execute(delete(Account).where(Account.id == account_id))
    assert session.get(Account, account_id) is not None
    # once its statuses are gone, it can
    session.execute(delete(StatusRecord).where(StatusRecord.account_id == account_id))
    session.execute(delete(Account).where(Account.id == account_id))
    assert session.get(Account, account_id) is None


def test_a_batch_with_statuses_cannot_be_deleted(furnished):
    session = furnished
    batch_id = session.scalar(select(StatusRecord.batch_id).limit(1))
    with pytest.raises(sqlalchemy.exc.IntegrityError), session.begin_nested():
        session.execute(delete(FurnishingBatch).where(FurnishingBatch.id == batch_id))
    assert session.scalar(select(func.count()).where(FurnishingBatch.id == batch_id)) == 1


def test_lock_accounts_refuses_references_to_missing_accounts(furnished):
    session = furnished
    account_id = _an_account_with_statuses(session)
    lock_accounts(session, [account_id, account_id])  # present: fine
    if session.get_bind().dialect.name != "postgresql":
        lock_accounts(session, [10**12])  # SQLite: its foreign keys check each row instead
        return
    with pytest.raises(IntegrityError, match="1 account id"):
        lock_accounts(session, [account_id, 10**12])


def test_the_foreign_keys_each_backend_carries(engine):
    keys = {fk["name"] for fk in inspect(engine).get_foreign_keys("status_record")}
    if engine.dialect.name == "postgresql":
        assert not keys & PG_SET_CHECKED_FOREIGN_KEYS
    else:
        assert len(inspect(engine).get_foreign_keys("status_record")) == 3


def test_a_failure_in_the_copy_sender_thread_fails_the_batch_cleanly(
    engine, tmp_path, keyring, cn, monkeypatch
):
    """On PostgreSQL a chunk's status rows are sent by a thread while the next chunk is
    validated; if sending fails, the batch fails with that error and rolls back whole."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the COPY sender is PostgreSQL's")
    from sqlalchemy.orm import Session

    from credo.furnishing import store

    from .bureau import add_institution, run, write_jsonl
    from .test_service import generated_bureau

    class Broken:
        def write(self, payload):
            raise RuntimeError("connection lost while sending")

    real_send = store._Sender.send
    monkeypatch.setattr(
        store._Sender, "send", lambda self, copy, payload: real_send(self, Broken(), payload)
    )
    path = write_jsonl(tmp_path / "big.jsonl", generated_bureau(40))
    with Session(engine) as session:
        add_institution(session)
        session.commit()
        with pytest.raises(RuntimeError, match="connection lost while sending"):
            run(session, path, keyring, cn, chunk_rows=100)
        session.rollback()
        assert session.scalar(select(func.count()).select_from(StatusRecord)) == 0
    monkeypatch.setattr(store._Sender, "send", real_send)
    with Session(engine) as session:
        report = run(session, path, keyring, cn, chunk_rows=100)
        session.commit()
        assert (
            session.scalar(select(func.count()).select_from(StatusRecord))
            == (report.changes["status_record"]["inserted"])
        )
