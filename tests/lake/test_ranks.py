"""Exact order statistics on Spark (valueseg.lake.ranks) against numpy's sort, where most
values are tied (as frequency and monetary value are at 0 for every one-time buyer)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.lake.conftest import SPARK_WARNINGS, needs_spark

pytestmark = [needs_spark, SPARK_WARNINGS]


@pytest.mark.parametrize("tied", [0.0, 0.6, 0.97])
def test_kth_smallest_is_the_sorted_value(spark, tied: float) -> None:
    from valueseg.lake.ranks import kth_smallest, quintile_ranks

    rng = np.random.default_rng(11)
    n = 20_000
    x = np.round(rng.lognormal(3.0, 1.2, n), 2)
    x[rng.random(n) < tied] = 0.0
    x[:50] = -np.inf  # as the value tiers mark a customer without a value
    frame = spark.createDataFrame(pd.DataFrame({"_v": x}))
    ranks = [1, 2, *quintile_ranks(n), n // 3, n - 1, n]
    got = kth_smallest(frame, "_v", ranks)
    want = np.sort(x)[np.asarray(ranks) - 1]
    assert got == want.tolist()


def test_a_bracket_of_one_tied_value_collects_nothing(spark, monkeypatch) -> None:
    """When the bracket's two ends are one value (a rank inside a run of ties), the value is
    the answer: no pass over the bracket's rows."""
    from valueseg.lake import ranks

    calls: list[tuple[float, float]] = []
    inside = ranks._inside

    def spy(frame, column, lo, hi, k):  # type: ignore[no-untyped-def]
        calls.append((lo, hi))
        return inside(frame, column, lo, hi, k)

    monkeypatch.setattr(ranks, "_inside", spy)
    x = np.zeros(10_000)
    x[-100:] = np.arange(100.0)
    frame = spark.createDataFrame(pd.DataFrame({"_f": x}))
    assert ranks.kth_smallest(frame, "_f", [2_000, 5_000]) == [0.0, 0.0]
    assert calls == []
    assert ranks.kth_smallest(frame, "_f", [9_990]) == [89.0]
    assert calls
