"""Migration between runs: transition matrices and cluster identities that stay put.

Each run stores every customer's segment in each lens (``rfm_segment``, ``value_tier``,
``segment``). :func:`migration_matrix` counts how many customers went from each segment
of one run to each segment of the next (how many Champions became At Risk).

Cluster numbers are arbitrary from one fit to the next, so before names are carried over,
:func:`match_clusters` pairs the new clusters with the old ones by their centroids
(Hungarian algorithm, :func:`scipy.optimize.linear_sum_assignment`, minimising the total
distance between paired centroids, each column divided by its spread across both runs'
centroids). :func:`carry_names` then gives each matched new cluster the old cluster's name.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from valueseg.errors import InputError

__all__ = [
    "LENSES",
    "carry_names",
    "match_clusters",
    "migration_matrices",
    "migration_matrix",
]

#: The per-customer label column of each lens in ``customer_scores``.
LENSES = ("rfm_segment", "value_tier", "segment")
NEW, GONE = "(new)", "(gone)"


def _labels(frame: pd.DataFrame, column: str, which: str) -> pd.Series:
    for name in ("customer_id", column):
        if name not in frame.columns:
            raise InputError(
                f"Column {name!r} not found in the {which} run's frame. Available: "
                f"{', '.join(map(str, frame.columns))}."
            )
    if frame["customer_id"].duplicated().any():
        raise InputError(
            f"The {which} run's frame has customers on more than one row; pass one row "
            "per customer."
        )
    return frame.set_index("customer_id")[column]


def migration_matrix(
    before: pd.DataFrame,
    after: pd.DataFrame,
    column: str = "segment",
    *,
    include_new_and_gone: bool = True,
    order: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Customers per (segment before, segment after) pair.

    Parameters
    ----------
    before, after : DataFrame
        One row per customer: ``customer_id`` and ``column``.
    column : str, default "segment"
        The lens's label column.
    include_new_and_gone : bool, default True
        Add a row ``(new)`` for customers only in ``after`` and a column ``(gone)`` for
        customers only in ``before``.
    order : iterable of str, optional
        Segment order for rows and columns; default: sorted labels of both runs.

    Returns
    -------
    DataFrame
        Rows: segment before; columns: segment after; integer counts (zeros included).

    Examples
    --------
    >>> before = pd.DataFrame({"customer_id": [1, 2, 3, 4],
    ...                        "rfm_segment": ["Champions", "Champions", "At Risk", "At Risk"]})
    >>> after = pd.DataFrame({"customer_id": [1, 2, 3, 5],
    ...                       "rfm_segment": ["Champions", "At Risk", "At Risk", "Champions"]})
    >>> migration_matrix(before, after, "rfm_segment")  # doctest: +NORMALIZE_WHITESPACE
    after      At Risk  Champions  (gone)
    before
    At Risk          1          0       1
    Champions        1          1       0
    (new)            0          1       0
    """
    old, new = _labels(before, column, "before"), _labels(after, column, "after")
    joined = pd.concat([old.rename("before"), new.rename("after")], axis=1, join="outer")
    if not include_new_and_gone:
        joined = joined.dropna()
    labels = (
        list(order)
        if order is not None
        else sorted(set(old.dropna().astype(str)) | set(new.dropna().astype(str)))
    )
    rows = joined["before"].astype(object).where(joined["before"].notna(), NEW).astype(str)
    cols = joined["after"].astype(object).where(joined["after"].notna(), GONE).astype(str)
    counts = pd.crosstab(rows, cols)
    index = labels + ([NEW] if include_new_and_gone else [])
    columns = labels + ([GONE] if include_new_and_gone else [])
    out = counts.reindex(index=index, columns=columns, fill_value=0).astype(np.int64)
    out.index.name, out.columns.name = "before", "after"
    return out


def migration_matrices(
    before: pd.DataFrame, after: pd.DataFrame, lenses: Iterable[str] = LENSES
) -> dict[str, pd.DataFrame]:
    """:func:`migration_matrix` for each lens present in both frames."""
    return {
        lens: migration_matrix(before, after, lens)
        for lens in lenses
        if lens in before.columns and lens in after.columns
    }


def match_clusters(
    old_centroids: pd.DataFrame,
    new_centroids: pd.DataFrame,
    *,
    scale: pd.Series | None = None,
) -> dict[int, int]:
    """Pair new clusters with old ones by centroid (Hungarian algorithm).

    Parameters
    ----------
    old_centroids, new_centroids : DataFrame
        One row per cluster (index: cluster number), one column per feature, in the
        features' own units (``Segmenter.centroids_``). Only shared columns are used.
    scale : Series, optional
        Divisor per column; default the standard deviation of each column over both sets
        of centroids (1 where it is 0).

    Returns
    -------
    dict of int to int
        New cluster → its identity: the matched old cluster, or a fresh number (above
        every old one) for new clusters left over when there are more new than old.

    Examples
    --------
    >>> old = pd.DataFrame({"orders": [1.0, 10.0, 4.0], "spend": [30.0, 900.0, 120.0]})
    >>> new = pd.DataFrame({"orders": [9.5, 1.2, 4.4, 20.0],
    ...                     "spend": [880.0, 28.0, 130.0, 3000.0]})
    >>> match_clusters(old, new)
    {0: 1, 1: 0, 2: 2, 3: 3}
    """
    from scipy.optimize import linear_sum_assignment

    shared = [c for c in old_centroids.columns if c in new_centroids.columns]
    if not shared:
        raise InputError(
            "match_clusters: the two runs' centroids share no column; cannot match clusters."
        )
    a = old_centroids[shared].to_numpy(dtype=float)
    b = new_centroids[shared].to_numpy(dtype=float)
    if scale is None:
        spread = np.nanstd(np.vstack([a, b]), axis=0)
        div = np.where(spread > 0, spread, 1.0)
    else:
        div = scale.reindex(shared).fillna(1.0).replace(0, 1.0).to_numpy(dtype=float)
    a, b = np.nan_to_num(a / div), np.nan_to_num(b / div)
    cost = np.sqrt(((b[:, None, :] - a[None, :, :]) ** 2).sum(axis=2))
    rows, cols = linear_sum_assignment(cost)
    old_ids, new_ids = list(old_centroids.index), list(new_centroids.index)
    mapping = {int(new_ids[r]): int(old_ids[c]) for r, c in zip(rows, cols, strict=True)}
    fresh = max([int(i) for i in old_ids], default=-1) + 1
    for cluster in new_ids:
        if int(cluster) not in mapping:
            mapping[int(cluster)] = fresh
            fresh += 1
    return dict(sorted(mapping.items()))


def carry_names(
    mapping: dict[int, int], old_names: dict[int, str], new_names: dict[int, str]
) -> dict[int, str]:
    """New cluster → name: the matched old cluster's name, else its own new name.

    A new name that an old cluster still uses is made distinct with a number.

    Examples
    --------
    >>> carry_names({0: 1, 1: 0, 2: 5}, {0: "Browsers", 1: "Big spenders"},
    ...             {0: "High-value frequent buyers", 1: "Browsers", 2: "Browsers"})
    {0: 'Big spenders', 1: 'Browsers', 2: 'Browsers 2'}
    """
    out: dict[int, str] = {}
    for new, old in mapping.items():
        if old in old_names:
            out[new] = old_names[old]
    for new in mapping:
        if new in out:
            continue
        name, i = new_names.get(new, f"Cluster {new}"), 2
        base = name
        while name in out.values():
            name, i = f"{base} {i}", i + 1
        out[new] = name
    return dict(sorted(out.items()))
