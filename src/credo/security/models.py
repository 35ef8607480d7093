"""Key state kept in the database."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from credo.db import Base


class KeyState(Base):
    """Small named values about keys, e.g. which key generation built the blind indexes."""

    __tablename__ = "key_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
