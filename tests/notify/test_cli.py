"""``credo notify deliver | list | retry | gateway-secret`` and ``credo institution webhook``,
as registered in the ``credo`` command, against the test database."""

from __future__ import annotations

import base64
import logging
from datetime import timedelta

import orjson
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from credo.cli import app
from credo.db import utcnow
from credo.institution.service import get_by_code
from credo.notify.channels import GATEWAY, signing_secret
from credo.notify.models import Notification, NotificationStatus
from furnishing.bureau import BANK, OTHER_BANK

#: the secret of the `keyring` fixture
TEST_SECRET = bytes(range(32))

runner = CliRunner()


@pytest.fixture
def cli(bureau, monkeypatch):
    """The bureau configured as the CLI's database and key."""
    monkeypatch.setenv(
        "CREDO_DATABASE_URL", bureau.engine.url.render_as_string(hide_password=False)
    )
    monkeypatch.setenv("CREDO_SECRET_KEY", base64.b64encode(TEST_SECRET).decode())
    monkeypatch.setenv("CREDO_ACTOR", "cli:test")
    from credo.config import get_settings
    from credo.db import get_engine
    from credo.security import get_keyring

    for cached in (get_settings, get_engine, get_keyring):
        cached.cache_clear()
    yield bureau
    get_engine().dispose()


def _run(*args: str, code: int = 0):
    r = runner.invoke(app, list(args))
    assert r.exit_code == code, (r.exit_code, r.output)
    return r


def _fail(bureau, ref: str) -> None:
    """Make notice `ref` one the worker gave up on."""
    with bureau.db() as s:
        n = s.scalar(select(Notification).where(Notification.ref == ref))
        n.status, n.attempts, n.last_error = (
            NotificationStatus.failed,
            8,
            "HTTP 500 from the webhook",
        )


def _webhook_url(bureau) -> str | None:
    with bureau.db() as s:
        return get_by_code(s, code=BANK).webhook_url


def test_deliver_sends_what_is_due_and_prints_a_summary(cli):
    refs = [cli.enqueue(at=utcnow() - timedelta(seconds=1)) for _ in range(3)]
    later = cli.enqueue(at=utcnow() + timedelta(hours=1))
    r = _run("notify", "deliver")
    assert "delivered" in r.output and "log 3" in r.output
    for ref in refs:
        assert cli.notice(ref).status is NotificationStatus.delivered
    assert cli.notice(later).status is NotificationStatus.pending
    assert cli.ledger("notify.deliver")[0].actor == "cli:test"


def test_deliver_writes_the_log_lines_even_when_logging_is_quiet(cli, caplog):
    notify_log = logging.getLogger("credo.notify")
    before = notify_log.level
    notify_log.setLevel(logging.NOTSET)  # the root's WARNING applies, as after basicConfig
    try:
        ref = cli.enqueue(at=utcnow() - timedelta(seconds=1))
        _run("notify", "deliver")
    finally:
        notify_log.setLevel(before)
    assert [r.notice["ref"] for r in caplog.records if r.name == "credo.notify"] == [ref]


def test_deliver_limit_is_checked(cli):
    r = _run("notify", "deliver", "--limit", "0", code=2)
    assert "--limit" in r.output


def _listed(*args: str) -> list[dict]:
    return orjson.loads(_run("notify", "list", "--json", *args).stdout)


def test_list_filters_by_status_subject_and_institution(cli):
    to_zhang = cli.enqueue()
    to_li = cli.enqueue(subject_id=cli.li_id)
    to_bank = cli.enqueue(institution_id=cli.bank_id)
    _fail(cli, to_li)
    assert [i["ref"] for i in _listed()] == [to_bank, to_li, to_zhang]
    [failed] = _listed("--status", "failed")
    assert failed["ref"] == to_li and failed["recipient"] == f"subject:{cli.li}"
    assert (failed["attempts"], failed["last_error"]) == (8, "HTTP 500 from the webhook")
    assert failed["next_attempt_at"] is None
    assert [i["ref"] for i in _listed("--subject", cli.zhang)] == [to_zhang]
    [bank] = _listed("--institution", BANK.lower())
    assert bank["recipient"] == f"institution:{BANK}" and bank["status"] == "pending"
    assert [i["ref"] for i in _listed("--limit", "1")] == [to_bank]
    assert _listed("--institution", OTHER_BANK) == []


def test_list_shows_a_table(cli, monkeypatch):
    from credo.cli import common

    monkeypatch.setattr(common.console, "_width", 160)
    ref = cli.enqueue()
    _fail(cli, ref)
    out = _run("notify", "list").output
    assert ref in out and f"subject:{cli.zhang}" in out
    assert "failed, 8 tries" in out and "HTTP 500 from the webhook" in out
    assert "no notices" in _run("notify", "list", "--status", "delivered").output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--status", "lost"], "status must be one of pending, delivered, failed; got 'lost'"),
        (["--subject", "S0000000000"], "no subject 'S0000000000'"),
        (["--institution", "NOBANK"], "institution 'NOBANK' is not registered"),
    ],
)
def test_list_names_a_bad_filter(cli, args, message):
    r = _run("notify", "list", *args, code=2)
    assert message in " ".join(r.output.split())


def test_retry_puts_a_failed_notice_back_in_the_queue(cli):
    ref = cli.enqueue()
    _fail(cli, ref)
    r = _run("notify", "retry", ref.lower())
    assert f"notice {ref} is pending again" in r.output
    n = cli.notice(ref)
    assert (n.status, n.attempts) == (NotificationStatus.pending, 0)
    assert n.next_attempt_at <= utcnow()
    [entry] = cli.ledger("notify.retry")
    assert entry.target == f"notification:{ref}"
    assert orjson.loads(entry.details)["previous_attempts"] == 8
    # it goes out with the next run
    _run("notify", "deliver")
    assert cli.notice(ref).status is NotificationStatus.delivered


def test_retry_refuses_what_is_not_failed_and_changes_nothing(cli):
    ref = cli.enqueue()
    r = _run("notify", "retry", ref, code=2)
    assert "is pending; only a failed notice can be retried" in r.output
    r = _run("notify", "retry", "N000000000000", code=2)
    assert "no notice 'N000000000000'" in r.output
    assert cli.notice(ref).attempts == 0
    assert cli.ledger("notify.retry") == []


def test_institution_webhook_sets_the_url_and_prints_the_signing_secret(cli):
    r = _run("institution", "webhook", BANK, "https://hooks.bank-a.example/credo")
    secret = r.stdout.strip().splitlines()[-1]
    assert secret == signing_secret(cli.keyring, BANK)
    assert _webhook_url(cli) == "https://hooks.bank-a.example/credo"
    [entry] = cli.ledger("institution.webhook")
    assert secret not in entry.details
    r = _run("institution", "webhook", BANK, "--clear")
    assert "webhook cleared" in r.output
    assert _webhook_url(cli) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["ftp://files.example/x"],
            "webhook URL must be http(s)://host/...; got 'ftp://files.example/x'",
        ),
        (["https://user:pw@hooks.example/x"], "webhook URL must not carry a user name or password"),
        (["https://hooks.example/" + "x" * 500], "webhook URL must be at most 500 characters"),
        ([], "give a URL or --clear"),
        (["https://hooks.example/x", "--clear"], "give a URL or --clear"),
    ],
)
def test_institution_webhook_refuses_a_bad_url_and_changes_nothing(cli, args, message):
    cli.set_webhook(BANK, "https://old.example/hook")
    r = _run("institution", "webhook", BANK, *args, code=2)
    assert message in " ".join(r.output.split())
    assert _webhook_url(cli) == "https://old.example/hook"
    assert cli.ledger("institution.webhook") == []


def test_institution_webhook_of_an_unknown_institution(cli):
    r = _run("institution", "webhook", "NOBANK", "https://hooks.example/x", code=2)
    assert "institution 'NOBANK' is not registered" in r.output


def test_gateway_secret_is_the_one_that_signs_notices_to_subjects(cli):
    r = _run("notify", "gateway-secret")
    assert r.stdout.strip().splitlines()[-1] == signing_secret(cli.keyring, GATEWAY)
