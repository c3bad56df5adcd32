"""Vectorised building blocks of the synthetic shop (private).

Sampling from many categorical distributions at once, ragged-array helpers, the shop clock
(process time in days → timestamps with a time-of-day profile) and fast string ids.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from valueseg._synth.spec import HOURLY_WEIGHTS

SECONDS_PER_DAY = 86_400


def normalise_rows(weights: np.ndarray) -> np.ndarray:
    """Return ``weights`` (2-D, non-negative) scaled so every row sums to one.

    Examples
    --------
    >>> normalise_rows(np.array([[1.0, 3.0], [2.0, 2.0]])).tolist()
    [[0.25, 0.75], [0.5, 0.5]]
    """
    weights = np.asarray(weights, dtype=float)
    return weights / weights.sum(axis=1, keepdims=True)


def sample_rows(rng: np.random.Generator, prob: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Draw one column index per entry of ``rows`` from row-specific distributions.

    Inverse-CDF sampling over one flattened cumulative table: row ``k`` occupies the interval
    ``(k, k + 1]``, so a single ``searchsorted`` serves every row at once.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> prob = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    >>> sample_rows(rng, prob, np.array([0, 1, 1, 0])).tolist()
    [0, 2, 2, 0]
    """
    n_rows, n_cols = prob.shape
    cum = np.cumsum(normalise_rows(prob), axis=1)
    cum[:, -1] = 1.0
    flat = (cum + np.arange(n_rows)[:, None]).ravel()
    rows = np.asarray(rows, dtype=np.int64)
    idx = np.searchsorted(flat, rows + rng.random(rows.size), side="right") - rows * n_cols
    return np.clip(idx, 0, n_cols - 1)


def ragged_rank(counts: np.ndarray) -> np.ndarray:
    """Position of every element within its group, for groups of the given sizes.

    Examples
    --------
    >>> ragged_rank(np.array([2, 0, 3])).tolist()
    [0, 1, 0, 1, 2]
    """
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    return np.arange(counts.sum()) - np.repeat(starts, counts)


def group_sum(groups: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum ``values`` per group index (``0 <= groups < n_groups``).

    Examples
    --------
    >>> group_sum(np.array([0, 2, 2]), np.array([1.0, 2.0, 3.0]), 3).tolist()
    [1.0, 0.0, 5.0]
    """
    return np.bincount(groups, weights=values, minlength=n_groups)


def to_seconds(days: np.ndarray) -> np.ndarray:
    """Map process time in days to whole seconds, placing each moment at a time of day.

    The fraction of the day is sent through the inverse CDF of the hourly profile in
    ``HOURLY_WEIGHTS``. The map is increasing and keeps every instant within its calendar
    day, so counts between midnights (observation end, horizon end) are unchanged.

    Examples
    --------
    >>> to_seconds(np.array([0.0, 1.5, 2.999999])).tolist()
    [0, 143220, 259199]
    """
    days = np.asarray(days, dtype=float)
    whole = np.floor(days)
    knots = np.concatenate(([0.0], np.cumsum(HOURLY_WEIGHTS)))
    hour = np.interp(days - whole, knots / knots[-1], np.arange(len(knots), dtype=float))
    second = np.minimum(np.floor(hour * 3600.0), SECONDS_PER_DAY - 1)
    return whole.astype(np.int64) * SECONDS_PER_DAY + second.astype(np.int64)


def fixed_width_ids(prefix: str, count: int, width: int) -> np.ndarray:
    """Ids ``prefix + zero-padded 1..count`` as fixed-size byte records (numpy void).

    Built from a byte matrix (no Python strings); gathering records with :func:`take_ids`
    is a plain memory copy, so tens of millions of id cells cost about a second.

    Examples
    --------
    >>> records = fixed_width_ids("C", 3, width=4)
    >>> records.dtype.itemsize, bytes(records[2])
    (5, b'C0003')
    """
    width = max(width, len(str(count)))
    head = len(prefix)
    size = head + width
    buf = np.empty((count, size), dtype=np.uint8)
    buf[:, :head] = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    number = np.arange(1, count + 1, dtype=np.int64)
    for col in range(size - 1, head - 1, -1):
        buf[:, col] = 48 + number % 10
        number //= 10
    return buf.view(np.dtype((np.void, size))).ravel()


def take_ids(records: np.ndarray, index: np.ndarray | None = None) -> pa.Array:
    """Arrow strings of ``records[index]`` (all records if ``index`` is None); ``-1`` → null.

    The result is ``large_string``, the layout pandas' ``str`` dtype keeps, so converting
    to pandas copies nothing.

    Examples
    --------
    >>> take_ids(fixed_width_ids("P", 2, width=3), np.array([1, -1, 0])).to_pylist()
    ['P002', None, 'P001']
    """
    valid = None
    if index is not None:
        index = np.asarray(index)
        missing = index < 0
        if missing.any():
            valid = ~missing
            index = np.where(missing, 0, index)
        records = np.take(records, index)
    count, size = records.size, records.dtype.itemsize
    offsets = np.arange(0, (count + 1) * size, size, dtype=np.int64)
    bitmap = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    data = pa.py_buffer(np.ascontiguousarray(records).view(np.uint8))
    return pa.Array.from_buffers(pa.large_string(), count, [bitmap, pa.py_buffer(offsets), data])


def lookup(names: Sequence[str], codes: np.ndarray) -> pa.Array:
    """Arrow string array of ``names[codes]`` (small vocabularies such as categories).

    Examples
    --------
    >>> lookup(["web", "app"], np.array([1, 0, 1])).to_pylist()
    ['app', 'web', 'app']
    """
    return pa.array(list(names), type=pa.large_string()).take(pa.array(np.asarray(codes)))
