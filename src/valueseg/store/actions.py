"""Reads and writes of the actions package: next-best actions, audiences, experiments.

Every value a user typed reaches DuckDB as a ``?`` parameter. The one text built into a
query from outside this module is a ``--where`` filter's SQL fragment
(:class:`valueseg.actions.where.Where`), which holds only allow-listed column names, fixed
operators and ``?``; column names of the ``customers`` table come from the store's own
catalogue and are quoted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from valueseg.store.store import Store

__all__ = [
    "AUDIENCE_SQL_COLUMNS",
    "audience_rows",
    "customer_spend",
    "customers_columns",
    "experiment_ids",
    "experiment_named",
    "insert_experiment",
    "latest_scored_run",
    "lens_values",
    "read_experiment",
    "run_as_of",
    "scored_runs",
    "set_experiment_status",
    "write_actions",
]

#: The columns of an audience, in file order (contact columns follow, when asked for).
AUDIENCE_SQL_COLUMNS = (
    "customer_id",
    "rfm_segment",
    "value_tier",
    "segment",
    "cluster",
    "action",
    "priority",
    "value_at_stake",
    "predicted_clv_365d",
    "churn_probability",
    "p_alive",
    "expected_purchases_90d",
    "expected_purchases_365d",
    "predicted_spend_90d",
    "expected_next_order_date",
    "rfm_r",
    "rfm_f",
    "rfm_m",
    "recommendations",
)
_ACTION_COLUMNS = ("action", "priority", "value_at_stake")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def scored_runs(store: Store) -> list[int]:
    """Succeeded runs with rows in ``customer_scores``, ascending.

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     scored_runs(store)
    []
    """
    rows = store.con.execute(
        "SELECT DISTINCT s.run_id FROM customer_scores s JOIN runs r USING (run_id) "
        "WHERE r.status = 'succeeded' ORDER BY 1"
    ).fetchall()
    return [int(r[0]) for r in rows]


def latest_scored_run(store: Store) -> int | None:
    """The newest succeeded run with customer scores (None: there is none)."""
    runs = scored_runs(store)
    return runs[-1] if runs else None


def run_as_of(store: Store, run_id: int) -> datetime | None:
    """The observation end of a run (None for an unknown run)."""
    row = store.con.execute("SELECT as_of FROM runs WHERE run_id = ?", [run_id]).fetchone()
    return None if row is None else row[0]


def write_actions(store: Store, run_id: int, actions: pd.DataFrame) -> None:
    """Insert a run's next-best actions (``customer_id, action, priority, value_at_stake,
    rule``) into ``customer_actions``."""
    con = store.con
    con.register("_vs_actions", actions)
    try:
        con.execute(
            "INSERT INTO customer_actions (run_id, customer_id, action, priority, "
            "value_at_stake, rule) SELECT ?, customer_id, action, priority, value_at_stake, "
            "rule FROM _vs_actions",
            [run_id],
        )
    finally:
        con.unregister("_vs_actions")


def customers_columns(store: Store) -> list[str]:
    """The attribute columns of ``customers`` (less the load bookkeeping)."""
    return [c for c in store.columns("customers") if c not in ("customer_id", "load_id", "line")]


def lens_values(store: Store, run_id: int) -> dict[str, list[str]]:
    """The distinct segments (all three lenses) and actions of a run, sorted."""
    out: dict[str, list[str]] = {}
    for key, table, column in (
        ("segment", "customer_scores", "rfm_segment"),
        ("segment", "customer_scores", "value_tier"),
        ("segment", "customer_scores", "segment"),
        ("action", "customer_actions", "action"),
    ):
        rows = store.con.execute(
            f"SELECT DISTINCT {column} FROM {table} WHERE run_id = ? AND {column} IS NOT NULL",
            [run_id],
        ).fetchall()
        out.setdefault(key, []).extend(str(r[0]) for r in rows)
    return {k: sorted(set(v)) for k, v in out.items()}


def audience_rows(
    store: Store,
    run_id: int,
    *,
    where_sql: str | None = None,
    where_params: Sequence[Any] = (),
    segment: str | None = None,
    action: str | None = None,
    top_n: int = 3,
    contacts: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """A run's customers with scores, segments, action and top recommendations.

    ``segment`` matches any lens (RFM segment, value tier or cluster name); ``where_sql``
    is a filter's parameterised fragment over :data:`AUDIENCE_SQL_COLUMNS`; ``contacts``
    maps an output column to a ``customers`` column (``{"email": "E-Mail"}``). Rows come
    by priority, then value at stake (largest first), then customer id; recommendations
    are the ``top_n`` first product ids joined by ``" | "``.

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     audience_rows(store, 1).columns.tolist()[:4]
    ['customer_id', 'rfm_segment', 'value_tier', 'segment']
    """
    contacts = dict(contacts or {})
    extra = "".join(f", c.{_ident(src)} AS {_ident(out)}" for out, src in contacts.items())
    join = "LEFT JOIN customers c ON c.customer_id = s.customer_id" if contacts else ""
    picked = ", ".join(
        f"a.{c}" if c in _ACTION_COLUMNS else "r.recommendations" if c == "recommendations"
        else f"s.{c}"
        for c in AUDIENCE_SQL_COLUMNS
    )  # fmt: skip
    sql = (
        f"WITH recs AS ({_top_recommendations(top_n)}), "
        f"base AS (SELECT {picked}{extra} FROM customer_scores s "
        "LEFT JOIN customer_actions a ON a.run_id = s.run_id AND a.customer_id = s.customer_id "
        f"LEFT JOIN recs r ON r.customer_id = s.customer_id {join} WHERE s.run_id = ?) "
        "SELECT * FROM base WHERE TRUE"
    )
    params: list[Any] = [run_id, run_id]
    if segment is not None:
        sql += " AND (rfm_segment = ? OR value_tier = ? OR segment = ?)"
        params += [segment] * 3
    if action is not None:
        sql += " AND action = ?"
        params.append(action)
    if where_sql:
        sql += f" AND {where_sql}"
        params += list(where_params)
    table = store.con.execute(sql, params).to_arrow_table()
    # sorted here, not by DuckDB: its sort of wide rows costs seconds for 1M customers
    order = [("priority", "ascending"), ("value_at_stake", "descending")]
    return table.sort_by([*order, ("customer_id", "ascending")]).to_pandas()


def _top_recommendations(top_n: int) -> str:
    """``customer_id, recommendations``: the first ``top_n`` product ids by rank, joined by
    " | ", of run ``?`` (one column per rank, then joined: faster than an ordered
    ``string_agg``)."""
    n = int(top_n)
    if n <= 0:
        return (
            "SELECT customer_id, NULL::VARCHAR AS recommendations FROM recommendations "
            "WHERE run_id = ? AND FALSE"
        )
    ranks = ", ".join(f"max(product_id) FILTER (WHERE rank = {k})" for k in range(1, n + 1))
    return (
        f"SELECT customer_id, concat_ws(' | ', {ranks}) AS recommendations FROM recommendations "
        f"WHERE run_id = ? AND rank <= {n} GROUP BY customer_id"
    )


def customer_spend(
    store: Store, customer_ids: Sequence[str], start: datetime, end: datetime
) -> pd.DataFrame:
    """``customer_id, spend``: each customer's purchases in ``[start, end)`` (0 for none),
    in the order given; returns are left out."""
    ids = pd.DataFrame({"customer_id": pd.Series(list(customer_ids), dtype=object)})
    ids["_order"] = range(len(ids))
    con = store.con
    con.register("_vs_ids", ids)
    try:
        return con.execute(
            "SELECT i.customer_id, coalesce(sum(t.amount), 0)::DOUBLE AS spend FROM _vs_ids i "
            "LEFT JOIN transactions t ON t.customer_id = i.customer_id AND NOT t.is_return "
            'AND t."timestamp" >= ? AND t."timestamp" < ? '
            "GROUP BY i.customer_id, i._order ORDER BY i._order",
            [start, end],
        ).df()
    finally:
        con.unregister("_vs_ids")


def insert_experiment(
    store: Store,
    *,
    name: str,
    created_at: datetime,
    segment: str | None,
    design: Mapping[str, Any],
    status: str = "designed",
) -> int:
    """Write one ``experiments`` row and return its id (one more than the largest)."""
    row = store.con.execute(
        "INSERT INTO experiments (experiment_id, name, created_at, segment, design, status) "
        "SELECT coalesce(max(experiment_id), 0) + 1, ?, ?, ?, ?, ? FROM experiments "
        "RETURNING experiment_id",
        [name, created_at, segment, json.dumps(dict(design)), status],
    ).fetchone()
    assert row is not None
    return int(row[0])


def set_experiment_status(store: Store, experiment_id: int, status: str) -> None:
    """Mark an experiment ``designed``, ``analyzed`` …"""
    store.con.execute(
        "UPDATE experiments SET status = ? WHERE experiment_id = ?", [status, experiment_id]
    )


def experiment_ids(store: Store) -> list[int]:
    """Every experiment id, ascending."""
    rows = store.con.execute("SELECT experiment_id FROM experiments ORDER BY 1").fetchall()
    return [int(r[0]) for r in rows]


def read_experiment(store: Store, experiment_id: int) -> dict[str, Any] | None:
    """An experiment's row with its design as a dict (None for an unknown id)."""
    row = store.con.execute(
        "SELECT experiment_id, name, created_at, segment, design, status FROM experiments "
        "WHERE experiment_id = ?",
        [experiment_id],
    ).fetchone()
    if row is None:
        return None
    keys = ("experiment_id", "name", "created_at", "segment", "design", "status")
    out = dict(zip(keys, row, strict=True))
    out["design"] = json.loads(out["design"] or "{}")
    return out


def experiment_named(store: Store, name: str) -> int | None:
    """The id of the experiment called ``name`` (None: no such experiment)."""
    row = store.con.execute(
        "SELECT experiment_id FROM experiments WHERE name = ?", [name]
    ).fetchone()
    return None if row is None else int(row[0])
