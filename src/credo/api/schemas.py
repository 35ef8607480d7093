"""Request and response bodies of the institution API (pydantic v2, with OpenAPI examples).

Requests forbid unknown fields, so a misspelt field is a 422 naming it rather than a silently
ignored value. Personal identifiers travel only in request bodies, never in paths or query
strings, and responses name subjects only by their opaque reference.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from credo.access.models import Scope
from credo.core.normalize import normalize_identifier

IdType = Literal["prc_id", "uscc", "passport", "other"]
#: the purposes an institution may query for (a self-query is the subject's own)
QueryPurpose = Literal[
    "loan_approval",
    "credit_card_approval",
    "guarantee_review",
    "insurance_underwriting",
    "marketplace_risk",
    "post_loan_management",
    "prescreen",
    "marketing",
]

_EVIDENCE = "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b"
_EXAMPLE_QUERY = {
    "id_type": "prc_id",
    "id_number": "11010519491231002X",
    "purpose": "loan_approval",
    "consent_ref": "C7K2M9Q4XH3TD",
}
#: a consent ref as `credo.access.consent.new_consent_ref` makes them (any case); anything else,
#: an identity number typed into the wrong field above all, is refused before it is echoed or
#: written to the ledger
CONSENT_REF = r"^[Cc][0-9A-Za-z]{12}$"


#: the earliest date or time a request may name (older ones are typing errors, and year 1 minus
#: a time zone or the two years of a report's inquiry window is no date at all)
EARLIEST = date(1900, 1, 1)


def _utc(value: datetime) -> datetime:
    """An aware time in UTC, from 1900 on; ValueError for one that has no UTC equivalent."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range once converted to UTC") from None
    if utc.date() < EARLIEST:
        raise ValueError(f"the time is before {EARLIEST}")
    return utc


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Identified(_Body):
    """A body naming a subject by identifier, checked for its type (checksum, length) here so
    that a malformed number is a 422 on ``id_number`` saying what is wrong, not showing it."""

    id_type: IdType = Field(description="kind of identifier")
    id_number: str = Field(min_length=1, max_length=64, description="the identifier itself")

    @field_validator("id_number")
    @classmethod
    def _valid_for_its_type(cls, value: str, info: ValidationInfo) -> str:
        id_type = info.data.get("id_type")
        if id_type is not None:
            try:
                normalize_identifier(id_type, value)
            except ValueError as exc:
                # what is wrong, without the number (the message shows it masked: drop that too)
                raise ValueError(re.sub(r"\S*\*\S*\s?", "", str(exc))) from None
        return value


class SubjectQuery(_Identified):
    """Whom the query is about, why, and the consent that allows it."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE_QUERY]})

    purpose: QueryPurpose = Field(description="why the institution asks (decides hard/soft)")
    consent_ref: str = Field(
        pattern=CONSENT_REF,
        description="the subject's consent: the `ref` answered by `POST /v1/consents`",
    )


class ScoreQuery(SubjectQuery):
    """A score query."""


class ReportQuery(SubjectQuery):
    """A report query: the JSON document, or it rendered as HTML or PDF."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_EXAMPLE_QUERY, "format": "json", "lang": "zh"}]}
    )

    format: Literal["json", "html", "pdf"] = Field("json", description="what to answer with")
    lang: Literal["zh", "en"] = Field("zh", description="language of labels and texts")
    as_of: date | None = Field(
        None,
        description="the report as it would have looked at the end of this day (UTC); "
        f"from {EARLIEST} to today",
    )

    @field_validator("as_of")
    @classmethod
    def _not_in_the_future(cls, value: date | None) -> date | None:
        if value is None:
            return value
        if value > datetime.now(UTC).date():
            raise ValueError("the as-of date is in the future")
        if value < EARLIEST:
            raise ValueError(f"the as-of date is before {EARLIEST}")
        return value


class Reason(BaseModel):
    code: str
    text: str
    points: float | None = None


class FraudAlertOut(BaseModel):
    """A fraud alert the subject placed on their file: verify who is applying before lending."""

    placed_on: date
    expires_on: date
    extended: bool = Field(
        description="a 7-year alert backed by an identity-theft report (else 1 year)"
    )


class ScoreResult(BaseModel):
    """A score served to an institution."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "query_id": "Q7K2M9Q4XH3TD5W8A",
                    "subject_ref": "S4F9K2M7Q1",
                    "scorable": True,
                    "score": 712,
                    "grade": "B",
                    "pd": 0.0312,
                    "model": "person-scorecard-v3",
                    "model_kind": "scorecard",
                    "as_of": "2026-11-21",
                    "scored_at": "2026-11-21T09:30:00+00:00",
                    "reasons": [
                        {
                            "code": "PH03",
                            "text": "Days past due in the last 12 months",
                            "points": -18.5,
                        }
                    ],
                    "input_fingerprint": "9f2c...",
                    "inquiry": "hard",
                    "fraud_alert": None,
                }
            ]
        }
    )

    query_id: str = Field(description="this query; also the inquiry and ledger reference")
    subject_ref: str = Field(description="the bureau's opaque reference of the subject")
    scorable: bool = Field(description="false when the subject has no credit file to score")
    score: float | None = None
    grade: str | None = None
    pd: float | None = Field(None, description="probability of default in 12 months")
    model: str | None = Field(None, description="the model version that scored")
    model_kind: str | None = None
    as_of: date
    scored_at: datetime | None = None
    reasons: list[dict[str, Any]] = Field(default_factory=list, description="why, worst first")
    input_fingerprint: str | None = None
    inquiry: Literal["hard", "soft"] = Field(description="the inquiry this query recorded")
    fraud_alert: FraudAlertOut | None = Field(
        None, description="the subject's fraud alert in force: confirm the applicant's identity"
    )


class ConsentCreate(_Identified):
    """A consent the institution collected from the subject."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id_type": "prc_id",
                    "id_number": "11010519491231002X",
                    "purpose": "loan_approval",
                    "scope": "both",
                    "expires_at": "2027-05-21T00:00:00Z",
                    "evidence_sha256": _EVIDENCE,
                }
            ]
        }
    )

    purpose: QueryPurpose
    scope: Scope = Field(Scope.both, description="what the consent lets the institution see")
    granted_at: AwareDatetime | None = Field(None, description="default: now; timezone required")
    expires_at: AwareDatetime = Field(description="timezone required; must be in the future")
    evidence_sha256: str = Field(
        pattern=r"^[0-9a-fA-F]{64}$", description="hex SHA-256 of the signed consent document"
    )

    @field_validator("granted_at", "expires_at")
    @classmethod
    def _in_range(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _utc(value)

    @field_validator("expires_at")
    @classmethod
    def _in_the_future(cls, value: datetime) -> datetime:
        if value <= datetime.now(UTC):
            raise ValueError("the expiry must be in the future")
        return value


class ConsentOut(BaseModel):
    """A consent on file (the subject by reference only)."""

    ref: str
    subject_ref: str
    institution: str
    purpose: str
    scope: str
    granted_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    status: str = Field(description="active, expired, revoked or not yet valid")
    evidence_sha256: str


class InquiryOut(BaseModel):
    """One of the institution's own queries."""

    id: int
    subject_ref: str
    inquired_on: date
    recorded_at: datetime
    purpose: str
    kind: Literal["hard", "soft"]
    source: str


class Page(BaseModel):
    """A page of a list: `next_cursor` fetches the next one; null on the last page."""

    items: list[Any]
    next_cursor: str | None = None


class ConsentPage(Page):
    items: list[ConsentOut]


class InquiryPage(Page):
    items: list[InquiryOut]


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)
