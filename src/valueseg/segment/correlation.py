"""Pearson and Spearman correlations of the feature table; near-duplicate columns dropped.

**The drop rule.** A pair of columns is a near duplicate when ``|Spearman ρ| > threshold``
(0.95 by default). Spearman is used because it sees any monotone relation, so the verdict
does not change with the log transform applied before clustering. Pairs are visited from
the highest ``|ρ|`` down; of each pair whose columns are both still kept, the column that
comes **later in the table's column order** is dropped (the feature table lists the more
general measure first: orders before spend, 30 days before 90). Reorder the columns to
keep another one.

Correlations are computed on at most ``max_rows`` customers (a seeded random sample), with
missing values left out pair by pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from valueseg.errors import InputError

__all__ = ["CorrelationReport", "correlation_report"]


@dataclass
class CorrelationReport:
    """Correlation matrices and the near-duplicate pairs of a feature table.

    Attributes
    ----------
    pearson, spearman : DataFrame
        Square matrices over the columns examined.
    pairs : DataFrame
        Pairs with ``|Spearman ρ| > threshold``: ``first, second`` (in table order),
        ``spearman, pearson`` and ``dropped`` (the column this pair dropped; missing when one
        of the two was already dropped through another pair), highest ``|ρ|`` first.
    dropped : list of str
        Columns dropped, in the order they were dropped.
    kept : list of str
        Columns kept, in table order.
    threshold : float
    rows : int
        Customers the correlations were computed on.
    """

    pearson: pd.DataFrame
    spearman: pd.DataFrame
    pairs: pd.DataFrame
    dropped: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    threshold: float = 0.95
    rows: int = 0


def _sample(frame: pd.DataFrame, max_rows: int | None, random_state: int | None) -> pd.DataFrame:
    if max_rows is None or len(frame) <= max_rows:
        return frame
    rng = np.random.default_rng(random_state)
    return frame.iloc[np.sort(rng.choice(len(frame), max_rows, replace=False))]


def _corr(values: pd.DataFrame) -> pd.DataFrame:
    """Pearson correlation; fast path without missing values, pairwise otherwise."""
    if not values.isna().to_numpy().any():
        x = values.to_numpy(dtype=float)
        x = x - x.mean(axis=0)
        norm = np.sqrt((x * x).sum(axis=0))
        with np.errstate(invalid="ignore", divide="ignore"):
            c = (x.T @ x) / np.outer(norm, norm)
        np.fill_diagonal(c, np.where(norm > 0, 1.0, np.nan))
        return pd.DataFrame(np.clip(c, -1, 1), index=values.columns, columns=values.columns)
    return values.corr(method="pearson")


def correlation_report(
    frame: pd.DataFrame,
    columns: list[str] | None = None,
    *,
    threshold: float = 0.95,
    max_rows: int | None = 200_000,
    random_state: int | None = 0,
) -> CorrelationReport:
    """Pearson and Spearman matrices, and which near-duplicate columns to drop.

    Parameters
    ----------
    frame : DataFrame
        One row per customer.
    columns : list of str, optional
        Columns to examine; default every numeric column.
    threshold : float, default 0.95
        Pairs with ``|Spearman ρ|`` above it are near duplicates.
    max_rows : int or None, default 200000
        Sample size for the correlations; None for all rows.
    random_state : int or None, default 0
        Seed of the sample.

    Returns
    -------
    CorrelationReport

    Examples
    --------
    >>> frame = pd.DataFrame({"orders": [1, 2, 3, 4, 5], "spend": [10, 22, 29, 41, 55],
    ...                       "returns": [0, 1, 0, 1, 0]})
    >>> report = correlation_report(frame)
    >>> report.dropped, report.kept
    (['spend'], ['orders', 'returns'])
    >>> report.pairs[["first", "second", "spearman", "dropped"]]
        first second  spearman dropped
    0  orders  spend       1.0   spend
    """
    if not 0 < threshold <= 1:
        raise InputError(
            "The 'threshold' parameter of correlation_report must be a number in (0, 1]. "
            f"Got {threshold!r}."
        )
    if columns is None:
        columns = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"Columns not found in the frame: {', '.join(missing)}. "
            f"Available: {', '.join(map(str, frame.columns))}."
        )
    values = _sample(frame[columns], max_rows, random_state).astype(float)
    pearson = _corr(values)
    spearman = _corr(values.rank(method="average"))
    absolute = spearman.abs().to_numpy()
    i, j = np.triu_indices(len(columns), k=1)
    strong = np.nan_to_num(absolute[i, j]) > threshold
    order = np.argsort(-absolute[i, j][strong], kind="stable")
    dropped: list[str] = []
    rows = []
    for a, b in zip(i[strong][order], j[strong][order], strict=True):
        first, second = columns[a], columns[b]  # a < b: first comes earlier in the table
        drop = None
        if first not in dropped and second not in dropped:
            drop = second
            dropped.append(second)
        rows.append((first, second, spearman.iat[a, b], pearson.iat[a, b], drop))
    pairs = pd.DataFrame(rows, columns=["first", "second", "spearman", "pearson", "dropped"])
    kept = [c for c in columns if c not in dropped]
    return CorrelationReport(pearson, spearman, pairs, dropped, kept, threshold, len(values))
