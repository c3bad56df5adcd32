"""Time-respecting labels: features from the history before a cutoff, labels from after it.

A **cutoff** ``t0`` is the start of a period (midnight for daily summaries). At a cutoff:

- the features are the run's own feature expressions evaluated on the lines **before**
  ``t0`` (:func:`valueseg.features.compute.compute_features` at the instant just before
  it, so no line at or after ``t0`` can reach a feature);
- the value model of the run is refitted on that history and adds its outputs
  (:data:`valueseg.predict.btyd.BTYD_COLUMNS`);
- the churn label is *no purchase in* ``[t0, t0 + h)`` and the spend label the sum of the
  purchase lines in it (:func:`valueseg.store.predict.window_purchases`).

Cutoffs roll back from ``as_of`` by the horizon ``h``: ``as_of - h``, ``as_of - 2h``, …, as
many as the history allows (each needs ``h`` days of history before it and a whole label
window before ``as_of``), at most ``max_cutoffs``. The label windows of consecutive
cutoffs tile the history without overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from valueseg.predict.btyd import BTYD_COLUMNS, ValueFit, fit_value_model, value_features
from valueseg.store import Store
from valueseg.store.predict import window_purchases

__all__ = [
    "SUMMARY",
    "CutoffTable",
    "customer_groups",
    "cutoff_table",
    "features_before",
    "period_floor",
    "plan_cutoffs",
]

#: The summary columns of the feature table the value models take.
SUMMARY = ["customer_id", "frequency", "recency", "T", "monetary_value"]
_JUST_BEFORE = timedelta(microseconds=1)


def period_floor(moment: datetime, freq: str) -> datetime:
    """The start of the summary period ``moment`` falls in (weeks start on Monday).

    Examples
    --------
    >>> period_floor(datetime(2024, 1, 3, 15, 30), "W")
    datetime.datetime(2024, 1, 1, 0, 0)
    >>> period_floor(datetime(2024, 1, 3, 15, 30), "D")
    datetime.datetime(2024, 1, 3, 0, 0)
    """
    ts = pd.Timestamp(moment)
    if freq == "h":
        out = ts.floor("h")
    elif freq == "W":
        out = ts.normalize() - pd.Timedelta(days=ts.weekday())
    elif freq == "M":
        out = ts.normalize().replace(day=1)
    else:
        out = ts.normalize()
    return out.to_pydatetime()


def plan_cutoffs(
    first: datetime | None,
    as_of: datetime,
    *,
    horizon_days: int,
    max_cutoffs: int,
    label_days: int | None = None,
    freq: str = "D",
) -> list[datetime]:
    """The cutoffs, oldest first: ``as_of - label - k h`` (k = 0, 1, …) floored to a period,
    each with ``horizon_days`` of history before it.

    ``label_days`` (default: the horizon) is the length of the label window.

    Examples
    --------
    >>> cuts = plan_cutoffs(datetime(2024, 1, 1), datetime(2025, 1, 1), horizon_days=90,
    ...                     max_cutoffs=4)
    >>> [str(c.date()) for c in cuts]  # 2024-01-07 would have 6 days of history
    ['2024-04-06', '2024-07-05', '2024-10-03']
    """
    label = timedelta(days=label_days or horizon_days)
    step = timedelta(days=horizon_days)
    out = []
    for k in range(max_cutoffs):
        at = period_floor(as_of - label - k * step, freq)
        if first is None or at - first < step:
            break
        out.append(at)
    return sorted(out)


def features_before(
    store: Store, at: datetime, *, freq: str = "D", engine: str = "duckdb"
) -> pd.DataFrame:
    """The feature table of the history before ``at`` (every line at or after it unseen)."""
    from valueseg.features.compute import compute_features

    table = compute_features(store, at - _JUST_BEFORE, engine=engine, freq=freq)
    return table.to_pandas()


def customer_groups(customer_id: pd.Series, n_groups: int, random_state: int | None) -> np.ndarray:
    """A group in ``0 .. n_groups - 1`` per customer: the same at every cutoff (a hash).

    Examples
    --------
    >>> ids = pd.Series(["a", "b", "c", "a"])
    >>> g = customer_groups(ids, 2, 0)
    >>> bool(g[0] == g[3]), bool(set(g) <= {0, 1})
    (True, True)
    """
    key = f"valueseg{(random_state or 0) % 10**8:08d}"
    hashed = pd.util.hash_pandas_object(customer_id.astype(str), index=False, hash_key=key)
    return np.asarray(hashed.to_numpy() % np.uint64(n_groups), dtype=np.int64)


@dataclass
class CutoffTable:
    """One cutoff's customers: features (with the value model's), labels and next purchase."""

    at: datetime
    label_days: int
    features: pd.DataFrame
    churn: np.ndarray
    spend: np.ndarray
    value_fit: ValueFit | None
    why_no_value_fit: str | None = None

    @property
    def customers(self) -> int:
        return len(self.features)


def cutoff_table(
    store: Store,
    at: datetime,
    *,
    label_days: int,
    value_model: str,
    freq: str = "D",
    engine: str = "duckdb",
) -> CutoffTable:
    """Features before ``at`` with the value model's outputs for ``label_days``, and labels.

    The value model ``value_model`` (the run's chosen one) is refitted on the cutoff's
    summary; when it cannot be fitted there, its columns are NaN and the reason is kept.
    """
    features = features_before(store, at, freq=freq, engine=engine)
    fit, why = fit_value_model(value_model, features[SUMMARY[1:]])
    if fit is not None:
        extra = value_features(fit, features[SUMMARY[1:]], label_days, freq)
    else:
        extra = pd.DataFrame(np.nan, index=features.index, columns=list(BTYD_COLUMNS))
    features = pd.concat([features, extra], axis=1)
    window = window_purchases(store, at, at + timedelta(days=label_days))
    spend = features[["customer_id"]].merge(window, on="customer_id", how="left")
    bought = spend["first_purchase"].notna().to_numpy()
    return CutoffTable(
        at,
        label_days,
        features,
        churn=~bought,
        spend=spend["spend"].fillna(0.0).to_numpy(np.float64),
        value_fit=fit,
        why_no_value_fit=why,
    )
