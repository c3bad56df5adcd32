"""Audience export at scale: ``export_audience`` to CSV beside a plain pandas ``to_csv``.

A store in a temporary folder holds one succeeded run of ``--customers`` customers (1M by
default): every ``customer_scores`` column, one next-best action each (the packaged
playbook, through ``next_best_actions``), and three recommendations each for half of them
(1.5M rows of ``recommendations``). Scores are drawn with numpy; ids are ``C0000001`` …

Timed, each ``--repeat`` times (best kept):

- **valueseg**: ``export_audience(store, out=…csv)``: the join of scores, actions and the
  top 3 recommendations in DuckDB, formula escaping of every text cell, and the CSV write;
- **pandas**: ``frame.to_csv(path, index=False)`` of the same rows as valueseg reads them
  (``audience_rows``), already in memory: the write alone, without the join or the
  escaping, which is what a user exporting by hand would at least do.

The ratio is valueseg's seconds over pandas'; the target is under 10 s for 1M customers on
this 2-core machine. ``--where`` adds a filter to both (pandas gets the rows it selects).

Run: ``python bench/export.py`` (about a minute), ``--customers 100000`` for a quick pass.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from valueseg.actions import export_audience, next_best_actions
from valueseg.store import Store
from valueseg.store.actions import audience_rows, write_actions
from valueseg.store.derived import write_frame

RFM = ["Champions", "Loyal Customers", "Potential Loyalists", "New Customers", "Promising",
       "Need Attention", "About to Sleep", "At Risk", "Can't Lose Them", "Hibernating"]  # fmt: skip
TIERS = ["Top 1%", "Top 5%", "Top 20%", "Rest"]
CLUSTERS = ["Lapsed one-time buyers", "Active frequent buyers", "High-value big spenders",
            "Discount-driven browsers", "New occasional buyers"]  # fmt: skip


def scores(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` customers with every ``customer_scores`` column."""
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, len(CLUSTERS), n)
    return pd.DataFrame(
        {
            "customer_id": np.char.add("C", np.char.zfill(np.arange(n).astype(str), 7)),
            "p_alive": rng.uniform(0, 1, n),
            "expected_purchases_90d": rng.gamma(1.0, 0.5, n),
            "expected_purchases_365d": rng.gamma(1.0, 2.0, n),
            "predicted_clv_365d": rng.lognormal(4.0, 1.0, n),
            "churn_probability": rng.uniform(0, 1, n),
            "predicted_spend_90d": rng.gamma(2.0, 20.0, n),
            "expected_next_order_date": pd.Timestamp("2025-01-01")
            + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
            "rfm_r": rng.integers(1, 6, n).astype(np.int8),
            "rfm_f": rng.integers(1, 6, n).astype(np.int8),
            "rfm_m": rng.integers(1, 6, n).astype(np.int8),
            "rfm_segment": np.array(RFM)[rng.integers(0, len(RFM), n)],
            "value_tier": rng.choice(TIERS, n, p=[0.01, 0.04, 0.15, 0.80]),
            "cluster": cluster,
            "segment": np.array(CLUSTERS)[cluster],
        }
    )


def build(store: Store, n: int) -> None:
    """Write the run, its scores, actions and recommendations."""
    store.con.execute(
        "INSERT INTO runs (run_id, as_of, started_at, status) "
        "VALUES (1, DATE '2025-01-01', now()::TIMESTAMP, 'succeeded')"
    )
    frame = scores(n)
    half = frame["customer_id"].to_numpy()[: n // 2]
    recs = pd.DataFrame(
        {
            "customer_id": np.repeat(half, 3),
            "rank": np.tile([1, 2, 3], len(half)),
            "product_id": np.char.add("P", np.arange(len(half) * 3).astype(str) + "0"),
            "score": 1.0,
            "model": "als",
        }
    )
    write_frame(store, "customer_scores", 1, frame)
    write_frame(store, "recommendations", 1, recs)
    write_actions(store, 1, next_best_actions(frame, recommendations=recs))


def best(fn: object, repeat: int) -> float:
    """The fastest of ``repeat`` calls, in seconds."""
    assert callable(fn)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--where", default=None, help="A filter for both exports.")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "b.duckdb") as store:
        started = time.perf_counter()
        build(store, args.customers)
        print(f"{args.customers:,} customers written in {time.perf_counter() - started:.1f} s")
        out = Path(folder) / "valueseg.csv"
        ours = best(lambda: export_audience(store, where=args.where, out=out), args.repeat)
        report = export_audience(store, where=args.where, out=out)
        frame = audience_rows(store, 1)
        if args.where:
            frame = frame[frame["customer_id"].isin(set(pd.read_csv(out)["customer_id"]))]
        plain = Path(folder) / "pandas.csv"
        theirs = best(lambda: frame.to_csv(plain, index=False), args.repeat)
        size = out.stat().st_size / 2**20
        print(f"valueseg export_audience: {ours:.2f} s for {report.rows:,} rows ({size:.0f} MiB)")
        print(f"pandas to_csv (same rows, in memory): {theirs:.2f} s")
        print(f"ratio valueseg / pandas: {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
