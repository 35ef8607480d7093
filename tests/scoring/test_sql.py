"""`to_sql()` gives the same scores inside SQLite, PostgreSQL and DuckDB as the fast scorer."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, text

from credo.scoring import Scorecard

from .test_scorecard import make_data


@pytest.fixture(scope="module")
def model_and_rows():
    X, y = make_data(3000, seed=11)
    model = Scorecard(special_codes=[-1]).fit(X, y)
    rows = X.head(1500).copy()
    # the awkward cases: missing everywhere, unseen category, a value equal to a split
    f = next(f for f in model.features_ if f.name == "utilisation")
    rows.loc[len(rows)] = [f.splits[1], np.nan, np.nan, "houseboat", 0.0]
    rows.loc[len(rows)] = [np.nan, -1.0, 12.0, None, 0.0]
    return model, rows


def _records(rows: pd.DataFrame) -> list[dict]:
    out = []
    for i, r in enumerate(rows.itertuples(index=False)):
        rec = {"rid": i}
        for name, v in zip(rows.columns, r, strict=True):
            rec[name] = None if v is None or (isinstance(v, float) and math.isnan(v)) else v
        out.append(rec)
    return out


def test_sql_scores_equal_the_scorer_in_the_database(engine, model_and_rows):
    model, rows = model_and_rows
    meta = MetaData()
    table = Table(
        "score_input", meta, Column("rid", Integer, primary_key=True),
        Column("utilisation", Float), Column("inquiries_6m", Float),
        Column("oldest_account_months", Float), Column("housing", String(20)),
        Column("noise", Float),
    )  # fmt: skip
    meta.create_all(engine)
    try:
        with engine.begin() as conn:
            conn.execute(table.insert(), _records(rows))
            got = conn.execute(
                text(f"SELECT rid, {model.to_sql()} AS score FROM score_input ORDER BY rid")
            ).all()
    finally:
        meta.drop_all(engine)
    assert [float(s) for _, s in got] == model.score(rows).tolist()


def test_sql_scores_equal_the_scorer_in_duckdb(model_and_rows):
    model, rows = model_and_rows
    con = duckdb.connect()
    frame = pd.DataFrame(_records(rows))
    con.register("score_input", frame)
    got = con.execute(f"SELECT rid, {model.to_sql()} AS score FROM score_input ORDER BY rid")
    assert [float(s) for _, s in got.fetchall()] == model.score(rows).tolist()


def test_column_names_can_be_mapped_to_sql_expressions(model_and_rows):
    model, rows = model_and_rows
    con = duckdb.connect()
    frame = pd.DataFrame(_records(rows)).rename(columns={"utilisation": "util_pct"})
    frame["util_pct"] = frame["util_pct"] * 4  # exact in binary floating point
    con.register("t", frame)
    sql = model.to_sql(columns={"utilisation": "(util_pct / 4)"})
    got = [float(s) for (s,) in con.execute(f"SELECT {sql} FROM t ORDER BY rid").fetchall()]
    assert got == model.score(rows).tolist()
