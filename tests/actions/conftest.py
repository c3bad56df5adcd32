"""A small shop in a store: one scored run with segments, actions, recommendations,
customer attributes and 90 days of purchases before the run's as_of."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from valueseg.actions import next_best_actions
from valueseg.store import Store
from valueseg.store.actions import write_actions
from valueseg.store.derived import write_frame

AS_OF = datetime(2024, 7, 1)
RFM = ["Champions", "Loyal Customers", "New Customers", "At Risk", "Hibernating", "Can't Lose Them"]
TIERS = ["Top 1%", "Top 5%", "Top 20%", "Rest"]
CLUSTERS = ["Lapsed one-time buyers", "Active frequent buyers", "High-value big spenders"]


def make_scores(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` customers with every customer_scores column; customer 0 has a hostile id."""
    rng = np.random.default_rng(seed)
    ids = [f"C{i:05d}" for i in range(n)]
    ids[0] = '=HYPERLINK("http://x")'
    cluster = rng.integers(0, len(CLUSTERS), n)
    return pd.DataFrame(
        {
            "customer_id": ids,
            "p_alive": rng.uniform(0, 1, n),
            "expected_purchases_90d": rng.gamma(1.0, 0.5, n),
            "expected_purchases_365d": rng.gamma(1.0, 2.0, n),
            "predicted_clv_365d": rng.lognormal(4.0, 1.0, n),
            "churn_probability": rng.uniform(0, 1, n),
            "predicted_spend_90d": rng.gamma(2.0, 20.0, n),
            "rfm_r": rng.integers(1, 6, n).astype(np.int8),
            "rfm_f": rng.integers(1, 6, n).astype(np.int8),
            "rfm_m": rng.integers(1, 6, n).astype(np.int8),
            "rfm_segment": rng.choice(RFM, n),
            "value_tier": rng.choice(TIERS, n, p=[0.01, 0.04, 0.15, 0.80]),
            "cluster": cluster,
            "segment": np.array(CLUSTERS)[cluster],
        }
    )


def make_purchases(ids: list[str], seed: int = 0) -> pd.DataFrame:
    """About half the customers bought once or twice in the 90 days before AS_OF."""
    rng = np.random.default_rng(seed + 1)
    rows = []
    for i, cid in enumerate(ids):
        for k in range(rng.binomial(2, 0.35)):
            day = AS_OF - timedelta(days=float(rng.uniform(1, 89)))
            rows.append((cid, f"O{i}-{k}", day, float(rng.gamma(2.0, 25.0))))
    frame = pd.DataFrame(rows, columns=["customer_id", "order_id", "timestamp", "amount"])
    frame["is_return"] = False
    frame["load_id"] = 1
    frame["line"] = np.arange(len(frame)) + 2
    return frame


def fill_store(store: Store, n: int = 2000, seed: int = 0, emails: bool = True) -> pd.DataFrame:
    """Write run 1 (succeeded) and a failed run 2 with scores; return the scores."""
    con = store.con
    con.execute(
        "INSERT INTO runs (run_id, as_of, started_at, status) VALUES "
        "(1, ?, now()::TIMESTAMP, 'succeeded'), (2, ?, now()::TIMESTAMP, 'failed')",
        [AS_OF, AS_OF],
    )
    scores = make_scores(n, seed)
    write_frame(store, "customer_scores", 1, scores)
    write_frame(store, "customer_scores", 2, scores.head(5))
    recs = pd.DataFrame(
        {
            "customer_id": np.repeat(scores["customer_id"].to_numpy()[: n // 2], 3),
            "rank": np.tile([3, 1, 2], n // 2),
            "product_id": np.tile(["P3", "-P1", "P2"], n // 2),
            "score": 1.0,
            "model": "als",
        }
    )
    write_frame(store, "recommendations", 1, recs)
    write_actions(store, 1, next_best_actions(scores, recommendations=recs))
    if emails:
        con.execute('ALTER TABLE customers ADD COLUMN "E-Mail" VARCHAR')
        people = pd.DataFrame({"customer_id": scores["customer_id"], "load_id": 1, "line": 2})
        people["E-Mail"] = [f"c{i}@example.org" for i in range(n)]
        people.loc[1, "E-Mail"] = None
        con.register("_people", people)
        con.execute("INSERT INTO customers BY NAME SELECT * FROM _people")
        con.unregister("_people")
    tx = make_purchases(scores["customer_id"].tolist(), seed)
    con.register("_tx", tx)
    con.execute("INSERT INTO transactions BY NAME SELECT * FROM _tx")
    con.unregister("_tx")
    return scores


@pytest.fixture
def shop() -> Iterator[tuple[Store, pd.DataFrame]]:
    """An in-memory store holding the small shop, and its scores."""
    with Store(":memory:") as store:
        scores = fill_store(store)
        yield store, scores


@pytest.fixture
def scores_of():
    """``scores_of(n, seed)``: a frame of ``n`` customers' scores (see make_scores)."""
    return make_scores


@pytest.fixture
def filled():
    """``filled(store, n=2000, seed=0, emails=True)``: write the small shop into a store."""
    return fill_store
