"""A finished run's rows of its customers, kept in memory while the server scores orders.

A posted order's answer starts from the run's scores, feature row and next-best action of
its customer. A run's rows never change once it has finished, so the server reads them
once per run (:func:`valueseg.store.web.run_customer_columns`, with the estimators), as
columns: about 1 s and 243 MB of arrays at a million customers (68 MB of them the ids),
where reading them per batch of orders cost three indexed statements (about a third of a
small batch's SQL).

:meth:`RunRows.rows` gives a customer's row as the store's own reader gives it
(:func:`valueseg.store.many_customers.score_rows_of` and friends): ``None`` for NULL,
Python's ``float``, ``int``, ``bool``, ``str`` and ``datetime.date``; NaN stays NaN.
tests/web/test_web_run_rows.py compares the two on every column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from valueseg.store import Store
from valueseg.store.web import run_customer_columns

__all__ = ["RunRows", "index_positions", "load_run_rows"]


@dataclass(frozen=True)
class _Column:
    """One column: its values (codes into ``labels`` for text), where it is NULL, and
    whether it is a SQL ``DATE`` (numpy holds it as a time of day 0)."""

    values: np.ndarray
    missing: np.ndarray | None
    labels: np.ndarray | None = None
    is_date: bool = False

    def value(self, i: int) -> Any:
        if self.missing is not None and self.missing[i]:
            return None
        if self.labels is not None:
            return self.labels[self.values[i]]
        value = self.values[i].item()
        return value.date() if self.is_date else value


def _column(data: np.ndarray, kind: str) -> _Column:
    missing = np.ma.getmaskarray(data) if np.ma.isMaskedArray(data) else None
    if missing is not None and not missing.any():
        missing = None
    values = np.ma.getdata(data)
    if values.dtype == object:  # text: a few distinct labels, held once each
        if missing is not None:
            values = values.copy()
            values[missing] = None
        codes, labels = pd.factorize(values, use_na_sentinel=True)
        gone = codes < 0
        return _Column(codes.astype(np.int32), gone if gone.any() else None, np.asarray(labels))
    return _Column(values, missing, is_date=kind == "DATE")


def index_positions(index: pd.Index, ids: Sequence[str]) -> list[int]:
    """Each id's position in ``index`` (a run's customers, each once; -1: not there),
    found by its index entry: a batch is a few ids, and making a frame of them to look
    them up together cost more than the lookups.

    Examples
    --------
    >>> index_positions(pd.Index(["a", "b", "c"], dtype=object), ["c", "x", "a"])
    [2, -1, 0]
    """
    out = []
    for customer in ids:
        try:
            i = index.get_loc(customer)
        except KeyError:
            i = -1
        out.append(i if isinstance(i, int) else -1)  # not a run's index: once each
    return out


@dataclass(frozen=True)
class RunRows:
    """Run ``run_id``'s customers: their scores (``customer_scores``), the feature columns
    read (``customer_features``) and next-best action, by customer id."""

    index: pd.Index
    scored: np.ndarray
    featured: np.ndarray
    columns: dict[str, _Column]

    def __len__(self) -> int:
        return len(self.index)

    def _positions(self, ids: Sequence[str], present: np.ndarray | None) -> dict[str, int]:
        """Customer id -> its row, for those ``present`` (None: every row of the run)."""
        found = index_positions(self.index, ids)
        return {
            c: i
            for c, i in zip(ids, found, strict=True)
            if i >= 0 and (present is None or present[i])
        }

    def scores(self, ids: Sequence[str], names: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Customer id -> ``customer_id`` and its scores ``names``; a customer the run did
        not score is absent."""
        return self._rows(self._positions(ids, self.scored), "s.", names)

    def features(self, ids: Sequence[str], names: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Customer id -> ``customer_id`` and its feature columns ``names`` (among those
        read); a customer without a feature row in the run is absent."""
        return self._rows(self._positions(ids, self.featured), "f.", names)

    def actions(self, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """Customer id -> ``(action, rule)``: the run's next-best action, where it has one."""
        action, rule = self.columns["action"], self.columns["action_rule"]
        out: dict[str, tuple[str, str]] = {}
        for customer, i in self._positions(ids, None).items():
            chosen = action.value(i)
            if chosen is not None:
                out[customer] = (str(chosen), str(rule.value(i)))
        return out

    def _rows(
        self, positions: dict[str, int], prefix: str, names: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        columns = [(n, self.columns[prefix + n]) for n in names if n != "customer_id"]
        return {
            customer: {"customer_id": customer} | {n: col.value(i) for n, col in columns}
            for customer, i in positions.items()
        }


def load_run_rows(
    store: Store, run_id: int, score_columns: Sequence[str], feature_columns: Sequence[str]
) -> RunRows:
    """Read run ``run_id``'s rows (``score_columns`` of its scores, ``feature_columns`` of
    its features, its actions) into memory."""
    data, types = run_customer_columns(
        store,
        run_id,
        [c for c in score_columns if c != "customer_id"],
        [c for c in dict.fromkeys(feature_columns) if c != "customer_id"],
    )
    ids = np.ma.getdata(data.pop("customer_id"))
    scored = np.ma.getdata(data.pop("scored")).astype(bool)
    featured = np.ma.getdata(data.pop("featured")).astype(bool)
    columns = {name: _column(values, types[name]) for name, values in data.items()}
    return RunRows(pd.Index(ids, dtype=object), scored, featured, columns)
