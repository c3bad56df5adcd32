"""Customer summary and features at scale: valueseg (DuckDB) vs pandas vs lifetimes.

Builds synthetic order logs as Parquet (1M, 10M, 100M lines by default; 20 lines per
customer in orders of 3 lines; popular products bought far more often than the long tail,
each product in one category), then, each variant in its own child process so peak
memory is its own:

- valueseg: ``rfm_summary(parquet)`` and the full feature table (``features_from_parquet``
  streamed into a Parquet file, DuckDB with a 5 GB memory limit, spilling to disk beyond it);
- pandas: read the Parquet file and compute the same summary with groupby, the obvious way;
- lifetimes: read the Parquet file and call ``summary_data_from_transaction_data`` (only up
  to ``--lifetimes-max`` lines: it is far slower);

and, on an in-memory pandas log of 1M customers (~2M lines, string ids), valueseg's
``rfm_summary(DataFrame)`` against lifetimes' function on the same DataFrame, in one process
(both warmed up on a small log, then the fastest of five runs of valueseg and three of
lifetimes: one lifetimes run takes 6-8 s).

Run: ``python bench/features.py`` (or ``--sizes 1000000,10000000`` for a quicker pass).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import duckdb

LINES_PER_CUSTOMER = 20
AS_OF = "2025-01-01"


def make_log(path: Path, lines: int) -> Path:
    """A Parquet order log with the store's columns (cached by size)."""
    if path.exists():
        return path
    customers = max(1, lines // LINES_PER_CUSTOMER)
    con = duckdb.connect()
    con.execute(
        f"""
        COPY (
          SELECT 'C' || lpad(CAST(hash(i // 3) % {customers} AS VARCHAR), 9, '0') AS customer_id,
                 'O' || CAST(i // 3 AS VARCHAR) AS order_id,
                 TIMESTAMP '2023-01-01' + to_seconds(CAST(hash(i // 3, 7) % 63072000 AS BIGINT))
                   AS "timestamp",
                 round(1 + (hash(i, 1) % 20000) / 100.0, 2) AS amount,
                 'P' || CAST(floor(5000 * pow((hash(i, 2) % 1000000) / 1e6, 3)) AS INT)
                   AS product_id,
                 'cat' || CAST(floor(5000 * pow((hash(i, 2) % 1000000) / 1e6, 3)) % 12 AS INT)
                   AS category,
                 CASE WHEN hash(i // 3, 4) % 10 = 0 THEN 5.0 ELSE 0.0 END AS discount,
                 hash(i, 5) % 50 = 0 AS is_return
          FROM range({lines}) t(i)
        ) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)
        """
    )
    return path


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_valueseg(path: str) -> dict[str, float]:
    from datetime import datetime

    from valueseg.features import rfm_summary
    from valueseg.features.compute import features_from_parquet

    started = time.perf_counter()
    summary = rfm_summary(path, observation_end=AS_OF)
    t_summary = time.perf_counter() - started
    import pyarrow.parquet as pq

    out = Path(path).with_suffix(".features.parquet")
    started = time.perf_counter()
    features_from_parquet({"transactions": path}, datetime(2025, 1, 1), memory_limit="5GB", out=out)
    t_features = time.perf_counter() - started
    columns = len(pq.read_schema(out).names) - 1
    out.unlink()
    return {
        "summary_s": t_summary,
        "features_s": t_features,
        "customers": len(summary),
        "feature_columns": columns,
        "peak_mb": _peak_mb(),
    }


def pandas_summary(df):  # the obvious pandas way, same definitions as docs/design.md §4
    buys = df[~df["is_return"]]
    day = buys["timestamp"].dt.floor("D")
    per = buys.assign(day=day).groupby(["customer_id", "day"], sort=False)["amount"].sum()
    per = per.reset_index()
    g = per.groupby("customer_id")
    first, last, n, total = g["day"].min(), g["day"].max(), g["day"].count(), g["amount"].sum()
    first_spend = per.merge(first.rename("day").reset_index(), on=["customer_id", "day"])
    first_spend = first_spend.set_index("customer_id")["amount"]
    import pandas as pd

    end = pd.Timestamp(AS_OF)
    out = pd.DataFrame(
        {"frequency": n - 1, "recency": (last - first).dt.days, "T": (end - first).dt.days}
    )
    rep = out["frequency"]
    out["monetary_value"] = ((total - first_spend) / rep.where(rep > 0)).fillna(0)
    return out.astype(float)


def child_pandas(path: str) -> dict[str, float]:
    import pandas as pd

    started = time.perf_counter()
    df = pd.read_parquet(path)
    out = pandas_summary(df)
    return {
        "summary_s": time.perf_counter() - started,
        "customers": len(out),
        "peak_mb": _peak_mb(),
    }


def child_lifetimes(path: str) -> dict[str, float]:
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes.utils import summary_data_from_transaction_data

        started = time.perf_counter()
        df = pd.read_parquet(path, columns=["customer_id", "timestamp", "amount", "is_return"])
        df = df[~df["is_return"]]
        out = summary_data_from_transaction_data(
            df, "customer_id", "timestamp", "amount", observation_period_end=AS_OF
        )
    return {
        "summary_s": time.perf_counter() - started,
        "customers": len(out),
        "peak_mb": _peak_mb(),
    }


#: The summary in one plain DuckDB query over the DataFrame ``df`` (days; no checks, no
#: order): how fast the engine itself is on this machine.
BARE_QUERY = f"""
SELECT customer_id, count(*) - 1 AS frequency, datediff('day', min(p), max(p)) AS recency,
       datediff('day', min(p), DATE '{AS_OF}') AS T,
       CASE WHEN count(*) > 1 THEN (sum(s) - arg_min(s, p)) / (count(*) - 1) ELSE 0 END
         AS monetary_value
FROM (SELECT customer_id, date_trunc('day', "timestamp") AS p, sum(amount) AS s
      FROM df WHERE "timestamp" <= TIMESTAMP '{AS_OF}' GROUP BY 1, 2)
GROUP BY 1
"""


def _best(call, repeat: int = 3):
    """(fastest of ``repeat`` runs in seconds, the last result)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return min(times), result


def in_memory_pandas(customers: int) -> dict[str, float]:
    """valueseg vs lifetimes on one pandas DataFrame in this process (same input)."""
    import numpy as np
    import pandas as pd

    from valueseg.features import rfm_summary

    rng = np.random.default_rng(0)
    lines = 2 * customers + customers // 2
    ids = np.char.add("cust-", rng.integers(0, customers, lines).astype(str))
    ts = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 730 * 86400, lines), "s")
    df = pd.DataFrame(
        {"customer_id": ids, "timestamp": ts, "amount": rng.gamma(2.0, 30.0, lines).round(2)}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes.utils import summary_data_from_transaction_data

        def theirs_once():
            return summary_data_from_transaction_data(
                df, "customer_id", "timestamp", "amount", observation_period_end=AS_OF
            )

        # both warmed up on a small log first: a process's first call also pays one-time
        # imports (valueseg's query engine ~0.35 s), as lifetimes' import is left out too
        small = df.iloc[:1000]
        rfm_summary(small, observation_end=AS_OF)
        summary_data_from_transaction_data(
            small, "customer_id", "timestamp", "amount", observation_period_end=AS_OF
        )
        t_ours, ours = _best(lambda: rfm_summary(df, observation_end=AS_OF), repeat=5)
        t_sorted, by_id = _best(lambda: rfm_summary(df, observation_end=AS_OF, sort=True), 5)
        t_theirs, theirs = _best(theirs_once)
        # the yardstick: one bare DuckDB query over the DataFrame, result as pandas
        con = duckdb.connect()
        con.register("df", df)
        t_bare, _ = _best(lambda: con.sql(BARE_QUERY).df(), 5)
    assert len(by_id) == len(ours)
    theirs = theirs.sort_index()
    ours = ours.set_index("customer_id").sort_index()
    diff = float(np.abs(ours[theirs.columns].to_numpy() - theirs.to_numpy()).max())
    return {
        "lines": lines,
        "customers": len(ours),
        "valueseg_s": t_ours,
        "valueseg_sorted_s": t_sorted,
        "bare_duckdb_s": t_bare,
        "lifetimes_s": t_theirs,
        "max_abs_diff": diff,
    }


def run_child(kind: str, path: Path) -> dict[str, float] | None:
    cmd = [sys.executable, __file__, "--child", kind, "--path", str(path)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=900)
    if done.returncode != 0:
        print(f"  {kind} failed: {done.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000,100000000")
    parser.add_argument("--lifetimes-max", type=int, default=10_000_000)
    parser.add_argument("--pandas-max", type=int, default=20_000_000)
    parser.add_argument("--in-memory-customers", type=int, default=1_000_000)
    parser.add_argument("--in-memory-only", action="store_true")
    parser.add_argument("--workdir", default="bench/_data")
    parser.add_argument("--child")
    parser.add_argument("--path")
    args = parser.parse_args()
    if args.child:
        fn = {"valueseg": child_valueseg, "pandas": child_pandas, "lifetimes": child_lifetimes}[
            args.child
        ]
        print(json.dumps(fn(args.path)))
        return
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    if args.in_memory_only:
        args.sizes = ""
    print(
        f"{'lines':>12} {'variant':<22} {'seconds':>9} {'lines/s':>12} {'peak MB':>9} "
        f"{'vs valueseg':>12}"
    )
    for size in (int(float(s)) for s in args.sizes.split(",") if s):
        path = make_log(work / f"orders_{size}.parquet", size)
        ours = run_child("valueseg", path)
        rows: list[tuple[str, float, float]] = []
        if ours:
            rows.append(("valueseg summary", ours["summary_s"], ours["peak_mb"]))
            rows.append(
                (
                    f"valueseg features ({int(ours['feature_columns'])})",
                    ours["features_s"],
                    ours["peak_mb"],
                )
            )
        if size <= args.pandas_max and (res := run_child("pandas", path)):
            rows.append(("pandas summary", res["summary_s"], res["peak_mb"]))
        if size <= args.lifetimes_max and (res := run_child("lifetimes", path)):
            rows.append(("lifetimes summary", res["summary_s"], res["peak_mb"]))
        base = ours["summary_s"] if ours else float("nan")
        for name, secs, peak in rows:
            # the time ratio compares summaries only; the feature table has no counterpart
            ratio = f"{secs / base:>11.1f}x" if "summary" in name else ""
            print(
                f"{size:>12,} {name:<22} {secs:>9.2f} {size / secs:>12,.0f} {peak:>9,.0f} {ratio}"
            )
    res = in_memory_pandas(args.in_memory_customers)
    print(
        f"\nIn-memory pandas log: {res['lines']:,} lines, {res['customers']:,} customers, "
        f"string ids"
    )
    base = res["lifetimes_s"]
    print(f"  lifetimes summary_data_from_transaction_data: {base:.2f} s")
    for name, key in (("", "valueseg_s"), (", sort=True", "valueseg_sorted_s")):
        secs = res[key]
        print(f"  valueseg rfm_summary(DataFrame{name}): {secs:.2f} s, {base / secs:.1f}x faster")
    bare = res["bare_duckdb_s"]
    print(
        f"  (one bare DuckDB query over the DataFrame: {bare:.2f} s, {base / bare:.1f}x faster "
        "than lifetimes)"
    )
    print(f"  max abs difference to lifetimes: {res['max_abs_diff']:.1e}")


if __name__ == "__main__":
    main()
