"""Synthetic e-commerce shop with known ground truth.

:func:`make_shop` simulates a shop whose customers follow the BG/NBD purchase process
(Fader, Hardie & Lee 2005) with Gamma-Gamma order values (Fader & Hardie 2013), in five
planted segments that differ in their latent parameters and in what they buy, how they
browse, how often they use discounts and who they are. Everything the models and segment
finders are meant to recover is in ``Shop.truth`` and ``Shop.params``.

The process, per customer (time in days):

1. a segment (shares in ``params["shares"]``) and a taste archetype;
2. a birth (first purchase) in the segment's birth window of ``[start, end]``;
3. ``lambda ~ Gamma(r, alpha)``, ``p ~ Beta(a, b)``, ``nu ~ Gamma(q, gamma)``;
4. repeat purchases at rate ``lambda``; after each repeat purchase the customer leaves with
   probability ``p``. The process runs ``horizon_days`` past ``end``: purchases up to ``end``
   form the observed log, the rest the truth's ``future_*`` columns;
5. every order's value is ``Gamma(p_spend, nu)``, split over ``1 + Poisson`` lines whose
   products follow the customer's taste;
6. returns, views, carts, searches, browse-only sessions and reviews are added around the
   orders. Returns are extra rows (order id prefixed ``C``, negative quantity and amount);
   they are not part of the BG/NBD process and never change an order's value.

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy Way:
An Alternative to the Pareto/NBD Model. Marketing Science 24(2), 275-284.

Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma Model of Monetary Value.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from valueseg._synth import spec as spec_mod
from valueseg._synth.catalog import Catalog, make_catalog
from valueseg._synth.events import make_events
from valueseg._synth.orders import customer_attributes, make_lines, make_orders, make_returns
from valueseg._synth.process import draw_population, simulate_history
from valueseg._synth.tables import (
    Clock,
    customers_table,
    events_table,
    make_ids,
    products_table,
    transactions_table,
    truth_table,
)
from valueseg._synth.util import SECONDS_PER_DAY
from valueseg.errors import InputError

__all__ = ["HORIZON_DAYS", "TABLES", "Shop", "make_shop"]

#: Days simulated past the end of the window for the truth's future columns.
HORIZON_DAYS = 180
#: Names of the tables of a :class:`Shop`, in the order they are written.
TABLES = ("transactions", "events", "customers", "products", "truth")
_FORMATS = ("parquet", "csv")


@dataclass(frozen=True, eq=False, repr=False)
class Shop:
    """A simulated shop: the tables a shop would export, plus the ground truth.

    Attributes
    ----------
    transactions : pandas.DataFrame
        One row per order line or return: ``customer_id, order_id, timestamp, product_id,
        category, quantity, unit_price, amount, discount, channel``. On every row
        ``amount == quantity * unit_price - discount``; returns have an order id starting
        with ``C`` and negative ``quantity``, ``amount`` and ``discount``.
    events : pandas.DataFrame
        ``customer_id, timestamp, event_type, product_id, session_id, duration_s, rating``;
        event types ``view, cart, purchase, search, review``.
    customers : pandas.DataFrame
        ``customer_id, signup_date, age_band, gender, region``.
    products : pandas.DataFrame
        ``product_id, category, price, popularity, factor_0 ... factor_7``.
    truth : pandas.DataFrame
        One row per customer: ``customer_id, segment, archetype, lambda, p, nu, birth,
        dropout_date, alive_at_end, purchases_observed, future_purchases_180d,
        future_spend_180d``. ``dropout_date`` is NaT when it lies more than 100 years after
        the end.
    params : dict
        JSON-ready hyperparameters: ``segments`` (per segment BG/NBD ``r, alpha, a, b`` per
        day, Gamma-Gamma ``p_spend, q, gamma``, behaviour), ``shares``, ``start``, ``end``,
        ``as_of`` (the instant the observation ends: midnight after ``end``),
        ``horizon_days``, ``n_customers``, ``random_state`` and the catalogue settings.
    """

    transactions: pd.DataFrame
    events: pd.DataFrame
    customers: pd.DataFrame
    products: pd.DataFrame
    truth: pd.DataFrame
    params: dict[str, Any]

    def __repr__(self) -> str:
        """Sizes and window instead of the frames themselves.

        Examples
        --------
        >>> make_shop(50, random_state=0)  # doctest: +ELLIPSIS
        Shop(customers=50, transactions=..., events=..., window=2023-01-01..2024-12-31)
        """
        sizes = ", ".join(f"{name}={len(getattr(self, name))}" for name in TABLES[:2])
        window = f"{self.params['start']}..{self.params['end']}"
        return f"Shop(customers={len(self.truth)}, {sizes}, window={window})"

    def write(self, out_dir: str | Path, format: str = "parquet") -> dict[str, Path]:
        """Write one file per table, plus ``params.json``, into ``out_dir``.

        Parameters
        ----------
        out_dir : str or Path
            Folder to write into; created if missing. Existing files are replaced.
        format : {"parquet", "csv"}
            File format of the tables.

        Returns
        -------
        dict of str to Path
            The path written for every table name and for ``"params"``.

        Examples
        --------
        >>> import tempfile
        >>> shop = make_shop(200, random_state=1)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     paths = shop.write(tmp, format="csv")
        ...     sorted(path.name for path in paths.values())[:3]
        ['customers.csv', 'events.csv', 'params.json']
        """
        if format not in _FORMATS:
            raise InputError(
                f"The 'format' parameter of Shop.write must be 'parquet' or 'csv'. Got {format!r}."
            )
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        paths: dict[str, Path] = {}
        for name in TABLES:
            paths[name] = folder / f"{name}.{format}"
            _write_table(getattr(self, name), paths[name], format)
        paths["params"] = folder / "params.json"
        paths["params"].write_text(json.dumps(self.params, indent=2) + "\n", encoding="utf-8")
        return paths


def _write_table(frame: pd.DataFrame, path: Path, format: str) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if format == "parquet":
        pq.write_table(table, path)
        return
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):  # whole seconds: "2024-05-01 13:45:12"
            table = table.set_column(i, field.name, table.column(i).cast(pa.timestamp("s")))
    pa_csv.write_csv(table, path)


def _parse_day(value: object, name: str) -> pd.Timestamp:
    day = None
    if isinstance(value, str | datetime.date | np.datetime64):  # not numbers: epoch offsets
        try:
            day = pd.Timestamp(value)
        except ValueError:
            day = None
    if not isinstance(day, pd.Timestamp) or pd.isna(day) or day.tzinfo is not None:
        raise InputError(
            f"The '{name}' parameter of make_shop must be a date without time zone, "
            f"such as '2023-01-01'. Got {value!r}."
        )
    return day.normalize()


def _check_args(
    n_customers: object, start: object, end: object
) -> tuple[int, pd.Timestamp, pd.Timestamp]:
    if (
        not isinstance(n_customers, numbers.Integral)
        or isinstance(n_customers, bool)
        or n_customers < 1
    ):
        raise InputError(
            f"The 'n_customers' parameter of make_shop must be an int >= 1. Got {n_customers!r}."
        )
    first, last = _parse_day(start, "start"), _parse_day(end, "end")
    if last < first:
        raise InputError(
            f"The 'end' parameter of make_shop must be on or after start "
            f"({first.date()}). Got {last.date()}. Pass a later end or an earlier start."
        )
    return int(n_customers), first, last


def _json_seed(random_state: object) -> int | str | None:
    """The seed as JSON can hold it: an int, None, or the repr of a Generator."""
    if random_state is None:
        return None
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    return repr(random_state)


def _params(
    n_customers: int,
    first: pd.Timestamp,
    last: pd.Timestamp,
    random_state: object,
    catalog: Catalog,
) -> dict[str, Any]:
    segments = {}
    for spec in spec_mod.SEGMENTS:
        values = dataclasses.asdict(spec)
        values.pop("name")
        values["mean_order_value"] = spec.mean_order_value
        segments[spec.name] = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
    return {
        "n_customers": n_customers,
        "start": str(first.date()),
        "end": str(last.date()),
        "as_of": str((last + pd.Timedelta(days=1)).date()),
        "horizon_days": HORIZON_DAYS,
        "time_unit": "days",
        "random_state": _json_seed(random_state),
        "shares": {spec.name: spec.share for spec in spec_mod.SEGMENTS},
        "segments": segments,
        "categories": list(spec_mod.CATEGORIES),
        "channels": list(spec_mod.CHANNELS),
        "n_products": catalog.n_products,
        "n_archetypes": spec_mod.N_ARCHETYPES,
        "taste_dim": spec_mod.TASTE_DIM,
        "temperature": spec_mod.TEMPERATURE,
        "taste_weight": spec_mod.TASTE_WEIGHT,
        "archetypes": catalog.archetypes.tolist(),
        "archetype_prob": catalog.archetype_prob.tolist(),
        "discount_rates": list(spec_mod.DISCOUNT_RATES),
        "hourly_weights": list(spec_mod.HOURLY_WEIGHTS),
    }


def make_shop(
    n_customers: int = 20_000,
    *,
    start: str | datetime.date | np.datetime64 = "2023-01-01",
    end: str | datetime.date | np.datetime64 = "2024-12-31",
    random_state: int | np.random.Generator | None = None,
) -> Shop:
    """Simulate a shop with ``n_customers`` customers born between ``start`` and ``end``.

    Parameters
    ----------
    n_customers : int, default 20000
        Number of customers; every one makes at least one purchase.
    start, end : str, date or Timestamp
        First and last calendar day of the observation window, both included (a time of
        day is dropped). The observation ends at midnight after ``end``
        (``params["as_of"]``); the process runs on for ``HORIZON_DAYS`` days after that.
    random_state : int, numpy Generator or None
        Seed for :func:`numpy.random.default_rng`; the same seed gives the same shop.

    Returns
    -------
    Shop
        The tables, the ground truth and the parameters that produced them.

    Raises
    ------
    InputError
        If ``n_customers`` is not a positive int, or the dates are unusable.

    Examples
    --------
    >>> shop = make_shop(500, random_state=0)
    >>> len(shop.truth), shop.truth["customer_id"].iloc[0]
    (500, 'C0000001')
    >>> bool(shop.transactions["timestamp"].max() < pd.Timestamp(shop.params["as_of"]))
    True
    >>> sorted(shop.params["shares"])[:2]
    ['bargain_hunters', 'browsers']
    """
    n_customers, first, last = _check_args(n_customers, start, end)
    window = float((last - first).days + 1)
    rng = np.random.default_rng(random_state)
    specs = spec_mod.SEGMENTS
    catalog = make_catalog(rng, specs, spec_mod.N_PRODUCTS)
    pop = draw_population(rng, specs, catalog, n_customers, window)
    hist = simulate_history(rng, specs, pop, HORIZON_DAYS)
    orders = make_orders(rng, specs, pop, hist)
    lines = make_lines(rng, specs, pop, catalog, orders)
    returns = make_returns(rng, specs, pop, orders, lines, int(window) * SECONDS_PER_DAY)
    events = make_events(rng, specs, pop, hist, catalog, orders, lines, window)
    attrs = customer_attributes(rng, specs, pop)
    ids = make_ids(n_customers, catalog.n_products, orders.customer.size)
    clock = Clock(first)
    return Shop(
        transactions=transactions_table(ids, clock, catalog, orders, lines, returns),
        events=events_table(ids, clock, events),
        customers=customers_table(ids, clock, attrs),
        products=products_table(ids, catalog),
        truth=truth_table(ids, clock, specs, pop, hist, window),
        params=_params(n_customers, first, last, random_state, catalog),
    )
