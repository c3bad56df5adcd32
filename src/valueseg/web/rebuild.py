"""One customer's order features at a moment, rebuilt from their own order lines.

The run computes the feature table of every customer with Ibis expressions
(:mod:`valueseg.features`); building and compiling those for one customer costs about half
a second, too slow for a request. This module computes the same columns for one customer
with pandas, by the same definitions (docs/design.md §4 for the summary,
``valueseg/features/behaviour.py`` for the rest), from the lines
:func:`valueseg.store.web.customer_lines` reads. A test rebuilds every customer of a run at
its ``as_of`` and finds the run's stored ``customer_features`` again.

Rebuilt: the BTYD summary (``frequency, recency, T, monetary_value``), the order columns
(:data:`ORDER_COLUMNS`), the shares of the run's main channels and categories, and
``view_to_purchase_rate``. Not rebuilt (they do not depend on orders, or need the shop's
browse sessions): the other event columns and the customer attributes; the caller carries
them from the run's row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import numpy as np
import pandas as pd

from valueseg.features.behaviour import WINDOWS, share_column
from valueseg.features.rfm import FREQS

__all__ = ["ORDER_COLUMNS", "days_between", "periods_between", "rebuild_features", "summary"]

#: The order columns rebuilt (besides the channel and category shares).
ORDER_COLUMNS: Final = (
    "tenure_days",
    "days_since_last_order",
    "orders_total",
    "spend_total",
    *(f"{kind}_{n}d" for n in WINDOWS for kind in ("orders", "spend")),
    "avg_order_value",
    "std_order_value",
    "ipt_mean_days",
    "ipt_std_days",
    "ipt_cv",
    "spend_trend_90d",
    "distinct_products",
    "discount_order_share",
    "return_rate",
    "purchase_lines",
)
_DAY = 86400.0
_NAN = float("nan")


def _period_start(ts: pd.Timestamp, freq: str) -> pd.Timestamp:
    if freq == "M":
        return ts.normalize().replace(day=1)
    if freq == "W":
        return ts.normalize() - pd.Timedelta(days=ts.weekday())
    return ts.floor("h" if freq == "h" else "D")


def periods_between(later: pd.Timestamp, earlier: pd.Timestamp, freq: str) -> float:
    """Whole periods from ``earlier`` to ``later``, both floored to their period first.

    Examples
    --------
    >>> periods_between(pd.Timestamp("2024-03-05 18:00"), pd.Timestamp("2024-01-31"), "M")
    2.0
    >>> periods_between(pd.Timestamp("2024-01-10 23:00"), pd.Timestamp("2024-01-03 01:00"), "D")
    7.0
    """
    a, b = _period_start(later, freq), _period_start(earlier, freq)
    seconds = FREQS[freq][1]
    if seconds is None:
        return float((a.year * 12 + a.month) - (b.year * 12 + b.month))
    return (a - b).total_seconds() / seconds


def days_between(later: Any, earlier: Any) -> Any:
    """Days from ``earlier`` to ``later``, counted in whole seconds (as the features do).

    Examples
    --------
    >>> float(days_between(pd.Timestamp("2024-01-02 12:00:00.9"), pd.Timestamp("2024-01-01")))
    1.5
    """
    return (_epoch(later) - _epoch(earlier)) / _DAY


def _epoch(values: Any) -> Any:
    if np.ndim(values) == 0:
        return np.floor(pd.Timestamp(values).value / 1e9)
    stamps = pd.to_datetime(pd.Series(values)).astype("datetime64[ns]")
    return np.floor(stamps.astype("int64").to_numpy() / 1e9)


def summary(purchases: pd.DataFrame, at: datetime, freq: str = "D") -> dict[str, float]:
    """``frequency, recency, T, monetary_value`` of one customer's purchase lines at ``at``.

    Examples
    --------
    >>> lines = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-01 10:00",
    ...     "2024-01-01 18:00", "2024-01-05 00:00", "2024-01-11 09:00"]),
    ...     "amount": [5.0, 5.0, 20.0, 30.0]})
    >>> summary(lines, datetime(2024, 1, 31))
    {'frequency': 2.0, 'recency': 10.0, 'T': 30.0, 'monetary_value': 25.0}
    """
    end = pd.Timestamp(at)
    if purchases.empty:
        return {"frequency": _NAN, "recency": _NAN, "T": _NAN, "monetary_value": _NAN}
    periods = purchases["timestamp"].map(lambda ts: _period_start(pd.Timestamp(ts), freq))
    spend = purchases["amount"].astype(float).groupby(periods.to_numpy()).sum().sort_index()
    first, last = pd.Timestamp(spend.index[0]), pd.Timestamp(spend.index[-1])
    repeats = len(spend) - 1
    monetary = (float(spend.sum()) - float(spend.iloc[0])) / repeats if repeats > 0 else 0.0
    return {
        "frequency": float(repeats),
        "recency": periods_between(last, first, freq),
        "T": periods_between(end, first, freq),
        "monetary_value": monetary,
    }


def _orders(buys: pd.DataFrame) -> pd.DataFrame:
    """One row per order: time of its first line, value, discounted, lines, channel."""
    frame = buys.assign(discounted=buys["discount"].fillna(0).astype(float) > 0)
    orders = frame.groupby("order_id", sort=False).agg(
        ts=("timestamp", "min"),
        value=("amount", "sum"),
        discounted=("discounted", "any"),
        lines=("amount", "size"),
        channel=("channel", "max"),
    )
    return orders.sort_values("ts").reset_index(drop=True)


def _std(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else _NAN


def _order_columns(lines: pd.DataFrame, at: datetime, channels: Sequence[str]) -> dict[str, Any]:
    buys = lines[~lines["is_return"].astype(bool)]
    orders = _orders(buys)
    value = orders["value"].to_numpy(np.float64)
    age = days_between(pd.Timestamp(at), orders["ts"])
    gaps = np.diff(_epoch(orders["ts"])) / _DAY
    out: dict[str, Any] = {
        "tenure_days": float(days_between(pd.Timestamp(at), orders["ts"].min())),
        "days_since_last_order": float(days_between(pd.Timestamp(at), orders["ts"].max())),
        "orders_total": len(orders),
        "spend_total": float(value.sum()),
    }
    for n in WINDOWS:
        out[f"orders_{n}d"] = int((age < n).sum())
        out[f"spend_{n}d"] = float(value[age < n].sum())
    ipt_mean = float(gaps.mean()) if len(gaps) else _NAN
    ipt_std = _std(gaps)
    prev = float(value[(age >= 90) & (age < 180)].sum())
    last = out["spend_90d"]
    purchase_lines = int(orders["lines"].sum())
    returns = int(lines["is_return"].astype(bool).sum())
    out |= {
        "avg_order_value": float(value.mean()),
        "std_order_value": _std(value),
        "ipt_mean_days": ipt_mean,
        "ipt_std_days": ipt_std,
        "ipt_cv": ipt_std / ipt_mean if ipt_mean else _NAN,
        "spend_trend_90d": (last - prev) / (last + prev) if last + prev > 0 else 0.0,
        "distinct_products": int(buys["product_id"].nunique()),
        "discount_order_share": float(orders["discounted"].astype(float).mean()),
        "return_rate": returns / purchase_lines,
        "purchase_lines": purchase_lines,
    }
    for channel in channels:
        share = float((orders["channel"] == channel).sum()) / len(orders)
        out[share_column("channel", channel)] = share
    return out


def _share(spend: float, total: float) -> float:
    """``valueseg.features.behaviour.spend_share`` for one customer."""
    return min((0.0 if np.isnan(spend) else spend) / total, 1.0) if total > 0 else 0.0


def _category_columns(buys: pd.DataFrame, categories: Sequence[str]) -> dict[str, Any]:
    total = float(buys["amount"].sum())
    listed = list(categories)
    in_list = buys["category"].isin(listed)
    by_listed = buys[in_list].groupby("category")["amount"].sum()
    rest = buys[~in_list].groupby("category", dropna=False)["amount"].sum()
    rest_named = rest[rest.index.notna()] if len(rest) else rest
    spends = [float(by_listed[c]) if c in by_listed.index else _NAN for c in listed]
    candidates = [s for s in [*spends, *rest.to_numpy(np.float64)] if not np.isnan(s)]
    out: dict[str, Any] = {
        "distinct_categories": len(rest_named) + sum(not np.isnan(s) for s in spends),
    }
    if listed:
        top = max(candidates) if candidates else _NAN
        out["top_category_share"] = _share(top, total)
    for category, spend in zip(listed, spends, strict=True):
        out[share_column("cat", category)] = _share(spend, total)
    return out


def rebuild_features(
    lines: pd.DataFrame,
    at: datetime,
    *,
    freq: str = "D",
    channels: Sequence[str] = (),
    categories: Sequence[str] = (),
    views: int | None = None,
) -> dict[str, Any]:
    """The rebuilt feature columns of one customer at ``at`` (see the module).

    Parameters
    ----------
    lines : DataFrame
        The customer's order lines up to ``at``: ``order_id, timestamp, amount,
        product_id, category, discount, channel, is_return``.
    at : datetime
        The moment of the features (the run's ``as_of``, or a posted order's time).
    freq : str
        The run's summary period.
    channels, categories : sequence of str
        The run's main sales channels and categories (their share columns).
    views : int, optional
        The customer's product views up to ``at``; None: no events in the shop, so no
        ``view_to_purchase_rate``.

    Returns
    -------
    dict
        Column -> value; empty when the customer has no purchase by ``at``.
    """
    lines = lines[pd.to_datetime(lines["timestamp"]) <= pd.Timestamp(at)]
    buys = lines[~lines["is_return"].astype(bool)]
    if buys.empty:
        return {}
    out: dict[str, Any] = summary(buys, at, freq)
    out |= _order_columns(lines, at, channels)
    out |= _category_columns(buys, categories)
    if views is not None:
        out["view_to_purchase_rate"] = out["purchase_lines"] / views if views > 0 else 0.0
    return out
