"""Loading the bureau's records into Polars and computing features and samples from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import polars as pl
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from credo.account.models import Account, AccountVersion, StatusRecord
from credo.config import Profile, get_settings
from credo.feature.pit import (
    ACCOUNT_SCHEMA,
    FEATURES,
    INQUIRY_SCHEMA,
    PUBLIC_SCHEMA,
    STATUS_SCHEMA,
    add_months,
    compute_features,
    label_window,
)
from credo.feature.single import features_from_rows
from credo.inquiry.models import Inquiry
from credo.public_record.models import PublicRecord
from credo.retention.rules import drop_expired_rows
from credo.versioning import version_known_at


@dataclass
class Frames:
    """The records features are computed from, as known at one moment."""

    accounts: pl.DataFrame
    statuses: pl.DataFrame
    inquiries: pl.DataFrame
    public_records: pl.DataFrame


def _frame(session: Session, stmt: Select, schema: dict) -> pl.DataFrame:
    rows = session.execute(stmt).all()
    cols = list(schema)
    data = {c: [str(r[i]) if schema[c] == pl.Utf8 and r[i] is not None else r[i]
                for r in rows] for i, c in enumerate(cols)}  # fmt: skip
    return pl.DataFrame(data, schema=schema)


def _statements(
    known_at: datetime | None, subject_ids: list[int] | None, inquiries_before: datetime | None
) -> tuple[Select, Select, Select, Select]:
    """The four reads features need: accounts, statuses, inquiries, public records."""
    acc = version_known_at(
        select(Account.subject_id, Account.id, AccountVersion.account_type,
               AccountVersion.opened_on, AccountVersion.closed_on,
               AccountVersion.credit_limit_cents, AccountVersion.status)
        .join(AccountVersion, AccountVersion.account_id == Account.id),
        AccountVersion, known_at,
    )  # fmt: skip
    st = version_known_at(
        select(StatusRecord.account_id, StatusRecord.period, StatusRecord.balance_cents,
               StatusRecord.amount_due_cents, StatusRecord.amount_paid_cents,
               StatusRecord.days_past_due),
        StatusRecord, known_at,
    )  # fmt: skip
    inq = select(Inquiry.subject_id, Inquiry.inquired_on, Inquiry.kind)
    if known_at is not None:
        inq = inq.where(Inquiry.recorded_at <= known_at)
    if inquiries_before is not None:
        inq = inq.where(Inquiry.recorded_at < inquiries_before)
    pub = version_known_at(
        select(PublicRecord.subject_id, PublicRecord.filed_on, PublicRecord.resolved_on,
               PublicRecord.kind),
        PublicRecord, known_at,
    )  # fmt: skip
    if subject_ids is not None:
        acc = acc.where(Account.subject_id.in_(subject_ids))
        st = st.join(Account, Account.id == StatusRecord.account_id).where(
            Account.subject_id.in_(subject_ids)
        )
        inq = inq.where(Inquiry.subject_id.in_(subject_ids))
        pub = pub.where(PublicRecord.subject_id.in_(subject_ids))
    return acc, st, inq, pub


def load_frames(
    session: Session,
    *,
    known_at: datetime | None = None,
    subject_id: int | None = None,
    subject_ids: list[int] | None = None,
    inquiries_before: datetime | None = None,
) -> Frames:
    """Every subject's records (or one subject's, or a few), as known at `known_at`.

    `inquiries_before` leaves out inquiries recorded at or after that moment (a query is
    scored on the file without its own inquiry) and is much cheaper than `known_at`.
    """
    if subject_id is not None:
        subject_ids = [subject_id]
    acc, st, inq, pub = _statements(known_at, subject_ids, inquiries_before)
    return Frames(
        accounts=_frame(session, acc, ACCOUNT_SCHEMA),
        statuses=_frame(session, st, STATUS_SCHEMA),
        inquiries=_frame(session, inq, INQUIRY_SCHEMA),
        public_records=_frame(session, pub, PUBLIC_SCHEMA),
    )


def _plain_rows(session: Session, stmt: Select, schema: dict) -> list[tuple]:
    text = [schema[c] == pl.Utf8 for c in schema]
    return [tuple(str(v) if t and v is not None else v for v, t in zip(r, text, strict=True))
            for r in session.execute(stmt)]  # fmt: skip


def one_subject_features(
    session: Session,
    subject_id: int,
    as_of: date,
    *,
    known_at: datetime | None = None,
    inquiries_before: datetime | None = None,
    retention: Profile | None = None,
) -> dict[str, float | None] | None:
    """One subject's features without Polars (`credo.feature.single`), or None when the
    subject has no account opened by `as_of` (no credit file to score).

    Negative data expired at `as_of` under `retention` (default: the configured profile) is
    left out, so a file whose every account has expired is no file.
    """
    acc, st, inq, pub = _statements(known_at, [subject_id], inquiries_before)
    accounts, statuses, public_records = drop_expired_rows(
        _plain_rows(session, acc, ACCOUNT_SCHEMA),
        _plain_rows(session, st, STATUS_SCHEMA),
        _plain_rows(session, pub, PUBLIC_SCHEMA),
        profile=retention or get_settings().jurisdiction,
        as_of=as_of,
    )
    if not any(a[3] <= as_of for a in accounts):
        return None
    return features_from_rows(
        accounts,
        statuses,
        _plain_rows(session, inq, INQUIRY_SCHEMA),
        public_records,
        as_of=as_of,
    )


def features_of(
    frames: Frames,
    as_of: date,
    subjects: list[int] | None = None,
    *,
    retention: Profile | None = None,
) -> pl.DataFrame:
    """Features of every subject in `frames` (or of `subjects`) as of a date, without the
    negative data expired then under `retention` (default: the configured profile)."""
    return compute_features(
        frames.accounts, frames.statuses, frames.inquiries, frames.public_records,
        as_of=as_of, subjects=None if subjects is None else pl.Series(subjects, dtype=pl.Int64),
        retention=retention or get_settings().jurisdiction,
    )  # fmt: skip


def bulk_features(
    session: Session, as_of: date, *, known_at: datetime | None = None
) -> pl.DataFrame:
    """Features of every subject with an account, as of `as_of`."""
    return features_of(load_frames(session, known_at=known_at), as_of)


def subject_features(
    session: Session, subject_id: int, as_of: date, *, known_at: datetime | None = None
) -> dict[str, float | None]:
    """Features of one subject as of `as_of` (loads only that subject's records)."""
    frames = load_frames(session, known_at=known_at, subject_id=subject_id)
    row = features_of(frames, as_of, [subject_id]).row(0, named=True)
    return {k: row[k] for k in FEATURES}


def build_samples(
    frames: Frames,
    observation_dates: list[date],
    *,
    window_months: int = 12,
    data_end: date,
    exclude_bad_before: bool = True,
) -> pl.DataFrame:
    """Training rows: features as of each observation date and the bad flag after it.

    A date whose performance window would run past `data_end` (the last month on file) is
    refused: its labels would be incomplete and its bads under-counted.
    """
    if not observation_dates:
        raise ValueError("give at least one observation date")
    parts = []
    for d in sorted(set(observation_dates)):
        if add_months(d, window_months) > data_end:
            raise ValueError(
                f"observation date {d} needs data up to {add_months(d, window_months)}; the "
                f"bureau's data ends {data_end}"
            )
        feats = features_of(frames, d)
        labels = label_window(frames.statuses, frames.accounts, as_of=d, months=window_months)
        rows = feats.join(labels, on="subject_id", how="left").with_columns(
            pl.col("bad").fill_null(False), pl.col("bad_before").fill_null(False),
            pl.lit(d).alias("observation_date"),
        )  # fmt: skip
        if exclude_bad_before:
            rows = rows.filter(~pl.col("bad_before"))
        parts.append(rows.drop("bad_before").with_columns(pl.col("bad").cast(pl.Int64)))
    return pl.concat(parts)
