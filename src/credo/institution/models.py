"""Institution table."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from credo.db import Base, BigId, UTCDateTime, str_enum, utcnow


class InstitutionKind(enum.StrEnum):
    bank = "bank"
    consumer_finance = "consumer_finance"
    online_lending = "online_lending"
    marketplace = "marketplace"
    insurer = "insurer"
    public_source = "public_source"
    #: the bureau itself: the inquirer of record of subjects' own reports (``/v1/me/report``)
    bureau = "bureau"


class Institution(Base):
    __tablename__ = "institution"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[InstitutionKind] = mapped_column(str_enum(InstitutionKind))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: where notices for this institution are POSTed by the webhook channel (None: log only)
    webhook_url: Mapped[str | None] = mapped_column(String(500), default=None)
