"""RFM quintile scores and the named R×F segments (docs/design.md §6, the first lens).

Three scores from 1 to 5 per customer, each from one column of the feature table:

- **R** from ``days_since_last_order`` (days from the last order to ``as_of``): fewer days
  is more recent and scores higher, so the most recent customers get R = 5. (This is not
  the BTYD ``recency`` column, which counts from the first order.)
- **F** from ``orders_total``: more orders score higher.
- **M** from ``spend_total``: more spend scores higher.

**Quintiles and ties.** Among ``n`` customers, a customer with ``w`` customers strictly
*worse* than them (less recent, fewer orders, less spend) scores ``1 + floor(5 w / n)``.
Equal values have the same ``w`` and so always the same score: a group of ties gets the
score of its first member in rank order (pandas ``rank(method="min")``). Each score holds
about a fifth of the customers when values are distinct; with many ties (40 % of
customers with one order) a score can hold more than a fifth and the next one be empty.
The worst value always scores 1 (every one-order customer has F = 1, as the grid's "New
Customers" and "Promising" cells need); a large group tied at the best value can score
below 5. Values are compared after rounding to 6 decimals, so spends that differ only by
floating-point noise in their sums tie.

The R×F grid that names the segments is data (:mod:`valueseg.segment.grid`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from valueseg.errors import InputError
from valueseg.segment.grid import RfmGrid, load_rfm_grid

__all__ = ["RFM_COLUMNS", "quintile_scores", "rfm_scores", "rfm_segments"]

#: Default source column of each score.
RFM_COLUMNS = {"r": "days_since_last_order", "f": "orders_total", "m": "spend_total"}


def quintile_scores(values: object, *, higher_is_better: bool = True) -> np.ndarray:
    """Scores 1..5: ``1 + floor(5 w / n)`` with ``w`` the values strictly worse than each.

    Parameters
    ----------
    values : array-like of numbers
        No missing values.
    higher_is_better : bool, default True
        False for days since the last order, where fewer is better.

    Returns
    -------
    numpy.ndarray of int8

    Examples
    --------
    >>> quintile_scores([10, 20, 30, 40, 50]).tolist()
    [1, 2, 3, 4, 5]
    >>> quintile_scores([1, 1, 1, 1, 2, 2, 3, 3, 4, 5]).tolist()  # ties share a score
    [1, 1, 1, 1, 3, 3, 4, 4, 5, 5]
    >>> quintile_scores([3, 100, 40], higher_is_better=False).tolist()
    [4, 1, 2]
    """
    x = np.round(np.asarray(values, dtype=float), 6)
    if x.size and np.isnan(x).any():
        raise InputError("quintile_scores got missing values; score complete columns only.")
    ordered = np.sort(x)
    if higher_is_better:
        worse = np.searchsorted(ordered, x, side="left")
    else:
        worse = x.size - np.searchsorted(ordered, x, side="right")
    return (1 + (5 * worse) // max(x.size, 1)).astype(np.int8)


def _column(frame: pd.DataFrame, name: str, score: str) -> np.ndarray:
    if name not in frame.columns:
        from valueseg.errors import did_you_mean

        hint = did_you_mean(name, map(str, frame.columns))
        extra = f" Did you mean {hint!r}?" if hint else ""
        raise InputError(
            f"Column {name!r} (for the {score.upper()} score) not found in the frame.{extra} "
            f"Pass a feature table with {name!r}, or name the column: {score}={name!r}."
        )
    values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
    missing = int(np.isnan(values).sum())
    if missing:
        raise InputError(
            f"Column {name!r} (for the {score.upper()} score) has {missing:,} missing or "
            f"non-numeric value(s) of {len(values):,}. RFM scores need a value per customer."
        )
    return values


def rfm_scores(
    frame: pd.DataFrame,
    *,
    r: str = RFM_COLUMNS["r"],
    f: str = RFM_COLUMNS["f"],
    m: str = RFM_COLUMNS["m"],
) -> pd.DataFrame:
    """R, F and M quintile scores of every customer of a feature table.

    Parameters
    ----------
    frame : DataFrame
        One row per customer with ``customer_id`` and the three source columns
        (``customer_features`` has them).
    r, f, m : str
        Source columns: days since the last order (fewer = better), orders, spend.

    Returns
    -------
    DataFrame
        ``customer_id, rfm_r, rfm_f, rfm_m`` (int8 scores 1..5), in the order of ``frame``.

    Examples
    --------
    >>> frame = pd.DataFrame({
    ...     "customer_id": list("abcde"),
    ...     "days_since_last_order": [1, 200, 30, 30, 400],
    ...     "orders_total": [9, 1, 3, 2, 1],
    ...     "spend_total": [900.0, 20.0, 150.0, 80.0, 35.0],
    ... })
    >>> rfm_scores(frame)
      customer_id  rfm_r  rfm_f  rfm_m
    0           a      5      5      5
    1           b      2      1      1
    2           c      3      4      4
    3           d      3      3      3
    4           e      1      1      2
    """
    if "customer_id" not in frame.columns:
        raise InputError(
            "Column 'customer_id' not found in the frame. Pass one row per customer with "
            "its customer_id (the feature table has it)."
        )
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].to_numpy(),
            "rfm_r": quintile_scores(_column(frame, r, "r"), higher_is_better=False),
            "rfm_f": quintile_scores(_column(frame, f, "f")),
            "rfm_m": quintile_scores(_column(frame, m, "m")),
        }
    )


def rfm_segments(
    frame: pd.DataFrame,
    *,
    grid: RfmGrid | str | Path | None = None,
    r: str = RFM_COLUMNS["r"],
    f: str = RFM_COLUMNS["f"],
    m: str = RFM_COLUMNS["m"],
) -> pd.DataFrame:
    """RFM scores and the named R×F segment of every customer.

    Parameters
    ----------
    frame : DataFrame
        One row per customer (see :func:`rfm_scores`).
    grid : RfmGrid, path or None
        The R×F grid; a path is read with :func:`~valueseg.segment.load_rfm_grid`; None
        uses the packaged default.
    r, f, m : str
        Source columns of the scores.

    Returns
    -------
    DataFrame
        ``customer_id, rfm_r, rfm_f, rfm_m, rfm_segment``.

    Examples
    --------
    >>> frame = pd.DataFrame({
    ...     "customer_id": list("abcde"),
    ...     "days_since_last_order": [1, 200, 30, 30, 400],
    ...     "orders_total": [9, 1, 3, 2, 1],
    ...     "spend_total": [900.0, 20.0, 150.0, 80.0, 35.0],
    ... })
    >>> rfm_segments(frame)["rfm_segment"].tolist()
    ['Champions', 'Hibernating', 'Loyal Customers', 'Need Attention', 'Hibernating']
    """
    if not isinstance(grid, RfmGrid):
        grid = load_rfm_grid(grid)
    out = rfm_scores(frame, r=r, f=f, m=m)
    names = grid.lookup(out["rfm_r"].to_numpy(), out["rfm_f"].to_numpy())
    out["rfm_segment"] = pd.Series(np.asarray(names, dtype=object), index=out.index, dtype="str")
    return out
