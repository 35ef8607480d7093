"""Reading furnishing files: whole-file format errors write nothing; bad lines are quarantined."""

from __future__ import annotations

import csv
from datetime import date

import orjson
import pytest

from credo.errors import FormatError
from credo.furnishing.format import csv_columns
from credo.furnishing.reader import sniff

from .bureau import (
    AS_OF,
    BANK,
    OTHER_BANK,
    account,
    add_institution,
    errors_by_line,
    header,
    person,
    run,
    small_bureau,
    status,
    table_counts,
    write_csv,
    write_jsonl,
)


def _jsonl_bytes(*rows) -> bytes:
    return b"\n".join(orjson.dumps(r) for r in rows) + b"\n"


def _gbk_csv(rows: int = 1) -> bytes:
    text = ",".join(csv_columns()) + "\n"
    text += "subject,person,prc_id,110105198503141237,张三\n" * rows
    return text.encode("gbk")


def _mostly_gbk_jsonl() -> bytes:
    good = orjson.dumps(person())
    bad = orjson.dumps(person(name="张三")).decode().encode("gbk")
    return b"\n".join([orjson.dumps(header()), good, bad, bad, bad]) + b"\n"


FORMAT_CASES = {
    "binary": ("f.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
    "gbk": ("f.csv", _gbk_csv(), "GBK"),
    "gbk_many_rows": ("f.csv", _gbk_csv(500), "GBK"),
    "mostly_gbk_jsonl": ("f.jsonl", _mostly_gbk_jsonl(), "GBK"),
    "gbk_header": (
        "f.jsonl",
        orjson.dumps(header(institution="银行")).decode().encode("gbk"),
        "GBK",
    ),
    "empty": ("f.jsonl", b"", "is empty"),
    "no_header_jsonl": ("f.jsonl", _jsonl_bytes(person(), account()), "missing header"),
    "not_json": ("f.jsonl", b"hello world\n", "line 1 is not JSON"),
    "wrong_format": ("f.jsonl", _jsonl_bytes(header(format="metro2"), person()), "format must"),
    "wrong_version": (
        "f.jsonl",
        _jsonl_bytes(header(format_version="2.0"), person()),
        "format_version '2.0' is not supported",
    ),
    "bad_as_of": ("f.jsonl", _jsonl_bytes(header(as_of="yesterday")), "as_of is not a date"),
    "csv_no_record_type": (
        "f.csv",
        b"subject_type,id_type,id_number,name\nperson,prc_id,1,x\n",
        "include record_type",
    ),
    "csv_no_known_columns": ("f.csv", b"record_type,foo,bar\nsubject,1,2\n", "no furnishing"),
    "csv_duplicate_columns": (
        "f.csv",
        b"record_type,name,id_number,name\nsubject,a,b,c\n",
        "duplicate columns in header: name",
    ),
}


@pytest.mark.parametrize("case", FORMAT_CASES, ids=str)
def test_sniff_rejects_files_that_are_not_the_format(tmp_path, case):
    name, content, words = FORMAT_CASES[case]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(FormatError) as exc:
        sniff(path)
    message = str(exc.value)
    assert words in message
    assert "\n" not in message  # one clear line
    assert "110105198503141237" not in message


def test_gbk_hint_names_the_encoding(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(_gbk_csv())
    with pytest.raises(FormatError, match="re-save it as UTF-8"):
        sniff(path)


def test_missing_file(tmp_path):
    with pytest.raises(FormatError, match="does not exist"):
        sniff(tmp_path / "nope.jsonl")


def test_sniff_accepts_a_bom_and_detects_the_format_without_a_suffix(tmp_path):
    path = tmp_path / "upload.dat"
    path.write_bytes(b"\xef\xbb\xbf" + _jsonl_bytes(header(), person()))
    head = sniff(path)
    assert (head.fmt, head.institution, head.as_of) == ("jsonl", BANK, AS_OF)
    csv_path = write_csv(tmp_path / "x.txt", [person()])
    assert sniff(csv_path).fmt == "csv"


@pytest.fixture
def bank(session):
    add_institution(session)
    add_institution(session, OTHER_BANK)
    session.flush()
    return session


@pytest.mark.parametrize("case", FORMAT_CASES, ids=str)
def test_a_file_that_is_not_the_format_writes_nothing(bank, tmp_path, keyring, cn, case):
    name, content, words = FORMAT_CASES[case]
    path = tmp_path / name
    path.write_bytes(content)
    before = table_counts(bank)
    with pytest.raises(FormatError, match=words.replace("(", r"\(")):
        run(bank, path, keyring, cn)
    assert table_counts(bank) == before


@pytest.mark.parametrize(
    ("kwargs", "file_kwargs", "words"),
    [
        ({"institution_code": OTHER_BANK}, {}, "names institution 'BANK_A', not 'BANK_B'"),
        ({"today": date(2024, 6, 1)}, {}, "batch date 2024-06-30 is in the future"),
        ({"as_of": date(2024, 5, 31)}, {}, "differs from --as-of 2024-05-31"),
    ],
)
def test_header_disagreements_fail_whole_and_write_nothing(
    bank, tmp_path, keyring, cn, kwargs, file_kwargs, words
):
    path = write_jsonl(tmp_path / "f.jsonl", small_bureau(), **file_kwargs)
    before = table_counts(bank)
    with pytest.raises(FormatError, match=words):
        run(bank, path, keyring, cn, **kwargs)
    assert table_counts(bank) == before


def test_future_as_of_given_on_the_command_line_for_csv(bank, tmp_path, keyring, cn):
    path = write_csv(tmp_path / "f.csv", small_bureau())
    before = table_counts(bank)
    with pytest.raises(FormatError, match="in the future"):
        run(bank, path, keyring, cn, as_of=date(2024, 7, 2))
    assert table_counts(bank) == before


def test_unknown_institution(bank, tmp_path, keyring, cn):
    from credo.errors import NotFound

    path = write_jsonl(tmp_path / "f.jsonl", small_bureau(), institution="NOBODY")
    before = table_counts(bank)
    with pytest.raises(NotFound):
        run(bank, path, keyring, cn, institution_code="NOBODY")
    assert table_counts(bank) == before


def test_matching_as_of_on_the_command_line_is_fine(bank, tmp_path, keyring, cn):
    path = write_jsonl(tmp_path / "f.jsonl", small_bureau())
    report = run(bank, path, keyring, cn, as_of=AS_OF)
    assert report.accepted == 15


def test_csv_without_as_of_uses_today(bank, tmp_path, keyring, cn):
    path = write_csv(tmp_path / "f.csv", small_bureau())
    report = run(bank, path, keyring, cn, today=date(2024, 8, 15))
    assert report.as_of == "2024-08-15"
    assert report.accepted == 15


# -- row-level problems -------------------------------------------------------------------


def test_bad_jsonl_lines_are_quarantined_with_their_line_numbers(bank, tmp_path, keyring, cn):
    good = [orjson.dumps(r) for r in (person(), account(), status())]
    lines = [
        orjson.dumps(header()),  # 1
        good[0],  # 2
        b'{"record_type": "status", "account_ref": ',  # 3: truncated JSON
        b"[1, 2, 3]",  # 4: not an object
        b"",  # 5: blank lines are skipped, not counted
        b'{"record_type": "subject", "name": "\xff\xfe"}',  # 6: invalid UTF-8
        good[1],  # 7
        good[2],  # 8
    ]
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = run(bank, path, keyring, cn)
    assert (report.lines, report.accepted, report.rejected) == (6, 3, 3)
    errs = errors_by_line(report)
    assert sorted(errs) == [3, 4, 6]
    assert "not valid JSON" in errs[3][0]["reason"]
    assert errs[4][0]["reason"] == "not a JSON object"
    assert "not valid UTF-8" in errs[6][0]["reason"]
    assert all(e[0]["record_type"] is None for e in errs.values())


def test_bad_csv_lines_are_quarantined_with_their_line_numbers(bank, tmp_path, keyring, cn):
    path = write_csv(tmp_path / "f.csv", [person(), account(), status()])
    lines = path.read_bytes().split(b"\r\n")
    width = len(csv_columns())
    bad_utf8 = b"status,\xff\xfe" + b"," * (width - 2)
    short = b"status,CC-1,2024-05"
    # header, subject, [bad utf-8], account, [short row], status
    new = [lines[0], lines[1], bad_utf8, lines[2], short, lines[3], b""]
    path.write_bytes(b"\r\n".join(new))
    report = run(bank, path, keyring, cn)
    assert (report.lines, report.accepted, report.rejected) == (5, 3, 2)
    errs = errors_by_line(report)
    assert sorted(errs) == [3, 5]
    assert "not valid UTF-8" in errs[3][0]["reason"]
    assert f"has 3 cells; the header has {width}" in errs[5][0]["reason"]


def test_csv_line_numbers_count_physical_lines_of_quoted_cells(bank, tmp_path, keyring, cn):
    cols = csv_columns()
    path = tmp_path / "f.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        multi = person(address="上海市\n浦东新区")
        w.writerow([str(multi.get(c, "")) for c in cols])  # lines 2-3
        bad = status(balance="-1")
        w.writerow([str(bad.get(c, "")) for c in cols])  # line 4
    report = run(bank, path, keyring, cn, as_of=AS_OF)
    assert report.accepted == 1
    assert [e["line"] for e in report.errors] == [4]


def test_raw_line_of_an_unreadable_row_is_kept_encrypted(bank, tmp_path, keyring, cn):
    from sqlalchemy import select

    from credo.furnishing.models import QuarantinedRow

    path = tmp_path / "f.jsonl"
    path.write_bytes(_jsonl_bytes(header()) + b'{"record_type": "subject", \n')
    run(bank, path, keyring, cn)
    row = bank.scalars(select(QuarantinedRow)).one()
    assert row.line_no == 2
    assert keyring.decrypt(row.raw_enc, column="quarantined_row.raw") == (
        '{"record_type": "subject", '
    )
