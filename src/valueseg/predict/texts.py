"""A feature's value as a fact a marketer reads: "no order in 140 days (usual gap 35)".

:func:`describe` writes one text per customer for one feature, citing other columns of the
customer's row where they help (the usual gap between orders next to the days since the
last order; the spend of the previous 90 days next to the trend). A feature without a
sentence of its own is written as its name and value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["describe"]

_Writer = Callable[[float, dict[str, Any], dict[str, Any]], str]
#: Other columns of the customer's row a feature's sentence cites.
_CITES = {"days_since_last_order": ("ipt_mean_days",), "spend_trend_90d": ("spend_90d",)}


def _n(v: float) -> str:
    return f"{v:,.0f}"


def _money(v: float) -> str:
    return f"{v:,.2f}"


def _pct(v: float) -> str:
    return f"{100 * v:.0f} %"


def _plural(v: float, word: str) -> str:
    return f"{_n(v)} {word}{'' if round(v) == 1 else 's'}"


def _since_last(v: float, row: dict[str, Any], ctx: dict[str, Any]) -> str:
    gap = row.get("ipt_mean_days", np.nan)
    if pd.notna(gap):
        return f"no order in {_n(v)} days (usual gap {_n(gap)})"
    return f"no order in {_n(v)} days (one order so far)"


def _trend(v: float, row: dict[str, Any], ctx: dict[str, Any]) -> str:
    last = row.get("spend_90d", np.nan)
    if pd.notna(last) and last == 0 and v == 0:
        return "no spend in the last 180 days"
    if v <= -1:
        return "no spend in the last 90 days, after spending in the 90 before"
    if v >= 1:
        return "spending in the last 90 days, after nothing in the 90 before"
    change = (1 + v) / (1 - v) - 1  # trend = (last - prev) / (last + prev)
    word = "down" if change < 0 else "up"
    return f"spend {word} {abs(100 * change):.0f} % on the previous 90 days"


def _window(kind: str, days: str) -> _Writer:
    if kind == "orders":
        return lambda v, r, c: (
            f"no order in the last {days} days"
            if v == 0
            else f"{_plural(v, 'order')} in the last {days} days"
        )
    return lambda v, r, c: f"spent {_money(v)} in the last {days} days"


def _horizon(ctx: dict[str, Any]) -> str:
    return f"{ctx.get('horizon_days', 90)} days"


_FIXED: dict[str, _Writer] = {
    "days_since_last_order": _since_last,
    "spend_trend_90d": _trend,
    "frequency": lambda v, r, c: _plural(v, "repeat purchase"),
    "recency": lambda v, r, c: f"last purchase {_n(v)} {c.get('unit', 'days')} after the first",
    "T": lambda v, r, c: f"first purchase {_n(v)} {c.get('unit', 'days')} ago",
    "monetary_value": lambda v, r, c: f"repeat purchases worth {_money(v)} on average",
    "tenure_days": lambda v, r, c: f"customer for {_n(v)} days",
    "orders_total": lambda v, r, c: f"{_plural(v, 'order')} in all",
    "spend_total": lambda v, r, c: f"spent {_money(v)} in all",
    "avg_order_value": lambda v, r, c: f"average order {_money(v)}",
    "std_order_value": lambda v, r, c: f"order values vary by {_money(v)}",
    "ipt_mean_days": lambda v, r, c: f"usually {_n(v)} days between orders",
    "ipt_std_days": lambda v, r, c: f"gaps between orders vary by {_n(v)} days",
    "ipt_cv": lambda v, r, c: (
        f"{'irregular' if v > 1 else 'regular'} ordering (gap variation {v:.2f})"
    ),
    "distinct_products": lambda v, r, c: _plural(v, "different product"),
    "distinct_categories": lambda v, r, c: _plural(v, "category").replace(
        "categorys", "categories"
    ),
    "top_category_share": lambda v, r, c: f"{_pct(v)} of spend in one category",
    "discount_order_share": lambda v, r, c: f"{_pct(v)} of orders discounted",
    "return_rate": lambda v, r, c: f"returned {_pct(v)} of items bought",
    "purchase_lines": lambda v, r, c: _plural(v, "item") + " bought",
    "sessions_30d": lambda v, r, c: f"{_plural(v, 'visit')} in the last 30 days",
    "views_30d": lambda v, r, c: f"{_plural(v, 'product view')} in the last 30 days",
    "carts_30d": lambda v, r, c: f"{_plural(v, 'cart add')} in the last 30 days",
    "cart_abandonment_rate": lambda v, r, c: f"left {_pct(v)} of carts",
    "mean_session_duration_s": lambda v, r, c: f"visits last {v / 60:.1f} minutes on average",
    "mean_rating": lambda v, r, c: f"rates products {v:.1f} on average",
    "view_to_purchase_rate": lambda v, r, c: f"{v:.2f} items bought per product view",
    "btyd_p_alive": lambda v, r, c: f"value model: {_pct(v)} chance still a customer",
    "btyd_p_churn": lambda v, r, c: f"value model: {_pct(v)} chance of no order in {_horizon(c)}",
    "btyd_expected_purchases": lambda v, r, c: (
        f"value model expects {v:.1f} orders in {_horizon(c)}"
    ),
    "btyd_expected_spend": lambda v, r, c: (
        f"value model expects {_money(v)} spend in {_horizon(c)}"
    ),
}

_PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], _Writer]]] = [
    (re.compile(r"(orders|spend)_(\d+)d"), lambda m: _window(m[1], m[2])),
    (
        re.compile(r"channel_share_(.+)"),
        lambda m: lambda v, r, c: f"{_pct(v)} of orders via {m[1].replace('_', ' ')}",
    ),
    (
        re.compile(r"cat_share_(.+)"),
        lambda m: lambda v, r, c: f"{_pct(v)} of spend on {m[1].replace('_', ' ')}",
    ),
    (
        re.compile(r"attr_(.+)"),
        lambda m: lambda v, r, c: _attribute(m[1].replace("_", " "), v),
    ),
]


def _attribute(label: str, v: float) -> str:
    if v in (0.0, 1.0):
        return label if v == 1 else f"not {label}"
    return f"{label} {v:g}"


def _writer(feature: str) -> _Writer:
    if feature in _FIXED:
        return _FIXED[feature]
    for pattern, make in _PATTERNS:
        match = pattern.fullmatch(feature)
        if match:
            return make(match)
    label = feature.replace("_", " ")
    return lambda v, r, c: f"{label} {v:.3g}"


def describe(
    feature: str, values: np.ndarray, rows: pd.DataFrame, context: dict[str, Any]
) -> list[str]:
    """One text per value of ``feature``; ``rows`` are the customers' feature rows.

    Examples
    --------
    >>> rows = pd.DataFrame({"ipt_mean_days": [35.0, np.nan]})
    >>> describe("days_since_last_order", np.array([140.0, 20.0]), rows, {})
    ['no order in 140 days (usual gap 35)', 'no order in 20 days (one order so far)']
    >>> rows = pd.DataFrame({"spend_90d": [40.0]})
    >>> describe("spend_trend_90d", np.array([-0.4285714]), rows, {})
    ['spend down 60 % on the previous 90 days']
    """
    write = _writer(feature)
    label = feature.replace("_", " ")
    cited = [c for c in _CITES.get(feature, ()) if c in rows.columns]
    records: list[dict[str, Any]] = [
        dict(zip(cited, vals, strict=True)) for vals in rows[cited].itertuples(index=False)
    ]
    return [
        f"{label} not known" if np.isnan(v) else write(float(v), row, context)
        for v, row in zip(np.asarray(values, np.float64), records, strict=True)
    ]
