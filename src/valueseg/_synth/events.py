"""Browse, cart, purchase, search and review events of the synthetic shop (private).

Three sources, each produced in (nearly) time order so the final stable sort is cheap:

* purchase sessions, one per order: ``1 + Poisson(views_per_line)`` views of every purchased
  product in the hour before the order (each in its own slot, so no two share a second), a
  cart add 5-59 seconds before the order, and one ``purchase`` event per line at its time;
* browse-only sessions at ``browse_rate`` per day while the customer is alive and observed:
  searches, views of products drawn from the customer's taste, and abandoned cart adds;
* reviews of a few purchased lines, a day or more later, with a 1-5 rating that follows the
  customer's taste for the product.

Events after the end of the window are dropped. Views before a customer's first order may
fall up to an hour before the start of the window.
"""

from __future__ import annotations

import numpy as np

from valueseg._synth.catalog import Catalog, choose_products
from valueseg._synth.orders import Lines, Orders
from valueseg._synth.process import History, Population
from valueseg._synth.spec import EVENT_TYPES, SegmentSpec, seg_array
from valueseg._synth.util import SECONDS_PER_DAY, ragged_rank, to_seconds

VIEW, CART, PURCHASE, SEARCH, REVIEW = (
    EVENT_TYPES.index(name) for name in ("view", "cart", "purchase", "search", "review")
)
#: Seconds between consecutive events of a browse session.
_STEP = 40
_COLUMNS = ("customer", "seconds", "kind", "product", "session", "duration", "rating")
_DTYPES = (np.int32, np.int64, np.int8, np.int32, np.int32, np.float64, np.float64)
Events = dict[str, np.ndarray]


def _events(
    customer: np.ndarray,
    seconds: np.ndarray,
    kind: int,
    product: np.ndarray | int,
    session: np.ndarray,
    duration: np.ndarray | float,
    rating: np.ndarray | float = np.nan,
) -> Events:
    """Columns of one batch of events in compact dtypes; scalars are broadcast."""
    size = np.asarray(seconds).size
    values = (customer, seconds, kind, product, session, duration, rating)
    return {
        name: np.broadcast_to(np.asarray(value, dtype=dtype), size)
        for name, dtype, value in zip(_COLUMNS, _DTYPES, values, strict=True)
    }


def _purchase_events(
    rng: np.random.Generator,
    specs: tuple[SegmentSpec, ...],
    pop: Population,
    orders: Orders,
    lines: Lines,
) -> list[Events]:
    """Views, a cart add and a purchase event for every order line; session = order."""
    customer = orders.customer[lines.order]
    seg = pop.segment[customer]
    n_views = 1 + rng.poisson(seg_array(specs, "views_per_line")[seg])
    line = np.repeat(np.arange(lines.order.size), n_views)
    dwell = seg_array(specs, "view_seconds")[seg[line]]
    # the views of a line sit in distinct slots of the hour before the order, latest first
    slot = np.maximum(3540 // n_views, 1)[line]
    before = 60 + ragged_rank(n_views) * slot + rng.integers(0, slot)
    views = _events(
        customer[line],
        lines.seconds[line] - before,
        VIEW,
        lines.product[line],
        lines.order[line],
        np.round(rng.lognormal(np.log(dwell), 0.7), 1),
    )
    carts = _events(
        customer,
        lines.seconds - rng.integers(5, 60, customer.size),
        CART,
        lines.product,
        lines.order,
        np.round(rng.uniform(2.0, 12.0, customer.size), 1),
    )
    buys = _events(
        customer,
        lines.seconds,
        PURCHASE,
        lines.product,
        lines.order,
        np.round(rng.lognormal(np.log(75.0), 0.4, customer.size), 1),
    )
    return [views, carts, buys]


def _browse_sessions(
    rng: np.random.Generator,
    specs: tuple[SegmentSpec, ...],
    pop: Population,
    hist: History,
    window: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Customer and start second of every browse-only session, sorted by start."""
    active = np.minimum(hist.dropout, window) - pop.birth
    count = rng.poisson(seg_array(specs, "browse_rate")[pop.segment] * active)
    customer = np.repeat(np.arange(active.size), count)
    start = to_seconds(pop.birth[customer] + rng.random(customer.size) * active[customer])
    by_time = np.argsort(start, kind="stable")
    return customer[by_time], start[by_time]


def _browse_events(
    rng: np.random.Generator,
    specs: tuple[SegmentSpec, ...],
    pop: Population,
    catalog: Catalog,
    sessions: tuple[np.ndarray, np.ndarray],
    first_session: int,
) -> list[Events]:
    """Searches first, then views, each view maybe followed by a cart add, per session."""
    customer, start = sessions
    seg = pop.segment[customer]
    session = np.arange(customer.size, dtype=np.int64) + first_session
    n_search = rng.poisson(seg_array(specs, "search_rate")[seg])
    of = np.repeat(np.arange(customer.size), n_search)
    searches = _events(
        customer[of],
        start[of] + ragged_rank(n_search) * _STEP + rng.integers(0, _STEP, of.size),
        SEARCH,
        -1,
        session[of],
        np.round(rng.lognormal(np.log(12.0), 0.5, of.size), 1),
    )
    n_view = 1 + rng.poisson(seg_array(specs, "browse_views")[seg])
    of = np.repeat(np.arange(customer.size), n_view)
    rank = n_search[of] + 2 * ragged_rank(n_view)  # odd ranks are left for cart adds
    seconds = start[of] + rank * _STEP + rng.integers(0, _STEP, of.size)
    product = choose_products(rng, catalog, pop.archetype[customer[of]], seg[of], len(specs))
    dwell = seg_array(specs, "view_seconds")[seg[of]]
    duration = np.round(rng.lognormal(np.log(dwell), 0.7), 1)
    views = _events(customer[of], seconds, VIEW, product, session[of], duration)
    cart = np.flatnonzero(rng.random(of.size) < seg_array(specs, "cart_prob")[seg[of]])
    duration = np.round(rng.uniform(2.0, 12.0, cart.size), 1)
    carts = _events(
        customer[of[cart]], seconds[cart] + _STEP, CART, product[cart], session[of[cart]], duration
    )
    return [searches, views, carts]


def _review_events(
    rng: np.random.Generator,
    specs: tuple[SegmentSpec, ...],
    pop: Population,
    catalog: Catalog,
    orders: Orders,
    lines: Lines,
    first_session: int,
) -> list[Events]:
    """Reviews of a few lines, rated by the customer's taste for the product."""
    customer = orders.customer[lines.order]
    chosen = rng.random(customer.size) < seg_array(specs, "review_prob")[pop.segment[customer]]
    idx = np.flatnonzero(chosen)
    delay = SECONDS_PER_DAY * (1.0 + rng.exponential(6.0, idx.size))
    seconds = lines.seconds[idx] + delay.astype(np.int64)
    by_time = np.argsort(seconds, kind="stable")
    idx, seconds, customer = idx[by_time], seconds[by_time], customer[idx[by_time]]
    score = catalog.affinity(pop.archetype[customer], lines.product[idx])
    rating = np.clip(np.round(3.4 + 0.9 * score + rng.normal(0.0, 0.8, idx.size)), 1.0, 5.0)
    session = first_session + np.arange(idx.size)
    return [_events(customer, seconds, REVIEW, lines.product[idx], session, np.nan, rating)]


def make_events(
    rng: np.random.Generator,
    specs: tuple[SegmentSpec, ...],
    pop: Population,
    hist: History,
    catalog: Catalog,
    orders: Orders,
    lines: Lines,
    window: float,
) -> Events:
    """All events, sorted by time, as columns (``product == -1`` for searches)."""
    parts = _purchase_events(rng, specs, pop, orders, lines)
    sessions = _browse_sessions(rng, specs, pop, hist, window)
    n_orders = orders.customer.size
    parts += _browse_events(rng, specs, pop, catalog, sessions, n_orders)
    first_review = n_orders + sessions[0].size
    parts += _review_events(rng, specs, pop, catalog, orders, lines, first_review)
    seconds = np.concatenate([part["seconds"] for part in parts])
    keep = np.flatnonzero(seconds < window * SECONDS_PER_DAY)
    order = keep[np.argsort(seconds[keep], kind="stable")]
    del seconds, keep
    events = {}
    for name in _COLUMNS:  # one column at a time, freeing the parts as it goes
        events[name] = np.concatenate([part.pop(name) for part in parts])[order]
    return events
