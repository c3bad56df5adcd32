"""Conditions on customer features, said in words (private to the rules of the clusters).

A condition is ``lo < value <= hi`` on one column of the feature table (either bound may
be absent). :func:`describe` says it the way a marketer would: "last order more than 150
days ago", "one order only", "more than 30 % of orders discounted", "nothing spent in the
last 180 days". Columns the phrase book does not know read "``<column words>`` above 12".

A *share* (a column in [0, 1] whose name says share or rate) is written in per cent, a
*count* (whole numbers only) in whole numbers, ``<= 0`` on a non-negative column as "no …"
or "= 0". A value that is undefined for a customer (the spread of one order) is never the
subject of a condition that customer meets: the rules evaluate it as false, so a phrase
about the time between orders speaks only of customers with two orders or more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Kind", "describe", "number", "percent"]

_WINDOW = re.compile(r"^(orders|spend|sessions|views|carts)_(\d+)d$")


@dataclass(frozen=True)
class Kind:
    """How a column's numbers read: ``share`` (per cent), ``count`` (whole), ``nonneg``."""

    share: bool = False
    count: bool = False
    nonneg: bool = False


def number(value: float) -> str:
    """A threshold as a person writes it: ``2,200``, ``36``, ``0.85``, ``-0.5``.

    Examples
    --------
    >>> number(2200.0), number(36.0), number(0.85), number(1234.5)
    ('2,200', '36', '0.85', '1,234.5')
    """
    if float(value).is_integer():
        return f"{int(value):,}"
    text = f"{value:,.4f}".rstrip("0").rstrip(".")
    return text


def percent(value: float) -> str:
    """A share as a per cent: ``0.3`` → ``30 %``, ``0.125`` → ``12.5 %``.

    Examples
    --------
    >>> percent(0.3), percent(0.125), percent(1.0)
    ('30 %', '12.5 %', '100 %')
    """
    return f"{number(round(100 * value, 2))} %"


def _count(value: float, one: str, many: str) -> str:
    return f"{number(value)} {one if value == 1 else many}"


def _bounds(lo: float | None, hi: float | None, kind: Kind, unit: str = "") -> str:
    """``at most 5 days`` / ``more than 5 days`` / ``5 to 9 days``."""
    fmt = percent if kind.share else number
    tail = f" {unit}" if unit else ""
    if lo is not None and hi is not None:
        if kind.count:
            first = lo + 1
            if first == hi:
                return f"{number(hi)}{tail}"
            return f"{number(first)} to {number(hi)}{tail}"
        return f"more than {fmt(lo)} and at most {fmt(hi)}{tail}"
    if hi is not None:
        return f"at most {fmt(hi)}{tail}"
    return f"more than {fmt(lo)}{tail}"  # type: ignore[arg-type]


def _orders(lo: float | None, hi: float | None) -> str:
    if lo is None and hi is not None and hi <= 1:
        return "one order only"
    if hi is None and lo == 1:
        return "more than one order"
    if lo is not None and hi is not None and lo + 1 == hi:
        return _count(hi, "order", "orders")
    if lo is not None and hi is not None:
        return f"{number(lo + 1)} to {number(hi)} orders"
    if hi is not None:
        return f"at most {_count(hi, 'order', 'orders')}"
    return f"more than {_count(lo, 'order', 'orders')}"  # type: ignore[arg-type]


def _is_zero(lo: float | None, hi: float | None, kind: Kind) -> bool:
    return kind.nonneg and lo is None and hi is not None and hi <= 0


def _is_positive(lo: float | None, hi: float | None, kind: Kind) -> bool:
    return kind.nonneg and hi is None and lo is not None and lo <= 0


#: window column stem -> ("= 0" phrase, "> 0" phrase, noun of the counted thing or "" for money)
_WINDOWED: dict[str, tuple[str, str, str]] = {
    "orders": ("no order", "ordered", "orders"),
    "spend": ("nothing spent", "bought", ""),
    "sessions": ("no session", "visited", "sessions"),
    "views": ("no product view", "viewed products", "product views"),
    "carts": ("no cart add", "added to a cart", "cart adds"),
}


def _windowed(what: str, days: str, lo: float | None, hi: float | None, kind: Kind) -> str:
    none, some, noun = _WINDOWED[what]
    if _is_zero(lo, hi, kind):
        text = none
    elif _is_positive(lo, hi, kind):
        text = some
    elif noun:
        text = _bounds(lo, hi, kind, noun)
    else:
        text = f"spent {_bounds(lo, hi, kind)}"
    return f"{text} in the last {days} days"


def _share_of(subject: str, lo: float | None, hi: float | None, kind: Kind) -> str:
    """``more than 30 % of <subject>``."""
    return f"{_bounds(lo, hi, kind)} of {subject}"


def _words(column: str) -> str:
    return column.replace("_", " ")


def describe(column: str, lo: float | None, hi: float | None, kind: Kind) -> str:
    """``lo < column <= hi`` in words.

    Examples
    --------
    >>> describe("days_since_last_order", 150.0, None, Kind(nonneg=True))
    'last order more than 150 days ago'
    >>> describe("orders_total", None, 1.0, Kind(count=True, nonneg=True))
    'one order only'
    >>> describe("discount_order_share", 0.3, None, Kind(share=True, nonneg=True))
    'more than 30 % of orders discounted'
    >>> describe("spend_180d", None, 0.0, Kind(nonneg=True))
    'nothing spent in the last 180 days'
    >>> describe("ipt_mean_days", 20.0, 90.0, Kind(nonneg=True))
    'orders more than 20 and at most 90 days apart on average'
    >>> describe("loyalty_points", None, 300.0, Kind(nonneg=True))
    'loyalty points at most 300'
    >>> describe("orders_90d", 2.0, 5.0, Kind(count=True, nonneg=True))
    '3 to 5 orders in the last 90 days'
    """
    zero, positive = _is_zero(lo, hi, kind), _is_positive(lo, hi, kind)
    window = _WINDOW.match(column)
    if window:
        return _windowed(window[1], window[2], lo, hi, kind)
    if column == "orders_total":
        return _orders(lo, hi)
    if column.startswith("cat_share_"):
        category = _words(column.removeprefix("cat_share_"))
        if zero:
            return f"nothing bought in {category}"
        if positive:
            return f"bought in {category}"
        return _share_of(f"spend in {category}", lo, hi, kind)
    if column.startswith("channel_share_"):
        channel = _words(column.removeprefix("channel_share_"))
        if zero:
            return f"no order via {channel}"
        if positive:
            return f"ordered via {channel}"
        return _share_of(f"orders via {channel}", lo, hi, kind)
    phrase = _PHRASES.get(column)
    if phrase is not None:
        none, some, template = phrase
        if zero and none:
            return none
        if positive and some:
            return some
        return template.format(_bounds(lo, hi, kind))
    return f"{_words(column)} {_bounds(lo, hi, kind)}"


#: column -> (phrase for "= 0", phrase for "> 0", template with the bounds).
_PHRASES: dict[str, tuple[str, str, str]] = {
    "days_since_last_order": ("", "", "last order {} days ago"),
    "tenure_days": ("", "", "first order {} days ago"),
    "spend_total": ("nothing spent", "", "spent {} in total"),
    "avg_order_value": ("", "", "average order {}"),
    "std_order_value": ("orders of one value", "", "order values vary by {} (std)"),
    "ipt_mean_days": ("", "", "orders {} days apart on average"),
    "ipt_std_days": ("", "", "gaps between orders vary by {} days (std)"),
    "ipt_cv": ("", "", "gaps between orders vary by {} of their mean"),
    "spend_trend_90d": ("", "", "90-day spend trend {}"),
    "distinct_products": ("", "", "{} different products"),
    "distinct_categories": ("", "", "{} categories"),
    "discount_order_share": ("no discounted order", "", "{} of orders discounted"),
    "return_rate": ("nothing returned", "returned something", "{} of items returned"),
    "purchase_lines": ("", "", "{} order lines"),
    "top_category_share": ("", "", "{} of spend in their top category"),
    "cart_abandonment_rate": ("no cart abandoned", "", "{} of carts abandoned"),
    "view_to_purchase_rate": ("nothing bought after a view", "", "view-to-purchase rate {}"),
    "mean_session_duration_s": ("", "", "average session {} s"),
    "mean_rating": ("", "", "average rating {}"),
    "views_total": ("no product view", "", "{} product views"),
}
