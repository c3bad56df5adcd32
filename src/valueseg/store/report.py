"""Every read the HTML report makes: aggregates of one run, never a row per customer.

The report (:mod:`valueseg.report.html`) draws what these functions return. Each one
aggregates in DuckDB, so the report of a run of a million customers moves a few thousand
numbers, not a million rows; the exceptions say so (:func:`score_values` reads one
column, :func:`sample_orders` the orders of a uniform sample of customers,
:func:`feature_sample` the features of a sample of at most a few thousand customers).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from valueseg.store.store import Store

__all__ = [
    "action_summary",
    "coverage",
    "currency",
    "example_customers",
    "experiments",
    "feature_limits",
    "feature_sample",
    "kept_aside_by_reason",
    "kpis",
    "loads",
    "migration_flows",
    "model_fits",
    "monthly_orders",
    "previous_run",
    "reason_importance",
    "recommend_coverage",
    "recommend_evaluation",
    "rejected_by_reason",
    "report_run",
    "rfm_cells",
    "run_ids",
    "sample_orders",
    "score_values",
    "segment_actions",
    "table_rows",
    "tier_values",
]

#: The customer_scores columns that hold a customer's segment in each lens.
_LENS_COLUMNS = ("rfm_segment", "value_tier", "segment")


def _one(store: Store, sql: str, args: list[Any] | None = None) -> tuple[Any, ...]:
    row = store.con.execute(sql, args or []).fetchone()
    assert row is not None  # an aggregate without GROUP BY returns one row
    return tuple(row)


def report_run(store: Store, run_id: int | None) -> dict[str, Any] | None:
    """The run a report shows: ``run_id`` (any status), else the newest succeeded run.

    Returns None when there is no such run. ``parameters`` is parsed from its JSON.

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     report_run(store, None) is None
    True
    """
    cols = "run_id, as_of, status, started_at, finished_at, parameters, message"
    if run_id is None:
        sql = f"SELECT {cols} FROM runs WHERE status = 'succeeded' ORDER BY run_id DESC LIMIT 1"
        row = store.con.execute(sql).fetchone()
    else:
        row = store.con.execute(f"SELECT {cols} FROM runs WHERE run_id = ?", [run_id]).fetchone()
    if row is None:
        return None
    out = dict(zip([c.strip() for c in cols.split(",")], row, strict=True))
    out["parameters"] = json.loads(out["parameters"]) if out["parameters"] else {}
    return out


def previous_run(store: Store, run_id: int) -> dict[str, Any] | None:
    """The newest succeeded run before ``run_id`` that scored customers (None: none did)."""
    row = store.con.execute(
        "SELECT max(r.run_id) FROM runs r WHERE r.status = 'succeeded' AND r.run_id < ? "
        "AND EXISTS (SELECT 1 FROM customer_scores s WHERE s.run_id = r.run_id)",
        [run_id],
    ).fetchone()
    if row is None or row[0] is None:
        return None
    return report_run(store, int(row[0]))


def table_rows(store: Store, table: str, run_id: int | None = None) -> int:
    """Rows of ``table`` (of one run when ``run_id`` is given).

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     table_rows(store, "loads"), table_rows(store, "segments", 1)
    (0, 0)
    """
    if run_id is None:
        return int(_one(store, f'SELECT count(*) FROM "{table}"')[0])
    return int(_one(store, f'SELECT count(*) FROM "{table}" WHERE run_id = ?', [run_id])[0])


# -- data quality --------------------------------------------------------------------------
def loads(store: Store) -> pd.DataFrame:
    """``load_id, source, kind, rows_read, accepted, rejected, currency, loaded_at``."""
    return store.con.execute(
        "SELECT load_id, source, kind, rows_read, accepted, rejected, currency, loaded_at "
        "FROM loads ORDER BY load_id"
    ).df()


def rejected_by_reason(store: Store) -> pd.DataFrame:
    """``kind, reason, rows`` of ``rejected_rows``, most rows first."""
    return store.con.execute(
        "SELECT kind, reason, count(*) AS rows FROM rejected_rows "
        "GROUP BY kind, reason ORDER BY rows DESC, kind, reason"
    ).df()


def kept_aside_by_reason(store: Store) -> pd.DataFrame:
    """``reason, lines, orders`` of the orders kept aside (not purchases), most first."""
    return store.con.execute(
        "SELECT reason, count(*) AS lines, count(DISTINCT order_id) AS orders FROM kept_aside "
        "GROUP BY reason ORDER BY lines DESC, reason"
    ).df()


def coverage(store: Store) -> dict[str, Any]:
    """What the order log and the events cover: dates, lines, orders, customers, amounts.

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     coverage(store)["purchase_lines"]
    0
    """
    tx = _one(
        store,
        'SELECT min("timestamp") FILTER (WHERE NOT is_return), '
        'max("timestamp") FILTER (WHERE NOT is_return), '
        "count(*) FILTER (WHERE NOT is_return), count(*) FILTER (WHERE is_return), "
        "count(DISTINCT order_id) FILTER (WHERE NOT is_return), count(DISTINCT customer_id), "
        "coalesce(sum(amount) FILTER (WHERE NOT is_return), 0), "
        "coalesce(sum(amount) FILTER (WHERE is_return), 0), "
        "count(*) FILTER (WHERE NOT is_return AND product_id IS NOT NULL) FROM transactions",
    )
    ev = _one(store, 'SELECT count(*), min("timestamp"), max("timestamp") FROM events')
    return {
        "first_purchase": tx[0],
        "last_purchase": tx[1],
        "purchase_lines": int(tx[2]),
        "return_lines": int(tx[3]),
        "orders": int(tx[4]),
        "customers": int(tx[5]),
        "purchases_amount": float(tx[6]),
        "returns_amount": float(tx[7]),
        "lines_with_product": int(tx[8]),
        "events": int(ev[0]),
        "first_event": ev[1],
        "last_event": ev[2],
    }


def monthly_orders(store: Store) -> pd.DataFrame:
    """``month, orders, revenue``: purchase orders and their amount per calendar month."""
    return store.con.execute(
        "SELECT date_trunc('month', \"timestamp\")::DATE AS month, "
        "count(DISTINCT order_id) AS orders, sum(amount) AS revenue "
        "FROM transactions WHERE NOT is_return GROUP BY 1 ORDER BY 1"
    ).df()


# -- one run's customers ---------------------------------------------------------------------
def _feature(store: Store, name: str, fallback: str) -> str:
    """``f.<name>`` when customer_features has the column, else ``fallback`` (SQL)."""
    return f'f."{name}"' if name in store.columns("customer_features") else fallback


def kpis(store: Store, run_id: int) -> dict[str, Any]:
    """The headline numbers of a run's customers.

    ``revenue`` is their purchases up to the run's ``as_of`` (``spend_total``, returns not
    netted, as the segments' revenue shares count it); ``repeat`` the customers with more
    than one order; ``churners`` the sum of ``churn_probability`` (None: not predicted).

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     kpis(store, 1)["customers"]
    0
    """
    orders = _feature(store, "orders_total", _feature(store, "frequency", "NULL") + " + 1")
    row = _one(
        store,
        "SELECT count(*), count(s.p_alive), count(*) FILTER (WHERE s.p_alive > 0.5), "
        f"coalesce(sum({_feature(store, 'spend_total', 'NULL')}), 0), "
        f"count(*) FILTER (WHERE {orders} >= 2), "
        "sum(s.predicted_clv_365d), count(s.predicted_clv_365d), "
        "sum(s.churn_probability), count(s.churn_probability), "
        "sum(s.predicted_spend_90d), count(s.predicted_spend_90d) "
        "FROM customer_scores s LEFT JOIN customer_features f "
        "ON f.run_id = s.run_id AND f.customer_id = s.customer_id WHERE s.run_id = ?",
        [run_id],
    )
    return {
        "customers": int(row[0]),
        "scored": int(row[1]),
        "active": int(row[2]),
        "revenue": float(row[3]),
        "repeat": int(row[4]),
        "predicted_365d": None if row[6] == 0 else float(row[5]),
        "churners": None if row[8] == 0 else float(row[7]),
        "spend_90d": None if row[10] == 0 else float(row[9]),
    }


def feature_sample(store: Store, run_id: int, columns: list[str], n: int = 2000) -> pd.DataFrame:
    """``customer_id, segment`` and the feature ``columns`` of ``n`` customers of a run
    (all when there are fewer), chosen by a hash of the id: the same sample every time.

    A column ``customer_features`` lacks raises ``KeyError`` (a run of an older schema).

    Examples
    --------
    >>> store = Store(":memory:")  # before any run: no feature column yet
    >>> feature_sample(store, 1, []).columns.tolist()
    ['customer_id', 'segment']
    >>> feature_sample(store, 1, ["orders_total"])
    Traceback (most recent call last):
    KeyError: 'orders_total'
    >>> store.close()
    """
    have = set(store.columns("customer_features"))
    if missing := [c for c in columns if c not in have]:
        raise KeyError(", ".join(missing))
    picked = "".join(f', f."{c}"' for c in columns)
    return store.con.execute(
        "WITH pick AS (SELECT customer_id FROM customer_features WHERE run_id = ? "
        f"ORDER BY hash(customer_id), customer_id LIMIT {int(n)}) "
        f"SELECT f.customer_id, s.segment{picked} FROM pick "
        "JOIN customer_features f ON f.run_id = ? AND f.customer_id = pick.customer_id "
        "LEFT JOIN customer_scores s ON s.run_id = ? AND s.customer_id = pick.customer_id "
        "ORDER BY hash(f.customer_id), f.customer_id",
        [run_id, run_id, run_id],
    ).df()


def rfm_cells(store: Store, run_id: int) -> pd.DataFrame:
    """``r, f, segment, customers, revenue`` per occupied cell of the R×F grid."""
    spend = _feature(store, "spend_total", "0.0")
    return store.con.execute(
        "SELECT s.rfm_r AS r, s.rfm_f AS f, mode(s.rfm_segment) AS segment, "
        f"count(*) AS customers, coalesce(sum({spend}), 0) AS revenue "
        "FROM customer_scores s LEFT JOIN customer_features f "
        "ON f.run_id = s.run_id AND f.customer_id = s.customer_id "
        "WHERE s.run_id = ? AND s.rfm_r IS NOT NULL AND s.rfm_f IS NOT NULL "
        "GROUP BY 1, 2 ORDER BY 1 DESC, 2",
        [run_id],
    ).df()


def tier_values(store: Store, run_id: int) -> pd.DataFrame:
    """``value_tier, customers, revenue, predicted_clv, mean_clv, mean_p_alive`` per tier,
    the most valuable tier first."""
    spend = _feature(store, "spend_total", "0.0")
    return store.con.execute(
        "SELECT s.value_tier, count(*) AS customers, coalesce(sum(" + spend + "), 0) AS revenue, "
        "sum(s.predicted_clv_365d) AS predicted_clv, avg(s.predicted_clv_365d) AS mean_clv, "
        "avg(s.p_alive) AS mean_p_alive FROM customer_scores s LEFT JOIN customer_features f "
        "ON f.run_id = s.run_id AND f.customer_id = s.customer_id "
        "WHERE s.run_id = ? AND s.value_tier IS NOT NULL GROUP BY 1 "
        "ORDER BY mean_clv DESC NULLS LAST, customers",
        [run_id],
    ).df()


def score_values(store: Store, run_id: int, column: str) -> NDArray[np.float64]:
    """One ``customer_scores`` column of a run as floats (one value per customer)."""
    if column not in store.columns("customer_scores"):
        raise KeyError(column)  # the caller names the column; a bad one is a bug
    rows = store.con.execute(
        f"SELECT coalesce(\"{column}\"::DOUBLE, 'NaN'::DOUBLE) AS v FROM customer_scores "
        "WHERE run_id = ?",
        [run_id],
    ).fetchnumpy()
    return np.asarray(rows["v"], dtype=np.float64)


def feature_limits(store: Store, run_id: int) -> dict[str, float | None]:
    """``max_frequency``, ``q99_frequency`` and ``max_T`` of a run's summary columns."""
    if not {"frequency", "T"} <= set(store.columns("customer_features")):
        return {"max_frequency": None, "q99_frequency": None, "max_T": None}
    row = _one(
        store,
        'SELECT max(frequency), quantile_cont(frequency, 0.99), max("T") '
        "FROM customer_features WHERE run_id = ?",
        [run_id],
    )
    return {
        "max_frequency": None if row[0] is None else float(row[0]),
        "q99_frequency": None if row[1] is None else float(row[1]),
        "max_T": None if row[2] is None else float(row[2]),
    }


def segment_actions(store: Store, run_id: int, column: str) -> pd.DataFrame:
    """``segment, action, customers``: per segment of a lens, its most common action."""
    if column not in _LENS_COLUMNS:
        raise KeyError(column)
    return store.con.execute(
        f'WITH per AS (SELECT s."{column}" AS segment, a.action, count(*) AS customers '
        "FROM customer_actions a JOIN customer_scores s "
        "ON s.run_id = a.run_id AND s.customer_id = a.customer_id WHERE a.run_id = ? "
        "GROUP BY 1, 2) SELECT segment, arg_max(action, customers) AS action, "
        "max(customers) AS customers FROM per WHERE segment IS NOT NULL GROUP BY 1",
        [run_id],
    ).df()


# -- models -----------------------------------------------------------------------------------
def model_fits(store: Store, run_id: int) -> list[dict[str, Any]]:
    """The ``model_fits`` rows of a run, params and back-test parsed, chosen first."""
    rows = store.con.execute(
        "SELECT model, params, loglik, aic, bic, converged, chosen, backtest FROM model_fits "
        "WHERE run_id = ? ORDER BY chosen DESC, model",
        [run_id],
    ).fetchall()
    keys = ("model", "params", "loglik", "aic", "bic", "converged", "chosen", "backtest")
    out = []
    for row in rows:
        fit = dict(zip(keys, row, strict=True))
        fit["params"] = json.loads(fit["params"]) if fit["params"] else {}
        fit["backtest"] = json.loads(fit["backtest"]) if fit["backtest"] else {}
        out.append(fit)
    return out


def sample_orders(
    store: Store, as_of: datetime, customers: int, max_customers: int = 20_000
) -> tuple[pd.DataFrame, int]:
    """``customer_id, timestamp`` of each purchase order before ``as_of`` of a uniform
    sample of about ``max_customers`` customers (all when there are fewer), and the number
    of customers sampled. The sample is the same every time (by a hash of the id)."""
    buckets = 10_000
    keep = buckets if customers <= max_customers else max(1, buckets * max_customers // customers)
    # the two numbers written into the SQL: as parameters, DuckDB scans ten times slower
    frame = store.con.execute(
        'SELECT customer_id, min("timestamp") AS "timestamp" FROM transactions '
        f'WHERE NOT is_return AND "timestamp" < ? AND hash(customer_id) % {buckets} < '
        f"{int(keep)} GROUP BY customer_id, order_id",
        [as_of],
    ).df()
    return frame, int(frame["customer_id"].nunique())


def reason_importance(store: Store, run_id: int, top: int = 12) -> pd.DataFrame:
    """``feature, mean_abs_contribution, customers``: the features of the stored reasons
    (each customer's largest contributions), by mean absolute contribution."""
    return store.con.execute(
        "SELECT feature, avg(abs(contribution)) AS mean_abs_contribution, "
        "count(DISTINCT customer_id) AS customers FROM customer_reasons WHERE run_id = ? "
        "GROUP BY feature ORDER BY mean_abs_contribution DESC NULLS LAST, feature LIMIT ?",
        [run_id, top],
    ).df()


def example_customers(store: Store, run_id: int, n: int = 3) -> pd.DataFrame:
    """The ``n`` customers with the most value at stake (predicted CLV × churn probability)
    among those with reasons: ``customer_id, predicted_clv_365d, churn_probability,
    segment, rank, text`` (one row per reason)."""
    return store.con.execute(
        "WITH top AS (SELECT s.customer_id, s.predicted_clv_365d, s.churn_probability, "
        "coalesce(s.segment, s.rfm_segment) AS segment FROM customer_scores s "
        "WHERE s.run_id = ? AND s.churn_probability IS NOT NULL AND EXISTS (SELECT 1 FROM "
        "customer_reasons r WHERE r.run_id = s.run_id AND r.customer_id = s.customer_id) "
        "ORDER BY coalesce(s.predicted_clv_365d, 0) * s.churn_probability DESC, "
        "s.customer_id LIMIT ?) "
        "SELECT t.*, r.rank, r.text FROM top t JOIN customer_reasons r "
        "ON r.run_id = ? AND r.customer_id = t.customer_id "
        "ORDER BY coalesce(t.predicted_clv_365d, 0) * t.churn_probability DESC, "
        "t.customer_id, r.rank",
        [run_id, n, run_id],
    ).df()


# -- migration, recommendations, actions ------------------------------------------------------
def migration_flows(store: Store, from_run: int, to_run: int, column: str) -> pd.DataFrame:
    """``before, after, customers`` between two runs in one lens; a customer only in the
    later run is ``(new)`` before, one only in the earlier ``(gone)`` after."""
    if column not in _LENS_COLUMNS:
        raise KeyError(column)
    return store.con.execute(
        f"SELECT coalesce(a.\"{column}\", CASE WHEN a.customer_id IS NULL THEN '(new)' END) "
        f"AS before, coalesce(b.\"{column}\", CASE WHEN b.customer_id IS NULL THEN '(gone)' "
        "END) AS after, count(*) AS customers FROM "
        f'(SELECT customer_id, "{column}" FROM customer_scores WHERE run_id = ?) a FULL JOIN '
        f'(SELECT customer_id, "{column}" FROM customer_scores WHERE run_id = ?) b '
        "USING (customer_id) GROUP BY 1, 2 ORDER BY customers DESC",
        [from_run, to_run],
    ).df()


def recommend_evaluation(store: Store, run_id: int) -> pd.DataFrame:
    """``model, chosen, metric, k, value, customers`` of cohort ``all``, segment ``all``."""
    return store.con.execute(
        "SELECT model, chosen, metric, k, value, customers FROM recommend_evaluation "
        "WHERE run_id = ? AND cohort = 'all' AND segment = 'all' ORDER BY model, metric, k",
        [run_id],
    ).df()


def recommend_coverage(store: Store, run_id: int) -> dict[str, int]:
    """Customers with a list, products recommended, and products sold (the catalogue)."""
    rec = _one(
        store,
        "SELECT count(DISTINCT customer_id), count(DISTINCT product_id) FROM recommendations "
        "WHERE run_id = ?",
        [run_id],
    )
    sold = _one(store, "SELECT count(DISTINCT product_id) FROM transactions WHERE NOT is_return")
    return {"customers": int(rec[0]), "products": int(rec[1]), "catalogue": int(sold[0])}


def action_summary(store: Store, run_id: int) -> pd.DataFrame:
    """``action, customers, value_at_stake, priority, rule`` per action, first priority
    first (``rule`` the most common rule that chose it)."""
    return store.con.execute(
        "SELECT action, count(*) AS customers, sum(value_at_stake) AS value_at_stake, "
        "min(priority) AS priority, mode(rule) AS rule FROM customer_actions WHERE run_id = ? "
        "GROUP BY action ORDER BY priority NULLS LAST, customers DESC, action",
        [run_id],
    ).df()


def experiments(store: Store) -> pd.DataFrame:
    """``experiment_id, name, created_at, segment, status, design`` (design as JSON text)."""
    return store.con.execute(
        "SELECT experiment_id, name, created_at, segment, status, design FROM experiments "
        "ORDER BY experiment_id"
    ).df()


def currency(store: Store) -> str | None:
    """The currency the order loads name (several joined by ", "; None: none named).

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     currency(store) is None
    True
    """
    rows = store.con.execute(
        "SELECT DISTINCT currency FROM loads WHERE kind = 'transactions' "
        "AND currency IS NOT NULL ORDER BY 1"
    ).fetchall()
    return ", ".join(str(r[0]) for r in rows) or None


def run_ids(store: Store) -> list[tuple[int, str]]:
    """``(run_id, status)`` of every run, oldest first."""
    rows = store.con.execute("SELECT run_id, status FROM runs ORDER BY run_id").fetchall()
    return [(int(r[0]), str(r[1])) for r in rows]
