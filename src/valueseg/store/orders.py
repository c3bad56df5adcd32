"""Reads of the order log that a run needs: its span and the spend in a window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from valueseg.store.store import Store


@dataclass(frozen=True)
class OrderSpan:
    """First and last purchase line (returns left out) and how many lines there are."""

    first: datetime | None
    last: datetime | None
    lines: int

    def describe(self) -> str:
        """``2024-01-01 to 2024-06-30`` (``none`` for an empty log)."""
        if self.first is None or self.last is None:
            return "none"
        return f"{self.first:%Y-%m-%d} to {self.last:%Y-%m-%d}"


def purchase_span(store: Store) -> OrderSpan:
    """The span of the purchase lines in ``transactions``.

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     purchase_span(store)
    OrderSpan(first=None, last=None, lines=0)
    """
    row = store.con.execute(
        'SELECT min("timestamp"), max("timestamp"), count(*) FROM transactions WHERE NOT is_return'
    ).fetchone()
    assert row is not None
    return OrderSpan(row[0], row[1], int(row[2]))


def last_line_time(store: Store) -> datetime | None:
    """Time of the last line of ``transactions``, returns included (None when empty)."""
    row = store.con.execute('SELECT max("timestamp") FROM transactions').fetchone()
    return None if row is None else row[0]


def spend_between(store: Store, start: datetime, end: datetime) -> pd.DataFrame:
    """``customer_id, spend``: each customer's purchases in ``(start, end]`` (buyers only)."""
    return store.con.execute(
        "SELECT customer_id, sum(amount) AS spend FROM transactions "
        'WHERE NOT is_return AND "timestamp" > ? AND "timestamp" <= ? GROUP BY customer_id',
        [start, end],
    ).df()
