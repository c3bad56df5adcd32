"""Turn the simulated arrays into the shop's pandas tables (private).

Columns are built as Arrow arrays (strings straight from byte buffers) and converted once,
so string columns come out as pandas' ``str`` dtype without Python objects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from valueseg._synth.catalog import Catalog
from valueseg._synth.orders import Lines, Orders
from valueseg._synth.process import History, Population
from valueseg._synth.spec import (
    AGE_BANDS,
    CATEGORIES,
    CHANNELS,
    EVENT_TYPES,
    GENDERS,
    REGIONS,
    TASTE_DIM,
    SegmentSpec,
)
from valueseg._synth.util import SECONDS_PER_DAY, fixed_width_ids, lookup, take_ids, to_seconds

#: Dropout later than this many days after the window's end is reported as NaT.
MAX_DROPOUT_DAYS = 36_525.0


@dataclass(frozen=True)
class Clock:
    """Converts seconds since the start of the window to ``datetime64[us]``."""

    start: pd.Timestamp

    def timestamps(self, seconds: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
        """Arrow ``timestamp[us]`` array; entries where ``valid`` is False become null."""
        micros = self.start.value // 1_000 + np.asarray(seconds, dtype=np.int64) * 1_000_000
        mask = None if valid is None else ~valid
        return pa.array(micros, type=pa.timestamp("us"), mask=mask)


@dataclass(frozen=True)
class Ids:
    """Fixed-width id records of customers, products and orders."""

    customer: np.ndarray
    product: np.ndarray
    order: np.ndarray
    refund: np.ndarray


def make_ids(n_customers: int, n_products: int, n_orders: int) -> Ids:
    """Ids ``C0000001``, ``P00001``, ``O00000001`` and return ids ``CO00000001``."""
    return Ids(
        fixed_width_ids("C", n_customers, 7),
        fixed_width_ids("P", n_products, 5),
        fixed_width_ids("O", n_orders, 8),
        fixed_width_ids("CO", n_orders, 8),
    )


def _frame(columns: dict[str, pa.Array | np.ndarray]) -> pd.DataFrame:
    table = pa.table(columns)
    return table.to_pandas(split_blocks=True, self_destruct=True)


def transactions_table(
    ids: Ids, clock: Clock, catalog: Catalog, orders: Orders, lines: Lines, returns: Lines
) -> pd.DataFrame:
    """Order lines and return rows, merged in time order (both inputs are time-sorted)."""
    both = {
        name: np.concatenate((getattr(lines, name), getattr(returns, name)))
        for name in ("order", "product", "quantity", "unit_price", "amount", "discount", "seconds")
    }
    by_time = np.argsort(both["seconds"], kind="stable")
    both = {name: values[by_time] for name, values in both.items()}
    order_ids = pa.concat_arrays(
        [take_ids(ids.order, lines.order), take_ids(ids.refund, returns.order)]
    ).take(pa.array(by_time))
    customer = orders.customer[both["order"]]
    return _frame(
        {
            "customer_id": take_ids(ids.customer, customer),
            "order_id": order_ids,
            "timestamp": clock.timestamps(both["seconds"]),
            "product_id": take_ids(ids.product, both["product"]),
            "category": lookup(CATEGORIES, catalog.category[both["product"]]),
            "quantity": both["quantity"],
            "unit_price": both["unit_price"],
            "amount": both["amount"],
            "discount": both["discount"],
            "channel": lookup(CHANNELS, orders.channel[both["order"]]),
        }
    )


def events_table(ids: Ids, clock: Clock, events: dict[str, np.ndarray]) -> pd.DataFrame:
    """The event log; ``product_id`` is null for searches. Empties ``events`` as it goes."""
    n_sessions = int(events["session"].max(initial=-1)) + 1
    columns = {
        "customer_id": take_ids(ids.customer, events.pop("customer")),
        "timestamp": clock.timestamps(events.pop("seconds")),
        "event_type": lookup(EVENT_TYPES, events.pop("kind")),
        "product_id": take_ids(ids.product, events.pop("product")),
        "session_id": take_ids(fixed_width_ids("S", n_sessions, 9), events.pop("session")),
        "duration_s": events.pop("duration"),
        "rating": events.pop("rating"),
    }
    return _frame(columns)


def customers_table(ids: Ids, clock: Clock, attrs: dict[str, np.ndarray]) -> pd.DataFrame:
    """Customer attributes: signup date (midnight) and demographics."""
    signup = attrs["signup_day"].astype(np.int64) * SECONDS_PER_DAY
    return _frame(
        {
            "customer_id": take_ids(ids.customer),
            "signup_date": clock.timestamps(signup),
            "age_band": lookup(AGE_BANDS, attrs["age"]),
            "gender": lookup(GENDERS, attrs["gender"]),
            "region": lookup(REGIONS, attrs["region"]),
        }
    )


def products_table(ids: Ids, catalog: Catalog) -> pd.DataFrame:
    """Products with category, base price, popularity and latent taste factors."""
    columns: dict[str, pa.Array | np.ndarray] = {
        "product_id": take_ids(ids.product),
        "category": lookup(CATEGORIES, catalog.category),
        "price": catalog.price,
        "popularity": catalog.popularity,
    }
    for dim in range(TASTE_DIM):
        columns[f"factor_{dim}"] = np.ascontiguousarray(catalog.factors[:, dim])
    return _frame(columns)


def truth_table(
    ids: Ids,
    clock: Clock,
    specs: tuple[SegmentSpec, ...],
    pop: Population,
    hist: History,
    window: float,
) -> pd.DataFrame:
    """One row per customer with the latent parameters and the simulated future."""
    known = hist.dropout <= window + MAX_DROPOUT_DAYS
    dropout = to_seconds(np.where(known, hist.dropout, 0.0))
    return _frame(
        {
            "customer_id": take_ids(ids.customer),
            "segment": lookup([spec.name for spec in specs], pop.segment),
            "archetype": pop.archetype,
            "lambda": pop.lam,
            "p": pop.p,
            "nu": pop.nu,
            "birth": clock.timestamps(to_seconds(pop.birth)),
            "dropout_date": clock.timestamps(dropout, valid=known),
            "alive_at_end": hist.alive,
            "purchases_observed": hist.repeats,
            "future_purchases_180d": hist.future,
            "future_spend_180d": hist.future_spend,
        }
    )
