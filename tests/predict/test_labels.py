"""Cutoffs, labels by hand, and no line at or after a cutoff reaching its features."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from valueseg.io import ingest
from valueseg.predict.labels import (
    customer_groups,
    cutoff_table,
    features_before,
    period_floor,
    plan_cutoffs,
)
from valueseg.store import Store
from valueseg.synth import make_shop

NOW = datetime(2025, 1, 2)  # the moment of loading
T0 = datetime(2024, 7, 5)


def _orders(rows):
    return pd.DataFrame(
        [
            {"customer_id": c, "order_id": o, "timestamp": pd.Timestamp(t), "amount": a}
            for c, o, t, a in rows
        ]
    )


def test_labels_by_hand(store):
    """a buys on 10 April (10.00): stays; b's last order is a minute before the cutoff: it
    counts in the features, and b churns; c buys at the cutoff itself: in the window."""
    orders = _orders(
        [
            ("a", "1", "2024-01-05 10:00", 10.0),
            ("a", "2", "2024-03-01 10:00", 10.0),
            ("a", "3", "2024-04-10 10:00", 10.0),
            ("b", "4", "2024-02-01 10:00", 20.0),
            ("b", "5", "2024-03-31 23:59", 5.0),
            ("c", "6", "2024-03-15 10:00", 3.0),
            ("c", "7", "2024-04-01 00:00", 7.0),
            ("c", "8", "2024-06-30 00:00", 9.0),  # 90 days after the cutoff: next window
        ]
    )
    ingest(orders, db=store, now=NOW)
    table = cutoff_table(store, datetime(2024, 4, 1), label_days=90, value_model="bg_nbd")
    f = table.features.set_index("customer_id")
    assert f["orders_total"].to_dict() == {"a": 2, "b": 2, "c": 1}
    assert f.loc["b", "days_since_last_order"] == pytest.approx(1 / 1440, abs=2e-5)
    assert table.churn.tolist() == [False, True, False]
    assert table.spend.tolist() == [10.0, 0.0, 7.0]


def test_plan_cutoffs_as_the_history_allows():
    first, as_of = datetime(2024, 1, 1), datetime(2025, 1, 1)
    cuts = plan_cutoffs(first, as_of, horizon_days=90, max_cutoffs=4)
    assert [c.date().isoformat() for c in cuts] == ["2024-04-06", "2024-07-05", "2024-10-03"]
    assert plan_cutoffs(first, as_of, horizon_days=90, max_cutoffs=2) == cuts[1:]
    assert plan_cutoffs(first, as_of, horizon_days=150, max_cutoffs=4) == [datetime(2024, 8, 4)]
    assert plan_cutoffs(first, as_of, horizon_days=400, max_cutoffs=4) == []
    assert plan_cutoffs(None, as_of, horizon_days=90, max_cutoffs=4) == []
    year = plan_cutoffs(first, as_of, horizon_days=90, max_cutoffs=4, label_days=365)
    assert year == []  # 2024-01-02 has one day of history
    weekly = plan_cutoffs(first, as_of, horizon_days=90, max_cutoffs=1, freq="W")
    assert weekly == [datetime(2024, 9, 30)] and weekly[0].weekday() == 0


def test_period_floor():
    moment = datetime(2024, 5, 15, 13, 45)
    assert period_floor(moment, "h") == datetime(2024, 5, 15, 13)
    assert period_floor(moment, "M") == datetime(2024, 5, 1)


def test_groups_are_stable_and_seeded():
    ids = pd.Series([f"c{i}" for i in range(2000)])
    g = customer_groups(ids, 2, 0)
    assert customer_groups(ids[::-1].reset_index(drop=True), 2, 0).tolist() == g[::-1].tolist()
    assert 0.45 < g.mean() < 0.55
    assert (customer_groups(ids, 2, 1) != g).any()


@pytest.fixture(scope="module")
def shop():
    return make_shop(800, random_state=7)


def _store(shop, keep=lambda frame: frame) -> Store:
    store = Store(":memory:")
    ingest(keep(shop.transactions), db=store, now=NOW)
    ingest(keep(shop.events), kind="events", db=store, now=NOW)
    ingest(shop.customers, kind="customers", db=store, now=NOW)
    return store


def _before(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["timestamp"] < T0]


def _shuffled(frame: pd.DataFrame) -> pd.DataFrame:
    """Every line at or after T0 moved to another customer, another time after T0, with
    another amount where there is one."""
    rng = np.random.default_rng(0)
    out = frame.copy()
    late = np.flatnonzero(out["timestamp"] >= T0)
    for column in ("customer_id", "timestamp"):
        values = out[column].to_numpy().copy()
        values[late] = values[rng.permutation(late)]
        out[column] = values
    if "amount" in out:
        amount = out["amount"].to_numpy().copy()
        amount[late] = amount[late] * 3 + 1
        out["amount"] = amount
    return out


@pytest.mark.parametrize("change", [_before, _shuffled], ids=["deleted", "shuffled"])
def test_no_line_from_the_cutoff_on_reaches_a_feature(shop, change):
    with _store(shop) as full, _store(shop, change) as changed:
        assert changed.table_counts()["transactions"] != 0
        a = cutoff_table(full, T0, label_days=90, value_model="bg_nbd")
        b = cutoff_table(changed, T0, label_days=90, value_model="bg_nbd")
        assert a.value_fit is not None and b.value_fit is not None
        pd.testing.assert_frame_equal(a.features, b.features)
        assert a.features.shape[1] > 50  # events, attributes and the value model's columns
        # and the change did reach the labels
        assert (a.churn != b.churn).any() or not np.allclose(a.spend, b.spend)


def test_features_before_leave_the_cutoffs_day_out(shop):
    """A line at 00:00 of the cutoff day is after the cutoff; one a second earlier is not."""
    with _store(shop) as store:
        before = features_before(store, T0)
        first = store.con.execute(
            'SELECT min("timestamp") FROM transactions WHERE "timestamp" >= ?', [T0]
        ).fetchone()[0]
        assert first >= T0
        last_seen = pd.Timestamp(T0) - pd.to_timedelta(before["days_since_last_order"], "D")
        assert (last_seen < pd.Timestamp(T0)).all()
