"""Account identity, account versions and monthly status records.

Money is stored as integer hundredths of the account's currency unit (``*_cents``): exact on
both databases and fast to sum.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy import text as sql
from sqlalchemy.orm import Mapped, mapped_column

from credo.db import Base, BigId, UTCDateTime, str_enum, utcnow
from credo.versioning import Versioned


class AccountType(enum.StrEnum):
    installment_loan = "installment_loan"
    revolving_loan = "revolving_loan"
    credit_card = "credit_card"
    bnpl = "bnpl"
    marketplace_credit = "marketplace_credit"
    guarantee = "guarantee"


#: account types whose limit can be drawn again (utilisation applies)
REVOLVING_TYPES = frozenset({AccountType.revolving_loan, AccountType.credit_card})


class AccountStatus(enum.StrEnum):
    open = "open"
    closed = "closed"
    charged_off = "charged_off"
    transferred = "transferred"


def _current(name: str, *cols: str) -> Index:
    return Index(
        name,
        *cols,
        unique=True,
        sqlite_where=sql("superseded_at IS NULL"),
        postgresql_where=sql("superseded_at IS NULL"),
    )


class Account(Base):
    """Stable identity of a tradeline: who furnished it, under which reference, whose it is."""

    __tablename__ = "account"
    __table_args__ = (UniqueConstraint("institution_id", "account_ref"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    institution_id: Mapped[int] = mapped_column(BigId, ForeignKey("institution.id"))
    account_ref: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[int] = mapped_column(BigId, ForeignKey("subject.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AccountVersion(Versioned, Base):
    """The furnished attributes of an account; a change supersedes the previous version."""

    __tablename__ = "account_version"
    __table_args__ = (_current("uq_account_version_current", "account_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("account.id"), index=True)
    account_type: Mapped[AccountType] = mapped_column(str_enum(AccountType))
    opened_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date, default=None)
    currency: Mapped[str] = mapped_column(String(3))
    credit_limit_cents: Mapped[int | None] = mapped_column(BigInteger, default=None)
    principal_cents: Mapped[int | None] = mapped_column(BigInteger, default=None)
    term_months: Mapped[int | None] = mapped_column(Integer, default=None)
    status: Mapped[AccountStatus] = mapped_column(str_enum(AccountStatus))
    subject_notified_on: Mapped[date | None] = mapped_column(Date, default=None)


class StatusRecord(Versioned, Base):
    """One monthly status of one account (Metro 2 base segment / PBOC 2-series record)."""

    __tablename__ = "status_record"
    __table_args__ = (_current("uq_status_record_current", "account_id", "period"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("account.id"))
    #: first day of the reported month
    period: Mapped[date] = mapped_column(Date)
    balance_cents: Mapped[int] = mapped_column(BigInteger)
    amount_due_cents: Mapped[int] = mapped_column(BigInteger)
    amount_paid_cents: Mapped[int] = mapped_column(BigInteger)
    days_past_due: Mapped[int] = mapped_column(Integer)
    subject_notified_on: Mapped[date | None] = mapped_column(Date, default=None)
