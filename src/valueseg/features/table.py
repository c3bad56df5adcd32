"""The ``customer_features`` table: summary + behaviour + events + attributes, per customer."""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

from valueseg.features.behaviour import (
    EVENT_ZERO,
    Level,
    attribute_features,
    category_features,
    event_features,
    lines,
    order_features,
    view_to_purchase,
)
from valueseg.features.rfm import rfm_expr

TOP_CATEGORIES = 10
MAX_LEVELS = 12
#: Share of the customers with a value that the one-hot levels of an attribute must hold.
MIN_LEVEL_COVERAGE = 0.5
_NOT_ATTRIBUTES = {"customer_id", "load_id", "line"}


def top_values(
    transactions: ir.Table, as_of: datetime, column: str, k: int = TOP_CATEGORIES
) -> list[str]:
    """The shop's ``k`` values of ``column`` (category, channel) with the most spend."""
    end = ibis.literal(as_of, type="timestamp")
    buys = transactions.filter(
        (transactions["timestamp"] <= end)
        & ~transactions.is_return
        & transactions[column].notnull()
    )
    ranked = (
        buys.group_by(column)
        .aggregate(spend=buys.amount.sum())
        .order_by([ibis.desc("spend"), column])
        .limit(k)
    )
    return [str(c) for c in ranked.to_pyarrow()[column].to_pylist()]


def top_categories(transactions: ir.Table, as_of: datetime, k: int = TOP_CATEGORIES) -> list[str]:
    """The shop's ``k`` categories with the most spend up to ``as_of``."""
    return top_values(transactions, as_of, "category", k)


def attribute_plan(customers: ir.Table) -> tuple[dict[str, list[Level]], list[str]]:
    """Which attributes are one-hot (and on which levels) and which are numeric.

    A text attribute is one-hot on its ``MAX_LEVELS`` most common levels when they hold at
    least ``MIN_LEVEL_COVERAGE`` of the customers who have a value: a column of e-mail
    addresses, names or other near-unique text (every level a customer or two) is left
    out, as its columns would be all but empty.
    """
    categorical: dict[str, list[Level]] = {}
    numeric: list[str] = []
    for name, dtype in customers.schema().items():
        if name in _NOT_ATTRIBUTES:
            continue
        if dtype.is_numeric() and not dtype.is_boolean():
            numeric.append(name)
        elif dtype.is_string() or dtype.is_boolean():
            present = customers.filter(customers[name].notnull())
            counts = present.group_by(name).aggregate(n=present.count())
            top = (
                counts.mutate(total=counts.n.sum().over())
                .order_by([ibis.desc("n"), name])
                .limit(MAX_LEVELS)
                .to_pandas()
            )
            if top.empty or top.n.sum() < MIN_LEVEL_COVERAGE * top.total.iloc[0]:
                continue
            categorical[name] = [v.item() if hasattr(v, "item") else v for v in top[name]]
        # dates and timestamps are described through tenure instead
    return categorical, numeric


#: Optional order-line columns, added as NULL when an input lacks them.
OPTIONAL = {
    "discount": "float64",
    "product_id": "string",
    "category": "string",
    "channel": "string",
}
#: At most this many sales channels get a share column.
TOP_CHANNELS = 6


def with_optional_columns(transactions: ir.Table) -> ir.Table:
    """The order lines with every optional column present (NULL where the input has none)."""
    missing = {c: ibis.null(t) for c, t in OPTIONAL.items() if c not in transactions.columns}
    return transactions.mutate(**missing) if missing else transactions


def feature_expr(
    transactions: ir.Table,
    as_of: datetime,
    *,
    events: ir.Table | None = None,
    customers: ir.Table | None = None,
    freq: str = "D",
) -> ir.Table:
    """One row per customer who bought by ``as_of``; columns documented in the README."""
    transactions = with_optional_columns(transactions)
    summary = rfm_expr(lines(transactions, as_of, ["customer_id", "amount"]), as_of, freq=freq)
    channels = top_values(transactions, as_of, "channel", TOP_CHANNELS)
    out = summary.join(order_features(transactions, as_of, channels), "customer_id")
    cats = top_categories(transactions, as_of)
    out = out.join(category_features(transactions, as_of, cats), "customer_id")
    out = out.drop(*[c for c in out.columns if c.endswith("_right")])
    if events is not None:
        ev = event_features(events, as_of)
        out = out.left_join(ev, "customer_id").drop("customer_id_right")
        out = out.mutate(
            view_to_purchase_rate=view_to_purchase(out.purchase_lines, out.views_total),
            **{c: out[c].fill_null(0) for c in EVENT_ZERO},
        ).drop("views_total")
    if customers is not None:
        categorical, numeric = attribute_plan(customers)
        if categorical or numeric:
            attrs = attribute_features(customers, categorical, numeric)
            out = out.left_join(attrs, "customer_id").drop("customer_id_right")
            onehot = [
                c
                for c in attrs.columns
                if c != "customer_id" and c not in {f"attr_{n}" for n in numeric}
            ]
            out = out.mutate(**{c: out[c].fill_null(0) for c in onehot})
    return out.order_by("customer_id")
