"""Fallback lists and the completion of short lists (private)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from valueseg.recommend._rank import top_n
from valueseg.recommend.models import SegmentPopularity


def fallback_lists(
    model: SegmentPopularity,
    codes: np.ndarray,
    unseen_segment: np.ndarray,
    n: int,
    exclude: sp.csr_matrix,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segment popularity lists of ``2 n`` products for customer rows ``codes``.

    A code of -1 is a customer the fit never saw: their segment is ``unseen_segment`` (-1:
    none) and nothing is excluded. Returns ids, scores and, per customer, the model that
    ranked them (``segment_popularity``, or ``popularity`` without a segment).
    """
    n_rows = model.orders_.shape[0]
    none = n_rows - 1
    ids = np.full((codes.size, 2 * n), -1, dtype=np.int64)
    scores = np.full((codes.size, 2 * n), np.nan)
    known = np.flatnonzero(codes >= 0)
    if known.size:
        ids[known], scores[known] = model.recommend(codes[known], 2 * n, exclude)
    unseen = np.flatnonzero(codes < 0)
    if unseen.size:
        seg = unseen_segment[unseen]
        rows = np.where((seg >= 0) & (seg < none), seg, none)
        ids[unseen], scores[unseen] = top_n(model.segment_top, rows, 2 * n, model.candidates_, None)
    row = np.where(codes >= 0, model.segment_[np.maximum(codes, 0)], none)
    row[codes < 0] = np.where(
        (unseen_segment[codes < 0] >= 0) & (unseen_segment[codes < 0] < none),
        unseen_segment[codes < 0],
        none,
    )
    name = np.where(row == none, "popularity", "segment_popularity").astype(object)
    return ids, scores, name


def merge_lists(
    main_ids: np.ndarray,
    main_scores: np.ndarray,
    extra_ids: np.ndarray,
    extra_scores: np.ndarray,
    n: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each row's ``main`` list completed to ``n`` by ``extra`` products not already in it.

    Returns ids, scores, whether each slot came from ``main`` and its position there.

    Examples
    --------
    >>> ids, _, from_main, pos = merge_lists(
    ...     np.array([[4, -1, -1]]), np.array([[0.9, np.nan, np.nan]]),
    ...     np.array([[4, 7, 8]]), np.array([[10.0, 9.0, 8.0]]), 3)
    >>> ids.tolist(), from_main.tolist(), pos.tolist()
    ([[4, 7, 8]], [[True, False, False]], [[0, 4, 5]])
    """
    both = np.concatenate([main_ids, extra_ids], axis=1).astype(np.int64)
    both_scores = np.concatenate([main_scores, extra_scores], axis=1)
    n_rows = both.shape[0]
    keys = np.arange(n_rows, dtype=np.int64)[:, None] * (int(both.max(initial=0)) + 2) + both + 1
    first = np.zeros(both.size, dtype=bool)
    _, at = np.unique(keys.ravel(), return_index=True)
    first[at] = True
    valid = first.reshape(both.shape) & (both >= 0)
    order = np.argsort(~valid, axis=1, kind="stable")[:, :n]
    taken = np.take_along_axis(valid, order, axis=1)
    ids = np.where(taken, np.take_along_axis(both, order, axis=1), -1)
    scores = np.where(taken, np.take_along_axis(both_scores, order, axis=1), np.nan)
    from_main = taken & (order < main_ids.shape[1])
    return ids, scores, from_main, order
