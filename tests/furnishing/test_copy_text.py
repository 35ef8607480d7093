"""Values written as PostgreSQL COPY text come back as they were (furnishing's COPY inserts)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text

from credo.furnishing.store import _NULL, _copy_field, _copy_text

T0, T1 = datetime(2026, 1, 2, 3, 4, 5, 6, UTC), datetime(1970, 1, 1, tzinfo=UTC)
VALUES = [
    ("plain", b"\x00\x01\xff", date(2024, 2, 29), T0, 7, True),
    ("tab\there\\back\nline\rcr \\N", b"", date(1, 1, 1), T1, 0, False),
    ("张三 ＡＢＣ", b"\\x41", date(9999, 12, 31), T0, -(2**62), None),
    (None, None, None, None, None, None),
]


def test_copy_text_round_trips_every_kind_of_value(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    with engine.connect() as conn:
        conn.execute(
            text("CREATE TEMP TABLE copy_probe (t text, b bytea, d date, ts timestamptz, "
                 "n bigint, f boolean, i serial)")
        )  # fmt: skip
        # the general writer, then the by-type one the inserts use
        body = "".join("\t".join(_copy_field(v) for v in row) + "\n" for row in VALUES)
        body += "".join(
            "\t".join(_NULL if v is None else _copy_text(v) for v in row) + "\n" for row in VALUES
        )
        cur = conn.connection.driver_connection.cursor()
        with cur.copy("COPY copy_probe (t, b, d, ts, n, f) FROM STDIN") as copy:
            copy.write(body.encode())
        got = conn.execute(text("SELECT t, b, d, ts, n, f FROM copy_probe ORDER BY i")).all()
    assert [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in got] == [
        *VALUES,
        *VALUES,
    ]


def test_copy_text_refuses_what_it_cannot_write():
    with pytest.raises(TypeError, match="no COPY text form"):
        _copy_field(object())
