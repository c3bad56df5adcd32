"""Order sequences: by hand, left-padded and truncated, and nothing from the cutoff on."""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from valueseg.deep import STEP_FEATURES, OrderSequences, sequences_at
from valueseg.errors import InputError
from valueseg.io import ingest
from valueseg.store import Store
from valueseg.store.sequences import order_steps, top_categories

NOW = datetime(2025, 1, 2)  # the moment of loading
T0 = datetime(2024, 7, 5)  # a cutoff inside make_shop's history

F = {name: j for j, name in enumerate(STEP_FEATURES)}


def _lines(rows):
    return pd.DataFrame(
        [
            {
                "customer_id": c,
                "order_id": o,
                "timestamp": pd.Timestamp(t),
                "amount": a,
                "quantity": q,
                "discount": d,
                "category": cat,
            }
            for c, o, t, a, q, d, cat in rows
        ]
    )


def test_steps_by_hand(store):
    """a: an order of two lines, a return, an order a minute before the cutoff (in) and one
    at the cutoff (out); views before the first order and between the orders."""
    ingest(
        _lines(
            [
                ("a", "1", "2024-03-01 10:00", 30.0, 2, 0.0, "toys"),
                ("a", "1", "2024-03-01 10:00", 10.0, 1, 5.0, "books"),
                ("a", "C1", "2024-03-05 10:00", -10.0, -1, 0.0, "books"),
                ("a", "2", "2024-03-31 23:59", 20.0, 1, 0.0, "garden"),
                ("a", "3", "2024-04-01 00:00", 99.0, 1, 0.0, "toys"),
                ("b", "4", "2024-02-01 00:00", 5.0, 1, 0.0, None),
            ]
        ),
        db=store,
        now=NOW,
    )
    events = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a"],
            "timestamp": pd.to_datetime(
                ["2024-02-28 00:00", "2024-03-01 09:00", "2024-03-20 00:00", "2024-04-01 00:00"]
            ),
            "event_type": ["view", "cart", "view", "view"],
        }
    )
    ingest(events, kind="events", db=store, now=NOW)
    at = datetime(2024, 4, 1)
    steps = order_steps(store, at, ["a", "b"])
    a = steps[steps["customer_id"] == "a"]
    assert a["amount"].tolist() == [40.0, -10.0, 20.0]
    assert a["is_return"].tolist() == [False, True, False]
    assert a["lines"].tolist() == [2, 1, 1] and a["items"].tolist() == [3.0, 1.0, 1.0]
    assert a["category"].tolist() == ["toys", "books", "garden"]
    assert a["views"].tolist() == [1, 0, 1] and a["carts"].tolist() == [1, 0, 0]
    assert top_categories(store, at, 2) == ["books", "garden"]  # one line each: by name
    assert top_categories(store, datetime(2024, 4, 2), 1) == ["toys"]  # two lines

    seq = sequences_at(store, ["b", "a", "z"], at, categories=["toys", "garden"], length=4)
    assert seq.steps.shape == (3, 4, len(STEP_FEATURES))
    assert seq.mask.tolist() == [
        [False, False, False, True],
        [False, True, True, True],
        [False, False, False, False],
    ]
    assert seq.category.tolist() == [[0, 0, 0, 1], [0, 2, 1, 3], [0, 0, 0, 0]]
    real = seq.steps[1, 1:]
    assert np.expm1(real[:, F["log_gap_days"]]) == pytest.approx(
        [0.0, 4.0, 26 + 13.99 / 24], abs=1e-3
    )
    assert np.expm1(real[:, F["log_amount"]]) == pytest.approx([40.0, 10.0, 20.0], rel=1e-5)
    assert real[:, F["discount_share"]] == pytest.approx([5 / 45, 0.0, 0.0])
    assert real[:, F["is_return"]].tolist() == [0.0, 1.0, 0.0]
    assert np.expm1(real[-1, F["log_age_days"]]) == pytest.approx(1 / 1440, abs=1e-5)
    assert not seq.steps[~seq.mask].any()  # padded slots hold zeros


def test_the_last_steps_are_kept(store):
    rows = [("a", str(i), f"2024-01-{i + 1:02d}", float(i + 1), 1, 0.0, "x") for i in range(10)]
    ingest(_lines(rows), db=store, now=NOW)
    seq = sequences_at(store, ["a"], datetime(2024, 2, 1), categories=[], length=4)
    assert seq.mask.all()
    assert np.expm1(seq.steps[0, :, F["log_amount"]]) == pytest.approx([7, 8, 9, 10], rel=1e-5)


def _sequences(store: Store, ids: np.ndarray) -> OrderSequences:
    return sequences_at(store, ids, T0, categories=top_categories(store, T0, 16))


def test_no_line_from_the_cutoff_on_reaches_a_sequence(shop_store):
    """Deleting, or shuffling, every order line and event at or after t0 changes nothing."""
    shop, full = shop_store
    ids = shop.transactions["customer_id"].unique()
    expected = _sequences(full, ids)
    assert expected.mask.sum() > 500 and expected.steps[..., F["log_views"]].any()
    lines, events = shop.transactions, shop.events
    late, late_events = lines["timestamp"] >= T0, events["timestamp"] >= T0
    assert late.sum() > 100 and late_events.sum() > 100
    rng = np.random.default_rng(0)
    shuffled = lines.copy()
    for column in ("customer_id", "amount", "category", "quantity", "discount"):
        shuffled.loc[late, column] = rng.permutation(lines.loc[late, column].to_numpy())
    moved = events.copy()
    moved.loc[late_events, "customer_id"] = rng.permutation(
        events.loc[late_events, "customer_id"].to_numpy()
    )
    for kept, kept_events in ((lines[~late], events[~late_events]), (shuffled, moved)):
        with Store(":memory:") as other:
            ingest(kept, db=other, now=NOW)
            ingest(kept_events, kind="events", db=other, now=NOW)
            got = _sequences(other, ids)
        assert got.categories == expected.categories
        for name in ("steps", "category", "mask"):
            np.testing.assert_array_equal(getattr(got, name), getattr(expected, name))


def test_bad_sequence_inputs_are_refused():
    steps = pd.DataFrame(
        {
            "customer_id": ["a"],
            "timestamp": [pd.Timestamp("2024-02-01")],
            "is_return": [False],
            "amount": [1.0],
            "lines": [1],
            "items": [1.0],
            "discount": [0.0],
            "category": ["x"],
            "views": [0],
            "carts": [0],
        }
    )
    from valueseg.deep import build_sequences

    with pytest.raises(InputError, match=re.escape("1 step(s) at or after the cutoff")):
        build_sequences(steps, ["a"], datetime(2024, 2, 1), categories=[])
    with pytest.raises(
        InputError,
        match=re.escape("The sequence length must be a whole number of 1 or more. Got 0."),
    ):
        build_sequences(steps, ["a"], datetime(2024, 3, 1), categories=[], length=0)
    with pytest.raises(InputError, match=re.escape("each customer once per call")):
        build_sequences(steps, ["a", "a"], datetime(2024, 3, 1), categories=[])
