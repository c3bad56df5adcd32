"""One customer's order features at a moment, rebuilt from their own order lines.

The run computes the feature table of every customer with Ibis expressions
(:mod:`valueseg.features`); building and compiling those for one customer costs about half
a second, too slow for a request. This module computes the same columns for one customer
in plain Python (a customer has tens of lines: a pandas group-by on them cost more than
the arithmetic, about 25 ms of a posted order's 50), by the same definitions
(docs/design.md §4 for the summary, ``valueseg/features/behaviour.py`` for the rest), from
the lines :func:`valueseg.store.web.customer_line_rows` reads. A test rebuilds every
customer of a run at its ``as_of`` and finds the run's stored ``customer_features`` again;
another builds random customers' lines (returns, discounts, missing channels and
categories, several lines per order) and compares them with the feature table itself.

Rebuilt: the BTYD summary (``frequency, recency, T, monetary_value``), the order columns
(:data:`ORDER_COLUMNS`), the shares of the run's main channels and categories, and
``view_to_purchase_rate``. Not rebuilt (they do not depend on orders, or need the shop's
browse sessions): the other event columns and the customer attributes; the caller carries
them from the run's row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any, Final

import pandas as pd

from valueseg.features.behaviour import WINDOWS, share_column
from valueseg.features.rfm import FREQS

__all__ = [
    "ORDER_COLUMNS",
    "days_between",
    "periods_between",
    "rebuild_features",
    "summary",
]

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
_DAY: Final = 86400
_NAN: Final = float("nan")
_EPOCH: Final = datetime(1970, 1, 1)


def _naive(stamp: Any) -> datetime:
    """``stamp`` as a naive UTC time (the store's), to the nanosecond when it has them."""
    if not isinstance(stamp, datetime):
        stamp = pd.Timestamp(stamp)
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC).replace(tzinfo=None)
    return stamp


def _seconds(stamp: Any) -> int:
    """Whole seconds since 1970 of a naive-UTC (or zoned) time, floored as the features
    count them."""
    delta = _naive(stamp) - _EPOCH
    return int(delta.days) * _DAY + int(delta.seconds)


def _period_start(seconds: int, freq: str) -> int:
    """The start of the period holding ``seconds`` (months: ``year * 12 + month``)."""
    if freq == "M":
        day = datetime.fromtimestamp(seconds, tz=UTC)
        return day.year * 12 + day.month - 1
    if freq == "W":  # weeks start on Monday; 1970-01-01 was a Thursday
        days = seconds // _DAY
        return (days - (days + 3) % 7) * _DAY
    size = 3600 if freq == "h" else _DAY
    return seconds // size * size


def _periods(later: int, earlier: int, freq: str) -> float:
    a, b = _period_start(later, freq), _period_start(earlier, freq)
    length = FREQS[freq][1]
    return float(a - b) if length is None else (a - b) / length


def periods_between(later: Any, earlier: Any, freq: str) -> float:
    """Whole periods from ``earlier`` to ``later``, both floored to their period first.

    Examples
    --------
    >>> periods_between(pd.Timestamp("2024-03-05 18:00"), pd.Timestamp("2024-01-31"), "M")
    2.0
    >>> periods_between(pd.Timestamp("2024-01-10 23:00"), pd.Timestamp("2024-01-03 01:00"), "D")
    7.0
    >>> periods_between(pd.Timestamp("2024-01-15"), pd.Timestamp("2024-01-07 12:00"), "W")
    2.0
    """
    return _periods(_seconds(later), _seconds(earlier), freq)


def days_between(later: Any, earlier: Any) -> float:
    """Days from ``earlier`` to ``later``, counted in whole seconds (as the features do).

    Examples
    --------
    >>> days_between(pd.Timestamp("2024-01-02 12:00:00.9"), pd.Timestamp("2024-01-01"))
    1.5
    """
    return (_seconds(later) - _seconds(earlier)) / _DAY


@dataclass(frozen=True)
class _Line:
    order: str
    seconds: int
    amount: float
    product: Any
    category: Any
    discounted: bool
    channel: Any
    is_return: bool


def _missing(value: Any) -> bool:
    return value is None or value is pd.NaT or value is pd.NA or value != value


def _amount(value: Any) -> float:
    return 0.0 if _missing(value) else float(value)


def _parse(rows: Iterable[Sequence[Any]], until: datetime) -> list[_Line]:
    """The lines up to ``until`` (naive UTC, to the nanosecond), in the order given."""
    out = []
    for order, stamp, amount, product, category, discount, channel, is_return in rows:
        naive = _naive(stamp)
        if naive > until:
            continue
        out.append(
            _Line(
                order=order,
                seconds=_seconds(naive),
                amount=_amount(amount),
                product=None if _missing(product) else product,
                category=None if _missing(category) else category,
                discounted=_amount(discount) > 0,
                channel=None if _missing(channel) else channel,
                is_return=bool(is_return),
            )
        )
    return out


def _summary(buys: Sequence[tuple[int, float]], at: int, freq: str) -> dict[str, float]:
    """The BTYD summary of ``(seconds, amount)`` purchase lines at ``at`` (seconds)."""
    if not buys:
        return {"frequency": _NAN, "recency": _NAN, "T": _NAN, "monetary_value": _NAN}
    spend: dict[int, list[float]] = {}
    for seconds, amount in buys:
        spend.setdefault(_period_start(seconds, freq), []).append(amount)
    periods = sorted(spend)
    sums = [math.fsum(spend[p]) for p in periods]
    repeats = len(periods) - 1
    monetary = (math.fsum(sums) - sums[0]) / repeats if repeats > 0 else 0.0
    first, last = min(s for s, _ in buys), max(s for s, _ in buys)  # in the first and last periods
    return {
        "frequency": float(repeats),
        "recency": _periods(last, first, freq),
        "T": _periods(at, first, freq),
        "monetary_value": monetary,
    }


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
    buys = [
        (_seconds(t), _amount(a))
        for t, a in zip(purchases["timestamp"].tolist(), purchases["amount"].tolist(), strict=True)
    ]
    return _summary(buys, _seconds(at), freq)


@dataclass
class _Order:
    first: int
    values: list[float]
    lines: int
    discounted: bool
    channel: Any


def _orders(buys: Sequence[_Line]) -> list[_Order]:
    """One per order id, by the time of its first line: value, lines, discounted, and its
    channel (the greatest of its lines' channels)."""
    orders: dict[str, _Order] = {}
    for line in buys:
        order = orders.get(line.order)
        if order is None:
            orders[line.order] = _Order(
                line.seconds, [line.amount], 1, line.discounted, line.channel
            )
            continue
        order.first = min(order.first, line.seconds)
        order.values.append(line.amount)
        order.lines += 1
        order.discounted = order.discounted or line.discounted
        if line.channel is not None and (order.channel is None or line.channel > order.channel):
            order.channel = line.channel
    return sorted(orders.values(), key=lambda o: o.first)


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if values else _NAN


def _std(values: Sequence[float]) -> float:
    """The sample standard deviation (``ddof=1``); NaN below two values."""
    if len(values) < 2:
        return _NAN
    mean = _mean(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _order_columns(
    lines: Sequence[_Line], buys: Sequence[_Line], at: int, channels: Sequence[str]
) -> dict[str, Any]:
    orders = _orders(buys)
    value = [math.fsum(o.values) for o in orders]
    age = [(at - o.first) / _DAY for o in orders]
    gaps = [(b.first - a.first) / _DAY for a, b in pairwise(orders)]
    out: dict[str, Any] = {
        "tenure_days": (at - orders[0].first) / _DAY,
        "days_since_last_order": (at - orders[-1].first) / _DAY,
        "orders_total": len(orders),
        "spend_total": math.fsum(value),
    }
    for n in WINDOWS:
        out[f"orders_{n}d"] = sum(a < n for a in age)
        out[f"spend_{n}d"] = math.fsum(v for v, a in zip(value, age, strict=True) if a < n)
    ipt_mean = _mean(gaps)
    ipt_std = _std(gaps)
    prev = math.fsum(v for v, a in zip(value, age, strict=True) if 90 <= a < 180)
    last = out["spend_90d"]
    purchase_lines = sum(o.lines for o in orders)
    returns = sum(line.is_return for line in lines)
    out |= {
        "avg_order_value": _mean(value),
        "std_order_value": _std(value),
        "ipt_mean_days": ipt_mean,
        "ipt_std_days": ipt_std,
        "ipt_cv": ipt_std / ipt_mean if ipt_mean else _NAN,
        "spend_trend_90d": (last - prev) / (last + prev) if last + prev > 0 else 0.0,
        "distinct_products": len({b.product for b in buys if b.product is not None}),
        "discount_order_share": sum(o.discounted for o in orders) / len(orders),
        "return_rate": returns / purchase_lines,
        "purchase_lines": purchase_lines,
    }
    for channel in channels:
        share = sum(o.channel == channel for o in orders) / len(orders)
        out[share_column("channel", channel)] = share
    return out


def _share(spend: float, total: float) -> float:
    """``valueseg.features.behaviour.spend_share`` for one customer."""
    return min((0.0 if math.isnan(spend) else spend) / total, 1.0) if total > 0 else 0.0


def _category_columns(buys: Sequence[_Line], categories: Sequence[str]) -> dict[str, Any]:
    total = math.fsum(b.amount for b in buys)
    by_category: dict[Any, list[float]] = {}
    for line in buys:
        by_category.setdefault(line.category, []).append(line.amount)
    spend = {c: math.fsum(v) for c, v in by_category.items()}
    listed = list(categories)
    spends = [spend.get(c, _NAN) for c in listed]
    named = [c for c in spend if c is not None]
    out: dict[str, Any] = {"distinct_categories": len(named)}
    if listed:  # the greatest spend of any category, a missing one included
        out["top_category_share"] = _share(max(spend.values()), total)
    for category, amount in zip(listed, spends, strict=True):
        out[share_column("cat", category)] = _share(amount, total)
    return out


def rebuild_features(
    lines: Iterable[Sequence[Any]],
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
    lines : rows
        The customer's order lines, each the values of
        :data:`~valueseg.store.web.LINE_COLUMNS` (``order_id, timestamp, amount,
        product_id, category, discount, channel, is_return``) in that order, as
        :func:`~valueseg.store.web.customer_line_rows` reads them. Lines after ``at``
        are left out.
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
    until = _seconds(at)
    parsed = _parse(lines, _naive(at))
    buys = [line for line in parsed if not line.is_return]
    if not buys:
        return {}
    out: dict[str, Any] = _summary([(b.seconds, b.amount) for b in buys], until, freq)
    out |= _order_columns(parsed, buys, until, channels)
    out |= _category_columns(buys, categories)
    if views is not None:
        out["view_to_purchase_rate"] = out["purchase_lines"] / views if views > 0 else 0.0
    return out
