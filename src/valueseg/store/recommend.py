"""Reads and writes of the recommend stage: its inputs up to ``as_of`` and its results.

The stage reads the purchase and return lines and the browse events of the shop up to the
run's ``as_of`` (nothing later reaches a model); it writes each customer's list
(``recommendations``, with the model that chose each row), the evaluation of every model
(``recommend_evaluation``, long form) and each product's neighbours (``similar_products``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from valueseg.store.derived import write_frame
from valueseg.store.one_customer import of_customer
from valueseg.store.store import Store

if TYPE_CHECKING:
    from valueseg.recommend.stage import RecommendResult

__all__ = [
    "read_evaluation",
    "read_recommendations",
    "read_similar",
    "recommend_inputs",
    "write_recommendations",
]

_TRANSACTIONS = (
    "customer_id",
    "order_id",
    "timestamp",
    "amount",
    "product_id",
    "category",
    "quantity",
    "is_return",
)
_EVENTS = ("customer_id", "timestamp", "event_type", "product_id")


def recommend_inputs(store: Store, as_of: datetime) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(transactions, events) up to ``as_of``: the order lines (those without a product are
    counted by the stage, then left out) and the events (None when the shop loaded none).

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     tx, ev = recommend_inputs(store, datetime(2024, 1, 1))
    >>> tx.columns.tolist()[:3], ev is None
    (['customer_id', 'order_id', 'timestamp'], True)
    """
    columns = ", ".join(f'"{c}"' for c in _TRANSACTIONS)
    transactions = store.con.execute(
        f'SELECT {columns} FROM transactions WHERE "timestamp" < ?',
        [as_of],
    ).df()
    events = store.con.execute(
        f'SELECT {", ".join(_EVENTS)} FROM events WHERE "timestamp" < ?', [as_of]
    ).df()
    return transactions, (None if events.empty else events)


def write_recommendations(store: Store, run_id: int, result: RecommendResult) -> None:
    """Insert a run's lists, evaluation and product neighbours (nothing when skipped)."""
    for table, frame in (
        ("recommendations", result.recommendations),
        ("recommend_evaluation", result.evaluation),
        ("similar_products", result.similar),
    ):
        if len(frame):
            write_frame(store, table, run_id, frame)


def read_recommendations(store: Store, run_id: int, customer_id: Any = None) -> pd.DataFrame:
    """``customer_id, rank, product_id, score, reason, model`` of a run (one customer's)."""
    columns = "customer_id, rank, product_id, score, reason, model"
    if customer_id is not None:  # through the index by customer
        sql = of_customer("recommendations", f"run_id, {columns}")
        sql += f"SELECT {columns} FROM c WHERE run_id = ? ORDER BY rank"
        return store.con.execute(sql, [str(customer_id), run_id]).df()
    sql = f"SELECT {columns} FROM recommendations WHERE run_id = ? ORDER BY customer_id, rank"
    return store.con.execute(sql, [run_id]).df()


def read_evaluation(store: Store, run_id: int) -> pd.DataFrame:
    """The long evaluation frame of a run (no rows: the stage was skipped)."""
    return store.con.execute(
        "SELECT model, chosen, cohort, segment, metric, k, value, customers "
        "FROM recommend_evaluation WHERE run_id = ?",
        [run_id],
    ).df()


def read_similar(store: Store, run_id: int, product_id: Any = None) -> pd.DataFrame:
    """``product_id, rank, similar_product_id, score`` of a run (one product's)."""
    sql = (
        "SELECT product_id, rank, similar_product_id, score FROM similar_products WHERE run_id = ?"
    )
    args: list[Any] = [run_id]
    if product_id is not None:
        sql += " AND product_id = ?"
        args.append(str(product_id))
    return store.con.execute(sql + " ORDER BY product_id, rank", args).df()
