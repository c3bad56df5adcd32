"""The expected date of a customer's next order, and how often it came true.

**Definition.** The date by which the customer has an even chance of having ordered again,
given the history: the ``t`` where the value model's P(no purchase in the next ``t``) is
1/2, the posterior purchase rate and the chance of having left both counted
(:func:`valueseg.predict.btyd.next_order_periods`; for BG/NBD ``(alpha + T) * ((1 -
1/(2 PA))^(-1/(r+x)) - 1)`` periods after ``as_of``). Empty for a customer more likely gone
than not (that chance never falls to 1/2). Half of the customers should have ordered by
their date.

**Back-test.** At each cutoff, the value model refitted on the history before it predicts
each customer's date the same way; among the customers whose date falls before ``as_of``
(so the outcome is known), the share who did order by it should be about 50 %.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from valueseg.models._base import PurchaseModel
from valueseg.models.choice import DAYS_PER_PERIOD
from valueseg.predict.btyd import next_order_periods
from valueseg.predict.labels import SUMMARY, CutoffTable
from valueseg.store import Store
from valueseg.store.predict import window_purchases

__all__ = ["backtest_next_order", "next_order_dates", "order_dates", "order_days"]


def _instants(start: datetime | Sequence[datetime], periods: np.ndarray, freq: str) -> pd.Series:
    days = np.asarray(periods, np.float64) * DAYS_PER_PERIOD[freq]
    origin = pd.Timestamp(start) if isinstance(start, datetime) else pd.DatetimeIndex(list(start))
    return pd.Series(origin + pd.to_timedelta(days, unit="D"))


def next_order_dates(
    name: str,
    model: PurchaseModel[Any],
    summary: pd.DataFrame,
    as_of: datetime | Sequence[datetime],
    freq: str,
) -> pd.Series:
    """The expected next order's day of each customer of ``summary`` (NaT: likely gone).

    ``as_of``: the moment of the summary, or each customer's own (real-time scoring
    scores each posted order's customer at the order's moment)."""
    with np.errstate(all="ignore"):
        periods = next_order_periods(name, model, summary)
    return order_days(as_of, periods, freq)


def order_days(as_of: datetime | Sequence[datetime], periods: np.ndarray, freq: str) -> pd.Series:
    """The day ``periods`` after ``as_of`` (one moment, or each customer's own) of each
    customer (NaT where the periods are NaN): :func:`next_order_dates` of periods already
    computed (real-time scoring computes them from arrays)."""
    return pd.Series(_instants(as_of, periods, freq)).dt.normalize()


def order_dates(moments: Sequence[datetime], periods: np.ndarray, freq: str) -> list[date | None]:
    """:func:`order_days` as dates (None where the periods are NaN), each counted from
    its own moment, on numpy's arrays: real-time scoring's few customers, where a pandas
    Series cost more than the arithmetic. Moments in a zone other than UTC (whose days a
    change of clocks moves) are left to :func:`order_days`.

    Examples
    --------
    >>> order_dates([datetime(2025, 1, 7, 21, 42)], np.array([12.5]), "D")
    [datetime.date(2025, 1, 20)]
    """
    if any(m.utcoffset() not in (None, timedelta(0)) for m in moments):
        return [None if pd.isna(d) else d.date() for d in order_days(moments, periods, freq)]
    days = np.asarray(periods, np.float64) * DAYS_PER_PERIOD[freq]
    starts = np.array([m.replace(tzinfo=None) for m in moments], dtype="datetime64[ns]")
    due = starts + pd.to_timedelta(days, unit="D").to_numpy()
    return [None if np.isnat(d) else d.astype("datetime64[D]").item() for d in due]


def backtest_next_order(
    store: Store, tables: Sequence[CutoffTable], as_of: datetime, freq: str
) -> dict[str, Any]:
    """Share of customers who ordered by their predicted date, per cutoff and pooled.

    Only customers whose predicted date is before ``as_of`` count: the others' outcome is
    not known yet.
    """
    rows: list[dict[str, Any]] = []
    for table in tables:
        fit = table.value_fit
        if fit is None:
            continue
        summary = table.features[SUMMARY]
        with np.errstate(all="ignore"):
            periods = next_order_periods(fit.name, fit.model, summary[SUMMARY[1:]])
        due = pd.Series(_instants(table.at, periods, freq))
        known = (due <= pd.Timestamp(as_of)).to_numpy()
        later = window_purchases(store, table.at, as_of)
        first = summary[["customer_id"]].merge(later, on="customer_id", how="left")
        ordered = (first["first_purchase"] <= due).to_numpy() & known
        rows.append(
            {
                "cutoff": str(table.at.date()),
                "customers_with_date": int(np.isfinite(periods).sum()),
                "customers_checked": int(known.sum()),
                "ordered_by_date": int(ordered.sum()),
                "share": float(ordered.sum() / known.sum()) if known.any() else None,
            }
        )
    checked = sum(int(r["customers_checked"]) for r in rows)
    hits = sum(int(r["ordered_by_date"]) for r in rows)
    return {
        "definition": "the date by which P(ordered again) reaches 1/2 under the value model; "
        "empty where it never does (more likely gone than not)",
        "expected_share": 0.5,
        "share": hits / checked if checked else None,
        "customers_checked": checked,
        "by_cutoff": rows,
    }
