"""Streaming readers for furnishing files (JSON Lines and CSV) with an up-front format check.

`open_furnishing` reads only the first block to decide whether the file is the Credo format at
all (not binary, UTF-8, a header present); a file that fails fails whole with one `FormatError`
and nothing is written. After that, rows stream one at a time in constant memory; a row that
cannot be decoded becomes a row-level error, never a crash.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from credo.errors import FormatError
from credo.furnishing.format import ALL_FIELDS, FORMAT_NAME, SUPPORTED_VERSIONS

SNIFF_BYTES = 64 * 1024
BOM = codecs.BOM_UTF8


@dataclass(slots=True)
class RawRow:
    """One data row: its 1-based line number and either the decoded dict or a decode error."""

    line: int
    data: dict[str, Any] | None
    error: str | None = None
    #: the line as furnished, for the quarantine: text, or a JSON line's raw bytes
    #: (`line_text` decodes them)
    text: str | bytes | None = None


@dataclass(slots=True)
class FileHeader:
    fmt: str
    format_version: str
    institution: str | None = None
    as_of: date | None = None
    columns: list[str] = field(default_factory=list)


def detect_format(path: Path, head: bytes) -> str:
    """'jsonl' or 'csv', from the file name or else the first character."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    return "jsonl" if head.lstrip(BOM).lstrip().startswith(b"{") else "csv"


def _check_text(path: Path, head: bytes, *, complete: bool = True) -> None:
    if not head:
        raise FormatError(f"{path.name} is empty")
    if b"\x00" in head:
        raise FormatError(f"{path.name} is a binary file, not a furnishing file")
    # Decide per line: a file in another encoding fails whole, but one undecodable line in an
    # otherwise UTF-8 file is a row-level error (quarantined like any other bad row).
    lines = head.split(b"\n")
    offset, data_lines, bad = 0, 0, 0
    first_bad: tuple[int, bytes] | None = None
    for i, line in enumerate(lines):
        last = i == len(lines) - 1
        try:
            # the sniffed block may end inside a character: its last line is decoded leniently
            codecs.getincrementaldecoder("utf-8")().decode(line, final=complete or not last)
        except UnicodeDecodeError as exc:
            first_bad = first_bad or (offset + exc.start, line)
            if i == 0:
                bad = data_lines = 1  # the header line itself: the file is not the format
                break
            bad += 1
        if i > 0 and line.strip():
            data_lines += 1
        offset += len(line) + 1
    if first_bad is None or bad * 2 <= data_lines:
        return
    start, line = first_bad
    hint = ""
    try:
        line.decode("gb18030")
        hint = " (it looks like GBK/GB18030: re-save it as UTF-8)"
    except UnicodeDecodeError:
        pass
    raise FormatError(
        f"{path.name} is not UTF-8 at byte {start}{hint}; the furnishing format is UTF-8"
    )


def _jsonl_header(path: Path, first: bytes) -> FileHeader:
    try:
        obj = orjson.loads(first)
    except orjson.JSONDecodeError:
        raise FormatError(
            f"{path.name}: line 1 is not JSON; a JSON Lines furnishing file starts with a header "
            f'record {{"record_type": "header", "format": "{FORMAT_NAME}", ...}}'
        ) from None
    if not isinstance(obj, dict) or obj.get("record_type") != "header":
        raise FormatError(
            f"{path.name}: missing header: line 1 must be the header record "
            f'{{"record_type": "header", "format": "{FORMAT_NAME}", "format_version": "1.0", '
            '"institution": ..., "as_of": ...}'
        )
    if obj.get("format") != FORMAT_NAME:
        raise FormatError(f"{path.name}: header format must be {FORMAT_NAME!r}")
    version = str(obj.get("format_version", ""))
    if version not in SUPPORTED_VERSIONS:
        raise FormatError(
            f"{path.name}: format_version {version!r} is not supported "
            f"(supported: {', '.join(sorted(SUPPORTED_VERSIONS))})"
        )
    as_of = None
    if obj.get("as_of") is not None:
        try:
            as_of = date.fromisoformat(str(obj["as_of"]))
        except ValueError:
            raise FormatError(
                f"{path.name}: header as_of is not a date: {obj['as_of']!r}"
            ) from None
    inst = obj.get("institution")
    return FileHeader("jsonl", version, str(inst) if inst is not None else None, as_of)


def _csv_header(path: Path, first: bytes) -> FileHeader:
    try:
        cols = next(csv.reader([first.decode("utf-8", "replace")]), [])
    except csv.Error as exc:  # a bare carriage return inside the line, say
        raise FormatError(f"{path.name}: the header row is not valid CSV ({exc})") from None
    cols = [c.strip() for c in cols]
    if "record_type" not in cols:
        raise FormatError(
            f"{path.name}: missing header: the first row must name the columns and include "
            "record_type"
        )
    known = [c for c in cols if c in ALL_FIELDS]
    if len(known) < 2:
        raise FormatError(f"{path.name}: the header row names no furnishing columns")
    dupes = sorted({c for c in cols if cols.count(c) > 1})
    if dupes:
        raise FormatError(f"{path.name}: duplicate columns in header: {', '.join(dupes)}")
    return FileHeader("csv", "1.0", columns=cols)


def sniff(path: Path) -> FileHeader:
    """Check that `path` is a furnishing file at all; raise `FormatError` if not."""
    if not path.is_file():
        raise FormatError(f"{path} does not exist or is not a file")
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
        complete = len(head) < SNIFF_BYTES or not fh.read(1)
    _check_text(path, head, complete=complete)
    fmt = detect_format(path, head)
    body = head[len(BOM) :] if head.startswith(BOM) else head
    first = body.split(b"\n", 1)[0].rstrip(b"\r")
    return _jsonl_header(path, first) if fmt == "jsonl" else _csv_header(path, first)


class HashingReader(io.RawIOBase):
    """Wraps a binary file, hashing (SHA-256) and counting every byte read."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self.sha256 = hashlib.sha256()
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        data = self._fh.read(len(buf))
        n = len(data)
        buf[:n] = data
        self.sha256.update(data)
        self.bytes_read += n
        return n


def iter_jsonl(stream: BinaryIO) -> Iterator[RawRow]:
    """Rows of a JSON Lines file after its header line.

    A good line keeps its raw bytes as `RawRow.text` (decoded only if it is quarantined,
    `line_text`); orjson checks the UTF-8 while parsing, and a line it refuses is decoded to
    say which of the two is wrong.
    """
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    lines = iter(stream)
    next(lines, None)  # the header, checked by `sniff`
    for line_no, raw in enumerate(lines, start=2):
        try:
            obj = loads(raw)
        except decode_error as exc:
            raw = raw.rstrip(b"\r\n")
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as bad:
                yield RawRow(line_no, None, f"not valid UTF-8 at byte {bad.start} of the line")
                continue
            yield RawRow(line_no, None, f"not valid JSON: {exc.msg}", text)
            continue
        if type(obj) is not dict:
            yield RawRow(line_no, None, "not a JSON object", line_text(raw))
            continue
        yield RawRow(line_no, obj, None, raw)


def line_text(raw: str | bytes | None) -> str | None:
    """A row's text as furnished (`RawRow.text` holds a JSON line's undecoded bytes)."""
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "replace").rstrip("\r\n")
    return raw


def iter_csv(stream: BinaryIO) -> Iterator[RawRow]:
    """Rows of a CSV file as dicts without empty cells; line numbers are physical lines."""
    text_stream = io.TextIOWrapper(
        stream, encoding="utf-8-sig", errors="surrogateescape", newline=""
    )
    reader = csv.reader(text_stream)
    header = [c.strip() for c in next(reader)]
    width = len(header)
    while True:
        line_no = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RawRow(line_no, None, f"malformed CSV: {exc}")
            continue
        if not cells or all(not c.strip() for c in cells):
            continue
        joined = ",".join(cells)
        try:
            # undecodable bytes come through errors="surrogateescape" as lone surrogates,
            # which cannot be encoded back: one C-level pass instead of a scan per character
            joined.encode("utf-8")
        except UnicodeEncodeError:
            yield RawRow(line_no, None, "not valid UTF-8")
            continue
        if len(cells) != width:
            yield RawRow(line_no, None, f"has {len(cells)} cells; the header has {width}", joined)
            continue
        # a cell with anything but whitespace in it (`v.strip()` without building new strings)
        yield RawRow(
            line_no,
            {k: v for k, v in zip(header, cells, strict=True) if v and not v.isspace()},
            None,
            joined,
        )
