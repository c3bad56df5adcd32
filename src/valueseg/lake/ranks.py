"""Exact order statistics of a Spark column, without collecting the column.

Spark's ``approxQuantile`` is approximate, and the RFM quintiles and value tiers must put
every customer where the DuckDB run puts them. The ``k``-th smallest value is found
exactly: the approximate quantiles bracket it, one pass counts the values below each
bracket, and the few values inside a bracket (about ``4 · eps · n``) are collected and
sorted on the driver. A bracket that misses (the approximation's guarantee not met) is
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
            inside = frame.filter((F.col(column) >= lo) & (F.col(column) <= hi)).select(column)
            values = np.sort(np.array([r[0] for r in inside.collect()], dtype=np.float64))
            found[k] = float(values[k - below - 1])
        width *= 4
    return [found[k] for k in ranks]


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
