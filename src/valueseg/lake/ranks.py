"""Exact order statistics of a Spark column, without collecting the column.

Spark's ``approxQuantile`` is approximate, and the RFM quintiles and value tiers must put
every customer where the DuckDB run puts them. The ``k``-th smallest value is found
exactly: the approximate quantiles bracket it, one pass counts the values below each
bracket, and the bracket's distinct values with their counts (at most about ``4 · eps · n``
of them, however many customers share one) come to the driver, where the rank is read off
their running count. A bracket that misses (the approximation's guarantee not met) is
widened until it holds the rank.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

#: Relative error asked of approxQuantile: brackets hold about 4 · EPS · n values.
EPS = 1e-3
_SLACK = 16  # values added on each side of a bracket beyond the approximation's bound


def kth_smallest(frame: DataFrame, column: str, ranks: list[int]) -> list[float]:
    """The ``k``-th smallest value of ``column`` (1-based, no NULLs) for each ``k``."""
    from pyspark.sql import functions as F

    n = frame.count()
    if not ranks:
        return []
    wanted = sorted(set(ranks))
    found: dict[int, float] = {}
    width = EPS * n + _SLACK
    while len(found) < len(wanted):
        todo = [k for k in wanted if k not in found]
        probs = sorted({min(max((k + s * width) / n, 0.0), 1.0) for k in todo for s in (-1, 1)})
        cuts = dict(zip(probs, frame.approxQuantile(column, probs, EPS), strict=True))
        brackets = {}
        for k in todo:
            lo = cuts[min(max((k - width) / n, 0.0), 1.0)]
            hi = cuts[min(max((k + width) / n, 0.0), 1.0)]
            brackets[k] = (lo, hi)
        counts = frame.agg(
            *[
                F.sum((F.col(column) < lo).cast("long")).alias(f"b{k}")
                for k, (lo, _) in brackets.items()
            ],
            *[
                F.sum((F.col(column) <= hi).cast("long")).alias(f"u{k}")
                for k, (_, hi) in brackets.items()
            ],
        ).first()
        assert counts is not None
        for k, (lo, hi) in brackets.items():
            below, upto = int(counts[f"b{k}"] or 0), int(counts[f"u{k}"] or 0)
            if not below < k <= upto:
                continue  # not bracketed: widened next round
            found[k] = lo if lo == hi else _inside(frame, column, lo, hi, k - below)
        width *= 4
    return [found[k] for k in ranks]


def _inside(frame: DataFrame, column: str, lo: float, hi: float, k: int) -> float:
    """The ``k``-th smallest value of ``column`` among those in ``[lo, hi]``, from the
    bracket's distinct values and their counts (through Arrow): a bracket can hold far more
    values than ``4 · EPS · n`` where many customers share one (every one-time buyer's
    frequency and monetary value are 0), and collecting them one row each held 2.5 GB on
    the driver at 14M customers."""
    from pyspark.sql import functions as F

    from valueseg.lake.frames import numbers_to_pandas

    inside = frame.filter((F.col(column) >= lo) & (F.col(column) <= hi))
    counted = numbers_to_pandas(inside.groupBy(column).agg(F.count(F.lit(1)).alias("_n")))
    counted = counted.sort_values(column, kind="stable")
    upto = np.cumsum(counted["_n"].to_numpy(np.int64))
    return float(counted[column].to_numpy(np.float64)[np.searchsorted(upto, k, side="left")])


def quintile_ranks(n: int) -> list[int]:
    """The ranks ``k_s = ceil((s - 1) n / 5)``, s = 2..5: a customer with ``w`` customers
    strictly worse scores at least ``s`` exactly when ``w >= k_s``
    (:func:`valueseg.segment.rfm.quintile_scores`).

    Examples
    --------
    >>> quintile_ranks(10), quintile_ranks(7)
    ([2, 4, 6, 8], [2, 3, 5, 6])
    """
    return [((s - 1) * n + 4) // 5 for s in range(2, 6)]


def tier_ranks(n: int, cuts: list[float]) -> list[int]:
    """For each cut share ``c``: the rank from the top ``K = ceil(c · n)`` such that a
    customer is in the top ``c`` exactly when fewer than ``K`` customers have a higher
    value (:func:`valueseg.segment.tiers.value_tiers`), capped at ``n``.

    Examples
    --------
    >>> tier_ranks(1000, [0.01, 0.05, 0.2]), tier_ranks(10, [0.01])
    ([10, 50, 200], [1])
    """
    return [min(int(np.ceil(c * n)), n) for c in cuts]
