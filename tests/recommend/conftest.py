"""A shop small enough to check on paper, and a synthetic shop fitted once per session.

The tiny shop, as of 2024-04-01 (view 0.1, cart 0.3):

====  ====================================================  ===============================
who   lines and events up to as_of                          matrix row (p1 .. p5)
====  ====================================================  ===============================
a     o1 p1+p2, o2 p1, return of p1; 2 views p3, cart p4    1, 1, 0.2, 0.3, 0
b     o3 p2+p3                                              0, 1, 1, 0, 0
c     o4 p3                                                 0, 0, 1, 0, 0
e     a view of p5 (no order)                               0, 0, 0, 0, 0.1
====  ====================================================  ===============================

After as_of: d buys p4 and c views p2; neither may reach the matrix. a's ``purchase`` event
and ``search`` (no product) are left out by the default weights.
"""

from __future__ import annotations

from functools import cache

import pandas as pd
import pytest

AS_OF = pd.Timestamp("2024-04-01")


def _tx() -> pd.DataFrame:
    rows = [
        ("a", "o1", "2024-01-05 10:00", "p1", "food", 1, 5.0, False),
        ("a", "o1", "2024-01-05 10:00", "p2", "food", 1, 3.0, False),
        ("a", "o2", "2024-02-10 09:00", "p1", "food", 1, 5.0, False),
        ("a", "Co2", "2024-02-12 09:00", "p1", "food", -1, -5.0, True),
        ("b", "o3", "2024-01-20 12:00", "p2", "food", 2, 6.0, False),
        ("b", "o3", "2024-01-20 12:00", "p3", "tech", 1, 90.0, False),
        ("c", "o4", "2024-03-01 08:00", "p3", "tech", 1, 90.0, False),
        ("d", "o5", "2024-05-01 08:00", "p4", "tech", 1, 40.0, False),
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "customer_id",
            "order_id",
            "timestamp",
            "product_id",
            "category",
            "quantity",
            "amount",
            "is_return",
        ],
    )
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    return frame


def _events() -> pd.DataFrame:
    rows = [
        ("a", "2024-01-06 10:00", "view", "p3"),
        ("a", "2024-01-06 10:05", "view", "p3"),
        ("a", "2024-01-07 10:00", "cart", "p4"),
        ("a", "2024-01-05 10:00", "purchase", "p1"),
        ("a", "2024-01-06 09:00", "search", None),
        ("e", "2024-03-05 10:00", "view", "p5"),
        ("c", "2024-04-02 10:00", "view", "p2"),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "event_type", "product_id"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    return frame


@pytest.fixture
def tiny_tx() -> pd.DataFrame:
    """The tiny shop's transactions (module docstring)."""
    return _tx()


@pytest.fixture
def tiny_events() -> pd.DataFrame:
    """The tiny shop's events (module docstring)."""
    return _events()


@cache
def _shop(n_customers: int, seed: int, end: str) -> object:
    from valueseg.synth import make_shop

    return make_shop(n_customers, end=end, random_state=seed)


@pytest.fixture(scope="session")
def synth_shop():
    """``synth_shop(n_customers, seed, end)``: a synthetic shop, cached for the session."""
    return _shop
