"""Top-n lists that leave out each customer's excluded products (private).

A model gives its best ``k`` products per customer, unfiltered; :func:`top_n` asks each
customer for ``n`` plus enough to cover the products excluded for them (rounded up to a
power of two, so customers fall into a few groups and each group is one batched call),
drops the excluded and non-candidate products, and keeps the first ``n``. Every model gets
the same filtering, so the evaluation compares rankings, not filters.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

#: Customers per batched call of a model.
BATCH = 50_000

Fetch = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]


def in_rows(matrix: sp.csr_matrix, rows: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``ids[j, c]`` is a stored column of ``matrix[rows[j]]`` (ids < 0: False).

    Examples
    --------
    >>> m = sp.csr_matrix(np.array([[1, 0, 1], [0, 1, 0]]))
    >>> in_rows(m, np.array([1, 0]), np.array([[1, 2], [2, -1]])).tolist()
    [[True, False], [True, False]]
    """
    sub = matrix[rows]
    sub.sort_indices()
    n_cols = np.int64(matrix.shape[1])
    owner = np.repeat(np.arange(len(rows), dtype=np.int64), np.diff(sub.indptr))
    keys = owner * n_cols + sub.indices
    query = np.arange(len(rows), dtype=np.int64)[:, None] * n_cols + ids
    if keys.size == 0:
        return np.zeros(ids.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(keys, query), keys.size - 1)
    return (keys[pos] == query) & (ids >= 0)


def _extra(excluded: np.ndarray) -> np.ndarray:
    """Products to ask for beyond n: the excluded count rounded up to a power of two."""
    power = np.ceil(np.log2(np.maximum(excluded, 1))).astype(np.int64)
    return np.where(excluded > 0, np.left_shift(1, power), 0)


def top_n(
    fetch: Fetch,
    users: np.ndarray,
    n: int,
    candidates: np.ndarray,
    exclude: sp.csr_matrix | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` candidate, non-excluded products of ``fetch``'s ranking per user.

    Returns ``(ids, scores)`` of shape ``(len(users), n)``, padded with -1 and NaN.

    Examples
    --------
    >>> def fetch(users, k):  # everyone ranks products 0, 1, 2, 3 in that order
    ...     ids = np.tile(np.arange(k), (len(users), 1))
    ...     return ids, -ids.astype(float)
    >>> exclude = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 0, 0, 0]]))
    >>> ids, _ = top_n(fetch, np.array([0, 1]), 2, np.ones(4, bool), exclude)
    >>> ids.tolist()
    [[1, 2], [0, 1]]
    """
    users = np.asarray(users, dtype=np.int64)
    out_ids = np.full((users.size, n), -1, dtype=np.int64)
    out_scores = np.full((users.size, n), np.nan, dtype=np.float64)
    n_candidates = int(candidates.sum())
    if users.size == 0 or n_candidates == 0 or n == 0:
        return out_ids, out_scores
    excluded = np.zeros(users.size, np.int64)
    if exclude is not None:
        excluded = np.diff(exclude.indptr)[users]
    extra = _extra(excluded)
    for more in np.unique(extra):
        group = np.flatnonzero(extra == more)
        k = int(min(n + more, n_candidates))
        for start in range(0, group.size, BATCH):
            rows = group[start : start + BATCH]
            ids, scores = fetch(users[rows], k)
            ids = np.asarray(ids, dtype=np.int64)
            valid = (ids >= 0) & candidates[np.maximum(ids, 0)]
            if exclude is not None:
                valid &= ~in_rows(exclude, users[rows], ids)
            keep = np.argsort(~valid, axis=1, kind="stable")[:, :n]
            width = keep.shape[1]
            taken = np.take_along_axis(valid, keep, axis=1)
            out_ids[rows, :width] = np.where(taken, np.take_along_axis(ids, keep, axis=1), -1)
            picked = np.take_along_axis(np.asarray(scores, dtype=np.float64), keep, axis=1)
            out_scores[rows, :width] = np.where(taken, picked, np.nan)
    return out_ids, out_scores


def row_argmax(matrix: sp.csr_matrix) -> np.ndarray:
    """Column of each row's largest stored value (first on ties); -1 for an empty row.

    Examples
    --------
    >>> row_argmax(sp.csr_matrix(np.array([[0, 3, 3], [0, 0, 0], [2, 0, 1]]))).tolist()
    [1, -1, 0]
    """
    matrix = matrix.tocsr()
    matrix.sum_duplicates()
    n_rows = matrix.shape[0]
    out = np.full(n_rows, -1, dtype=np.int64)
    lengths = np.diff(matrix.indptr)
    filled = np.flatnonzero(lengths > 0)
    if filled.size == 0:
        return out
    best = np.maximum.reduceat(matrix.data, matrix.indptr[filled])
    owner = np.repeat(np.arange(n_rows), lengths)
    full = np.full(n_rows, -np.inf)
    full[filled] = best
    at_max = np.flatnonzero(matrix.data == full[owner])
    rows, first = np.unique(owner[at_max], return_index=True)
    out[rows] = matrix.indices[at_max[first]]
    return out
