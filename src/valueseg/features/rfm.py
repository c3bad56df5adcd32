"""The customer summary of the BTYD literature, as one engine-neutral Ibis expression.

For each customer at the observation end, in periods of ``freq`` (docs/design.md §4, and the
numbers lifetimes' ``summary_data_from_transaction_data`` gives):

- ``frequency``: distinct purchase periods − 1 (repeat purchases);
- ``recency``: last purchase period − first purchase period (0 without a repeat);
- ``T``: observation end period − first purchase period;
- ``monetary_value``: mean spend per repeat period (0 without a repeat).

Timestamps are floored to the start of their period first (days; weeks starting Monday;
hours; months), so several orders in one period count as one purchase, whose spend is
their sum. Orders after the observation end are ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import ibis
import ibis.expr.types as ir
import pandas as pd

#: freq -> (Ibis truncation unit, seconds per period); months are counted on the calendar.
FREQS: Final[dict[str, tuple[str, float | None]]] = {
    "h": ("h", 3600.0),
    "D": ("D", 86400.0),
    "W": ("W", 7 * 86400.0),
    "M": ("M", None),
}


def check_freq(freq: str, freq_multiplier: float = 1) -> None:
    """Refuse a period the summary does not know."""
    from valueseg.errors import InputError

    if freq not in FREQS:
        raise InputError(
            f"The 'freq' parameter must be one of {', '.join(FREQS)} (hours, days, weeks, "
            f"months). Got {freq!r}."
        )
    if not freq_multiplier > 0:
        raise InputError(
            f"The 'freq_multiplier' parameter must be a positive number. Got {freq_multiplier!r}."
        )


def periods_between(
    later: ir.TimestampValue, earlier: ir.TimestampValue, freq: str
) -> ir.NumericValue:
    """Whole periods from ``earlier`` to ``later`` (both already floored to their period)."""
    _, seconds = FREQS[freq]
    if seconds is None:
        return (later.year() * 12 + later.month()) - (earlier.year() * 12 + earlier.month())
    # float division: Spark would divide by a literal in DECIMAL and round
    return (later.epoch_seconds() - earlier.epoch_seconds()).cast("float64") / seconds


def period_start(ts: ir.TimestampValue, freq: str) -> ir.TimestampValue:
    """The start of the period ``ts`` falls in."""
    return ts.truncate(FREQS[freq][0])


def next_period_start(moment: datetime, freq: str) -> datetime:
    """The start of the period after the one ``moment`` falls in (weeks start on Monday).

    A line is in a period up to ``moment``'s exactly when its time is before this, so the
    engine compares raw times instead of truncating every line twice.

    Examples
    --------
    >>> next_period_start(datetime(2024, 1, 31, 15, 30), "M")
    datetime.datetime(2024, 2, 1, 0, 0)
    >>> next_period_start(datetime(2024, 1, 3, 15, 30), "W")  # a Wednesday
    datetime.datetime(2024, 1, 8, 0, 0)
    """
    ts = pd.Timestamp(moment)
    if freq == "M":
        return (ts.normalize().replace(day=1) + pd.DateOffset(months=1)).to_pydatetime()
    if freq == "W":
        return (ts.normalize() - pd.Timedelta(days=ts.weekday() - 7)).to_pydatetime()
    step = pd.Timedelta(hours=1) if freq == "h" else pd.Timedelta(days=1)
    return (ts.floor(step) + step).to_pydatetime()


@ibis.udf.agg.builtin(name="min_by")
def _min_by(arg: float, key: datetime) -> float:  # type: ignore[empty-body]
    """``arg`` on the row with the smallest ``key``: DuckDB's ``arg_min``, Spark's ``min_by``.

    Ibis' own ``argmin`` becomes an ordered ``first`` on DuckDB, which sorts each group.
    """


def rfm_expr(
    orders: ir.Table,
    observation_end: datetime,
    *,
    freq: str = "D",
    freq_multiplier: float = 1,
    include_first_transaction: bool = False,
    customer_id_col: str = "customer_id",
    datetime_col: str = "timestamp",
    monetary_value_col: str | None = "amount",
    order_col: str | None = None,
) -> ir.Table:
    """The summary as an Ibis expression over ``orders`` (any backend).

    ``observation_end`` is floored to its period; lines in later periods are left out.
    With ``order_col``, a column ``first_row``: its smallest value among the customer's
    lines (to list customers in the order they first appear).
    """
    end = period_start(ibis.literal(observation_end, type="timestamp"), freq)
    amount = orders[monetary_value_col] if monetary_value_col else ibis.literal(0.0)
    row = {"row": orders[order_col]} if order_col else {}
    first_row = {"first_row": lambda t: t.row.min()} if order_col else {}
    before = ibis.literal(next_period_start(observation_end, freq), type="timestamp")
    orders = orders.filter(orders[datetime_col].cast("timestamp") < before)
    per_period = (
        orders.select(
            customer_id=orders[customer_id_col].cast("string"),
            period=period_start(orders[datetime_col].cast("timestamp"), freq),
            amount=amount.cast("float64"),
            **row,
        )
        .group_by(["customer_id", "period"])
        .aggregate(spend=lambda t: t.amount.sum(), **first_row)
    )
    summary = per_period.group_by("customer_id").aggregate(
        first=lambda t: t.period.min(),
        last=lambda t: t.period.max(),
        n=lambda t: t.period.count(),
        total=lambda t: t.spend.sum(),
        first_spend=lambda t: _min_by(t.spend, t.period),  # periods are unique per customer
        **({"first_row": lambda t: t.first_row.min()} if order_col else {}),
    )
    repeats = summary.n - 1
    if include_first_transaction:
        frequency = summary.n
        monetary = summary.total / summary.n
    else:
        frequency = repeats
        monetary = ibis.ifelse(
            repeats > 0, (summary.total - summary.first_spend) / repeats.cast("float64"), 0.0
        )
    return summary.select(
        *([summary.first_row] if order_col else []),
        customer_id=summary.customer_id,
        frequency=frequency.cast("float64"),
        recency=(periods_between(summary["last"], summary["first"], freq) / freq_multiplier).cast(
            "float64"
        ),
        T=(periods_between(end, summary["first"], freq) / freq_multiplier).cast("float64"),
        monetary_value=monetary.cast("float64"),
    )
