"""Each customer's order log before a cutoff as a fixed-size, left-padded sequence.

A **step** is one order of the customer's log before the cutoff ``t0`` (a purchase, or a
return as a step of its own; :func:`valueseg.store.sequences.order_steps`). Per step,
:data:`STEP_FEATURES` (all known at ``t0``):

============================  ==========================================================
``log_gap_days``              ``log1p`` of the days since the customer's previous step (0
                              for the first)
``log_age_days``              ``log1p`` of the days from the step to ``t0``
``log_amount``                ``log1p(|net amount|)``
``log_lines``                 ``log1p`` of the order lines
``log_items``                 ``log1p`` of the items (``sum |quantity|``)
``discount_share``            discount / (amount + discount), in [0, 1]
``discounted``                1 when any line was discounted
``is_return``                 1 for a return
``log_views``, ``log_carts``  ``log1p`` of the view and cart events since the previous step
============================  ==========================================================

and a **category id**: 0 pads, 1 is any category outside the vocabulary (or none), ``2 +
i`` the ``i``-th of the vocabulary (the shop's top categories before the earliest cutoff,
the same for every cutoff and for scoring: :func:`valueseg.store.sequences.top_categories`).

The last ``length`` steps (32 by default) are kept, oldest first, **left-padded**: a
customer with 3 steps has 29 padded slots then 3 real ones, and ``mask`` says which are
real. Padded slots hold zeros; the model multiplies its inputs by the mask, so what a
padded slot holds never reaches a prediction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import numpy as np
import pandas as pd

from valueseg.errors import InputError
from valueseg.store import Store
from valueseg.store.sequences import order_steps

__all__ = [
    "DEFAULT_LENGTH",
    "STEP_FEATURES",
    "OrderSequences",
    "build_sequences",
    "sequences_at",
]

#: Steps kept per customer by default (the latest ones).
DEFAULT_LENGTH: Final = 32
#: The numeric features of a step, in the order of ``OrderSequences.steps[..., j]``.
STEP_FEATURES: Final = (
    "log_gap_days",
    "log_age_days",
    "log_amount",
    "log_lines",
    "log_items",
    "discount_share",
    "discounted",
    "is_return",
    "log_views",
    "log_carts",
)
_DAY: Final = 86_400_000_000.0  # microseconds


@dataclass
class OrderSequences:
    """Left-padded step sequences of ``n`` rows (customer, cutoff).

    Attributes
    ----------
    customer_id : ndarray of shape (n,)
    at : ndarray of shape (n,), datetime64
        The cutoff each row's history ends before.
    steps : ndarray of shape (n, length, len(STEP_FEATURES)), float32
    category : ndarray of shape (n, length), int64 (0 pads, 1 other)
    mask : ndarray of shape (n, length), bool (True: a real step)
    categories : tuple of str
        The vocabulary: ``category == 2 + i`` is ``categories[i]``.
    """

    customer_id: np.ndarray
    at: np.ndarray
    steps: np.ndarray
    category: np.ndarray
    mask: np.ndarray
    categories: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.customer_id)

    @property
    def length(self) -> int:
        """Steps per row (real and padded)."""
        return int(self.mask.shape[1])

    def take(self, rows: np.ndarray) -> OrderSequences:
        """The sequences of ``rows`` (positions), in that order."""
        return OrderSequences(
            self.customer_id[rows],
            self.at[rows],
            self.steps[rows],
            self.category[rows],
            self.mask[rows],
            self.categories,
        )

    @classmethod
    def concat(cls, parts: Sequence[OrderSequences]) -> OrderSequences:
        """Rows of ``parts`` one after the other (one vocabulary and length among them)."""
        if not parts or any(p.categories != parts[0].categories for p in parts):
            raise InputError(
                "OrderSequences.concat needs at least one part, all with the same category "
                "vocabulary. Build them with the same categories."
            )
        return cls(
            np.concatenate([p.customer_id for p in parts]),
            np.concatenate([p.at for p in parts]),
            np.concatenate([p.steps for p in parts]),
            np.concatenate([p.category for p in parts]),
            np.concatenate([p.mask for p in parts]),
            parts[0].categories,
        )


def build_sequences(
    steps: pd.DataFrame,
    customers: Sequence[str] | np.ndarray,
    at: datetime,
    *,
    categories: Sequence[str],
    length: int = DEFAULT_LENGTH,
) -> OrderSequences:
    """The sequences of ``customers`` at ``at`` from their ``steps`` (rows in that order).

    ``steps`` are :func:`valueseg.store.sequences.order_steps` rows; steps at or after
    ``at`` are refused. A customer without a step gets an all-padded row.

    Examples
    --------
    >>> steps = pd.DataFrame({
    ...     "customer_id": ["a", "a"], "is_return": [False, False],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-11"]),
    ...     "amount": [10.0, 20.0], "lines": [1, 2], "items": [1.0, 3.0],
    ...     "discount": [0.0, 5.0], "category": ["toys", "books"], "views": [0, 4],
    ...     "carts": [0, 1]})
    >>> seq = build_sequences(steps, ["a", "b"], datetime(2024, 1, 21),
    ...                       categories=["toys"], length=3)
    >>> seq.mask.tolist()
    [[False, True, True], [False, False, False]]
    >>> seq.category.tolist()  # 2: toys, 1: outside the vocabulary
    [[0, 2, 1], [0, 0, 0]]
    >>> round(float(np.expm1(seq.steps[0, 2, 0])), 3)  # 10 days since the previous step
    10.0
    """
    if not isinstance(length, int | np.integer) or length < 1:
        raise InputError(
            f"The sequence length must be a whole number of 1 or more. Got {length!r}."
        )
    ids = np.asarray(customers, dtype=object)
    n, at_us = len(ids), int(pd.Timestamp(at).value) // 1000  # ns to microseconds
    out = OrderSequences(
        customer_id=ids,
        at=np.full(n, np.datetime64(at_us, "us")),
        steps=np.zeros((n, length, len(STEP_FEATURES)), np.float32),
        category=np.zeros((n, length), np.int64),
        mask=np.zeros((n, length), bool),
        categories=tuple(str(c) for c in categories),
    )
    if not pd.Index(ids).is_unique:
        raise InputError("build_sequences needs each customer once per call. Got duplicates.")
    if steps.empty or n == 0:
        return out
    frame = steps.sort_values(["customer_id", "timestamp"], kind="stable")
    times = frame["timestamp"].to_numpy("datetime64[us]").astype(np.int64)
    if (times >= at_us).any():
        raise InputError(
            f"build_sequences got {int((times >= at_us).sum())} step(s) at or after the cutoff "
            f"{pd.Timestamp(at)}. Pass only the history before it (order_steps does)."
        )
    index = pd.Index(ids).get_indexer(frame["customer_id"].to_numpy(object))
    known = index >= 0
    frame, times, index = frame[known], times[known], index[known]
    back = frame.groupby("customer_id", sort=False).cumcount(ascending=False).to_numpy()
    recent = back < length
    features, category = _step_features(frame, times, at_us, out.categories)
    where = (index[recent], (length - 1 - back)[recent])
    out.steps[where] = features[recent]
    out.category[where] = category[recent]
    out.mask[where] = True
    return out


def _step_features(
    frame: pd.DataFrame, times: np.ndarray, at: int, vocabulary: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """The :data:`STEP_FEATURES` of each step (``times`` and ``at`` in microseconds) and
    its category id."""
    same = frame["customer_id"].to_numpy(object)
    previous = np.r_[times[:1], times[:-1]]
    new_customer = np.r_[True, same[1:] != same[:-1]]
    gap = np.where(new_customer, 0.0, (times - previous) / _DAY)
    age = (at - times) / _DAY
    amount = np.abs(frame["amount"].to_numpy(np.float64))
    discount = np.abs(frame["discount"].to_numpy(np.float64))
    total = amount + discount
    share = np.divide(discount, total, out=np.zeros_like(total), where=total > 0)
    columns = [
        np.log1p(np.maximum(gap, 0.0)),
        np.log1p(np.maximum(age, 0.0)),
        np.log1p(amount),
        np.log1p(frame["lines"].to_numpy(np.float64)),
        np.log1p(frame["items"].to_numpy(np.float64)),
        np.clip(share, 0.0, 1.0),
        (discount > 0).astype(np.float64),
        frame["is_return"].to_numpy(bool).astype(np.float64),
        np.log1p(frame["views"].to_numpy(np.float64)),
        np.log1p(frame["carts"].to_numpy(np.float64)),
    ]
    lookup = {name: 2 + i for i, name in enumerate(vocabulary)}
    names = frame["category"].to_numpy(object)
    category = np.fromiter(
        (lookup.get(c, 1) if isinstance(c, str) else 1 for c in names), np.int64, len(names)
    )
    return np.column_stack(columns).astype(np.float32), category


def sequences_at(
    store: Store,
    customers: Sequence[str] | np.ndarray,
    at: datetime,
    *,
    categories: Sequence[str],
    length: int = DEFAULT_LENGTH,
) -> OrderSequences:
    """The sequences of ``customers`` from the store's history before ``at``.

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     seq = sequences_at(store, ["a"], datetime(2024, 1, 1), categories=[])
    >>> seq.steps.shape, bool(seq.mask.any())
    ((1, 32, 10), False)
    """
    steps = order_steps(store, at, customers)
    return build_sequences(steps, customers, at, categories=categories, length=length)
