"""``credo repair plan`` (as registered in the ``credo`` command) on a committed SQLite bureau."""

from __future__ import annotations

import base64

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from credo.audit.models import AuditEntry
from credo.cli import app
from credo.repair import plan as repair
from credo.subject.models import Subject
from furnishing.bureau import WANG_ID

from .conftest import AS_OF

runner = CliRunner()


@pytest.fixture
def cli_bureau(engine, session, bureau, monkeypatch) -> str:
    """王五's bureau committed and configured as the CLI's database; returns 王五's ref."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the CLI runs on the SQLite file")
    ref = session.get(Subject, bureau).ref
    session.commit()
    monkeypatch.setenv("CREDO_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("CREDO_SECRET_KEY", base64.b64encode(bytes(range(32))).decode())
    monkeypatch.setenv("CREDO_ACTOR", "ops:counter-7")
    from credo.config import get_settings
    from credo.db import get_engine
    from credo.security import get_keyring

    for cached in (get_settings, get_engine, get_keyring):
        cached.cache_clear()
    return ref


def _served(engine) -> list[AuditEntry]:
    with Session(engine) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == "repair_plan.serve")))


def test_json_is_the_plan_and_the_read_is_ledgered(cli_bureau, engine, bureau):
    args = ["repair", "plan", cli_bureau, "--lang", "en", "--as-of", "2024-06-30", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = orjson.loads(result.stdout)
    with Session(engine) as s:
        expected = repair.to_dict(repair.repair_plan(s, bureau, as_of=AS_OF, lang="en"))
    assert doc == orjson.loads(orjson.dumps(expected))
    (entry,) = _served(engine)
    assert (entry.actor, entry.target) == ("ops:counter-7", f"subject:{cli_bureau}")
    assert orjson.loads(entry.details)["channel"] == "cli"


def test_the_table_lists_every_action_and_the_note(cli_bureau, engine, bureau):
    result = runner.invoke(app, ["repair", "plan", cli_bureau, "--as-of", "2024-06-30"])
    assert result.exit_code == 0, result.output
    with Session(engine) as s:
        plan = repair.repair_plan(s, bureau, as_of=AS_OF, lang="zh")
    for a in plan.actions:
        assert a.code in result.stdout
    flat = "".join(result.stdout.split())  # the note is wrapped to the terminal's width
    assert "信用修复计划" in flat and "准确的负面信息在保存期限届满前不能删除" in flat
    assert WANG_ID not in result.stdout and "王五" not in result.stdout
    assert len(_served(engine)) == 1


@pytest.mark.parametrize(
    ("args", "says"),
    [(["NOSUCHREF"], "no subject with reference 'NOSUCHREF'"),
     (["{ref}", "--lang", "fr"], "--lang must be zh or en; got 'fr'"),
     (["{ref}", "--as-of", "30/06/2024"], "--as-of must be YYYY-MM-DD; got '30/06/2024'"),
     (["{ref}", "--as-of", "2020-01-01"], "no credit account on file by 2020-01-01")],
)  # fmt: skip
def test_bad_input_is_one_red_line_and_nothing_is_ledgered(cli_bureau, engine, args, says):
    with Session(engine) as s:
        before = s.scalar(select(func.count()).select_from(AuditEntry))
    result = runner.invoke(app, ["repair", "plan", *(a.format(ref=cli_bureau) for a in args)])
    assert result.exit_code == 2
    assert says in " ".join(result.output.split())
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == before
