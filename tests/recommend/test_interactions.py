"""The interaction matrix and its mapping, checked against the tiny shop worked on paper."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from valueseg.errors import InputError
from valueseg.recommend import build_interactions

AS_OF = pd.Timestamp("2024-04-01")  # as in conftest


def test_matrix_matches_the_paper_table(tiny_tx, tiny_events):
    log = build_interactions(tiny_tx, tiny_events, as_of=AS_OF)
    assert list(log.customers) == ["a", "b", "c", "e"]
    assert list(log.products) == ["p1", "p2", "p3", "p4", "p5"]
    expected = np.array(
        [
            [1.0, 1.0, 0.2, 0.3, 0.0],
            [0.0, 1.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 0.1],
        ]
    )
    np.testing.assert_allclose(log.matrix().toarray(), expected, rtol=1e-6)


def test_nothing_after_as_of_reaches_the_log(tiny_tx, tiny_events):
    later = build_interactions(tiny_tx, tiny_events, as_of=AS_OF)
    cut = tiny_tx[tiny_tx["timestamp"] <= AS_OF]
    cut_events = tiny_events[tiny_events["timestamp"] <= AS_OF]
    before = build_interactions(cut, cut_events, as_of=AS_OF)
    assert "d" not in later.customers
    assert later.time.max() <= np.datetime64(AS_OF)
    assert (later.matrix() != before.matrix()).nnz == 0
    assert list(later.customers) == list(before.customers)


def test_as_of_is_inclusive_and_default_is_the_last_line(tiny_tx):
    at = build_interactions(tiny_tx, as_of="2024-05-01 08:00")
    assert "d" in at.customers
    assert list(build_interactions(tiny_tx).customers) == list(at.customers)


def test_event_weights_are_configurable(tiny_tx, tiny_events):
    log = build_interactions(
        tiny_tx, tiny_events, as_of=AS_OF, event_weights={"view": 1.0, "purchase": 0.5}
    )
    row = log.matrix()[log.customers.get_loc("a")].toarray().ravel()
    # p1: 2 lines - 1 return + one purchase event at 0.5; p3: two views; no cart weight
    np.testing.assert_allclose(row, [1.5, 1.0, 2.0, 0.0])  # p1, p2, p3, p5
    assert "p4" not in log.products  # only a's cart add named it


def test_returns_never_go_below_zero():
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a"],
            "order_id": ["1", "C1", "C2"],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
            "product_id": ["x", "x", "x"],
            "amount": [5.0, -5.0, -5.0],
        }
    )
    log = build_interactions(tx)
    assert log.matrix().nnz == 0
    assert log.bought().toarray().tolist() == [[1.0]]  # bought, even if returned


def test_windows_are_half_open(tiny_tx):
    log = build_interactions(tiny_tx, as_of=AS_OF)
    assert log.bought(end="2024-03-01 08:00").toarray()[log.customers.get_loc("c")].sum() == 0
    assert log.bought(start="2024-03-01 08:00").toarray().sum() == 1.0
    assert log.matrix(start="2024-02-01", end="2024-03-01").toarray().sum() == 0.0  # 1 - 1


def test_orders_with_and_without_order_ids(tiny_tx):
    log = build_interactions(tiny_tx, as_of=AS_OF)
    assert log.orders().tolist() == [2, 1, 1]
    no_ids = build_interactions(tiny_tx.drop(columns=["order_id"]), as_of=AS_OF)
    assert no_ids.orders().tolist() == [2, 1, 1]  # one order per customer and instant
    assert log.orders(end="2024-02-01").tolist() == [1, 1, 0]


def test_repeat_rates_and_categories(tiny_tx):
    log = build_interactions(tiny_tx, as_of=AS_OF)
    # food pairs: (a, p1) in 2 orders, (a, p2) and (b, p2) in one; tech: (b, p3), (c, p3)
    assert log.repeat_rates().to_dict() == {"food": 1 / 3, "tech": 0.0}
    assert log.category.tolist() == ["food", "food", "tech"]


def test_returns_flagged_by_sign_without_is_return(tiny_tx):
    log = build_interactions(tiny_tx.drop(columns=["is_return"]), as_of=AS_OF)
    assert log.matrix()[0, 0] == 1.0


def test_integer_ids_and_lines_without_product(tiny_tx):
    tx = tiny_tx.assign(customer_id=np.arange(len(tiny_tx)) % 3)
    tx.loc[1, "product_id"] = None
    log = build_interactions(tx, as_of=AS_OF)
    assert list(log.customers) == ["0", "1", "2"]
    assert log.lines_without_product == 1


def test_missing_column_is_named_with_a_fix(tiny_tx):
    msg = (
        "Column 'product_id' not found in the transactions. Available: customer_id, "
        "order_id, timestamp, product, category, quantity, amount, is_return. "
        "Did you mean 'product'? Rename the column to 'product_id'."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        build_interactions(tiny_tx.rename(columns={"product_id": "product"}))


def test_no_product_before_as_of_is_refused(tiny_tx):
    msg = (
        "No purchase line with a product id up to 2023-12-31 00:00: 8 lines read, 0 of "
        "them before that without product_id. Pick a later as_of, or load order lines "
        "with product ids."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        build_interactions(tiny_tx, as_of="2023-12-31")


def test_bad_event_weight_is_refused(tiny_tx, tiny_events):
    msg = (
        "The event weight of 'view' must be a number >= 0. Got -1. "
        "Pass event_weights={'view': 0.1, 'cart': 0.3} or leave it out."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        build_interactions(tiny_tx, tiny_events, event_weights={"view": -1})


def test_unparseable_timestamps_are_refused(tiny_tx):
    msg = "Column 'timestamp' of the transactions must hold dates or date-times. Got values "
    with pytest.raises(InputError, match=re.escape(msg)):
        build_interactions(tiny_tx.assign(timestamp="yesterday"))
