"""Request and response bodies of the dispute endpoints (subject, furnisher, operator).

Bodies forbid unknown fields. The service checks what depends on the record type (which fields
name the record, what a correction may hold) and answers 422 naming the field; the shapes here
only keep out what no dispute could use (over-long text, a malformed hash).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from credo.api.schemas import Page

RecordType = Literal["identity", "account", "status", "public_record", "inquiry"]
#: a dispute ref as `credo.core.refs.new_ref("D")` makes them (any case)
DISPUTE_REF = r"^[Dd][0-9A-Za-z]{12}$"
_SHA256 = r"^[0-9a-fA-F]{64}$"
_EVIDENCE = "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DisputeCreate(_Body):
    """A subject's dispute of one record of their own report."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "record_type": "status",
                    "institution": "BANK_A",
                    "account_ref": "CC-1",
                    "period": "2024-05",
                    "reason": "Paid in full on 2024-05-10; reported as 30 days late.",
                    "evidence_sha256": _EVIDENCE,
                },
                {"record_type": "inquiry", "inquiry_id": 42, "reason": "I never applied there."},
                {"record_type": "identity", "field": "address", "reason": "Not my address."},
            ]
        }
    )

    record_type: RecordType = Field(description="what kind of record is disputed")
    institution: str | None = Field(
        None, max_length=32, description="status, account, public_record: the institution code "
        "your report shows for the record",
    )  # fmt: skip
    account_ref: str | None = Field(
        None, max_length=64, description="status, account: the account number as your report "
        "shows it (in full)",
    )  # fmt: skip
    period: str | None = Field(
        None, pattern=r"^\d{4}-\d{2}$", description="status: the month, YYYY-MM"
    )
    case_ref: str | None = Field(None, max_length=100, description="public_record: case reference")
    kind: str | None = Field(
        None, max_length=32, description="public_record: its kind, when one source has two "
        "records under one case reference",
    )  # fmt: skip
    inquiry_id: int | None = Field(
        None, ge=1, le=2**63 - 1, description="inquiry: its `id` in `GET /v1/me/inquiries`"
    )
    field: Literal["name", "birth_date", "phone", "address"] | None = Field(
        None, description="identity: which field of your identity is wrong"
    )
    reason: str = Field(max_length=4000, description="what is wrong (1 to 2000 characters)")
    evidence_sha256: str | None = Field(
        None, pattern=_SHA256, description="SHA-256 of a document you handed to the bureau"
    )


class InformationCreate(_Body):
    """New information for an open dispute: a document handed to the bureau, by its hash."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"evidence_sha256": _EVIDENCE}]})

    evidence_sha256: str = Field(pattern=_SHA256, description="SHA-256 of the new document")


class AnswerCreate(_Body):
    """The furnisher's answer: the record is right (confirm) or wrong (correct, with values)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"answer": "confirm", "note": "Payment received on 2024-06-12.",
                 "evidence_sha256": _EVIDENCE},
                {"answer": "correct", "correction": {"days_past_due": 0},
                 "note": "Payment was booked late on our side."},
            ]
        }
    )  # fmt: skip

    answer: Literal["confirm", "correct"]
    correction: dict[str, Any] | None = Field(
        None, description="correct: the fields of the record and their right values"
    )
    evidence_sha256: str | None = Field(None, pattern=_SHA256)
    note: str | None = Field(None, max_length=2000, description="what the furnisher checked")


class DecisionCreate(_Body):
    """An operator's decision, which closes the dispute."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"outcome": "corrected", "note": "Furnisher's correction verified."},
                {"outcome": "unresolved", "note": "Furnisher and subject records disagree."},
            ]
        }
    )

    outcome: Literal["corrected", "confirmed", "unresolved"]
    note: str | None = Field(
        None, max_length=1000, description="required for unresolved: shown with the mark"
    )
    correction: dict[str, Any] | None = Field(
        None, description="corrected: the values to apply (default: the furnisher's correction)"
    )


class EventOut(BaseModel):
    """One step of a dispute."""

    at: datetime
    kind: str = Field(description="filed, information, answered, escalated, decided")
    by: Literal["subject", "furnisher", "bureau"]
    note: str | None
    evidence_sha256: str | None
    detail: dict[str, Any]


class DisputeOut(BaseModel):
    """A dispute as the subject sees it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ref": "D7K2M9Q4XH3TD",
                    "record_type": "status",
                    "institution": "BANK_A",
                    "period": "2024-05",
                    "field": None,
                    "status": "open",
                    "outcome": None,
                    "filed_at": "2024-07-02T09:00:00Z",
                    "due_on": "2024-07-22",
                    "extended": False,
                    "escalated": False,
                    "answer": None,
                    "decision_note": None,
                    "closed_at": None,
                    "reason": "I paid this month in full.",
                    "evidence_sha256": None,
                    "history": None,
                }
            ]
        }
    )

    ref: str
    record_type: RecordType
    institution: str | None = Field(description="who must answer; null: the bureau")
    period: str | None = Field(description="status disputes: the month, YYYY-MM")
    field: str | None = Field(description="identity disputes: the field")
    status: Literal["open", "answered", "closed"]
    outcome: Literal["corrected", "confirmed", "unresolved"] | None
    filed_at: datetime
    due_on: date = Field(description="the last day to close it")
    extended: bool = Field(description="the due date was extended for new information")
    escalated: bool = Field(description="found open past its due date")
    answer: Literal["confirm", "correct"] | None
    decision_note: str | None
    closed_at: datetime | None
    reason: str
    evidence_sha256: str | None
    history: list[EventOut] | None = Field(None, description="every step (one dispute only)")


class DisputePage(Page):
    items: list[DisputeOut]


class FurnisherDisputeOut(BaseModel):
    """A dispute the institution must answer, with what its record says now."""

    ref: str
    subject_ref: str = Field(description="the bureau's opaque reference of the subject")
    record_type: RecordType
    status: Literal["open", "answered", "closed"]
    filed_at: datetime
    due_on: date
    escalated: bool
    reason: str = Field(description="the subject's words (reading them is ledgered)")
    evidence_sha256: str | None
    record: dict[str, Any] | None = Field(
        description="the record as on file now, as this institution sees it; null when gone"
    )
    answer: Literal["confirm", "correct"] | None


class FurnisherDisputePage(Page):
    items: list[FurnisherDisputeOut]


class OperatorDisputeOut(BaseModel):
    """A dispute in the operators' queue."""

    ref: str
    subject_ref: str
    record_type: RecordType
    institution: str | None
    status: Literal["open", "answered", "closed"]
    outcome: Literal["corrected", "confirmed", "unresolved"] | None
    filed_at: datetime
    due_on: date
    overdue: bool
    escalated_at: datetime | None
    answer: Literal["confirm", "correct"] | None
    correction: dict[str, Any] | None = Field(description="the furnisher's proposed correction")
    decision_note: str | None
    closed_at: datetime | None


class OperatorDisputePage(Page):
    items: list[OperatorDisputeOut]


class EscalationOut(BaseModel):
    """Disputes escalated by this run (each is escalated once)."""

    escalated: list[str] = Field(description="refs of the disputes escalated now")
    overdue: int = Field(description="disputes past their due date and not closed, in all")
