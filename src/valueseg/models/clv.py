"""Discounted customer lifetime value: expected purchases month by month, times spend.

``CLV = sum_{i=1..horizon} E[purchases in month i] * E[spend per purchase] / (1 + d)^i``, the
semantics of lifetimes' ``customer_lifetime_value`` (a month is 30 days, 4.345 weeks or 720
hours). The purchase models compute the monthly increments in one pass over their distinct
(frequency, T) pairs rather than ``2 x horizon`` calls of ``expected_purchases``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from valueseg.errors import InputError
from valueseg.models._util import as_float, read_column

__all__ = ["PERIODS_PER_MONTH", "discounted_purchases", "read_summary"]

#: Time units per month, by summary frequency (lifetimes' factors).
PERIODS_PER_MONTH = {"D": 30.0, "W": 4.345, "M": 1.0, "H": 720.0, "h": 720.0}


def read_summary(model: Any, summary: Any) -> list[np.ndarray]:
    """The transaction model's columns and ``monetary_value``, checked."""
    if not isinstance(summary, pd.DataFrame):
        raise InputError(
            "customer_lifetime_value expects the summary as a pandas DataFrame. "
            f"Got {type(summary).__name__}."
        )
    needed = [*model._columns, "monetary_value"]
    return [read_column(summary, c, "customer_lifetime_value", needed) for c in needed]


def discounted_purchases(
    model: Any,
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    horizon: int = 12,
    discount_rate: float = 0.01,
    freq: str = "D",
) -> np.ndarray:
    """``sum_i E[purchases in month i] / (1 + discount_rate)^i`` per customer.

    Examples
    --------
    >>> from valueseg.models import BetaGeo
    >>> bg = BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> discounted_purchases(bg, [0, 2], [0.0, 30.4], [38.9, 38.9], freq="W").round(3)
    array([0.237, 1.469])
    """
    if not (isinstance(horizon, int | np.integer) and not isinstance(horizon, bool)) or (
        horizon < 1
    ):
        raise InputError(f"The 'horizon' parameter must be an int >= 1 (months). Got {horizon!r}.")
    if not isinstance(discount_rate, int | float) or not discount_rate > -1:
        raise InputError(
            f"The 'discount_rate' parameter must be a number > -1 (per month). "
            f"Got {discount_rate!r}."
        )
    if freq not in PERIODS_PER_MONTH:
        raise InputError(
            f"The 'freq' parameter must be one of {', '.join(PERIODS_PER_MONTH)}. Got {freq!r}."
        )
    months = np.arange(1, horizon + 1, dtype=np.float64)
    times = months * PERIODS_PER_MONTH[freq]
    discounts = (1.0 + discount_rate) ** -months
    x, tx, age = np.broadcast_arrays(as_float(frequency), as_float(recency), as_float(T))
    fast = getattr(model, "_discounted_purchases", None)
    if fast is not None:
        return np.asarray(fast(times, discounts, x, tx, age), dtype=np.float64)
    total = np.zeros(x.shape)
    before = np.zeros(x.shape)
    for t, discount in zip(times, discounts, strict=True):
        now = as_float(model.expected_purchases(t, x, tx, age))
        total += discount * (now - before)
        before = now
    return total
