"""Run the story for N subjects and stream the furnishing files, defects, corrections and truth."""

from __future__ import annotations

import csv
import random
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import orjson

from credo.synth.defects import DEFECT_KINDS, make_defect
from credo.synth.people import IdRegistry, Subject, make_subject, subject_row
from credo.synth.reference import INSTITUTIONS, Institution
from credo.synth.story import History, StoryParams, World, simulate_subject
from credo.synth.writer import FileSink

__all__ = ["FileInfo", "Manifest", "generate"]

CORRECTED_INSTITUTION = "BANK01"
_TRUTH_COLUMNS = (
    "subject_index",
    "subject_type",
    "id_type",
    "id_number",
    "latent_z",
    "ever_90dpd",
    "first_90dpd_period",
)
_RESEND_SHARE = 0.01  # of BANK01's statuses re-sent in the corrections batch


@dataclass(slots=True)
class FileInfo:
    """One written furnishing file, as listed in ``manifest.json``."""

    name: str
    institution: str
    format: str
    lines: int
    records_by_type: dict[str, int]
    defects: int
    order: int


@dataclass(slots=True)
class Manifest:
    """What a run wrote; ``files`` is in the order the files must be furnished."""

    seed: int
    subjects: int
    as_of: str
    defect_rate: float
    institutions: list[dict]
    files: list[FileInfo] = field(default_factory=list)
    expected: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


class _Run:
    """The state of one generation run: sinks, defect budgets, corrections, truth."""

    def __init__(
        self, out_dir: Path, seed: int, as_of: date, defect_rate: float, params: StoryParams
    ) -> None:
        self.out_dir = out_dir
        self.as_of = as_of
        self.defect_rate = defect_rate
        # Separate streams: the clean story does not depend on the defect rate.
        self.story_rng = random.Random(f"credo-synth-story-{seed}")
        self.defect_rng = random.Random(f"credo-synth-defects-{seed}")
        self.resend_rng = random.Random(f"credo-synth-resend-{seed}")
        self.world = World(as_of, self.story_rng, params)
        self.ids = IdRegistry()
        self.tmp = out_dir / ".parts"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.sinks: dict[str, FileSink] = {}
        for inst in INSTITUTIONS:
            name = f"{inst.code}.{inst.file_format}"
            self.sinks[inst.code] = FileSink(
                out_dir / name,
                institution=inst.code,
                file_format=inst.file_format,
                as_of=as_of,
                tmp_dir=self.tmp,
            )
        self.corrections = FileSink(
            out_dir / f"{CORRECTED_INSTITUTION}_corrections.jsonl",
            institution=CORRECTED_INSTITUTION,
            file_format="jsonl",
            as_of=as_of,
            tmp_dir=self.tmp,
        )
        self.expected = {"duplicates": 0, "corrections": 0}
        self._limit_raised = False
        # defect budget and position in the cycle of kinds, per institution
        self.budget = dict.fromkeys(self.sinks, 0.0)
        self.cursor = {code: i * 7 for i, code in enumerate(self.sinks)}
        self.defects: list[tuple[str, str, int, str, str, str]] = []
        self.defect_counts = dict.fromkeys(self.sinks, 0)

    def furnish(self, subject: Subject, history: History) -> None:
        """Write one subject's records to every institution that holds some."""
        for code in history.institutions():
            sink = self.sinks[code]
            sink.write("subject", subject_row(subject, self.story_rng))
            accounts = history.accounts.get(code, [])
            sink.write_many("account", accounts, "account")
            if code == CORRECTED_INSTITUTION:
                for row in accounts:
                    self._maybe_raise_limit(row)
            written = 1 + len(accounts)
            for block in history.statuses.get(code, ()):
                sink.write_many("status", block, "status")
                written += len(block)
                if code == CORRECTED_INSTITUTION:
                    self._resend(block)
            inquiries = sorted(history.inquiries.get(code, ()), key=lambda r: r["inquired_on"])
            sink.write_many("inquiry", inquiries, "inquiry")
            public = history.public_records.get(code, [])
            sink.write_many("public_record", public, "public_record")
            written += len(inquiries) + len(public)
            self._inject(code, subject, written)

    def _inject(self, code: str, subject: Subject, written: int) -> None:
        """Append defects so that they make up ``defect_rate`` of the file's rows."""
        rate = self.defect_rate
        if rate <= 0.0:
            return
        self.budget[code] += written * rate / (1.0 - rate)
        inst = next(i for i in INSTITUTIONS if i.code == code)
        sink = self.sinks[code]
        while self.budget[code] >= 1.0:
            defect = None
            while defect is None:
                kind = DEFECT_KINDS[self.cursor[code] % len(DEFECT_KINDS)]
                self.cursor[code] += 1
                defect = make_defect(
                    kind,
                    rng=self.defect_rng,
                    world=self.world,
                    ids=self.ids,
                    inst=inst,
                    subject=subject,
                    csv=inst.file_format == "csv",
                )
            for i, (section, row) in enumerate(defect.rows):
                index = sink.write(section, row)
                if i == defect.bad:
                    self.defects.append(
                        (code, section, index, defect.kind, defect.record_type, defect.field)
                    )
            self.defect_counts[code] += 1
            self.budget[code] -= 1.0

    def _resend(self, block: list[dict]) -> None:
        """Sample BANK01 statuses into the corrections batch: half as-is, half corrected."""
        rng = self.resend_rng
        for row in block:
            if rng.random() >= _RESEND_SHARE:
                continue
            if rng.random() < 0.5:
                self.corrections.write("status", row)
                self.expected["duplicates"] += 1
                continue
            fixed = dict(row)
            if row["balance"] != "0.00":
                fixed["balance"] = f"{float(row['balance']) * 0.97:.2f}"
            else:  # a closed account keeps its zero balance; the payment was misreported
                fixed["amount_paid"] = f"{float(row['amount_paid']) + 10.0:.2f}"
            self.corrections.write("status", fixed)
            self.expected["corrections"] += 1

    def _maybe_raise_limit(self, row: dict) -> None:
        """Re-send the first open BANK01 credit line with a raised limit (one correction)."""
        if self._limit_raised or "credit_limit" not in row:
            return
        if row["status"] != "open":
            return
        raised = dict(row, credit_limit=f"{float(row['credit_limit']) * 1.2:.2f}")
        self.corrections.write("account", raised)
        self.expected["corrections"] += 1
        self._limit_raised = True

    def finish(self, manifest: Manifest) -> None:
        """Close every file, then write defects.jsonl and manifest.json."""
        ordered = [*self.sinks.items(), (CORRECTED_INSTITUTION, self.corrections)]
        for order, (code, sink) in enumerate(ordered, start=1):
            sink.close()
            manifest.files.append(
                FileInfo(
                    name=sink.path.name,
                    institution=code,
                    format=sink.format,
                    lines=sink.lines,
                    records_by_type=dict(sorted(sink.records_by_type.items())),
                    defects=self.defect_counts[code] if sink is not self.corrections else 0,
                    order=order,
                )
            )
        shutil.rmtree(self.tmp, ignore_errors=True)
        order_of = {code: i for i, code in enumerate(self.sinks)}
        located = sorted(
            (order_of[code], self.sinks[code].line_of(section, index), code, rest)
            for code, section, index, *rest in self.defects
        )
        with (self.out_dir / "defects.jsonl").open("wb") as out:
            for _, line, code, (kind, record_type, field_) in located:
                entry = {
                    "file": self.sinks[code].path.name,
                    "line": line,
                    "kind": kind,
                    "record_type": record_type,
                    "field": field_,
                }
                out.write(orjson.dumps(entry) + b"\n")
        manifest.expected = dict(self.expected)
        (self.out_dir / "manifest.json").write_bytes(
            orjson.dumps(manifest.to_dict(), option=orjson.OPT_INDENT_2) + b"\n"
        )


def _institution_entry(inst: Institution) -> dict:
    files = [f"{inst.code}.{inst.file_format}"]
    if inst.code == CORRECTED_INSTITUTION:
        files.append(f"{inst.code}_corrections.jsonl")
    return {"code": inst.code, "name": inst.name, "kind": inst.kind, "files": files}


def generate(
    out_dir: Path,
    *,
    subjects: int,
    seed: int,
    as_of: date,
    defect_rate: float = 0.02,
    progress: Callable[[int], None] | None = None,
    params: StoryParams | None = None,
) -> Manifest:
    """Generate a synthetic bureau: furnishing files, corrections, defects, truth and manifest.

    Parameters
    ----------
    out_dir : Path
        Directory to write into (created if missing); existing files of the same names are
        overwritten.
    subjects : int
        Number of synthetic subjects (persons and enterprises).
    seed : int
        Seed of every random stream; the same seed gives byte-identical files.
    as_of : date
        Reporting date of every file: no date or period lies after it (except in defects).
    defect_rate : float
        Share of rows in each furnishing file that are deliberately defective.
    progress : callable, optional
        Called with the number of subjects done since the previous call.
    params : StoryParams, optional
        Coefficients of the generative story; the defaults are documented in
        ``docs/synthetic.md``.

    Returns
    -------
    Manifest
        The files written, in furnishing order, with their line and record counts.
    """
    if isinstance(subjects, bool) or not isinstance(subjects, int) or subjects < 1:
        raise ValueError(f"subjects must be a positive integer; got {subjects!r}")
    if not 0.0 <= defect_rate < 0.5:
        raise ValueError(f"defect_rate must be in [0, 0.5); got {defect_rate!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run = _Run(out_dir, seed, as_of, defect_rate, params or StoryParams())
    manifest = Manifest(
        seed=seed,
        subjects=subjects,
        as_of=as_of.isoformat(),
        defect_rate=defect_rate,
        institutions=[_institution_entry(inst) for inst in INSTITUTIONS],
    )
    with (out_dir / "truth.csv").open("w", encoding="utf-8", newline="") as truth_file:
        truth = csv.writer(truth_file, lineterminator="\n")
        truth.writerow(_TRUTH_COLUMNS)
        for index in range(subjects):
            subject = make_subject(run.story_rng, run.ids, index)
            history = simulate_subject(run.story_rng, run.world, subject)
            run.furnish(subject, history)
            truth.writerow(
                (
                    index,
                    subject.subject_type,
                    subject.id_type,
                    subject.id_number,
                    f"{subject.z:.6f}",
                    int(history.ever_90dpd),
                    history.first_90dpd,
                )
            )
            if progress is not None and (index + 1) % 100 == 0:
                progress(100)
        if progress is not None and subjects % 100:
            progress(subjects % 100)
    run.finish(manifest)
    return manifest
