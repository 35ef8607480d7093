"""The synthetic bureau: deterministic, valid where meant to be, broken exactly where declared."""

from __future__ import annotations

import csv
import filecmp
import re
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import orjson
import phonenumbers
import pytest

from credo.core.checksums import is_known_currency, prc_id_info, validate_uscc
from credo.synth import DEFECT_KINDS, generate

AS_OF = date(2026, 10, 31)
ENUMS = {
    "subject_type": {"person", "enterprise"},
    "id_type": {"prc_id", "uscc", "passport", "other"},
    "account_type": {
        "installment_loan",
        "revolving_loan",
        "credit_card",
        "bnpl",
        "marketplace_credit",
        "guarantee",
    },
    "status": {"open", "closed", "charged_off", "transferred"},
    "purpose": {
        "loan_approval",
        "credit_card_approval",
        "post_loan_management",
        "guarantee_review",
        "insurance_underwriting",
        "marketplace_risk",
        "self_query",
        "prescreen",
    },
}
KIND_ENUMS = {
    "public_record": {"court_judgment", "enforcement", "tax_arrears", "admin_penalty"},
    "inquiry": {"hard", "soft"},
}
REQUIRED = {
    "subject": ("subject_type", "id_type", "id_number", "name", "phone", "address"),
    "account": ("account_ref", "id_type", "id_number", "account_type", "opened_on", "currency"),
    "status": ("account_ref", "period", "balance", "amount_due", "amount_paid", "days_past_due"),
    "public_record": ("id_type", "id_number", "kind", "authority", "case_ref", "amount"),
    "inquiry": ("id_type", "id_number", "inquired_on", "purpose", "kind"),
}
DATES = ("birth_date", "opened_on", "closed_on", "filed_on", "resolved_on", "inquired_on")
AMOUNTS = ("credit_limit", "principal", "balance", "amount_due", "amount_paid", "amount")
BANNED = {"religion", "blood_type", "fingerprint", "genes", "illness"}


def _month(period: str) -> int:
    year, month = period.split("-")
    return int(year) * 12 + int(month) - 1


class Checker:
    """A compact re-statement of the pipeline's rules; returns the defect kinds a row breaks."""

    def __init__(self) -> None:
        self.accounts: dict[str, dict] = {}
        self.dpd: dict[tuple[str, int], int] = {}
        self.identities: dict[str, tuple[str, str | None]] = {}

    def problems(self, row: dict) -> list[str]:
        rt = row.get("record_type")
        if rt not in REQUIRED:
            return ["unknown_record_type"]
        found = ["banned_field" for name in row if name in BANNED]
        found += ["missing_required" for name in REQUIRED[rt] if name not in row]
        for name, allowed in ENUMS.items():
            if name in row and row[name] not in allowed:
                found.append("bad_enum")
        if rt in KIND_ENUMS and "kind" in row and row["kind"] not in KIND_ENUMS[rt]:
            found.append("bad_enum")
        for name in (*DATES, "subject_notified_on"):
            if name in row:
                try:
                    if date.fromisoformat(row[name]) > AS_OF:
                        found.append("future_date")
                except ValueError:
                    found.append("impossible_date")
        for name in AMOUNTS:
            if name in row:
                value = Decimal(str(row[name]))
                if value < 0:
                    found.append("negative_amount")
                if value.as_tuple().exponent < -2:
                    found.append("too_many_decimals")
        if "currency" in row and not is_known_currency(row["currency"]):
            found.append("unknown_currency")
        found += getattr(self, f"_{rt}")(row)
        return found

    def _ids(self, row: dict) -> list[str]:
        if row.get("id_type") == "prc_id":
            try:
                info = prc_id_info(row["id_number"], today=AS_OF)
            except ValueError:
                return ["bad_prc_checksum"]
            if "birth_date" in row and info.birth_date.isoformat() != row["birth_date"]:
                return ["birth_date_mismatch"]
        if row.get("id_type") == "uscc":
            try:
                validate_uscc(row["id_number"])
            except ValueError:
                return ["bad_uscc"]
        return []

    def _subject(self, row: dict) -> list[str]:
        found = self._ids(row)
        if row["subject_type"] == "person" and "birth_date" not in row:
            found.append("missing_required")
        number = phonenumbers.parse(row["phone"], "CN")
        if not phonenumbers.is_valid_number(number):
            found.append("invalid_phone")
        identity = (row["name"], row.get("birth_date"))
        if not found:
            known = self.identities.setdefault(row["id_number"], identity)
            if known != identity:
                found.append("identity_conflict")
        return found

    def _account(self, row: dict) -> list[str]:
        found = self._ids(row)
        if row["status"] == "charged_off" and "subject_notified_on" not in row:
            found.append("missing_notice")
        if not found:
            self.accounts[row["account_ref"]] = row
        return found

    def _status(self, row: dict) -> list[str]:
        account = self.accounts.get(row["account_ref"])
        if account is None:
            return ["unknown_account"]
        found, month, dpd = [], _month(row["period"]), int(row["days_past_due"])
        if month > _month(AS_OF.isoformat()[:7]):
            found.append("period_after_as_of")
        if dpd > 0 and "subject_notified_on" not in row:
            found.append("missing_notice")
        closed = account.get("closed_on")
        after_close = account["status"] == "closed" and month >= _month(closed[:7])
        if after_close and Decimal(str(row["balance"])) != 0:
            found.append("closed_nonzero_balance")
        if dpd - self.dpd.get((row["account_ref"], month - 1), dpd) > 31:
            found.append("dpd_jump")
        if not found:
            self.dpd[(row["account_ref"], month)] = dpd
        return found

    def _inquiry(self, row: dict) -> list[str]:
        return self._ids(row)

    def _public_record(self, row: dict) -> list[str]:
        found = self._ids(row)
        if "subject_notified_on" not in row:
            found.append("missing_notice")
        return found


def read_rows(path: Path) -> list[tuple[int, dict]]:
    """(line number, row) of every record; CSV cells that are empty are absent fields."""
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            rows = [{k: v for k, v in r.items() if v != ""} for r in csv.DictReader(handle)]
        return list(enumerate(rows, start=2))
    lines = path.read_bytes().splitlines()
    header = orjson.loads(lines[0])
    assert header["record_type"] == "header" and header["format_version"] == "1.0"
    assert header["as_of"] == AS_OF.isoformat()
    return [(i, orjson.loads(line)) for i, line in enumerate(lines[1:], start=2)]


@pytest.fixture(scope="module")
def bureau(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synth")
    generate(out, subjects=300, seed=11, as_of=AS_OF, defect_rate=0.05)
    return out, orjson.loads((out / "manifest.json").read_bytes())


@pytest.fixture(scope="module")
def defects(bureau) -> dict[tuple[str, int], dict]:
    out, _ = bureau
    entries = [orjson.loads(line) for line in (out / "defects.jsonl").read_bytes().splitlines()]
    return {(e["file"], e["line"]): e for e in entries}


def test_same_seed_gives_identical_files_and_another_seed_differs(tmp_path):
    runs = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        runs[name] = tmp_path / name
        generate(runs[name], subjects=60, seed=seed, as_of=AS_OF)
    names = sorted(p.name for p in runs["a"].iterdir())
    assert names == sorted(p.name for p in runs["b"].iterdir())
    match, mismatch, errors = filecmp.cmpfiles(runs["a"], runs["b"], names, shallow=False)
    assert mismatch == [] and errors == [] and match == names
    assert (runs["a"] / "BANK01.jsonl").read_bytes() != (runs["c"] / "BANK01.jsonl").read_bytes()


def test_clean_rows_pass_every_rule_and_each_defect_breaks_exactly_its_own(bureau, defects):
    out, manifest = bureau
    checker = Checker()  # one checker over all files: identities span institutions
    seen_defects = set()
    for entry in manifest["files"]:
        for line, row in read_rows(out / entry["name"]):
            problems = checker.problems(row)
            declared = defects.get((entry["name"], line))
            if declared is None:
                assert problems == [], (entry["name"], line, row)
            else:
                assert problems == [declared["kind"]], (entry["name"], line, row)
                assert declared["record_type"] == row["record_type"]
                field = declared["field"]
                assert field == "record_type" or field in row or problems[0].startswith("missing")
                seen_defects.add((entry["name"], line))
    assert seen_defects == set(defects)


def test_every_defect_kind_is_present(defects):
    kinds = Counter(e["kind"] for e in defects.values())
    assert set(kinds) == set(DEFECT_KINDS)


def test_defect_share_is_close_to_the_rate(bureau):
    _, manifest = bureau
    main = [f for f in manifest["files"] if f["defects"] and f["lines"] > 1000]
    for entry in main:
        assert 0.04 < entry["defects"] / (entry["lines"] - 1) < 0.06


def test_statuses_follow_their_account_in_the_same_file_in_period_order(bureau, defects):
    out, manifest = bureau
    for entry in manifest["files"][:-1]:
        accounts, last_period = set(), {}
        for line, row in read_rows(out / entry["name"]):
            if row.get("record_type") == "account":
                accounts.add(row["account_ref"])
            elif row.get("record_type") == "status":
                ref = row["account_ref"]
                declared = defects.get((entry["name"], line), {})
                if declared.get("kind") == "unknown_account":
                    continue
                assert ref in accounts
                assert row["period"] > last_period.get(ref, "")
                last_period[ref] = row["period"]


def test_manifest_matches_the_files(bureau, defects):
    out, manifest = bureau
    assert [f["order"] for f in manifest["files"]] == list(range(1, len(manifest["files"]) + 1))
    assert manifest["files"][-1]["name"] == "BANK01_corrections.jsonl"
    per_file = Counter(name for name, _ in defects)
    for entry in manifest["files"]:
        lines = (out / entry["name"]).read_bytes().count(b"\n")
        assert entry["lines"] == lines
        assert sum(entry["records_by_type"].values()) == lines - 1
        assert entry["defects"] == per_file.get(entry["name"], 0)
    assert {f["format"] for f in manifest["files"]} == {"jsonl", "csv"}


def test_corrections_batch_resends_duplicates_and_corrections(bureau):
    out, manifest = bureau
    original = {}
    for _, row in read_rows(out / "BANK01.jsonl"):
        if row["record_type"] in ("status", "account"):
            original[(row["account_ref"], row.get("period"))] = row
    same = changed = 0
    for _, row in read_rows(out / "BANK01_corrections.jsonl"):
        before = original[(row["account_ref"], row.get("period"))]
        if row == before:
            same += 1
        else:
            changed += 1
    assert manifest["expected"] == {"duplicates": same, "corrections": changed}
    assert same > 0 and changed > 1


def test_latent_risk_predicts_serious_delinquency(bureau):
    out, _ = bureau
    with (out / "truth.csv").open(encoding="utf-8", newline="") as handle:
        truth = sorted(csv.DictReader(handle), key=lambda r: float(r["latent_z"]))
    assert len(truth) == 300
    quarter = len(truth) // 4
    bottom = sum(int(r["ever_90dpd"]) for r in truth[:quarter]) / quarter
    top = sum(int(r["ever_90dpd"]) for r in truth[-quarter:]) / quarter
    assert top > bottom + 0.2 and top > 3 * bottom
    assert all(re.fullmatch(r"\d{4}-\d{2}|", r["first_90dpd_period"]) for r in truth)


def test_subjects_are_mostly_persons_with_valid_prc_ids(bureau, defects):
    out, _ = bureau
    types = Counter()
    for line, row in read_rows(out / "BANK02.jsonl"):
        if row["record_type"] != "subject" or ("BANK02.jsonl", line) in defects:
            continue
        types[row["subject_type"]] += 1
        if row["id_type"] == "prc_id":
            info = prc_id_info(row["id_number"], today=AS_OF)
            assert info.birth_date.isoformat() == row["birth_date"]
    assert types["person"] > 3 * types["enterprise"] > 0


@pytest.mark.parametrize(("field", "value"), [("subjects", 0), ("defect_rate", 0.7)])
def test_bad_parameters_are_refused(tmp_path, field, value):
    kwargs = {"subjects": 10, "seed": 1, "as_of": AS_OF, "defect_rate": 0.02, field: value}
    with pytest.raises(ValueError, match=field):
        generate(tmp_path, **kwargs)


def test_cli_writes_the_bureau_and_prints_a_summary(tmp_path):
    from typer.testing import CliRunner

    from credo.synth.cli import app

    out = tmp_path / "cli"
    args = ["--subjects", "20", "--seed", "5", "--out", str(out), "--as-of", "2026-10-31"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "corrections batch expects" in result.output
    assert orjson.loads((out / "manifest.json").read_bytes())["subjects"] == 20
    bad = CliRunner().invoke(app, [*args[:-1], "2026-13-01"])
    assert bad.exit_code != 0
