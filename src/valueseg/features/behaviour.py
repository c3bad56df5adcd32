"""Behavioural features per customer, as Ibis expressions (DuckDB or Spark run them).

Every column is documented in the README (section "Customer features"). The expressions
take Ibis tables with the store's column names (``transactions``, optional ``events`` and
``customers``) and the moment ``as_of``; nothing here knows which engine will run them.
Where zero is the truth (no orders in a window, no events), the value is 0; where a value
is undefined (the spread of one order, the rating of a customer who never rated), it is
NULL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TypeAlias

import ibis
import ibis.expr.types as ir

DAY = 86400.0
WINDOWS = (30, 90, 180)
#: A level of a text or boolean customer attribute, one-hot in the features.
Level: TypeAlias = str | bool


def _days(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.FloatingValue:
    # whole seconds on every engine (Spark's epoch has no fraction; DuckDB's does)
    # (and float division: Spark divides integers by a literal in DECIMAL, rounding it)
    seconds = later.epoch_seconds().floor() - earlier.epoch_seconds().floor()
    return seconds.cast("float64") / DAY


def lines(
    transactions: ir.Table,
    as_of: datetime,
    columns: Sequence[str],
    *,
    returns: bool = False,
    where: Callable[[ir.Table], ir.BooleanValue] | None = None,
) -> ir.Table:
    """The purchase lines (``returns=True``: the return lines) up to ``as_of``, with only
    ``columns``, and only those where ``where(table)`` holds when given.

    Each pass over the order lines selects its own columns before it filters, so the
    passes are different expressions. Were they one shared filtered table, DuckDB would
    materialise it (a common table expression used more than once), holding every line
    of the log in memory, or spilling it to disk, instead of streaming each pass from the
    files with only its columns read.
    """
    end = ibis.literal(as_of, type="timestamp")
    t = transactions.select(*dict.fromkeys([*columns, "timestamp", "is_return"]))
    kind = t.is_return if returns else ~t.is_return
    keep = (t["timestamp"] <= end) & kind
    return t.filter(keep & where(t) if where is not None else keep)


def order_features(
    transactions: ir.Table, as_of: datetime, channels: Sequence[str] = ()
) -> ir.Table:
    """Orders, spend, timing, variety, discounts, returns and sales channels per customer.

    ``channels`` are the shop's main sales channels (see
    :func:`valueseg.features.table.top_values`). An order's time is its first line's.
    """
    end = ibis.literal(as_of, type="timestamp")
    buys = lines(transactions, as_of, ["customer_id", "order_id", "amount", "discount", "channel"])
    orders = buys.group_by(["customer_id", "order_id"]).aggregate(
        ts=buys["timestamp"].min(),
        value=buys.amount.sum(),
        discounted=(buys.discount.fill_null(0) > 0).any(),
        lines=buys.count(),
        channel=buys.channel.max(),
    )
    # ties need no order: the sorted times give the same gaps whichever tied order comes first
    w = ibis.window(group_by=orders.customer_id, order_by=orders.ts)
    orders = orders.mutate(gap=_days(orders.ts, orders.ts.lag().over(w)))
    age = _days(end, orders.ts)
    aggs: dict[str, ir.Scalar] = {
        "first_order": orders.ts.min(),
        "last_order": orders.ts.max(),
        "orders_total": orders.count(),
        "spend_total": orders.value.sum(),
        "avg_order_value": orders.value.mean(),
        "std_order_value": orders.value.std(how="sample"),
        "ipt_mean": orders.gap.mean(),
        "ipt_std": orders.gap.std(how="sample"),
        "discount_order_share": orders.discounted.cast("float64").mean(),
        "spend_prev_90d": orders.value.sum(where=(age >= 90) & (age < 180)),
        "purchase_lines": orders.lines.sum(),
    }
    for n in WINDOWS:
        aggs[f"orders_{n}d"] = orders.count(where=age < n)
        aggs[f"spend_{n}d"] = orders.value.sum(where=age < n)
    for i, channel in enumerate(channels):
        aggs[f"channel_{i:02d}"] = orders.count(where=orders.channel == channel)
    per_order = orders.group_by("customer_id").aggregate(**aggs)
    # COUNT(DISTINCT) per customer: on DuckDB 1.5 cheaper than grouping (customer,
    # product) pairs and counting them (100M lines: 37 against 46 CPU seconds alone, and
    # its smaller state leaves the other aggregations room: 63 CPU seconds in the full query)
    bought = lines(transactions, as_of, ["customer_id", "product_id"])
    products = bought.group_by("customer_id").aggregate(
        distinct_products=bought.product_id.nunique()
    )
    back = lines(transactions, as_of, ["customer_id"], returns=True)
    returns = back.group_by("customer_id").aggregate(return_lines=back.count())
    out = per_order.left_join(products, "customer_id").left_join(returns, "customer_id")
    shares = [
        (out[f"channel_{i:02d}"] / out.orders_total)
        .cast("float64")
        .name(share_column("channel", c))
        for i, c in enumerate(channels)
    ]
    return out.select(*_order_columns(out, end), *shares)


def _order_columns(t: ir.Table, end: ir.TimestampScalar) -> list[ir.Column]:
    prev = t.spend_prev_90d.fill_null(0)
    last = t.spend_90d.fill_null(0)
    trend = ibis.ifelse(last + prev > 0, (last - prev) / (last + prev), 0.0)
    cols: list[ir.Column] = [
        t.customer_id,
        _days(end, t.first_order).name("tenure_days"),
        _days(end, t.last_order).name("days_since_last_order"),
        t.orders_total.cast("int64").name("orders_total"),
        t.spend_total.cast("float64").name("spend_total"),
    ]
    for n in WINDOWS:
        cols.append(t[f"orders_{n}d"].fill_null(0).cast("int64").name(f"orders_{n}d"))
        cols.append(t[f"spend_{n}d"].fill_null(0).cast("float64").name(f"spend_{n}d"))
    cols += [
        t.avg_order_value.cast("float64").name("avg_order_value"),
        t.std_order_value.cast("float64").name("std_order_value"),
        t.ipt_mean.cast("float64").name("ipt_mean_days"),
        t.ipt_std.cast("float64").name("ipt_std_days"),
        (t.ipt_std / t.ipt_mean.nullif(0)).cast("float64").name("ipt_cv"),
        trend.cast("float64").name("spend_trend_90d"),
        t.distinct_products.fill_null(0).cast("int64").name("distinct_products"),
        t.discount_order_share.cast("float64").name("discount_order_share"),
        (t.return_lines.fill_null(0) / t.purchase_lines).cast("float64").name("return_rate"),
        t.purchase_lines.cast("int64").name("purchase_lines"),
    ]
    return cols


def spend_share(spend: ir.NumericValue, total: ir.NumericValue) -> ir.FloatingValue:
    """``spend / total`` in [0, 1]; 0 when the total is not positive, and a NULL spend is 0.

    At most 1: a total is summed in another order than its parts (and, by the engine's
    threads, in a different order from run to run), so a customer's whole spend in one
    category came out as 1.0000000000000002 on some runs.
    """
    ratio = ibis.least(spend.fill_null(0.0) / total, 1.0)
    return ibis.ifelse(total > 0, ratio, 0.0).cast("float64")


def category_features(
    transactions: ir.Table, as_of: datetime, categories: Sequence[str]
) -> ir.Table:
    """Distinct categories bought, and the share of spend in each of ``categories`` and in
    the customer's top category (the latter only when the shop has categories).

    Spend per customer in each of ``categories`` (the shop's biggest) comes from one pass
    per customer with a sum per category; only the lines of other categories (and of
    none) are summed per (customer, category), which is what the distinct count and the
    top category need beyond those sums. Both give the numbers of one (customer,
    category) aggregation of every line, at a fraction of its cost: most lines belong to
    the biggest categories.
    """
    # (columns in another order than the pass below: two different scans, see lines())
    buys = lines(transactions, as_of, ["customer_id", "amount", "category"])
    aggs: dict[str, ir.Scalar] = {"total": buys.amount.sum()}
    for i, cat in enumerate(categories):
        aggs[f"cat_spend_{i:02d}"] = buys.amount.sum(where=buys.category == cat)
    main = buys.group_by("customer_id").aggregate(**aggs)
    listed = list(categories)
    other = lines(
        transactions,
        as_of,
        ["customer_id", "category", "amount"],
        where=(lambda t: t.category.isnull() | ~t.category.isin(listed)) if listed else None,
    )
    by_cat = other.group_by(["customer_id", "category"]).aggregate(spend=other.amount.sum())
    rest = by_cat.group_by("customer_id").aggregate(
        rest_categories=by_cat.count(where=by_cat.category.notnull()),
        rest_top=by_cat.spend.max(),
    )
    out = main.left_join(rest, "customer_id")
    # a sum over no lines is NULL: the category was not bought
    bought = [out[f"cat_spend_{i:02d}"].notnull() for i in range(len(categories))]
    n_categories = out.rest_categories.fill_null(0)
    for flag in bought:
        n_categories = n_categories + flag.cast("int64")
    # the biggest spend among the categories bought (NULLs are skipped)
    top = out.rest_top
    for i, flag in enumerate(bought):
        top = ibis.greatest(top, ibis.ifelse(flag, out[f"cat_spend_{i:02d}"], ibis.null()))

    cols = [out.customer_id, n_categories.cast("int64").name("distinct_categories")]
    if categories:
        cols.append(spend_share(top, out.total).name("top_category_share"))
    cols += [
        spend_share(out[f"cat_spend_{i:02d}"], out.total).name(category_column(c))
        for i, c in enumerate(categories)
    ]
    return out.select(*cols)


def share_column(prefix: str, value: str) -> str:
    """``<prefix>_share_<value>`` as a plain identifier.

    Examples
    --------
    >>> share_column("cat", "Home & Garden")
    'cat_share_home_garden'
    >>> share_column("channel", "App")
    'channel_share_app'
    """
    import re

    slug = re.sub(r"[^0-9a-z]+", "_", str(value).lower()).strip("_") or "blank"
    return f"{prefix}_share_{slug}"


def category_column(category: str) -> str:
    """``cat_share_<category>`` as a plain identifier."""
    return share_column("cat", category)


def event_features(events: ir.Table, as_of: datetime) -> ir.Table:
    """Browsing in the last 30 days, cart abandonment, conversion, session length, rating."""
    end = ibis.literal(as_of, type="timestamp")
    ev = events.filter(events["timestamp"] <= end)
    recent = _days(end, ev["timestamp"]) < 30
    session = ev.session_id.fill_null(
        ev.customer_id.concat("@", ev["timestamp"].date().cast("string"))
    )
    ev = ev.mutate(session=session, recent=recent)
    sessions = ev.group_by(["customer_id", "session"]).aggregate(
        has_cart=(ev.event_type == "cart").any(),
        has_purchase=(ev.event_type == "purchase").any(),
        duration=ev.duration_s.sum(),
        recent=ev.recent.any(),
    )
    per_session = sessions.group_by("customer_id").aggregate(
        sessions_30d=sessions.count(where=sessions.recent),
        carted_sessions=sessions.count(where=sessions.has_cart),
        abandoned_sessions=sessions.count(where=sessions.has_cart & ~sessions.has_purchase),
        mean_session_duration_s=sessions.duration.mean(),
    )
    per_event = ev.group_by("customer_id").aggregate(
        views_30d=ev.count(where=(ev.event_type == "view") & ev.recent),
        carts_30d=ev.count(where=(ev.event_type == "cart") & ev.recent),
        views_total=ev.count(where=ev.event_type == "view"),
        mean_rating=ev.rating.mean(),
    )
    t = per_session.join(per_event, "customer_id")
    return t.select(
        t.customer_id,
        t.sessions_30d.cast("int64").name("sessions_30d"),
        t.views_30d.cast("int64").name("views_30d"),
        t.carts_30d.cast("int64").name("carts_30d"),
        ibis.ifelse(t.carted_sessions > 0, t.abandoned_sessions / t.carted_sessions, 0.0)
        .cast("float64")
        .name("cart_abandonment_rate"),
        t.views_total.cast("int64").name("views_total"),
        t.mean_session_duration_s.cast("float64").name("mean_session_duration_s"),
        t.mean_rating.cast("float64").name("mean_rating"),
    )


def view_to_purchase(
    purchase_lines: ir.IntegerValue, views_total: ir.IntegerValue
) -> ir.FloatingValue:
    """Purchased lines per product view (0 without views)."""
    views = views_total.fill_null(0)
    return ibis.ifelse(views > 0, purchase_lines / views, 0.0).cast("float64")


#: Event columns whose value is 0 (not unknown) for a customer without events.
EVENT_ZERO = (
    "sessions_30d",
    "views_30d",
    "carts_30d",
    "cart_abandonment_rate",
)


def attribute_features(
    customers: ir.Table, categorical: Mapping[str, Sequence[Level]], numeric: Sequence[str]
) -> ir.Table:
    """Numeric attributes as they are; categoricals one-hot on the given levels."""
    cols: list[ir.Column] = [customers.customer_id]
    cols += [customers[c].cast("float64").name(f"attr_{c}") for c in numeric]
    for col, levels in categorical.items():
        for level in levels:
            name = f"attr_{col}_{_slug(level)}"
            cols.append((customers[col] == level).fill_null(False).cast("int64").name(name))
    return customers.select(*cols)


def _slug(value: Level) -> str:
    import re

    return re.sub(r"[^0-9a-z]+", "_", str(value).lower()).strip("_") or "blank"
