"""Running a Typer app in the CLI tests, against the configured (temporary SQLite) database."""

from __future__ import annotations

import typer
from click.testing import Result
from typer.testing import CliRunner

from credo.config import get_profile
from credo.db import get_engine, session_scope
from credo.migrate import ensure_schema
from credo.security import get_keyring
from furnishing.bureau import BANK, LI_ID, ZHANG_ID, furnish_small_bureau, subject_of

runner = CliRunner()


def furnished_refs(tmp_path) -> dict[str, str]:
    """Migrate the configured database and furnish the small bureau by BANK into it; the refs
    of 张三 and 李四 by name (``zhang``, ``li``)."""
    engine = get_engine()
    ensure_schema(engine)
    with session_scope(engine) as session:
        furnish_small_bureau(
            session, get_keyring(), get_profile("cn"), tmp_path / "b.jsonl", institutions=(BANK,)
        )
        return {
            name: subject_of(session, get_keyring(), number).ref
            for name, number in (("zhang", ZHANG_ID), ("li", LI_ID))
        }


def ok(app: typer.Typer, args: list[str]) -> Result:
    """Run `args`; the result, once it has exited 0."""
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result


def fails(app: typer.Typer, args: list[str], message: str) -> None:
    """Run `args`; it must exit 2 (bad input) with `message` in its output, however wrapped."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()), result.output
