"""The column set shared by every record kept with its history.

A furnished record that is corrected is never updated in place: the old row gets
``superseded_at`` and ``superseded_by_batch_id``; the new row gets ``version + 1``. The current
row is the one with ``superseded_at IS NULL`` (a partial unique index per table guarantees one).
``recorded_at`` and ``superseded_at`` give the bitemporal view point-in-time features need.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, Select, String, or_
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from credo.db import BigId, UTCDateTime


class Versioned:
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: SHA-256 of the record's canonical content: equal hash = duplicate, else correction
    content_hash: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    line_no: Mapped[int | None] = mapped_column(Integer, default=None)

    @declared_attr
    def batch_id(cls) -> Mapped[int | None]:
        return mapped_column(BigId, ForeignKey("furnishing_batch.id"), index=True, default=None)

    @declared_attr
    def superseded_by_batch_id(cls) -> Mapped[int | None]:
        return mapped_column(BigId, ForeignKey("furnishing_batch.id"), default=None)


def version_known_at(stmt: Select, model: type[Versioned], when: datetime | None) -> Select:
    """Restrict `stmt` to the version of each `model` row that was on file at `when`.

    ``None`` means now: the current version (``superseded_at IS NULL``). Otherwise the version
    recorded by then and not yet superseded then -- the knowledge-time view that point-in-time
    features and as-of reports share.
    """
    if when is None:
        return stmt.where(model.superseded_at.is_(None))
    return stmt.where(
        model.recorded_at <= when,
        or_(model.superseded_at.is_(None), model.superseded_at > when),
    )
