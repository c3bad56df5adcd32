"""Reads of the sequence learner: each customer's orders (and browsing) before a cutoff.

One row per **step** of a customer's order log before the cutoff ``at`` (every line at or
after it unseen): a purchase order, or a return (its own row; a refund that shares its
order's id is a step of its own too). Per step: the time of its first line, the net
amount (negative for a return), the lines, the items (sum of ``|quantity|``, one per line
without a quantity), the discount (sum of ``|discount|``), the category holding the largest
part of its amount, and the ``view`` and ``cart`` events of the customer since the previous
step, up to this one (events after the customer's last step before ``at`` belong to no
step; steps at the same instant share them). The sequence learner turns them into
tensors (:mod:`valueseg.deep.sequences`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pandas as pd

from valueseg.store.store import Store

__all__ = ["STEP_COLUMNS", "order_steps", "top_categories"]

#: The columns of :func:`order_steps`, in order.
STEP_COLUMNS = (
    "customer_id",
    "timestamp",
    "is_return",
    "amount",
    "lines",
    "items",
    "discount",
    "category",
    "views",
    "carts",
)

_STEPS_SQL = """
WITH lines AS (
    SELECT t.customer_id, t.order_id, t."timestamp", t.amount, t.quantity, t.discount,
           t.category, t.is_return
    FROM transactions t SEMI JOIN _vs_seq_ids c ON t.customer_id = c.customer_id
    WHERE t."timestamp" < ?
),
steps AS (
    SELECT customer_id, order_id, is_return, min("timestamp") AS "timestamp",
           sum(amount) AS amount, count(*) AS lines,
           sum(abs(coalesce(quantity, 1))) AS items,
           sum(abs(coalesce(discount, 0))) AS discount,
           arg_max(category, struct_pack(a := abs(amount), c := category)) AS category
    FROM lines GROUP BY customer_id, order_id, is_return
),
browsing AS (
    SELECT e.customer_id, e."timestamp", lower(e.event_type) AS kind
    FROM events e SEMI JOIN _vs_seq_ids c ON e.customer_id = c.customer_id
    WHERE e."timestamp" < ? AND lower(e.event_type) IN ('view', 'cart')
),
times AS (SELECT DISTINCT customer_id, "timestamp" FROM steps),
counts AS (
    SELECT s.customer_id, s."timestamp",
           count(*) FILTER (WHERE b.kind = 'view') AS views,
           count(*) FILTER (WHERE b.kind = 'cart') AS carts
    FROM browsing b ASOF JOIN times s
      ON b.customer_id = s.customer_id AND b."timestamp" <= s."timestamp"
    GROUP BY s.customer_id, s."timestamp"
)
SELECT s.customer_id, s."timestamp", s.is_return, s.amount, s.lines, s.items, s.discount,
       s.category, coalesce(c.views, 0) AS views, coalesce(c.carts, 0) AS carts
FROM steps s LEFT JOIN counts c
  ON s.customer_id = c.customer_id AND s."timestamp" = c."timestamp"
ORDER BY s.customer_id, s."timestamp", s.is_return, s.order_id
"""


def order_steps(store: Store, at: datetime, customers: Iterable[str]) -> pd.DataFrame:
    """The steps of ``customers``' order logs before ``at`` (see the module), time-ordered.

    Columns: :data:`STEP_COLUMNS`; sorted by customer, time, purchases before returns,
    order id.

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     order_steps(store, datetime(2024, 1, 1), ["a"]).columns.tolist()[:4]
    ['customer_id', 'timestamp', 'is_return', 'amount']
    """
    ids = pd.DataFrame({"customer_id": pd.Series(list(customers), dtype=object).astype(str)})
    con = store.con
    con.register("_vs_seq_ids", ids)
    try:
        frame = con.execute(_STEPS_SQL, [at, at]).df()
    finally:
        con.unregister("_vs_seq_ids")
    return frame[list(STEP_COLUMNS)]


def top_categories(store: Store, before: datetime, k: int) -> list[str]:
    """The ``k`` categories with the most purchase lines before ``before`` (ties by name).

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     top_categories(store, datetime(2024, 1, 1), 5)
    []
    """
    rows = store.con.execute(
        "SELECT category, count(*) AS n FROM transactions "
        'WHERE NOT is_return AND category IS NOT NULL AND "timestamp" < ? '
        "GROUP BY category ORDER BY n DESC, category LIMIT ?",
        [before, int(k)],
    ).fetchall()
    return [str(r[0]) for r in rows]
