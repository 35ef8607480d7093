"""Point-in-time features: hand-checked values, bulk == one subject, no peeking past as_of."""

from __future__ import annotations

from datetime import date

import orjson
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from credo.db import utcnow
from credo.feature.pit import FEATURES, add_months, compute_features, label_window
from credo.feature.service import (
    Frames,
    build_samples,
    bulk_features,
    features_of,
    load_frames,
    one_subject_features,
    subject_features,
)
from credo.furnishing.service import furnish
from credo.institution import service as institutions
from credo.synth import generate

BUREAU_AS_OF = date(2026, 6, 30)


def frames_by_hand() -> Frames:
    accounts = pl.DataFrame({
        "subject_id": [1, 1, 2], "account_id": [10, 11, 20],
        "account_type": ["credit_card", "installment_loan", "credit_card"],
        "opened_on": [date(2022, 1, 15), date(2024, 3, 1), date(2025, 1, 1)],
        "closed_on": [None, None, None], "credit_limit_cents": [1_000_000, None, 500_000],
        "status": ["open", "open", "open"],
    })  # fmt: skip
    periods = [date(2024, m, 1) for m in range(1, 13)]
    dpd_10 = [0, 0, 0, 30, 60, 0, 0, 0, 0, 0, 0, 0]
    statuses = pl.DataFrame({
        "account_id": [10] * 12 + [11],
        "period": [*periods, date(2024, 12, 1)],
        "balance_cents": [800_000] * 11 + [920_000, 5_000_000],
        "amount_due_cents": [50_000] * 12 + [200_000],
        "amount_paid_cents": [50_000] * 12 + [100_000],
        "days_past_due": [*dpd_10, 15],
    })  # fmt: skip
    inquiries = pl.DataFrame({
        "subject_id": [1, 1, 1, 2],
        "inquired_on": [date(2024, 12, 20), date(2024, 8, 1), date(2024, 2, 1), date(2024, 12, 1)],
        "kind": ["hard", "hard", "hard", "soft"],
    })  # fmt: skip
    public = pl.DataFrame({
        "subject_id": [1], "filed_on": [date(2023, 5, 1)], "resolved_on": [date(2025, 1, 1)],
        "kind": ["court_judgment"],
    })  # fmt: skip
    return Frames(accounts, statuses, inquiries, public)


def test_features_by_hand():
    f = features_of(frames_by_hand(), date(2024, 12, 31))
    one = f.filter(pl.col("subject_id") == 1).row(0, named=True)
    assert one["worst_dpd_6m"] == 15  # Jul-Dec: the loan's 15 days in December
    assert one["worst_dpd_12m"] == 60
    assert one["n_dpd30_12m"] == 2 and one["n_dpd60_12m"] == 1 and one["n_dpd90_12m"] == 0
    assert one["n_dpd30_6m"] == 0
    assert one["months_since_delinquency"] == 0  # December itself
    assert one["overdue_amount"] == 1000.0  # the loan: 2,000 due, 1,000 paid
    assert one["revolving_utilisation"] == pytest.approx(0.92)
    assert one["total_balance"] == 59_200.0
    assert one["n_accounts_with_balance"] == 2
    assert one["oldest_account_months"] == 35 and one["avg_account_months"] == 22.0
    assert (one["hard_inquiries_3m"], one["hard_inquiries_6m"], one["hard_inquiries_12m"]) == (
        1, 2, 3,
    )  # fmt: skip
    assert one["accounts_opened_12m"] == 1
    assert one["n_account_types"] == 2 and one["has_installment"] == 1
    assert one["n_public_records"] == 1 and one["n_open_public_records"] == 1
    # subject 2's account opens after the date: not a subject yet
    assert f["subject_id"].to_list() == [1]


def test_a_subject_without_history_gets_nulls_and_zeros():
    f = features_of(frames_by_hand(), date(2025, 6, 30), subjects=[2])
    two = f.row(0, named=True)
    assert two["worst_dpd_12m"] is None and two["months_since_delinquency"] is None
    assert two["hard_inquiries_12m"] == 0  # the soft inquiry does not count
    assert two["revolving_utilisation"] is None  # no balance reported yet
    assert two["oldest_account_months"] == 5


def test_labels_look_only_at_the_window_after_the_date():
    fr = frames_by_hand()
    fr.statuses = pl.concat([fr.statuses, pl.DataFrame({
        "account_id": [10, 10], "period": [date(2025, 3, 1), date(2026, 3, 1)],
        "balance_cents": [0, 0], "amount_due_cents": [0, 0], "amount_paid_cents": [0, 0],
        "days_past_due": [90, 120],
    })])  # fmt: skip
    lab = label_window(fr.statuses, fr.accounts, as_of=date(2024, 12, 31), months=12)
    assert lab.filter(pl.col("subject_id") == 1)["bad"].to_list() == [True]
    # March 2025 is on the date, not after it; March 2026 is 12 months later, inside a 12-month
    # window and outside an 11-month one
    lab = label_window(fr.statuses, fr.accounts, as_of=date(2025, 3, 31), months=11)
    row = lab.filter(pl.col("subject_id") == 1).row(0, named=True)
    assert row["bad"] is False and row["bad_before"] is True
    lab = label_window(fr.statuses, fr.accounts, as_of=date(2025, 3, 31), months=12)
    assert lab.filter(pl.col("subject_id") == 1)["bad"].to_list() == [True]


def test_add_months_clips_to_the_month_end():
    assert add_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    assert add_months(date(2024, 1, 31), 13) == date(2025, 2, 28)
    assert add_months(date(2024, 12, 15), 1) == date(2025, 1, 15)


# -- on a furnished synthetic bureau ---------------------------------------------------------
@pytest.fixture
def furnished(session, keyring, cn, tmp_path):
    out = tmp_path / "bureau"
    generate(out, subjects=60, seed=5, as_of=BUREAU_AS_OF, defect_rate=0.0)
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    for inst in manifest["institutions"]:
        institutions.create(session, code=inst["code"], name=inst["name"], kind=inst["kind"],
                            actor="test")  # fmt: skip
    files = sorted(manifest["files"], key=lambda f: f["order"])
    main = [f for f in files if "corrections" not in f["name"]]
    corrections = [f for f in files if "corrections" in f["name"]]
    for f in main:
        furnish(session, path=out / f["name"], institution_code=f["institution"],
                keyring=keyring, profile=cn, actor="test", as_of=BUREAU_AS_OF)  # fmt: skip
    session.commit()
    return session, out, corrections


def test_bulk_and_one_subject_give_identical_features(furnished):
    session, _, _ = furnished
    as_of = date(2025, 9, 30)
    bulk = bulk_features(session, as_of)
    assert bulk.height > 30
    for row in bulk.iter_rows(named=True):
        one = subject_features(session, row["subject_id"], as_of)
        assert one == {k: row[k] for k in FEATURES}, row["subject_id"]


@pytest.mark.parametrize(
    "as_of",
    # 2031: five years on, most of the bureau's negative data has expired (cn retention)
    [date(2024, 2, 29), date(2025, 9, 30), date(2026, 1, 1), BUREAU_AS_OF, date(2031, 6, 30)],
)
def test_the_plain_python_path_equals_polars_for_every_subject(furnished, as_of):
    """`credo.feature.single` (what an API score query uses) against `compute_features`."""
    session, _, _ = furnished
    bulk = bulk_features(session, as_of)
    assert bulk.height > 10
    for row in bulk.iter_rows(named=True):
        one = one_subject_features(session, row["subject_id"], as_of)
        assert one == {k: row[k] for k in FEATURES}, row["subject_id"]
    if as_of.year == 2031:  # expired data was there to leave out, and both paths left it out
        unfiltered = compute_features(*vars(load_frames(session)).values(), as_of=as_of)
        assert not unfiltered.equals(bulk)
    # a subject with no account opened by then has no file
    first = min(bulk["subject_id"])
    assert one_subject_features(session, first, date(1990, 1, 1)) is None


def test_records_dated_after_the_date_never_change_a_feature(furnished):
    session, _, _ = furnished
    frames = load_frames(session)
    for as_of in (date(2024, 6, 30), date(2025, 1, 15), date(2025, 12, 31)):
        month = as_of.replace(day=1)
        cut = Frames(
            accounts=frames.accounts.filter(pl.col("opened_on") <= as_of),
            statuses=frames.statuses.filter(pl.col("period") <= month),
            inquiries=frames.inquiries.filter(pl.col("inquired_on") <= as_of),
            public_records=frames.public_records.filter(pl.col("filed_on") <= as_of),
        )
        assert_frame_equal(features_of(frames, as_of), features_of(cut, as_of))


def test_a_later_correction_does_not_change_features_known_before_it(furnished, keyring, cn):
    session, out, corrections = furnished
    as_of = date(2026, 3, 31)
    before_time = utcnow()
    before = bulk_features(session, as_of)
    for f in corrections:
        furnish(session, path=out / f["name"], institution_code=f["institution"],
                keyring=keyring, profile=cn, actor="test", as_of=BUREAU_AS_OF)  # fmt: skip
    session.commit()
    assert_frame_equal(bulk_features(session, as_of, known_at=before_time), before)
    assert not bulk_features(session, as_of).equals(before)  # the corrections are visible now


def test_samples_from_several_dates_refuse_an_incomplete_window(furnished):
    session, _, _ = furnished
    frames = load_frames(session)
    dates = [date(2024, 6, 30), date(2024, 12, 31), date(2025, 6, 30)]
    samples = build_samples(frames, dates, data_end=BUREAU_AS_OF)
    assert set(samples["observation_date"].unique().to_list()) == set(dates)
    assert set(samples["bad"].unique().to_list()) <= {0, 1}
    assert samples["bad"].sum() > 0
    with pytest.raises(ValueError, match="needs data up to 2026-12-31"):
        build_samples(frames, [date(2025, 12, 31)], data_end=BUREAU_AS_OF)


def test_compute_features_columns_are_the_documented_ones():
    f = compute_features(*vars(frames_by_hand()).values(), as_of=date(2024, 12, 31))
    assert f.columns == ["subject_id", *FEATURES]


def test_every_feature_has_a_stable_reason_code_and_texts():
    from credo.feature.catalog import BUREAU_CATALOG

    specs = [BUREAU_CATALOG.get(f) for f in FEATURES]
    assert len({s.code for s in specs}) == len(FEATURES)
    for f, s in zip(FEATURES, specs, strict=True):
        assert not s.code.startswith("G-"), f"{f} falls back to a generic code"
        assert s.en and s.zh and s.fmt in ("pct", "count", "months", "money", "number")
