"""The implicit-feedback log of a shop: who touched which product, when, and how strongly.

:func:`build_interactions` reads a transactions frame (the store's ``transactions`` table)
and, optionally, an events frame, keeps what happened up to ``as_of`` and codes customers
and products once. The :class:`Interactions` it returns keeps that coded log, so every
matrix a run needs (the training matrix of a split, the purchases of a test window, the
full matrix the served model is fitted on) comes from the same mapping of ids to rows and
columns.

Weights (docs/recommend.md, "Interactions"):

- a purchase line counts 1 for its (customer, product); a return line subtracts 1; the net
  purchases of a pair are floored at 0;
- an event of a type in ``event_weights`` adds that weight (default: view 0.1, cart 0.3);
  other event types (``purchase`` events repeat the transactions, searches name no
  product) are left out.

The interaction matrix is the sum of both parts. A line or event without a product id is
left out (and counted in ``Interactions.lines_without_product``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from valueseg.errors import InputError, did_you_mean

__all__ = ["DEFAULT_EVENT_WEIGHTS", "Interactions", "build_interactions"]

#: Weight of one event, by event type; types not listed are left out.
DEFAULT_EVENT_WEIGHTS: Mapping[str, float] = MappingProxyType({"view": 0.1, "cart": 0.3})

_PURCHASE, _RETURN, _EVENT = 0, 1, 2
_NEEDED = ("customer_id", "timestamp", "product_id")


@dataclass(frozen=True, eq=False)
class Interactions:
    """A shop's coded interaction log up to ``as_of``.

    Row ``u`` of every matrix is customer ``customers[u]``; column ``i`` is product
    ``products[i]``. Time windows are half-open, ``[start, end)``; ``None`` leaves a side
    open (the log itself ends at ``as_of``, inclusive).

    Attributes
    ----------
    customers, products : pandas.Index
        The ids, sorted; a customer's or product's code is its position.
    category : numpy.ndarray
        Each product's most frequent category on its purchase lines (``""`` if unknown).
    as_of : pandas.Timestamp
        The end of the log (inclusive).
    lines_without_product : int
        Purchase and return lines up to ``as_of`` left out for want of a product id.
    """

    customers: pd.Index
    products: pd.Index
    category: np.ndarray
    as_of: pd.Timestamp
    user: np.ndarray = field(repr=False)  # customer code per log row (int32)
    item: np.ndarray = field(repr=False)  # product code per log row (int32)
    time: np.ndarray = field(repr=False)  # datetime64[ns] per log row
    weight: np.ndarray = field(repr=False)  # float32 per log row
    kind: np.ndarray = field(repr=False)  # _PURCHASE | _RETURN | _EVENT per log row (int8)
    order: np.ndarray = field(repr=False)  # order code per purchase row, -1 otherwise (int64)
    lines_without_product: int = 0

    @property
    def shape(self) -> tuple[int, int]:
        """``(customers, products)``."""
        return len(self.customers), len(self.products)

    def _window(self, start: Any, end: Any) -> np.ndarray:
        keep = np.ones(self.time.size, dtype=bool)
        if start is not None:
            keep &= self.time >= np.datetime64(pd.Timestamp(start).as_unit("ns"))
        if end is not None:
            keep &= self.time < np.datetime64(pd.Timestamp(end).as_unit("ns"))
        return keep

    def _csr(self, rows: np.ndarray, values: np.ndarray) -> sp.csr_matrix:
        matrix = sp.csr_matrix(
            (values.astype(np.float32), (self.user[rows], self.item[rows])),
            shape=self.shape,
            dtype=np.float32,
        )
        matrix.sum_duplicates()
        return matrix

    def matrix(self, start: Any = None, end: Any = None) -> sp.csr_matrix:
        """Interaction strengths in ``[start, end)``: net purchases (≥ 0) plus event weights.

        Examples
        --------
        >>> tx = pd.DataFrame({"customer_id": ["a", "a", "a"], "order_id": ["1", "2", "C2"],
        ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-02-03"]),
        ...     "product_id": ["x", "x", "x"], "amount": [5.0, 5.0, -5.0]})
        >>> build_interactions(tx).matrix().toarray()  # two purchases, one returned
        array([[1.]], dtype=float32)
        """
        window = self._window(start, end)
        bought = np.flatnonzero(window & (self.kind != _EVENT))
        net = self._csr(bought, self.weight[bought])
        net.data = np.maximum(net.data, 0.0)
        events = np.flatnonzero(window & (self.kind == _EVENT))
        total = (net + self._csr(events, self.weight[events])).tocsr()
        total.eliminate_zeros()
        total.sort_indices()
        return total

    def bought(self, start: Any = None, end: Any = None) -> sp.csr_matrix:
        """1 where the customer has a purchase line of the product in ``[start, end)``
        (returned or not).

        Examples
        --------
        >>> tx = pd.DataFrame({"customer_id": ["a", "b"], "timestamp": pd.to_datetime(
        ...     ["2024-01-01", "2024-03-01"]), "product_id": ["x", "y"], "amount": [5.0, 7.0]})
        >>> build_interactions(tx).bought(end="2024-02-01").toarray()
        array([[1., 0.],
               [0., 0.]], dtype=float32)
        """
        rows = np.flatnonzero(self._window(start, end) & (self.kind == _PURCHASE))
        matrix = self._csr(rows, np.ones(rows.size, dtype=np.float32))
        matrix.data[:] = 1.0
        return matrix

    def orders(self, start: Any = None, end: Any = None) -> np.ndarray:
        """Distinct purchase orders of every customer in ``[start, end)``.

        Examples
        --------
        >>> tx = pd.DataFrame({"customer_id": ["a", "a", "b"], "order_id": ["1", "1", "2"],
        ...     "timestamp": pd.to_datetime(["2024-01-01"] * 3), "product_id": ["x", "y", "x"],
        ...     "amount": [5.0, 7.0, 5.0]})
        >>> build_interactions(tx).orders().tolist()
        [1, 1]
        """
        rows = np.flatnonzero(self._window(start, end) & (self.kind == _PURCHASE))
        pairs = np.unique(self.order[rows])
        owner = np.zeros(int(self.order.max(initial=-1)) + 1, dtype=np.int64)
        owner[self.order[rows]] = self.user[rows]
        return np.bincount(owner[pairs], minlength=len(self.customers)).astype(np.int64)

    def repeat_rates(self, start: Any = None, end: Any = None) -> pd.Series:
        """Per category: the share of (customer, product) pairs bought in two or more orders.

        Examples
        --------
        >>> tx = pd.DataFrame({"customer_id": ["a", "a", "b"], "order_id": ["1", "2", "3"],
        ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-01"]),
        ...     "product_id": ["milk", "milk", "tv"], "category": ["food", "food", "tech"],
        ...     "amount": [1.0, 1.0, 300.0]})
        >>> build_interactions(tx).repeat_rates().to_dict()
        {'food': 1.0, 'tech': 0.0}
        """
        rows = np.flatnonzero(self._window(start, end) & (self.kind == _PURCHASE))
        n_items = len(self.products)
        key = self.user[rows].astype(np.int64) * n_items + self.item[rows]
        triples = np.unique(np.stack([key, self.order[rows]]), axis=1)
        pair, per_pair = np.unique(triples[0], return_counts=True)
        frame = pd.DataFrame(
            {"category": self.category[pair % n_items], "repeat": per_pair >= 2}, copy=False
        )
        rates = frame.groupby("category", sort=True)["repeat"].mean()
        return rates.astype(float).rename("repeat_rate")


def _check_columns(frame: pd.DataFrame, needed: tuple[str, ...], what: str) -> None:
    for name in needed:
        if name not in frame.columns:
            close = did_you_mean(name, [str(c) for c in frame.columns])
            hint = f" Did you mean {close!r}?" if close else ""
            raise InputError(
                f"Column {name!r} not found in the {what}. Available: "
                f"{', '.join(map(str, frame.columns))}.{hint} Rename the column to {name!r}."
            )


def _timestamps(frame: pd.DataFrame, what: str) -> np.ndarray:
    column = frame["timestamp"]
    try:
        is_time = pd.api.types.is_datetime64_any_dtype(column.dtype)
        stamps = column if is_time else pd.to_datetime(column, format="mixed")
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"Column 'timestamp' of the {what} must hold dates or date-times. Got values "
            f"such as {frame['timestamp'].iloc[0]!r}. Parse them first (pandas.to_datetime)."
        ) from exc
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return stamps.to_numpy(dtype="datetime64[ns]")


def _is_return(tx: pd.DataFrame) -> np.ndarray:
    """The store's flag when present; else a negative amount or quantity."""
    if "is_return" in tx.columns:
        return tx["is_return"].fillna(False).to_numpy(dtype=bool)
    flag = np.zeros(len(tx), dtype=bool)
    for name in ("amount", "quantity"):
        if name in tx.columns:
            flag |= pd.to_numeric(tx[name], errors="coerce").fillna(0).to_numpy() < 0
    return flag


def _ids(column: pd.Series) -> pd.Series:
    """Ids as strings, kept in pandas (Arrow-backed strings are never turned into objects)."""
    return column if pd.api.types.is_string_dtype(column.dtype) else column.astype(str)


def _purchase_part(tx: pd.DataFrame, as_of: pd.Timestamp) -> tuple[pd.DataFrame, int]:
    """Lines up to ``as_of`` with a product: customer, product, time, kind, order, category."""
    time = _timestamps(tx, "transactions")
    keep = time <= np.datetime64(as_of.as_unit("ns"))
    has_product = tx["product_id"].notna().to_numpy()
    columns: dict[str, Any] = {
        "customer": _ids(tx["customer_id"]),
        "product": _ids(tx["product_id"]),
        "time": time,
        "kind": np.where(_is_return(tx), _RETURN, _PURCHASE).astype(np.int8),
        # without order ids, the lines of one customer at one instant are one order
        "order": _ids(tx["order_id"]) if "order_id" in tx.columns else time.astype(np.int64),
        "category": (
            _ids(tx["category"]).where(tx["category"].notna(), "")
            if "category" in tx.columns
            else ""
        ),
    }
    part = pd.DataFrame(columns, index=tx.index, copy=False)
    return part[keep & has_product], int((keep & ~has_product).sum())


def _event_part(
    events: pd.DataFrame | None, as_of: pd.Timestamp, weights: Mapping[str, float]
) -> pd.DataFrame | None:
    if events is None or events.empty or not weights:
        return None
    _check_columns(events, ("customer_id", "timestamp", "event_type", "product_id"), "events")
    time = _timestamps(events, "events")
    kind = events["event_type"].astype(str)
    keep = (
        (time <= np.datetime64(as_of.as_unit("ns")))
        & events["product_id"].notna().to_numpy()
        & kind.isin(list(weights)).to_numpy()
    )
    part = pd.DataFrame(
        {
            "customer": _ids(events["customer_id"]),
            "product": _ids(events["product_id"]),
            "time": time,
            "weight": kind.map(dict(weights)).astype(np.float32),
        },
        index=events.index,
        copy=False,
    )
    return part[keep]


def _check_weights(event_weights: Mapping[str, float] | None) -> Mapping[str, float]:
    weights = DEFAULT_EVENT_WEIGHTS if event_weights is None else event_weights
    for name, value in weights.items():
        if not isinstance(value, int | float) or not np.isfinite(value) or value < 0:
            raise InputError(
                f"The event weight of {name!r} must be a number >= 0. Got {value!r}. "
                "Pass event_weights={'view': 0.1, 'cart': 0.3} or leave it out."
            )
    return weights


def _categories(purchases: pd.DataFrame, codes: np.ndarray, n_items: int) -> np.ndarray:
    """Each product's most frequent category on its lines ("" if it has none)."""
    category = np.full(n_items, "", dtype=object)
    if purchases.empty:
        return category
    cat, names = pd.factorize(purchases["category"], sort=True)
    pair, count = np.unique(codes.astype(np.int64) * len(names) + cat, return_counts=True)
    item = pair // len(names)
    best = np.lexsort((pair % len(names), -count, item))  # most lines first, then by name
    first = best[np.r_[True, item[best][1:] != item[best][:-1]]]
    category[item[first]] = np.asarray(names, dtype=object)[pair[first] % len(names)]
    return category


def build_interactions(
    transactions: pd.DataFrame,
    events: pd.DataFrame | None = None,
    *,
    as_of: datetime | str | pd.Timestamp | None = None,
    event_weights: Mapping[str, float] | None = None,
) -> Interactions:
    """Code a shop's purchases (and events) up to ``as_of`` into an :class:`Interactions`.

    Parameters
    ----------
    transactions : DataFrame
        ``customer_id, timestamp, product_id``; optional ``order_id`` (else the lines of a
        customer at one instant are one order), ``is_return`` (else a negative ``amount``
        or ``quantity`` marks a return) and ``category``.
    events : DataFrame, optional
        ``customer_id, timestamp, event_type, product_id``.
    as_of : date-time, optional
        Last instant kept (inclusive). Default: the last transaction.
    event_weights : mapping of str to float, optional
        Weight of one event per event type (default :data:`DEFAULT_EVENT_WEIGHTS`).

    Returns
    -------
    Interactions

    Raises
    ------
    InputError
        If a needed column is missing, or nothing with a product id lies before ``as_of``.

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["b", "a", "a"], "order_id": ["1", "2", "2"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02"]),
    ...     "product_id": ["x", "x", "y"], "amount": [5.0, 5.0, 2.0]})
    >>> ev = pd.DataFrame({"customer_id": ["c"], "timestamp": pd.to_datetime(["2024-01-01"]),
    ...     "event_type": ["view"], "product_id": ["y"]})
    >>> log = build_interactions(tx, ev)
    >>> list(log.customers), list(log.products)
    (['a', 'b', 'c'], ['x', 'y'])
    >>> log.matrix().toarray()
    array([[1. , 1. ],
           [1. , 0. ],
           [0. , 0.1]], dtype=float32)
    """
    _check_columns(transactions, _NEEDED, "transactions")
    weights = _check_weights(event_weights)
    if as_of is None:
        as_of = _timestamps(transactions, "transactions").max() if len(transactions) else None
    if as_of is None or pd.isna(as_of):
        raise InputError("The transactions hold no rows. Load orders with product ids first.")
    cut = pd.Timestamp(as_of)
    purchases, without = _purchase_part(transactions, cut)
    if purchases.empty:
        raise InputError(
            f"No purchase line with a product id up to {cut:%Y-%m-%d %H:%M}: "
            f"{len(transactions):,} lines read, {without:,} of them before that without "
            "product_id. Pick a later as_of, or load order lines with product ids."
        )
    ev = _event_part(events, cut, weights)
    parts = [purchases] if ev is None else [purchases, ev]
    user, cust_index = pd.factorize(
        pd.concat([p["customer"] for p in parts], ignore_index=True), sort=True
    )
    item, prod_index = pd.factorize(
        pd.concat([p["product"] for p in parts], ignore_index=True), sort=True
    )
    n_lines = len(purchases)
    by = purchases["order"].to_numpy()
    if by.dtype == np.int64:  # no order ids: (customer, instant) pairs
        by = user[:n_lines].astype(np.int64) * (1 << 40) + (by // 1_000_000_000 % (1 << 40))
    order, _ = pd.factorize(by)
    kind = purchases["kind"].to_numpy()
    n_events = 0 if ev is None else len(ev)
    return Interactions(
        customers=pd.Index(cust_index, name="customer_id"),
        products=pd.Index(prod_index, name="product_id"),
        category=_categories(purchases, item[:n_lines], len(prod_index)),
        as_of=cut,
        user=user.astype(np.int32),
        item=item.astype(np.int32),
        time=np.concatenate(
            [purchases["time"].to_numpy()] + ([ev["time"].to_numpy()] if ev is not None else [])
        ).astype("datetime64[ns]"),
        weight=np.concatenate(
            [np.where(kind == _RETURN, -1.0, 1.0).astype(np.float32)]
            + ([ev["weight"].to_numpy(np.float32)] if ev is not None else [])
        ),
        kind=np.concatenate([kind, np.full(n_events, _EVENT, dtype=np.int8)]),
        order=np.concatenate(
            [np.where(kind == _PURCHASE, order, -1), np.full(n_events, -1)]
        ).astype(np.int64),
        lines_without_product=without,
    )
