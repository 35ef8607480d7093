"""Scorer benchmark: Credo's fast scorer against optbinning's ``Scorecard.score``.

One synthetic, credit-like training set (12 numerical features with missing values and special
codes, 4 categorical ones) is used to fit an optbinning ``Scorecard`` and a Credo ``Scorecard``.
The optbinning scorecard is converted with `credo.scoring.interop.points_from_optbinning`, and
the training rows are resampled into a frame of ``--rows`` rows (1,000,000 by default; a few
rows carry a product never seen in training, as production data does). Measured:

* batch scoring, best of ``--repeats`` (the scorers' runs interleaved, so load from other
  processes hits both alike; wall and CPU seconds): optbinning ``Scorecard.score(X)`` and the
  converted `PointsScorer.score(X)` on the same frame, whose scores are compared over every row
  (the points are the same, so they must be equal); again with the categorical columns as
  pandas ``category`` dtype; a second optbinning scorecard of the 12 numerical features only;
  Credo's own ``Scorecard.score`` on its own model; and each variable alone (optbinning's bin
  indices vs a one-feature `PointsScorer`);
* single-record latency of `PointsScorer.score_one(dict)` over ``--records`` records (median,
  p90, p99, max), of `PointsScorer.score` on a one-row frame, and of optbinning's ``score`` on
  a one-row frame (over ``--optbinning-records`` rows: it is slow).

The goals (10x optbinning's rows/s on the text-column frame, with identical scores; one record
under 1 ms at p99) are computed and printed as MET / MISSED, not asserted. Results go to
``benchmarks/results/scorer.json`` with machine information. See ``benchmarks/README.md``.

    .venv/bin/python benchmarks/scorer.py [--rows N] [--repeats N] [--records N] [--output F]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import machine

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"

GOAL_SPEEDUP = 10.0  # rows/s of the fast scorer over optbinning's Scorecard.score
GOAL_RECORD_MS = 1.0  # one record, at the 99th percentile
SCALING = {"pdo": 20, "odds": 50, "scorecard_points": 600}  # Credo's defaults, too
CATEGORICAL = ["housing", "employment", "product", "channel"]
PRODUCTS = [
    "card", "card_gold", "card_platinum", "personal_loan", "auto_loan", "mortgage", "overdraft",
    "bnpl", "student_loan", "sme_loan",
]  # fmt: skip
UNSEEN_PRODUCT = "green_loan"  # launched after training
SPECIAL_CODES = [-1]
UNSEEN_SHARE = 0.001  # rows of the big frame whose product was never seen in training


# -- data --------------------------------------------------------------------------------------
def credit_data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Bureau-like applicants: utilisation, limits, inquiries, history, delinquency, income."""
    rng = np.random.default_rng(seed)
    months = rng.integers(6, 360, n).astype(float)
    limit = np.round(rng.lognormal(9.5, 0.8, n), -2)
    util = np.clip(rng.beta(1.3, 2.5, n) * 1.3, 0, None)
    X = pd.DataFrame({
        "utilisation": util,
        "total_limit": limit,
        "total_balance": np.round(limit * util, 2),
        "inquiries_6m": rng.poisson(1.2, n).astype(float),
        "inquiries_12m": rng.poisson(2.2, n).astype(float),
        "oldest_account_months": months,
        "newest_account_months": np.floor(months * rng.random(n)),
        "open_accounts": rng.integers(0, 25, n).astype(float),
        "delinquencies_24m": rng.poisson(0.4, n).astype(float),
        "months_since_delinquency": rng.integers(0, 120, n).astype(float),
        "income": np.round(rng.lognormal(10.6, 0.6, n), -2),
        "debt_to_income": rng.gamma(2.0, 0.15, n),
        "housing": rng.choice(["own", "mortgage", "rent", "family", "other"], n,
                              p=[0.25, 0.3, 0.3, 0.1, 0.05]),
        "employment": rng.choice(["employed", "self_employed", "unemployed", "retired",
                                  "student"], n, p=[0.6, 0.15, 0.07, 0.13, 0.05]),
        "product": rng.choice(PRODUCTS, n),
        "channel": rng.choice(["branch", "online", "broker", "partner"], n,
                              p=[0.3, 0.45, 0.15, 0.1]),
    })  # fmt: skip
    X.loc[X["delinquencies_24m"] == 0, "months_since_delinquency"] = -1  # never delinquent
    X.loc[rng.random(n) < 0.04, "inquiries_6m"] = -1  # not reported
    X.loc[rng.random(n) < 0.06, "utilisation"] = np.nan
    X.loc[rng.random(n) < 0.10, "income"] = np.nan
    X.loc[rng.random(n) < 0.03, "debt_to_income"] = np.nan
    X.loc[rng.random(n) < 0.02, "housing"] = None
    z = (
        -2.3
        + 1.8 * np.nan_to_num(util, nan=0.7)
        + 0.25 * X["inquiries_6m"].clip(lower=0)
        + 0.08 * X["inquiries_12m"]
        - 0.004 * months
        + 0.55 * X["delinquencies_24m"]
        - 0.25 * np.log(X["income"].fillna(30000) / 30000)
        + 1.2 * X["debt_to_income"].fillna(0.3)
        + 0.5 * (X["housing"] == "rent")
        + 0.6 * (X["employment"] == "unemployed")
        - 0.3 * (X["employment"] == "retired")
        + 0.3 * (X["channel"] == "broker")
        + 0.4 * X["product"].isin(["bnpl", "overdraft", "card"])
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    return X, y


def big_frame(X: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """`rows` rows resampled from `X`, a few with a product never seen in training."""
    rng = np.random.default_rng(seed + 1)
    big = X.iloc[rng.integers(0, len(X), rows)].reset_index(drop=True)
    big.loc[rng.random(rows) < UNSEEN_SHARE, "product"] = UNSEEN_PRODUCT
    return big


def records_of(frame: pd.DataFrame) -> list[dict]:
    """Rows as plain dicts, missing values as None: what an API request carries."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


# -- models ------------------------------------------------------------------------------------
def fit_optbinning(X: pd.DataFrame, y: np.ndarray):
    from optbinning import BinningProcess, Scorecard
    from sklearn.linear_model import LogisticRegression

    process = BinningProcess(
        list(X.columns),
        categorical_variables=[c for c in CATEGORICAL if c in X.columns],
        special_codes=SPECIAL_CODES,
    )
    sc = Scorecard(
        process,
        LogisticRegression(max_iter=1000),
        scaling_method="pdo_odds",
        scaling_method_params=SCALING,
        rounding=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sc.fit(X, y)


def fit_credo(X: pd.DataFrame, y: np.ndarray):
    from credo.scoring import Scorecard

    model = Scorecard(
        base_score=SCALING["scorecard_points"],
        base_odds=SCALING["odds"],
        pdo=SCALING["pdo"],
        categorical=CATEGORICAL,
        special_codes=SPECIAL_CODES,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y)


# -- timing ------------------------------------------------------------------------------------
def best_of(fns: dict, repeats: int) -> dict:
    """Wall and CPU seconds of each of `fns`, called in turn `repeats` times (interleaved, so a
    change in the machine's load hits all of them alike), with each one's last result."""
    out = {name: {"walls": [], "cpus": []} for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            gc.collect()
            w0, c0 = time.perf_counter(), time.process_time()
            out[name]["result"] = fn()
            out[name]["cpus"].append(time.process_time() - c0)
            out[name]["walls"].append(time.perf_counter() - w0)
    return {
        name: {
            "seconds_best": round(min(e["walls"]), 4),
            "seconds_all": [round(t, 4) for t in e["walls"]],
            "cpu_seconds_best": round(min(e["cpus"]), 4),
            "result": e["result"],
        }
        for name, e in out.items()
    }


def latencies(fn, items) -> dict:
    """Per-call latency of `fn(item)` over `items`, in microseconds."""
    gc.collect()
    ns = np.empty(len(items), dtype=np.int64)
    clock = time.perf_counter_ns
    for i, item in enumerate(items):
        t0 = clock()
        fn(item)
        ns[i] = clock() - t0
    us = ns / 1000.0
    return {
        "n": len(items),
        "median_us": round(float(np.median(us)), 1),
        "mean_us": round(float(us.mean()), 1),
        "p90_us": round(float(np.percentile(us, 90)), 1),
        "p99_us": round(float(np.percentile(us, 99)), 1),
        "max_us": round(float(us.max()), 1),
    }


def compare(optb, scorer, frame: pd.DataFrame, repeats: int) -> dict:
    """optbinning's and the fast scorer's batch timings on one frame, and whether they agree."""
    timed = best_of(
        {"opt": lambda: optb.score(frame), "fast": lambda: scorer.score(frame)}, repeats
    )
    opt, fast = timed["opt"], timed["fast"]
    a, b = np.asarray(opt.pop("result")), np.asarray(fast.pop("result"))
    diff = np.abs(a - b)
    rows = len(frame)
    for e in (opt, fast):
        e["rows_per_second"] = round(rows / e["seconds_best"])
    return {
        "optbinning": opt,
        "fast": fast,
        "speedup": round(opt["seconds_best"] / fast["seconds_best"], 2),
        "cpu_speedup": round(opt["cpu_seconds_best"] / fast["cpu_seconds_best"], 2),
        "identical": bool(np.array_equal(a, b)),
        "mismatched_rows": int((diff != 0).sum()),
        "max_abs_diff": float(diff.max()) if rows else 0.0,
    }


def per_feature(optb, scorer, frame: pd.DataFrame, repeats: int) -> list[dict]:
    """Each variable alone: optbinning's bin indices vs a one-feature PointsScorer."""
    from credo.scoring import PointsScorer

    process = optb.binning_process_
    rows = []
    for f in scorer.features:
        binning = process.get_binned_variable(f.name)
        col = frame[f.name]
        one = PointsScorer([f])
        sub = frame[[f.name]]
        timed = best_of(
            {
                "opt": lambda b=binning, c=col: b.transform(
                    c, metric="indices", metric_special="empirical", metric_missing="empirical"
                ),
                "fast": lambda o=one, x=sub: o.score(x),
            },
            repeats,
        )
        opt, fast = timed["opt"], timed["fast"]
        bins = len(f.splits) + 1 if f.dtype == "numerical" else len(f.categories)
        rows.append({
            "feature": f.name, "dtype": f.dtype, "bins": bins,
            "optbinning_ms": round(opt["seconds_best"] * 1000, 1),
            "fast_ms": round(fast["seconds_best"] * 1000, 1),
        })  # fmt: skip
    return rows


# -- the run -----------------------------------------------------------------------------------
def machine_info() -> dict:
    import optbinning

    return machine.machine_info(
        numpy=np.__version__, pandas=pd.__version__, optbinning=optbinning.__version__
    )


def run(args) -> dict:
    from credo.scoring.interop import points_from_optbinning

    result: dict = {
        "goal": {"speedup_vs_optbinning": GOAL_SPEEDUP, "single_record_p99_ms": GOAL_RECORD_MS},
        "machine": machine_info(),
        "scoring_threads": args.scoring_threads,
    }
    X, y = credit_data(args.train_rows, args.seed)
    print(f"fitting on {len(X):,} rows x {X.shape[1]} features (bad rate {y.mean():.1%}) ...")
    t0 = time.perf_counter()
    optb = fit_optbinning(X, y)
    optb_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    scorer = points_from_optbinning(optb)
    convert = time.perf_counter() - t0
    t0 = time.perf_counter()
    credo = fit_credo(X, y)
    credo_fit = time.perf_counter() - t0
    big = big_frame(X, args.rows, args.seed)
    result["dataset"] = {
        "train_rows": len(X),
        "bad_rate": round(float(y.mean()), 4),
        "rows": len(big),
        "seed": args.seed,
        "numerical": [c for c in X.columns if c not in CATEGORICAL],
        "categorical": CATEGORICAL,
        "special_codes": SPECIAL_CODES,
        "missing_share": {c: round(float(v), 4) for c, v in X.isna().mean().items() if v},
        "special_share": {
            c: round(float(v), 4) for c, v in X.isin(SPECIAL_CODES).mean().items() if v
        },
        "unseen_product_rows": int((big["product"] == UNSEEN_PRODUCT).sum()),
    }
    result["models"] = {
        "optbinning": {
            "scaling_method": "pdo_odds",
            "scaling_method_params": SCALING,
            "rounding": True,
            "variables": len(scorer.features),
            "bins": len(optb.table()),
            "fit_seconds": round(optb_fit, 2),
            "conversion_seconds": round(convert, 4),
        },
        "credo": {
            "features": len(credo.features_),
            "bins": int(sum(len(b.labels) for b in credo.features_)),
            "fit_seconds": round(credo_fit, 2),
        },
    }

    print(f"batch scoring {len(big):,} rows, best of {args.repeats} ...", flush=True)
    text = compare(optb, scorer, big, args.repeats)
    own = best_of({"credo": lambda: credo.score(big)}, args.repeats)["credo"]
    own.pop("result")
    own["rows_per_second"] = round(len(big) / own["seconds_best"])
    print("  ... and with the categorical columns as pandas 'category' dtype", flush=True)
    coded = big.astype(dict.fromkeys(CATEGORICAL, "category"))
    category = compare(optb, scorer, coded, args.repeats)
    del coded
    print("  ... and a scorecard of the numerical features only", flush=True)
    numerical = [c for c in X.columns if c not in CATEGORICAL]
    optb_num = fit_optbinning(X[numerical], y)
    result["models"]["optbinning_numerical"] = {
        "variables": int(optb_num.binning_process_.get_support().sum()),
        "bins": len(optb_num.table()),
    }
    numeric_only = compare(optb_num, points_from_optbinning(optb_num), big[numerical], args.repeats)
    print("  ... and feature by feature", flush=True)
    result["batch"] = {
        "repeats": args.repeats,
        "text_columns": text,
        "category_columns": category,
        "numerical_only": numeric_only,
        "credo_scorecard": own,
        "per_feature": per_feature(optb, scorer, big, args.repeats),
    }

    print(f"single records: {args.records:,} ...", flush=True)
    sample = big.iloc[: args.records]
    records = records_of(sample)
    ones = [scorer.score_one(r) for r in records]  # warm-up, and the check
    one_rows = [sample.iloc[[i]] for i in range(min(args.records, args.optbinning_records))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result["single"] = {
            "fast_score_one": latencies(scorer.score_one, records),
            "fast_score_one_row_frame": latencies(scorer.score, one_rows),
            "optbinning_one_row_frame": latencies(optb.score, one_rows),
            "identical": ones == optb.score(sample).tolist(),
        }
    single_p99_ms = result["single"]["fast_score_one"]["p99_us"] / 1000
    result["verdict"] = {
        "speedup_goal_met": text["speedup"] >= GOAL_SPEEDUP,
        "same_points": text["identical"]
        and category["identical"]
        and numeric_only["identical"]
        and result["single"]["identical"],
        "single_record_goal_met": single_p99_ms < GOAL_RECORD_MS,
    }
    with contextlib.suppress(OSError):
        result["machine"]["load_average_at_end"] = os.getloadavg()
    return result


def print_tables(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 140)
    m, ds, b, s, v = (result[k] for k in ("machine", "dataset", "batch", "single", "verdict"))
    load = " → ".join(
        ", ".join(f"{x:.2f}" for x in m.get(k) or ())
        for k in ("load_average_at_start", "load_average_at_end")
    )
    console.print(
        f"[bold]Scorer benchmark[/] — {ds['rows']:,} rows resampled from {ds['train_rows']:,} "
        f"({len(ds['numerical'])} numerical + {len(ds['categorical'])} categorical features); "
        f"{m['cpu_model']}, {m['usable_cores']} cores, load average (start → end) {load}, "
        f"Python {m['python']}, optbinning {m['optbinning']}"
    )

    def goal(ok: bool) -> str:
        return "[green]MET[/]" if ok else "[red]MISSED[/]"

    t = Table(title=f"Batch scoring of {ds['rows']:,} rows, best of {b['repeats']}")
    for col in ("scorer", "columns", "seconds", "CPU s", "rows/s", "vs optbinning", "same"):
        t.add_column(col, justify="left" if col in ("scorer", "columns") else "right")
    variants = (
        ("text (str)", "text_columns"),
        ("category", "category_columns"),
        ("numerical only", "numerical_only"),
    )
    for label, key in variants:
        e = b[key]
        t.add_row(
            "optbinning Scorecard.score",
            label,
            f"{e['optbinning']['seconds_best']:.3f}",
            f"{e['optbinning']['cpu_seconds_best']:.3f}",
            f"{e['optbinning']['rows_per_second']:,}",
            "1.0×",
            "",
        )
        verdict = f" {goal(v['speedup_goal_met'])}" if key == "text_columns" else ""
        t.add_row(
            "PointsScorer.score (converted)",
            label,
            f"{e['fast']['seconds_best']:.3f}",
            f"{e['fast']['cpu_seconds_best']:.3f}",
            f"{e['fast']['rows_per_second']:,}",
            f"{e['speedup']:.1f}× (CPU {e['cpu_speedup']:.1f}×){verdict}",
            "yes" if e["identical"] else f"NO ({e['mismatched_rows']:,} rows)",
        )
    own = b["credo_scorecard"]
    t.add_row(
        f"Credo Scorecard.score (own model, {result['models']['credo']['features']} features)",
        "text (str)",
        f"{own['seconds_best']:.3f}",
        f"{own['cpu_seconds_best']:.3f}",
        f"{own['rows_per_second']:,}",
        "",
        "n/a",
    )
    console.print(t)
    f = Table(title="Feature by feature (ms, text columns): optbinning transform vs PointsScorer")
    for col in ("feature", "dtype", "bins", "optbinning", "fast", "×"):
        f.add_column(col, justify="left" if col in ("feature", "dtype") else "right")
    for r in b["per_feature"]:
        f.add_row(
            r["feature"],
            r["dtype"],
            str(r["bins"]),
            f"{r['optbinning_ms']:.1f}",
            f"{r['fast_ms']:.1f}",
            f"{r['optbinning_ms'] / r['fast_ms']:.1f}",
        )
    console.print(f)
    u = Table(title="One record (µs)")
    for col in ("path", "n", "median", "p90", "p99", "max"):
        u.add_column(col, justify="left" if col == "path" else "right")
    for label, key in (
        ("PointsScorer.score_one(dict)", "fast_score_one"),
        ("PointsScorer.score(1-row frame)", "fast_score_one_row_frame"),
        ("optbinning score(1-row frame)", "optbinning_one_row_frame"),
    ):
        e = s[key]
        u.add_row(
            label,
            f"{e['n']:,}",
            f"{e['median_us']:,.1f}",
            f"{e['p90_us']:,.1f}",
            f"{e['p99_us']:,.1f}",
            f"{e['max_us']:,.1f}",
        )
    console.print(u)
    console.print(
        f"goal one record < {GOAL_RECORD_MS:g} ms at p99: {goal(v['single_record_goal_met'])}; "
        f"score_one equals optbinning on every record: {'yes' if s['identical'] else 'NO'}"
    )


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="rows of the batch frame")
    p.add_argument("--repeats", type=int, default=3, help="batch timings, the best is kept")
    p.add_argument("--records", type=int, default=10_000, help="single records timed")
    p.add_argument(
        "--optbinning-records", type=int, default=300, help="one-row frames timed on optbinning"
    )
    p.add_argument("--train-rows", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=20240601)
    p.add_argument(
        "--scoring-threads",
        type=int,
        default=1,
        help="threads Credo scores a frame on (default 1: optbinning scores on one)",
    )
    p.add_argument("--output", default=str(RESULTS / "scorer.json"))
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    os.environ["CREDO_SCORING_THREADS"] = str(args.scoring_threads)
    result = run(args)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print_tables(result)
    print(f"saved {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    main()
