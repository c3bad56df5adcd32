"""One customer's rebuilt features against the feature table itself, on lines made to be
awkward: several lines per order, returns, sub-second times, lines after the moment or at
it exactly, missing products, categories, discounts and channels (the synthetic shop of
test_web_realtime.py has few of these)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from valueseg.features.compute import compute_features
from valueseg.io import ingest
from valueseg.store import Store
from valueseg.store.web import customer_line_rows
from valueseg.web.realtime import _shop_lists
from valueseg.web.rebuild import rebuild_features

AS_OF = datetime(2024, 6, 1)
START = AS_OF - timedelta(days=400)

_line = st.fixed_dictionaries(
    {
        "customer_id": st.sampled_from(["a", "b", "c"]),
        "order": st.integers(0, 5),
        "seconds": st.one_of(
            st.integers(0, 410 * 86400), st.just(400 * 86400), st.just(400 * 86400 + 1)
        ),
        "micro": st.sampled_from([0, 0, 1, 500_000, 999_999]),
        "amount": st.sampled_from([-20.0, 0.5, 3.25, 10.0, 99.99, 1234.5]),
        "product_id": st.sampled_from([None, "p1", "p2", "p3"]),
        "category": st.sampled_from([None, "Toys", "Books", "Home & Garden"]),
        "discount": st.sampled_from([None, 0.0, 1.5]),
        "channel": st.sampled_from([None, "web", "app", "store"]),
    }
)


def _frame(lines: list[dict[str, Any]]) -> pd.DataFrame:
    rows = [
        {
            "customer_id": x["customer_id"],
            "order_id": f"{x['customer_id']}-{x['order']}",
            "timestamp": START + timedelta(seconds=x["seconds"], microseconds=x["micro"]),
            **{k: x[k] for k in ("amount", "product_id", "category", "discount", "channel")},
        }
        for x in lines
    ]
    return pd.DataFrame(rows)


def _same(a: Any, b: Any) -> bool:
    x = np.nan if a is None else float(a)
    y = np.nan if b is None or b is pd.NA else float(b)
    return bool(np.isclose(x, y, rtol=1e-9, atol=1e-12, equal_nan=True))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_line, min_size=1, max_size=25), st.sampled_from(["D", "W", "M", "h"]))
def test_rebuilt_features_equal_the_feature_table(lines: list[dict[str, Any]], freq: str) -> None:
    with Store(":memory:") as store:
        ingest(_frame(lines), kind="transactions", db=store)
        table = compute_features(store, AS_OF, freq=freq).to_pandas().set_index("customer_id")
        channels, categories, _ = _shop_lists(store, AS_OF)
        compared = 0
        for customer in table.index:
            rows = customer_line_rows(store, customer, AS_OF)
            rebuilt = rebuild_features(
                rows, AS_OF, freq=freq, channels=channels, categories=categories
            )
            wrong = [
                (customer, k, v, table.loc[customer, k])
                for k, v in rebuilt.items()
                if not _same(v, table.loc[customer, k])
            ]
            assert wrong == []
            compared += bool(rebuilt)
        bought = {
            x["customer_id"]
            for x in lines
            if x["amount"] > 0 and (x["seconds"], x["micro"]) <= (400 * 86400, 0)
        }
        assert compared == len(bought)
