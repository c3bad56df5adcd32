"""Small inputs for the sequence learner: toy sequences with a signal, and a shop store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from valueseg.deep import OrderSequences, build_sequences
from valueseg.io import ingest
from valueseg.store import Store
from valueseg.synth import Shop, make_shop

NOW = datetime(2025, 1, 2)  # the moment of loading
T0 = datetime(2024, 7, 5)  # a cutoff inside make_shop's history


def toy(
    n: int, seed: int, at: str = "2024-06-01"
) -> tuple[pd.DataFrame, np.ndarray, OrderSequences]:
    """``n`` customers with 1 to 6 orders: who stopped ordering long ago churns; spend
    follows the order amounts. (static features, [churn, spend], sequences)."""
    rng = np.random.default_rng(seed)
    orders = rng.integers(1, 7, n)
    rows = []
    for i, k in enumerate(orders):
        last = rng.integers(1, 120)
        days = last + np.cumsum(rng.integers(5, 40, k))[::-1]
        for d in days:
            rows.append(
                {
                    "customer_id": f"c{i:04d}",
                    "timestamp": pd.Timestamp(at) - pd.Timedelta(days=int(d)),
                    "is_return": False,
                    "amount": float(rng.gamma(2.0, 20.0)),
                    "lines": 1,
                    "items": 1.0,
                    "discount": 0.0,
                    "category": rng.choice(["toys", "books", "garden"]),
                    "views": int(rng.integers(0, 4)),
                    "carts": 0,
                }
            )
    steps = pd.DataFrame(rows)
    ids = [f"c{i:04d}" for i in range(n)]
    seq = build_sequences(steps, ids, pd.Timestamp(at), categories=["toys", "books"], length=8)
    recency = steps.groupby("customer_id")["timestamp"].max().reindex(ids)
    days = (pd.Timestamp(at) - recency).dt.days.to_numpy()
    churn = (rng.random(n) < np.clip(days / 150, 0.05, 0.95)).astype(float)
    spend = np.where(churn == 1, 0.0, rng.gamma(2.0, 25.0, n))
    X = pd.DataFrame({"customer_id": ids, "orders": orders, "days": days.astype(float)})
    return X, np.column_stack([churn, spend]), seq


@pytest.fixture(scope="session")
def toy_data():
    """The toy function above."""
    return toy


@pytest.fixture(scope="package")
def shop_store() -> Iterator[tuple[Shop, Store]]:
    """300 customers with order lines and events, in memory."""
    shop = make_shop(300, random_state=11)
    with Store(":memory:") as store:
        ingest(shop.transactions, db=store, now=NOW)
        ingest(shop.events, kind="events", db=store, now=NOW)
        yield shop, store
