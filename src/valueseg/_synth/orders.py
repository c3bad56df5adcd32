"""Orders, order lines, returns and customer attributes of the synthetic shop (private).

An order's value is one Gamma-Gamma draw; its ``1 + Poisson(extra_lines)`` lines split it by
Dirichlet shares weighted towards dearer products, so the line amounts of an order add up to
its value (each line rounded to the cent). Returns are extra rows *outside* the BG/NBD process:
they never change which orders exist or what they were worth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from valueseg._synth.catalog import Catalog, choose_products
from valueseg._synth.process import History, Population
from valueseg._synth.spec import DISCOUNT_RATES, DISCOUNT_WEIGHTS, SegmentSpec, seg_array
from valueseg._synth.util import SECONDS_PER_DAY, group_sum, sample_rows, to_seconds

#: Largest quantity on one order line.
MAX_QUANTITY = 24
#: Redraws of a product that repeats within an order before the line is dropped.
_REDRAWS = 10


@dataclass(frozen=True)
class Orders:
    """Observed orders in time order (index = order number - 1)."""

    customer: np.ndarray
    seconds: np.ndarray  # since the start of the window
    value: np.ndarray
    channel: np.ndarray


@dataclass(frozen=True)
class Lines:
    """Transaction rows: order lines, or return rows (negative quantity and amount)."""

    order: np.ndarray  # index into Orders
    product: np.ndarray
    quantity: np.ndarray
    unit_price: np.ndarray
    amount: np.ndarray
    discount: np.ndarray
    seconds: np.ndarray


def make_orders(
    rng: np.random.Generator, specs: tuple[SegmentSpec, ...], pop: Population, hist: History
) -> Orders:
    """Place the observed orders on the clock, sort them by time, pick each one's channel."""
    seconds = to_seconds(hist.order_time)
    by_time = np.argsort(seconds, kind="stable")
    customer = hist.order_customer[by_time]
    channel_prob = np.array([spec.channel for spec in specs])
    channel = sample_rows(rng, channel_prob, pop.segment[customer])
    return Orders(customer, seconds[by_time], hist.order_value[by_time], channel)


def repeated_in_order(order: np.ndarray, product: np.ndarray) -> np.ndarray:
    """Flag lines whose product already appears earlier in the same order.

    ``order`` must be grouped (equal values adjacent); orders have few lines, so comparing
    each line with the ones up to the longest order before it is cheap.

    Examples
    --------
    >>> repeated_in_order(np.array([0, 0, 0, 1, 1]), np.array([7, 8, 7, 7, 9])).tolist()
    [False, False, True, False, False]
    """
    seen = np.zeros(order.size, dtype=bool)
    longest = int(np.bincount(order).max(initial=0))
    for lag in range(1, longest):
        seen[lag:] |= (order[lag:] == order[:-lag]) & (product[lag:] == product[:-lag])
    return seen


def _distinct_products(
    rng: np.random.Generator,
    specs: tuple[SegmentSpec, ...],
    pop: Population,
    catalog: Catalog,
    order: np.ndarray,
    customer: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """One product per line by taste, redrawn while it repeats within the order.

    Returns the products and which lines to keep: a line still repeating after a few
    redraws (a very narrow taste) is dropped, so every order lists a product once.
    """
    archetype, segment = pop.archetype[customer], pop.segment[customer]
    product = choose_products(rng, catalog, archetype, segment, len(specs))
    for _ in range(_REDRAWS):
        again = np.flatnonzero(repeated_in_order(order, product))
        if again.size == 0:
            break
        product[again] = choose_products(rng, catalog, archetype[again], segment[again], len(specs))
    return product, ~repeated_in_order(order, product)


def make_lines(
    rng: np.random.Generator,
    specs: tuple[SegmentSpec, ...],
    pop: Population,
    catalog: Catalog,
    orders: Orders,
) -> Lines:
    """Split every order into lines: distinct products by taste, amounts by Dirichlet share."""
    n_orders = orders.customer.size
    order_seg = pop.segment[orders.customer]
    n_lines = 1 + rng.poisson(seg_array(specs, "extra_lines")[order_seg])
    order = np.repeat(np.arange(n_orders), n_lines)
    product, keep = _distinct_products(rng, specs, pop, catalog, order, orders.customer[order])
    order, product = order[keep], product[keep]
    price = catalog.price[product]
    weight = rng.standard_gamma(1.5 + 2.5 * price / np.median(catalog.price))
    weight = np.maximum(weight, 1e-12)
    share = weight / group_sum(order, weight, n_orders)[order]
    amount = np.maximum(np.round(orders.value[order] * share, 2), 0.01)
    discounted = rng.random(order.size) < seg_array(specs, "discount_prob")[order_seg[order]]
    weights = np.asarray(DISCOUNT_WEIGHTS, dtype=float)
    rate = rng.choice(np.asarray(DISCOUNT_RATES), size=order.size, p=weights / weights.sum())
    rate = np.where(discounted, rate, 0.0)
    discount = np.round(amount * rate / (1.0 - rate), 2)
    gross = amount + discount
    quantity = np.clip(np.round(gross / price), 1, MAX_QUANTITY).astype(np.int64)
    return Lines(
        order, product, quantity, gross / quantity, amount, discount, orders.seconds[order]
    )


def make_returns(
    rng: np.random.Generator,
    specs: tuple[SegmentSpec, ...],
    pop: Population,
    orders: Orders,
    lines: Lines,
    end_seconds: int,
) -> Lines:
    """Return rows for a few lines: same order and product, some days later, before the end.

    Quantity, amount and discount are the negated returned fraction of the line (amounts in
    whole cents), so ``amount == quantity * unit_price - discount`` holds on return rows too.
    """
    seg = pop.segment[orders.customer[lines.order]]
    idx = np.flatnonzero(rng.random(seg.size) < seg_array(specs, "return_prob")[seg])
    delay = (1.0 + rng.gamma(2.0, 3.0, idx.size)) * SECONDS_PER_DAY
    seconds = lines.seconds[idx] + delay.astype(np.int64)
    idx, seconds = idx[seconds < end_seconds], seconds[seconds < end_seconds]
    by_time = np.argsort(seconds, kind="stable")
    idx, seconds = idx[by_time], seconds[by_time]
    bought = lines.quantity[idx]
    back = np.where(rng.random(idx.size) < 0.6, bought, rng.integers(1, bought + 1))
    share = back / bought
    amount = np.maximum(np.round(lines.amount[idx] * share, 2), 0.01)
    discount = np.round(lines.discount[idx] * share, 2)
    unit_price = (amount + discount) / back  # the line's price, up to rounding of cents
    return Lines(
        lines.order[idx], lines.product[idx], -back, unit_price, -amount, -discount, seconds
    )


def customer_attributes(
    rng: np.random.Generator, specs: tuple[SegmentSpec, ...], pop: Population
) -> dict[str, np.ndarray]:
    """Signup day (days since start, on or before the first purchase) and demographics."""
    lead = np.floor(rng.exponential(seg_array(specs, "signup_lead_days")[pop.segment]))
    attrs = {"signup_day": np.floor(pop.birth) - lead}
    for name in ("age", "gender", "region"):
        prob = np.array([getattr(spec, name) for spec in specs])
        attrs[name] = sample_rows(rng, prob, pop.segment)
    return attrs
