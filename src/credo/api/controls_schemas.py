"""Bodies of a subject's controls over their file (``/v1/me/statement``, ``freeze``,
``fraud-alert``, ``opt-outs``). Requests forbid unknown fields; the statement's length is
checked by the service against ``statement_max_chars`` so that the limit is one setting."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StatementIn(_Body):
    """The words of the statement; they replace any statement on file."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"text": "2023年5月的逾期因住院所致，已全部结清。"}]}
    )

    text: str = Field(
        description="1 to `statement_max_chars` characters (500 by default) after trimming spaces"
    )


class StatementOut(BaseModel):
    """The statement printed in your report (本人声明)."""

    text: str
    added_at: datetime


class FreezeOut(BaseModel):
    """Whether your file is frozen: while it is, new hard inquiries are refused."""

    frozen: bool
    ref: str | None = Field(None, description="the freeze's reference")
    placed_at: datetime | None = None


class FraudAlertIn(_Body):
    """An identity-theft report's SHA-256 makes the alert an extended one (7 years)."""

    identity_theft_report_sha256: str | None = Field(
        None,
        pattern=r"^[0-9a-fA-F]{64}$",
        description="hex SHA-256 of the identity-theft report you filed (the document stays "
        "with you or the bureau's intake); without it the alert lasts 1 year",
    )


class FraudAlertState(BaseModel):
    """Your fraud alert: shown with every report and score while it is in force."""

    active: bool
    ref: str | None = None
    placed_at: datetime | None = None
    expires_at: datetime | None = None
    extended: bool | None = Field(None, description="a 7-year alert backed by a report")


class OptOutState(BaseModel):
    """Whether your file may be used for one of the uses you can opt out of."""

    use: Literal["prescreen", "marketing"]
    opted_out: bool
    since: datetime | None = Field(None, description="when you opted out")


class OptOutList(BaseModel):
    """Both uses you can opt out of, and your choice for each."""

    items: list[OptOutState]
