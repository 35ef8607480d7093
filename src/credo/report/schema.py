"""The credit report's JSON format, version 1.1 (documented in docs/report.md).

These pydantic models are the contract: the tests check every kind of report the service
assembles against them (`validate`; the service itself does not, see `credo.report.service`),
and `json_schema()` is the JSON Schema published in ``docs/report.schema.json`` (a test
checks that the file is current). A change that removes or renames a field, or changes its
meaning, is a new major version; adding an optional field is a minor one.

Money is a decimal string with exactly two decimals (``"1234.50"``) in the currency named next
to it: exact, unlike a JSON number. Dates are ISO 8601, months ``YYYY-MM``.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

SCHEMA_VERSION = "1.1"
SCHEMA_ID = "https://credo.dev/schemas/credit-report/1.1.json"
GRID_MONTHS = 24

Money = Annotated[str, StringConstraints(pattern=r"^\d+\.\d{2}$")]
Month = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
Lang = Literal["zh", "en"]
ViewerName = Literal["subject", "institution", "operator"]
GridCode = Literal["N", "*", "1", "2", "3", "4", "5", "6", "7", "C", "B", "G", "/"]
AccountType = Literal[
    "installment_loan", "revolving_loan", "credit_card", "bnpl", "marketplace_credit", "guarantee"
]
AccountStatus = Literal["open", "closed", "charged_off", "transferred"]
PublicRecordKind = Literal[
    "court_judgment", "enforcement", "tax_arrears", "admin_penalty", "bankruptcy"
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InstitutionRef(_Model):
    """An institution; for an institution viewer, other institutions show their kind only."""

    code: str | None = Field(description="null when masked for an institution viewer")
    name: str | None = Field(description="null when masked for an institution viewer")
    kind: str = Field(description="bank, consumer_finance, online_lending, marketplace, ...")


class FraudAlert(_Model):
    """A fraud alert the subject placed: verify their identity before extending credit."""

    placed_on: date
    expires_on: date | None
    extended: bool = Field(description="a 7-year alert backed by an identity-theft report")


class Header(_Model):
    report_id: str = Field(description="unique per report served; in the audit ledger")
    generated_at: datetime
    as_of: date = Field(description="the date the report describes")
    historical: bool = Field(
        description="true: as the bureau knew it at the end of as_of, not as it knows it now"
    )
    viewer: ViewerName
    lang: Lang
    institution: InstitutionRef | None = Field(description="the querying institution")
    purpose: str | None = Field(description="the stated reason for the query")
    fraud_alert: FraudAlert | None = Field(
        description="the subject's fraud alert in force on as_of (1.1)"
    )
    frozen: bool = Field(
        description="the subject froze the file: new hard inquiries are refused (1.1)"
    )


class Contact(_Model):
    institution: InstitutionRef
    phone: str | None
    address: str | None
    reported_on: date


class Identity(_Model):
    subject_ref: str
    subject_type: Literal["person", "enterprise"]
    id_type: Literal["prc_id", "uscc", "passport", "other"]
    name: str = Field(description="masked per viewer, see docs/report.md")
    id_number: str = Field(description="always masked")
    birth_date: str | None = Field(description="YYYY-MM-DD for the subject, YYYY-**-** else")
    gender: Literal["M", "F"] | None = Field(description="the subject viewer only")
    contacts: list[Contact] = Field(description="empty for an institution viewer")


class TypeSummary(_Model):
    account_type: AccountType
    currency: str
    accounts: int = Field(ge=0)
    open: int = Field(ge=0)
    credit_limit: Money | None = Field(description="sum over open accounts with a limit")
    balance: Money = Field(description="sum of the latest reported balances")


class CurrencyAmount(_Model):
    currency: str
    amount: Money


class AccountSummary(_Model):
    total: int = Field(ge=0)
    open: int = Field(ge=0)
    closed: int = Field(ge=0)
    charged_off: int = Field(ge=0)
    transferred: int = Field(ge=0)
    by_type: list[TypeSummary]


class OverdueSummary(_Model):
    accounts_overdue: int = Field(ge=0, description="accounts whose latest month is past due")
    amounts: list[CurrencyAmount] = Field(description="amount overdue now, per currency")
    worst_days_past_due_24m: int = Field(ge=0)
    overdue_months_24m: int = Field(ge=0, description="account-months past due, 24 months")
    accounts_90plus_24m: int = Field(ge=0)


class PublicRecordSummary(_Model):
    total: int = Field(ge=0)
    unresolved: int = Field(ge=0)
    court_judgment: int = Field(ge=0)
    enforcement: int = Field(ge=0)
    tax_arrears: int = Field(ge=0)
    admin_penalty: int = Field(ge=0)
    bankruptcy: int = Field(ge=0, description="(1.1)")


class InquiryWindow(_Model):
    hard: int = Field(ge=0)
    soft: int = Field(ge=0)
    hard_institutions: int = Field(ge=0, description="distinct institutions, hard inquiries")


class InquirySummary(_Model):
    last_1m: InquiryWindow
    last_3m: InquiryWindow
    last_6m: InquiryWindow
    last_12m: InquiryWindow
    last_24m: InquiryWindow


class Summary(_Model):
    accounts: AccountSummary
    overdue: OverdueSummary
    public_records: PublicRecordSummary
    inquiries: InquirySummary


class GridCell(_Model):
    period: Month
    code: GridCode
    days_past_due: int | None = Field(ge=0, description="null when not reported")
    balance: Money | None = Field(description="null when not reported")


class LatestStatus(_Model):
    period: Month
    balance: Money
    amount_due: Money
    amount_paid: Money
    days_past_due: int = Field(ge=0)
    overdue_amount: Money = Field(description="amount due minus paid when past due, else 0")


class Account(_Model):
    institution: InstitutionRef
    account_ref: str = Field(
        description="in full for the subject and for the institution's own accounts, else masked"
    )
    account_type: AccountType
    currency: str
    opened_on: date
    closed_on: date | None
    status: AccountStatus
    credit_limit: Money | None
    principal: Money | None
    term_months: int | None
    latest: LatestStatus | None = Field(description="the latest month reported by as_of")
    worst_days_past_due: int = Field(ge=0, description="within the grid's 24 months")
    overdue_months: int = Field(ge=0, description="months past due within the grid")
    disputed: bool
    grid: list[GridCell] = Field(
        min_length=GRID_MONTHS,
        max_length=GRID_MONTHS,
        description="24 months, oldest first, up to the as-of month or, for an account that "
        "ended before it, up to the month it ended",
    )


class PublicRecord(_Model):
    kind: PublicRecordKind
    authority: str
    case_ref: str
    amount: Money | None
    currency: str | None
    filed_on: date
    resolved_on: date | None
    source: InstitutionRef
    disputed: bool


class DisputeMark(_Model):
    """A record the subject disputes: under review, or closed as unresolved (docs/disputes.md).

    A dispute closed as corrected or confirmed leaves no mark."""

    record_type: Literal["identity", "account", "status", "public_record", "inquiry"]
    record: str = Field(description="which record, in words the subject recognises")
    opened_on: date
    status: Literal["open", "answered", "unresolved"] = Field(
        description="open: with the furnisher; answered: awaiting the bureau's decision; "
        "unresolved: decided without settling it, the mark stays with a note"
    )
    escalated: bool = Field(description="past its legal deadline and escalated (1.1)")
    note: str | None = Field(description="the bureau's note on an unresolved dispute")


class Statement(_Model):
    """A personal statement the subject added to their file."""

    added_on: date
    text: str


class Inquiry(_Model):
    inquired_on: date
    institution: InstitutionRef
    purpose: str
    kind: Literal["hard", "soft"]


class Reason(_Model):
    code: str
    feature: str
    text: str = Field(description="in the report's language")


class ScoreBand(_Model):
    grade: str
    min_score: float | None = Field(description="null: open-ended")
    max_score: float | None = Field(description="null: open-ended")


class NoScore(_Model):
    code: Literal["no_credit_file", "not_scored"]
    text: str


class Score(_Model):
    available: bool
    score: int | None
    grade: str | None
    pd: float | None = Field(ge=0, le=1)
    model: str | None = Field(description="NAME@VERSION of the model that scored")
    model_kind: str | None
    as_of: date | None
    scored_at: datetime | None
    reasons: list[Reason] = Field(max_length=4)
    range: list[float] | None = Field(
        min_length=2, max_length=2, description="the gauge's scale: [low, high]"
    )
    bands: list[ScoreBand] = Field(description="the score interval of each grade")
    unavailable: NoScore | None


class Report(_Model):
    """A credit report, format 1.1."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"$id": SCHEMA_ID})

    schema_version: Literal["1.1"]
    header: Header
    identity: Identity
    summary: Summary
    accounts: list[Account]
    public_records: list[PublicRecord]
    disputes: list[DisputeMark]
    statements: list[Statement]
    inquiries: list[Inquiry]
    score: Score


def validate(report: dict[str, Any]) -> Report:
    """Check an assembled report against the schema; raises pydantic's ValidationError."""
    return Report.model_validate(report)


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the report format."""
    schema = Report.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def schema_text() -> str:
    """The JSON Schema as published in docs/report.schema.json."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
