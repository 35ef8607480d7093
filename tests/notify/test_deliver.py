"""Delivering the outbox: log and webhook channels, retries with backoff, giving up, two
workers at once."""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from datetime import timedelta

import orjson
import pytest
from sqlalchemy import func, select

from credo.config import Settings
from credo.notify.channels import GATEWAY, LogChannel, WebhookChannel, channel_for, signing_secret
from credo.notify.deliver import backoff, deliver_due
from credo.notify.models import Notification, NotificationStatus
from credo.rights.controls import place_freeze
from credo.security.service import bind_index_key
from furnishing.bureau import BANK, LI_ID, LI_NAME, OTHER_BANK, ZHANG_ID, ZHANG_NAME

from .conftest import T0

#: the webhook settings of most tests: a short timeout so that the timeout test is quick
WEBHOOK = {"notify_channel": "webhook", "notify_webhook_timeout_seconds": 0.5}


def _secret(bureau, recipient: str) -> str:
    with bureau.db() as s:
        bind_index_key(s, bureau.keyring)
    return signing_secret(bureau.keyring, recipient)


# -- backoff ---------------------------------------------------------------------------------
def test_backoff_doubles_from_30_seconds_up_to_an_hour():
    waits = [backoff(n).total_seconds() for n in range(1, 11)]
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
    assert backoff(500) == timedelta(hours=1)
    with pytest.raises(ValueError, match="attempts must be at least 1; got 0"):
        backoff(0)


def test_channel_for_follows_the_setting():
    assert isinstance(channel_for(Settings()), LogChannel)
    hook = channel_for(Settings(**WEBHOOK))
    assert isinstance(hook, WebhookChannel) and hook.timeout == 0.5


# -- log channel -----------------------------------------------------------------------------
def test_log_channel_writes_one_line_per_notice_and_no_identifier(bureau, caplog):
    to_zhang = bureau.enqueue("dispute.received", payload={"dispute_ref": "D0000000000AA"})
    to_bank = bureau.enqueue(
        "report.corrected",
        institution_id=bureau.bank_id,
        payload={"subject_ref": bureau.zhang, "report_id": "Q000000000001"},
    )
    with caplog.at_level(logging.INFO, logger="credo.notify"):
        stats = deliver_due(bureau.engine, Settings(), bureau.keyring, now=T0)

    assert (stats.attempted, stats.delivered, stats.retrying, stats.failed) == (2, 2, 0, 0)
    lines = [r for r in caplog.records if r.name == "credo.notify"]
    assert len(lines) == 2
    docs = {r.notice["ref"]: r.notice for r in lines}
    assert docs[to_zhang]["recipient"] == {"kind": "subject", "subject_ref": bureau.zhang}
    assert docs[to_zhang]["payload"] == {"dispute_ref": "D0000000000AA"}
    assert docs[to_bank]["recipient"] == {"kind": "institution", "institution": BANK}
    assert docs[to_bank]["kind"] == "report.corrected"
    # the line itself carries the same document, as JSON
    assert (
        orjson.loads(lines[0].getMessage().removeprefix("notice ")) == docs[lines[0].notice["ref"]]
    )
    for secret in (ZHANG_ID, LI_ID, ZHANG_NAME, LI_NAME):
        assert secret not in caplog.text
    for ref in (to_zhang, to_bank):
        n = bureau.notice(ref)
        assert (n.status, n.channel, n.delivered_at, n.attempts) == (
            NotificationStatus.delivered, "log", T0, 1,
        )  # fmt: skip


def test_a_run_is_one_ledger_entry_and_an_idle_run_none(bureau):
    for _ in range(3):
        bureau.enqueue()
    deliver_due(bureau.engine, Settings(), bureau.keyring, now=T0, actor="test:worker")
    entries = bureau.ledger("notify.deliver")
    assert len(entries) == 1
    assert entries[0].actor == "test:worker"
    details = orjson.loads(entries[0].details)
    assert details == {
        "attempted": 3, "delivered": 3, "retrying": 0, "failed": 0, "via_log": 3,
        "channel": "log",
    }  # fmt: skip
    assert deliver_due(bureau.engine, Settings(), bureau.keyring, now=T0).attempted == 0
    assert len(bureau.ledger("notify.deliver")) == 1


def test_only_due_notices_go_oldest_first_up_to_the_limit(bureau, caplog):
    later = bureau.enqueue(at=T0 + timedelta(minutes=5))
    second = bureau.enqueue(at=T0 - timedelta(minutes=1))
    first = bureau.enqueue(at=T0 - timedelta(minutes=2))
    with caplog.at_level(logging.INFO, logger="credo.notify"):
        stats = deliver_due(bureau.engine, Settings(), bureau.keyring, now=T0, limit=1)
        assert stats.delivered == 1
        deliver_due(bureau.engine, Settings(), bureau.keyring, now=T0)
    sent = [r.notice["ref"] for r in caplog.records if r.name == "credo.notify"]
    assert sent == [first, second]
    assert bureau.notice(later).status is NotificationStatus.pending
    deliver_due(bureau.engine, Settings(), bureau.keyring, now=T0 + timedelta(minutes=5))
    assert bureau.notice(later).status is NotificationStatus.delivered


def test_limit_must_be_positive(bureau):
    with pytest.raises(ValueError, match="limit must be at least 1; got 0"):
        deliver_due(bureau.engine, Settings(), bureau.keyring, now=T0, limit=0)


# -- webhook channel -------------------------------------------------------------------------
def test_webhook_posts_signed_json_to_the_institution_and_the_gateway(bureau, hook):
    bureau.set_webhook(BANK, f"{hook.url}/bank")
    settings = Settings(**WEBHOOK, notify_subject_webhook_url=f"{hook.url}/gateway")
    to_bank = bureau.enqueue(
        "dispute.received",
        institution_id=bureau.bank_id,
        payload={
            "dispute_ref": "D0000000000AA",
            "subject_ref": bureau.zhang,
            "due_on": "2025-03-21",
        },
    )
    to_li = bureau.enqueue("freeze.placed", subject_id=bureau.li_id, payload={"freeze_ref": "F1"})

    stats = deliver_due(bureau.engine, settings, bureau.keyring, now=T0)

    assert (stats.delivered, stats.by_channel) == (2, {"webhook": 2})
    by_path = {r.path: r for r in hook.received}
    assert set(by_path) == {"/bank", "/gateway"}
    bank = by_path["/bank"]
    assert bank.headers["X-Credo-Notice"] == to_bank
    assert bank.headers["X-Credo-Kind"] == "dispute.received"
    assert bank.headers["Content-Type"] == "application/json"
    assert orjson.loads(bank.body) == {
        "ref": to_bank,
        "kind": "dispute.received",
        "created_at": T0.isoformat(),
        "recipient": {"kind": "institution", "institution": BANK},
        "payload": {"dispute_ref": "D0000000000AA", "due_on": "2025-03-21",
                    "subject_ref": bureau.zhang},
    }  # fmt: skip
    expected = hmac.new(_secret(bureau, BANK).encode(), bank.body, hashlib.sha256).hexdigest()
    assert bank.headers["X-Credo-Signature"] == f"sha256={expected}"

    gateway = by_path["/gateway"]
    assert orjson.loads(gateway.body)["recipient"] == {"kind": "subject", "subject_ref": bureau.li}
    assert gateway.headers["X-Credo-Notice"] == to_li
    secret = _secret(bureau, GATEWAY)
    assert gateway.headers["X-Credo-Signature"] == (
        "sha256=" + hmac.new(secret.encode(), gateway.body, hashlib.sha256).hexdigest()
    )
    # each recipient has its own secret: the bank's does not verify the gateway's body
    assert _secret(bureau, BANK) != secret != _secret(bureau, OTHER_BANK)
    for ref in (to_bank, to_li):
        n = bureau.notice(ref)
        assert (n.status, n.channel, n.last_error) == (
            NotificationStatus.delivered,
            "webhook",
            None,
        )
    for secret_value in (ZHANG_ID, LI_ID):
        assert all(secret_value.encode() not in r.body for r in hook.received)


def test_webhook_recipient_without_url_falls_back_to_the_log(bureau, hook, caplog):
    bureau.set_webhook(BANK, f"{hook.url}/bank")
    to_other = bureau.enqueue(institution_id=bureau.other_id)  # BANK_B has no URL
    to_zhang = bureau.enqueue()  # and no subject gateway is configured
    to_bank = bureau.enqueue(institution_id=bureau.bank_id)
    with caplog.at_level(logging.INFO, logger="credo.notify"):
        stats = deliver_due(bureau.engine, Settings(**WEBHOOK), bureau.keyring, now=T0)
    assert stats.by_channel == {"log": 2, "webhook": 1}
    assert hook.refs() == [to_bank]
    logged = {r.notice["ref"] for r in caplog.records if r.name == "credo.notify"}
    assert logged == {to_other, to_zhang}
    assert bureau.notice(to_other).channel == "log"
    assert bureau.notice(to_bank).channel == "webhook"


# -- failures and retries --------------------------------------------------------------------
def test_http_500_is_retried_on_the_backoff_schedule_then_failed(bureau, hook):
    hook.status = 500
    bureau.set_webhook(BANK, hook.url)
    settings = Settings(**WEBHOOK, notify_max_attempts=4)
    ref = bureau.enqueue(institution_id=bureau.bank_id)
    now = T0
    for attempt, wait in ((1, 30), (2, 60), (3, 120)):
        stats = deliver_due(bureau.engine, settings, bureau.keyring, now=now)
        assert (stats.attempted, stats.retrying) == (1, 1)
        n = bureau.notice(ref)
        assert n.status is NotificationStatus.pending
        assert n.attempts == attempt
        assert n.last_error == "HTTP 500 from the webhook"
        assert n.next_attempt_at == now + timedelta(seconds=wait)
        # not due a second before its time
        early = deliver_due(
            bureau.engine, settings, bureau.keyring, now=n.next_attempt_at - timedelta(seconds=1)
        )
        assert early.attempted == 0
        now = n.next_attempt_at
    stats = deliver_due(bureau.engine, settings, bureau.keyring, now=now)
    assert (stats.attempted, stats.failed, stats.retrying) == (1, 1, 0)
    n = bureau.notice(ref)
    assert (n.status, n.attempts, n.delivered_at) == (NotificationStatus.failed, 4, None)
    assert len(hook.received) == 4
    # a failed notice is never tried again by the worker
    later = deliver_due(bureau.engine, settings, bureau.keyring, now=now + timedelta(days=30))
    assert later.attempted == 0 and len(hook.received) == 4
    details = [orjson.loads(e.details) for e in bureau.ledger("notify.deliver")]
    assert [d["failed"] for d in details] == [0, 0, 0, 1]


def test_a_closed_port_is_a_connection_failure(bureau, closed_port):
    bureau.set_webhook(BANK, closed_port)
    ref = bureau.enqueue(institution_id=bureau.bank_id)
    stats = deliver_due(bureau.engine, Settings(**WEBHOOK), bureau.keyring, now=T0)
    assert stats.retrying == 1
    n = bureau.notice(ref)
    assert n.last_error.startswith("connection failed")
    assert (n.status, n.attempts, n.channel) == (NotificationStatus.pending, 1, "webhook")
    assert n.next_attempt_at == T0 + timedelta(seconds=30)


def test_a_slow_answer_is_a_timeout(bureau, hook):
    hook.delay = 1.5
    bureau.set_webhook(BANK, hook.url)
    ref = bureau.enqueue(institution_id=bureau.bank_id)
    stats = deliver_due(bureau.engine, Settings(**WEBHOOK), bureau.keyring, now=T0)
    assert stats.retrying == 1
    assert bureau.notice(ref).last_error == "timed out after 0.5 s"


def test_one_failing_recipient_does_not_hold_up_the_others(bureau, hook, closed_port):
    bureau.set_webhook(BANK, closed_port)
    bureau.set_webhook(OTHER_BANK, hook.url)
    bad = bureau.enqueue(institution_id=bureau.bank_id, at=T0 - timedelta(seconds=5))
    good = bureau.enqueue(institution_id=bureau.other_id)
    stats = deliver_due(bureau.engine, Settings(**WEBHOOK), bureau.keyring, now=T0)
    assert (stats.delivered, stats.retrying) == (1, 1)
    assert bureau.notice(bad).status is NotificationStatus.pending
    assert bureau.notice(good).status is NotificationStatus.delivered
    assert hook.refs() == [good]


# -- two workers -----------------------------------------------------------------------------
def test_two_workers_never_send_one_notice_twice(bureau, hook):
    if bureau.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer and no row locks: run a single worker there")
    hook.delay = 0.02  # long enough for the workers to overlap on every notice
    bureau.set_webhook(BANK, hook.url)
    refs = {bureau.enqueue(institution_id=bureau.bank_id) for _ in range(30)}
    _secret(bureau, BANK)  # binds the index key once, before the race
    settings = Settings(**WEBHOOK)
    results, errors = [], []

    def worker() -> None:
        try:
            results.append(deliver_due(bureau.sessions, settings, bureau.keyring, now=T0))
        except Exception as exc:  # surfaced below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    sent = hook.refs()
    assert sorted(sent) == sorted(refs)  # each exactly once
    assert sum(r.delivered for r in results) == 30
    assert all(r.delivered > 0 for r in results), [r.delivered for r in results]
    with bureau.db() as s:
        pending = s.scalar(
            select(func.count()).where(Notification.status != NotificationStatus.delivered)
        )
    assert pending == 0


def test_a_freeze_placed_reaches_the_subjects_gateway(bureau, hook):
    """End to end with a notice written by the change itself (`place_freeze`)."""
    with bureau.db() as s:
        freeze = place_freeze(s, subject_ref=bureau.zhang, actor="test", now=T0).row
    settings = Settings(**WEBHOOK, notify_subject_webhook_url=f"{hook.url}/gateway")
    assert deliver_due(bureau.engine, settings, bureau.keyring, now=T0).delivered == 1
    [received] = hook.received
    doc = orjson.loads(received.body)
    assert doc["kind"] == "freeze.placed"
    assert doc["recipient"] == {"kind": "subject", "subject_ref": bureau.zhang}
    assert doc["payload"]["ref"] == freeze.ref
    assert doc["payload"]["placed_at"] == T0.isoformat()
