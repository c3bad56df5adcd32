"""The HTML report at scale: seconds and megabytes for 100k and 1M customers.

A real run of ``make_shop(20_000, random_state=0)`` (learners ``lr,lgbm``, clusters 3-8)
is made once and cached in ``bench/_data``; each size is that store with every customer
copied ``size / 20,000`` times under new ids (``C0000001-7``): transactions, features,
scores, reasons, recommendations, segment sizes and loads, so every table the report reads
is as large as a real shop of that size would make it (events are left out: the report
only counts them). A second run is added, a copy of
the first with a tenth of the customers moved to another RFM segment, so the migration
section joins two runs of every customer; each customer gets a next-best action.

Each report is written in a child process (imports included in the time, as a user's
``valueseg report`` pays them). Run: ``python bench/report.py`` (``--sizes 100000`` for a
quick pass). The issue's bar: under 60 s and under 15 MB at 1M customers.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from valueseg.store import Store
from valueseg.store.derived import add_feature_columns

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
BASE_CUSTOMERS = 20_000
BASE = DATA / f"report_base_{BASE_CUSTOMERS}.duckdb"

#: Per-run tables copied row by row for each copy of a customer.
_PER_CUSTOMER = (
    "customer_features",
    "customer_scores",
    "customer_reasons",
    "recommendations",
)
#: Per-run tables copied once.
_PER_RUN = (
    "model_fits",
    "predict_fits",
    "predict_validation",
    "recommend_evaluation",
    "run_estimators",
    "run_notes",
    "similar_products",
)


def base_store() -> Path:
    """The store of one real run of make_shop(20_000), built once and cached."""
    if BASE.exists():
        return BASE
    import valueseg as vs

    DATA.mkdir(exist_ok=True)
    shop = vs.make_shop(BASE_CUSTOMERS, random_state=0)
    partial = BASE.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    vs.ingest(shop.transactions, db=partial)
    vs.ingest(shop.events, "events", db=partial)
    vs.run(partial, learners="lr,lgbm")
    partial.rename(BASE)
    return BASE


def scaled_store(customers: int) -> Path:
    """The base store with each customer copied ``customers / 20,000`` times (cached)."""
    path = DATA / f"report_{customers}.duckdb"
    if path.exists():
        return path
    base, reps = base_store(), max(1, customers // BASE_CUSTOMERS)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    with Store(partial) as store:
        con = store.con
        con.execute(f"ATTACH '{base}' AS b (READ_ONLY)")
        copy = f"range({reps}) AS rep(r)"
        new_id = "customer_id || '-' || r AS customer_id"
        con.execute(
            f"INSERT INTO loads BY NAME SELECT * REPLACE (rows_read * {reps} AS rows_read, "
            f"accepted * {reps} AS accepted, rejected * {reps} AS rejected) FROM b.loads "
            "WHERE kind = 'transactions'"
        )
        con.execute(
            f"INSERT INTO transactions BY NAME SELECT * EXCLUDE (r) REPLACE ({new_id}, "
            f"order_id || '-' || r AS order_id) FROM b.transactions, {copy}"
        )
        con.execute("INSERT INTO runs BY NAME SELECT * FROM b.runs")
        for table in _PER_CUSTOMER:
            if table == "customer_features":  # its feature columns are added as a run finds them
                have = {r[0] for r in con.execute("DESCRIBE main.customer_features").fetchall()}
                described = con.execute("DESCRIBE b.customer_features").fetchall()
                add_feature_columns(store, [(n, k) for n, k, *_ in described if n not in have])
            con.execute(
                f"INSERT INTO {table} BY NAME SELECT * EXCLUDE (r) REPLACE ({new_id}) "
                f"FROM b.{table}, {copy}"
            )
        for table in _PER_RUN:
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM b.{table}")
        con.execute(
            f"INSERT INTO segments SELECT * REPLACE (size * {reps} AS size) FROM b.segments"
        )
        _second_run(store)
        con.execute("DETACH b")
    partial.rename(path)
    return path


def _second_run(store: Store) -> None:
    """Run 2: run 1's rows, a tenth of the customers in another RFM segment; actions."""
    con = store.con
    con.execute("INSERT INTO runs SELECT * REPLACE (run_id + 1 AS run_id) FROM runs")
    for table in (*_PER_CUSTOMER, "segments", *_PER_RUN):
        con.execute(
            f"INSERT INTO {table} SELECT * REPLACE (2 AS run_id) FROM {table} WHERE run_id = 1"
        )
    con.execute(
        "UPDATE customer_scores SET rfm_segment = CASE rfm_segment WHEN 'Champions' "
        "THEN 'Loyal Customers' WHEN 'Loyal Customers' THEN 'At Risk' ELSE 'Hibernating' END "
        "WHERE run_id = 2 AND hash(customer_id) % 10 = 0"
    )
    con.execute(
        "INSERT INTO customer_actions SELECT 2, customer_id, CASE WHEN p_alive > 0.5 "
        "THEN 'thank and upsell' ELSE 'win back' END, CASE WHEN p_alive > 0.5 THEN 2 ELSE 1 "
        "END, predicted_clv_365d * churn_probability, 'bench' FROM customer_scores "
        "WHERE run_id = 2"
    )


def time_report(db: Path) -> tuple[float, float, float]:
    """(seconds of the whole command, seconds inside write_report, MB) in a child process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.html"
        code = (
            "import sys; from valueseg.report import write_report; "
            "r = write_report(sys.argv[1], out=sys.argv[2]); print(r.seconds)"
        )
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", code, str(db), str(out)],
            check=True,
            capture_output=True,
            text=True,
        )
        total = time.perf_counter() - started
        return total, float(done.stdout.strip()), out.stat().st_size / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="customers, comma separated")
    args = parser.parse_args()
    print(f"{'customers':>10} {'command s':>10} {'report s':>9} {'MB':>6}")
    for size in (int(s) for s in args.sizes.split(",")):
        db = scaled_store(size)
        total, inside, mb = time_report(db)
        print(f"{size:>10,} {total:>10.1f} {inside:>9.1f} {mb:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
