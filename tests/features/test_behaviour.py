"""Behavioural features on a fixture small enough to check by hand, and DuckDB = Spark."""

from __future__ import annotations

import os
import shutil
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from valueseg.features.compute import compute_features
from valueseg.io import ingest
from valueseg.store import Store

AS_OF = datetime(2024, 7, 1)


@pytest.fixture
def shop(store):
    tx = pd.DataFrame(
        [
            # customer a: three orders, one with two lines, one discounted, one return
            ("a", "o1", "2024-01-01 10:00", "p1", "toys", 1, 20.0, 0.0, "web"),
            ("a", "o1", "2024-01-01 10:00", "p2", "books", 1, 10.0, 0.0, "web"),
            ("a", "o2", "2024-05-01 09:00", "p1", "toys", 1, 40.0, 5.0, "app"),
            ("a", "o3", "2024-06-21 12:00", "p3", "toys", 1, 60.0, 0.0, "web"),
            ("a", "Ca", "2024-06-25 12:00", "p3", "toys", -1, -60.0, 0.0, "web"),
            # customer b: one order
            ("b", "o4", "2024-03-01 00:00", "p2", "books", 2, 16.0, 0.0, "store"),
        ],
        columns=[
            "customer_id",
            "order_id",
            "timestamp",
            "product_id",
            "category",
            "quantity",
            "amount",
            "discount",
            "channel",
        ],
    )
    ev = pd.DataFrame(
        [
            ("a", "2024-06-20 11:50", "view", "p3", "s1", 30.0, None),
            ("a", "2024-06-20 11:55", "cart", "p3", "s1", 10.0, None),
            ("a", "2024-06-21 12:00", "purchase", "p3", "s1", 5.0, None),
            ("a", "2024-06-28 08:00", "cart", "p1", "s2", 20.0, None),
            ("a", "2024-06-29 08:00", "review", "p1", "s3", 0.0, 4.0),
        ],
        columns=[
            "customer_id",
            "timestamp",
            "event_type",
            "product_id",
            "session_id",
            "duration_s",
            "rating",
        ],
    )
    cu = pd.DataFrame({"customer_id": ["a", "b"], "age": [30, 41], "region": ["n", "s"]})
    now = datetime(2024, 7, 2)
    ingest(tx, db=store, now=now)
    ingest(ev, kind="events", db=store, now=now)
    ingest(cu, kind="customers", db=store, now=now)
    return store


def test_features_by_hand(shop):
    f = compute_features(shop, AS_OF).to_pandas().set_index("customer_id")
    a, b = f.loc["a"], f.loc["b"]
    assert (a.frequency, a.recency, a["T"]) == (2.0, 172.0, 182.0)
    assert a.monetary_value == pytest.approx(50.0)
    assert a.orders_total == 3 and a.spend_total == pytest.approx(130.0)
    assert (a.orders_30d, a.orders_90d, a.orders_180d) == (1, 2, 2)
    assert (a.spend_30d, a.spend_90d, a.spend_180d) == (60.0, 100.0, 100.0)
    assert a.avg_order_value == pytest.approx(130 / 3)
    assert a.std_order_value == pytest.approx(np.std([30, 40, 60], ddof=1))
    gaps = [
        (datetime(2024, 5, 1, 9) - datetime(2024, 1, 1, 10)).total_seconds() / 86400,
        (datetime(2024, 6, 21, 12) - datetime(2024, 5, 1, 9)).total_seconds() / 86400,
    ]
    assert a.ipt_mean_days == pytest.approx(np.mean(gaps))
    assert a.ipt_cv == pytest.approx(np.std(gaps, ddof=1) / np.mean(gaps))
    assert a.days_since_last_order == pytest.approx(9.5)
    assert a.spend_trend_90d == pytest.approx(1.0)  # all of it in the last 90 days
    assert (a.distinct_products, a.distinct_categories) == (3, 2)
    assert a.discount_order_share == pytest.approx(1 / 3)
    assert a.return_rate == pytest.approx(1 / 4)
    assert a.cat_share_toys == pytest.approx(120 / 130)
    assert (a.channel_share_web, a.channel_share_app, a.channel_share_store) == (2 / 3, 1 / 3, 0)
    assert (b.channel_share_web, b.channel_share_store) == (0, 1)
    assert a.top_category_share == pytest.approx(120 / 130)
    assert (a.sessions_30d, a.views_30d, a.carts_30d) == (3, 1, 2)
    assert a.cart_abandonment_rate == pytest.approx(0.5)  # s2 carted, never bought
    assert a.view_to_purchase_rate == pytest.approx(4.0)  # 4 lines bought / 1 view
    assert a.mean_session_duration_s == pytest.approx((45 + 20 + 0) / 3)
    assert a.mean_rating == pytest.approx(4.0)
    assert a.attr_age == 30 and a.attr_region_n == 1 and a.attr_region_s == 0
    # b: one order, no events: zeros where zero is true, NULL where undefined
    assert (b.frequency, b.monetary_value, b.orders_total) == (0.0, 0.0, 1)
    assert np.isnan(b.std_order_value) and np.isnan(b.ipt_mean_days)
    assert (b.sessions_30d, b.views_30d, b.cart_abandonment_rate) == (0, 0, 0.0)
    assert np.isnan(b.mean_rating)
    assert b.attr_region_s == 1


def test_missing_sources_produce_no_columns(store):
    tx = pd.DataFrame({"customer_id": ["a"], "timestamp": ["2024-01-01"], "amount": [1.0]})
    ingest(tx, db=store, now=AS_OF)
    cols = compute_features(store, AS_OF).column_names
    assert "views_30d" not in cols and not any(c.startswith("attr_") for c in cols)
    assert not any(c.startswith("cat_share_") for c in cols)


def test_customer_with_only_returns_is_not_a_customer(store):
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "r"],
            "timestamp": ["2024-01-01", "2024-01-02"],
            "amount": [1.0, -5.0],
        }
    )
    ingest(tx, db=store, now=AS_OF)
    assert compute_features(store, AS_OF).to_pandas().customer_id.tolist() == ["a"]


def _spark_ready() -> bool:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return shutil.which("java") is not None or "JAVA_HOME" in os.environ


@pytest.mark.slow
@pytest.mark.skipif(not _spark_ready(), reason="needs the spark extra and Java")
# py4j leaves its gateway sockets to the garbage collector; pyspark passes pandas a
# deprecated keyword. Neither is ours to fix.
@pytest.mark.filterwarnings(
    "ignore::ResourceWarning",
    "ignore::pytest.PytestUnraisableExceptionWarning",
    "ignore:The copy keyword is deprecated",
)
def test_spark_gives_the_same_features_as_duckdb(tmp_path):
    from valueseg.synth import make_shop

    shop = make_shop(800, random_state=3)
    with Store(tmp_path / "s.duckdb") as store:
        ingest(shop.transactions, db=store)
        ingest(shop.events, kind="events", db=store)
        ingest(shop.customers, kind="customers", db=store)
        as_of = datetime(2025, 1, 1)
        duck = compute_features(store, as_of).to_pandas()
        spark = compute_features(store, as_of, engine="spark").to_pandas()
    assert list(duck.columns) == list(spark.columns)
    assert duck.customer_id.tolist() == spark.customer_id.tolist()
    for col in duck.columns[1:]:
        np.testing.assert_allclose(
            duck[col].to_numpy(float),
            spark[col].to_numpy(float),
            rtol=1e-9,
            atol=1e-9,
            equal_nan=True,
            err_msg=col,
        )


def test_parquet_path_gives_the_same_features_as_the_store(tmp_path):
    """features_from_parquet (in memory and streamed to a file) = compute_features(store)."""
    import pyarrow.parquet as pq

    from valueseg.features.compute import features_from_parquet
    from valueseg.synth import make_shop

    shop = make_shop(300, random_state=5)
    as_of = datetime(2025, 1, 1)
    paths = {}
    with Store(tmp_path / "s.duckdb") as store:
        ingest(shop.transactions, db=store)
        ingest(shop.events, kind="events", db=store)
        duck = compute_features(store, as_of).to_pandas()
        for name in ("transactions", "events"):
            paths[name] = str(tmp_path / f"{name}.parquet")
            store.con.execute(
                f"COPY (SELECT * EXCLUDE (load_id, line) FROM {name}) TO '{paths[name]}'"
            )
    direct = features_from_parquet(paths, as_of, memory_limit="1GB").to_pandas()
    out = features_from_parquet(paths, as_of, out=tmp_path / "features.parquet")
    streamed = pq.read_table(out).to_pandas()
    for other in (direct, streamed):
        assert list(other.columns) == list(duck.columns)
        assert other.customer_id.tolist() == duck.customer_id.tolist()
        for col in duck.columns[1:]:
            np.testing.assert_allclose(
                other[col].to_numpy(float), duck[col].to_numpy(float), equal_nan=True, err_msg=col
            )


@pytest.mark.filterwarnings(
    "ignore::ResourceWarning",
    "ignore::pytest.PytestUnraisableExceptionWarning",
    "ignore:The copy keyword is deprecated",
)
@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_category_features_with_more_categories_than_columns(store, engine):
    """More categories than the table has share columns, and lines with no category: the
    distinct count, top-category share and shares equal a plain pandas groupby."""
    from valueseg.features.table import TOP_CATEGORIES

    rng = np.random.default_rng(11)
    n = 3_000
    cats = np.array([f"c{i:02d}" for i in range(TOP_CATEGORIES + 4)], dtype=object)
    category = cats[np.minimum(rng.geometric(0.15, size=n) - 1, len(cats) - 1)]
    category[rng.random(n) < 0.05] = None
    tx = pd.DataFrame(
        {
            "customer_id": [f"u{i}" for i in rng.integers(0, 150, size=n)],
            "order_id": [f"o{i}" for i in range(n)],
            "timestamp": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 180 * 86400, size=n), unit="s"),
            "product_id": [f"p{i}" for i in rng.integers(0, 40, size=n)],
            "category": category,
            "amount": rng.integers(1, 500, size=n) / 4,
        }
    )
    ingest(tx, db=store, now=datetime(2024, 7, 2))
    f = compute_features(store, AS_OF, engine=engine).to_pandas().set_index("customer_id")

    spend = tx.groupby(["customer_id", tx["category"].fillna("<none>")])["amount"].sum()
    total = tx.groupby("customer_id")["amount"].sum()
    named = tx.dropna(subset=["category"])
    expected_distinct = named.groupby("customer_id")["category"].nunique()
    expected_distinct = expected_distinct.reindex(total.index, fill_value=0)
    np.testing.assert_array_equal(f.loc[total.index, "distinct_categories"], expected_distinct)
    top = spend.groupby(level=0).max() / total
    np.testing.assert_allclose(f.loc[total.index, "top_category_share"], top, rtol=1e-12)
    biggest = tx.groupby("category")["amount"].sum().sort_values(ascending=False)
    listed = [c for c in f.columns if c.startswith("cat_share_")]
    assert listed == [f"cat_share_{c}" for c in biggest.index[:TOP_CATEGORIES]]
    for c in biggest.index[:TOP_CATEGORIES]:
        share = spend.xs(c, level=1).reindex(total.index, fill_value=0) / total
        np.testing.assert_allclose(f.loc[total.index, f"cat_share_{c}"], share, rtol=1e-12)
    # some customers' top category is one without a column of its own, or no category
    outside = ~spend.groupby(level=0).idxmax().str[1].isin(biggest.index[:TOP_CATEGORIES])
    assert outside.any()


def test_a_spend_share_is_never_above_one():
    """A category's spend summed in another order than the customer's total can exceed
    it by a rounding error; the share is still at most 1 (and 0 without spend)."""
    import ibis

    from valueseg.features.behaviour import spend_share

    parts = 0.1 + (0.2 + 0.3)  # 0.6
    total = (0.1 + 0.2) + 0.3  # 0.6000000000000001
    assert parts / total < 1 < total / parts
    t = ibis.memtable(
        {"spend": [total, parts, None, 5.0], "total": [parts, total, 4.0, 0.0]},
        schema={"spend": "float64", "total": "float64"},
    )
    con = ibis.duckdb.connect()
    got = con.execute(t.select(share=spend_share(t.spend, t.total)))["share"].tolist()
    assert got == [1.0, parts / total, 0.0, 0.0]


def test_near_unique_text_attributes_are_not_one_hot(store):
    """E-mail addresses or names are not categories: their 12 most common levels would hold
    a few customers each. A column with a handful of levels is one-hot as before."""
    n = 200
    tx = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "timestamp": "2024-01-01",
            "amount": 10.0,
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "email": [f"user{i}@example.com" for i in range(n)],
            "first_name": [f"name{i % 60}" for i in range(n)],  # top 12 hold 48 of 200
            "region": ["north", "south", "east", "west"] * (n // 4),
            "tier": ["gold"] * 20 + [f"x{i}" for i in range(n - 20)],  # top 12 hold 31 of 200
        }
    )
    ingest(tx, db=store, now=AS_OF)
    ingest(customers, db=store, kind="customers", now=AS_OF)
    cols = compute_features(store, AS_OF).column_names
    assert not any(c.startswith(("attr_email", "attr_first_name", "attr_tier")) for c in cols)
    assert {f"attr_region_{r}" for r in ("north", "south", "east", "west")} <= set(cols)
