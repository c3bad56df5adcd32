"""Real-time scoring on a batch's numbers: float64 arrays, not frames.

A batch of posted orders is a few customers. On frames of a few rows, pandas' indexing
and scikit-learn's input checks cost far more than the arithmetic: at 1M customers
(bench/report.py's scaled store, a Pareto/NBD run with LightGBM learners and k-means
clusters), the value models, the learners and the segmenter took 0.6 ms for 8 customers
on arrays, against about 7 ms on frames, for the same numbers. So real-time scoring
(:mod:`valueseg.web.realtime`) reads the batch's feature rows into columns once
(:class:`BatchNumbers`) and applies:

- the value model and Gamma-Gamma in closed form (:func:`value_arrays`): P(alive),
  expected purchases in 90 and 365 days, the 365-day CLV, the learners' value-model
  columns (:data:`~valueseg.predict.btyd.BTYD_COLUMNS`) and the periods to the next
  order, P(alive) computed once for all of them;
- the learners and the segmenter to the matrix of their own columns
  (:meth:`BatchNumbers.matrix`).

The frame functions stay the reference (:func:`valueseg.models.choice.score_customers`,
:func:`valueseg.predict.btyd.value_features`,
:func:`~valueseg.predict.btyd.next_order_periods`, the estimators' ``predict``), and
tests/web/test_score_arrays.py checks that both give the same numbers. Where an array
cannot stand for the frame, these give None and real-time scoring takes the frame route:
BG/BB (its summary counts opportunities), a value that is not a number (text, a date),
an infinite value (scikit-learn refuses it, and the frame route says which row), a column
no row has.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from valueseg.models._base import PurchaseModel
from valueseg.models.beta_geo_beta_binom import BetaGeoBetaBinom
from valueseg.models.choice import DAYS_PER_PERIOD
from valueseg.models.gamma_gamma import GammaGamma
from valueseg.predict.btyd import (
    btyd_columns,
    periods_to_next_order,
    spend_per_purchase,
    stay_probability,
)

__all__ = ["BatchNumbers", "ValueArrays", "value_arrays"]


class BatchNumbers:
    """A batch's feature rows (column -> value each), as float64 columns made once each.

    Examples
    --------
    >>> numbers = BatchNumbers([{"a": 1, "b": None}, {"a": 2.5, "b": True}])
    >>> numbers.matrix(["b", "a"]).tolist()
    [[nan, 1.0], [1.0, 2.5]]
    >>> numbers.matrix(["a", "c"]) is None  # no row has c: the frame route says so
    True
    >>> BatchNumbers([{"a": "x"}]).column("a") is None  # text: not a number here
    True
    """

    def __init__(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self.rows = list(rows)
        self._columns: dict[str, np.ndarray | None] = {}

    @functools.cached_property
    def frame(self) -> pd.DataFrame:
        """The rows as a frame (the frame route's input), made once when first asked."""
        return pd.DataFrame(self.rows)

    def column(self, name: str) -> np.ndarray | None:
        """Column ``name`` as float64 (missing, None: NaN; True, False: 1, 0); None when
        no row has it or a value is not a number."""
        if name not in self._columns:
            values = [row.get(name) for row in self.rows]
            present = any(name in row for row in self.rows)
            self._columns[name] = _floats(values) if present else None
        return self._columns[name]

    def matrix(
        self, names: Sequence[Any], extra: Mapping[str, np.ndarray] | None = None
    ) -> np.ndarray | None:
        """The float64 matrix of columns ``names``, in order (``extra``: columns given
        here, which take the place of the rows' own); None when a column is not numbers
        or a value is infinite (see the module)."""
        given = extra or {}
        columns = [given[str(n)] if str(n) in given else self.column(str(n)) for n in names]
        if any(c is None for c in columns):
            return None
        matrix = np.empty((len(self.rows), len(columns)), dtype=np.float64)
        for i, column in enumerate(columns):
            matrix[:, i] = column
        return None if np.isinf(matrix).any() else matrix


def _floats(values: list[Any]) -> np.ndarray | None:
    if any(isinstance(v, str | bytes) for v in values):
        return None
    try:
        return np.array(values, dtype=np.float64)
    except (TypeError, ValueError):  # a date, pd.NA, an object
        return None


@dataclass(frozen=True)
class ValueArrays:
    """The value models' numbers of a batch's customers (see :func:`value_arrays`)."""

    p_alive: np.ndarray
    purchases_90d: np.ndarray
    purchases_365d: np.ndarray
    clv_365d: np.ndarray  # NaN without a spend model
    next_order_periods: np.ndarray  # NaN: more likely gone than not
    btyd: dict[str, np.ndarray]  # BTYD_COLUMNS over the learners' horizon


def value_arrays(
    model: PurchaseModel[Any],
    spend_model: GammaGamma | None,
    summary: Sequence[np.ndarray],
    freq: str,
    horizon_days: float,
) -> ValueArrays | None:
    """What :func:`~valueseg.models.choice.score_customers`,
    :func:`~valueseg.predict.btyd.value_features` (over ``horizon_days``) and
    :func:`~valueseg.predict.btyd.next_order_periods` give, from the summary's arrays
    (``frequency, recency, T, monetary_value``); None for BG/BB or a summary with a
    value that is not finite (the frame functions then)."""
    if isinstance(model, BetaGeoBetaBinom) or len(summary) != 4:
        return None
    x, tx, age, m = (np.asarray(a, np.float64) for a in summary)
    if not all(np.isfinite(a).all() for a in (x, tx, age, m)):
        return None
    per_day = DAYS_PER_PERIOD[freq]
    horizon = horizon_days / per_day
    with np.errstate(all="ignore"):
        alive = np.asarray(model.probability_alive(x, tx, age), np.float64)
        purchases = {
            t: np.asarray(model.expected_purchases(t, x, tx, age), np.float64)
            for t in {90 / per_day, 365 / per_day, horizon}
        }
        clv = np.full(len(x), np.nan)
        if spend_model is not None:
            clv = spend_model.lifetime_values(model, x, tx, age, m, horizon=12, freq=freq)
        btyd = btyd_columns(
            alive,
            purchases[horizon],
            stay_probability(model, (x, tx, age), horizon),
            spend_per_purchase(spend_model, x, m),
        )
        periods = periods_to_next_order(model, (x, tx, age), alive)
    return ValueArrays(alive, purchases[90 / per_day], purchases[365 / per_day], clv, periods, btyd)
