"""Streaming writers for furnishing files in the Credo furnishing format v1.

A file must list subjects, then accounts, statuses, inquiries and public records, but the story
produces all of them subject by subject. Each section therefore streams into its own part file;
:meth:`FileSink.close` concatenates the parts. Memory stays flat however many rows are written.
"""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import IO, Any

import orjson

__all__ = ["CSV_COLUMNS", "SECTIONS", "FileSink"]

SECTIONS: tuple[str, ...] = ("subject", "account", "status", "inquiry", "public_record")

# The union of the fields of all record types, record_type first (format v1, CSV flavour).
CSV_COLUMNS: tuple[str, ...] = (
    "record_type",
    "subject_type",
    "id_type",
    "id_number",
    "name",
    "birth_date",
    "phone",
    "address",
    "gender",
    "region",
    "account_ref",
    "account_type",
    "opened_on",
    "closed_on",
    "currency",
    "credit_limit",
    "principal",
    "term_months",
    "status",
    "period",
    "balance",
    "amount_due",
    "amount_paid",
    "days_past_due",
    "kind",
    "authority",
    "case_ref",
    "amount",
    "filed_on",
    "resolved_on",
    "inquired_on",
    "purpose",
    "inquiry_ref",
    "subject_notified_on",
)
_CSV_FIELDS = frozenset(CSV_COLUMNS)
_BUFFER = 1 << 20


def _dumps_line(row: dict) -> bytes:
    return orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE)


class FileSink:
    """One furnishing file being written: JSON Lines with a header record, or CSV."""

    def __init__(
        self, path: Path, *, institution: str, file_format: str, as_of: date, tmp_dir: Path
    ) -> None:
        if file_format not in ("jsonl", "csv"):
            raise ValueError(f"file_format must be 'jsonl' or 'csv'; got {file_format!r}")
        self.path = path
        self.institution = institution
        self.format = file_format
        self.as_of = as_of
        self.counts = dict.fromkeys(SECTIONS, 0)
        self.records_by_type: Counter[str] = Counter()
        self._parts = {s: tmp_dir / f"{path.stem}.{i}.part" for i, s in enumerate(SECTIONS)}
        self._files: dict[str, IO] = {}
        self._csv: dict[str, Any] = {}
        for section, part in self._parts.items():
            if file_format == "jsonl":
                self._files[section] = part.open("wb", buffering=_BUFFER)
            else:
                handle = part.open("w", encoding="utf-8", newline="", buffering=_BUFFER)
                self._files[section] = handle
                self._csv[section] = csv.writer(handle, lineterminator="\n")
        self.lines = 0

    def write(self, section: str, row: dict) -> int:
        """Append ``row`` to ``section``; return its 0-based index inside the section."""
        self.write_many(section, (row,))
        self.records_by_type[row["record_type"]] += 1
        return self.counts[section] - 1

    def write_many(self, section: str, rows: Sequence[dict], record_type: str = "") -> None:
        """Append ``rows``; when ``record_type`` is given, count them all as that type."""
        if self.format == "jsonl":
            self._files[section].writelines(map(_dumps_line, rows))
        else:
            if any(not _CSV_FIELDS.issuperset(row) for row in rows):
                raise ValueError("a CSV row carries a field that has no column")
            # csv writes None as an empty cell: absent fields become empty.
            self._csv[section].writerows([list(map(row.get, CSV_COLUMNS)) for row in rows])
        self.counts[section] += len(rows)
        if record_type:
            self.records_by_type[record_type] += len(rows)

    def line_of(self, section: str, index: int) -> int:
        """The 1-based line number in the finished file of row ``index`` of ``section``."""
        before = 0
        for name in SECTIONS:
            if name == section:
                break
            before += self.counts[name]
        return 2 + before + index  # line 1 is the header record or the CSV header row

    def close(self) -> None:
        """Write the header, concatenate the section parts and remove them."""
        for handle in self._files.values():
            handle.close()
        with self.path.open("wb") as out:
            if self.format == "jsonl":
                header = {
                    "record_type": "header",
                    "format": "credo-furnishing",
                    "format_version": "1.0",
                    "institution": self.institution,
                    "as_of": self.as_of.isoformat(),
                }
                out.write(orjson.dumps(header) + b"\n")
            else:
                out.write((",".join(CSV_COLUMNS) + "\n").encode())
            for part in self._parts.values():
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, _BUFFER)
                part.unlink()
        self.lines = 1 + sum(self.counts.values())
