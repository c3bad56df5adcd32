"""Fitting and back-testing on distinct patterns with their counts gives what fitting and
back-testing on the customers gives: what lets the lake run fit on the driver."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.lake.conftest import SPARK_WARNINGS, needs_spark
from valueseg.models import backtest as bt
from valueseg.models.choice import choose
from valueseg.models.metrics import auc, score_holdout


def _same_table(a: list[dict], b: list[dict]) -> None:
    assert [(r["frequency"], r["customers"]) for r in a] == [
        (r["frequency"], r["customers"]) for r in b
    ]
    for x, y in zip(a, b, strict=True):
        assert x["predicted"] == pytest.approx(y["predicted"], rel=1e-9)
        assert x["actual"] == pytest.approx(y["actual"], rel=1e-9)


def _patterns(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Distinct rows of ``keys`` with ``weights``, in order of first appearance (as the
    lake run orders them by their first customer)."""
    grouped = frame.groupby(keys, sort=False).size().rename("weights").reset_index()
    return grouped.astype("float64")


@pytest.fixture(scope="module")
def cal() -> pd.DataFrame:
    from valueseg.features import calibration_holdout
    from valueseg.synth import make_shop

    shop = make_shop(3_000, random_state=7)
    cal = calibration_holdout(
        shop.transactions, calibration_end="2024-07-01", observation_end="2025-01-01"
    )
    return cal.assign(spend_holdout=cal["monetary_value_holdout"] * cal["frequency_holdout"])


@pytest.mark.parametrize("name", ["bg_nbd", "pareto_nbd", "mbg_nbd"])
def test_a_fit_on_weighted_patterns_is_the_fit_on_customers(cal, name):
    summary = bt._cal_summary(cal)
    each, _ = bt.fit_one(name, summary)
    pooled, _ = bt.fit_one(name, _patterns(summary, ["frequency", "recency", "T"]))
    assert each is not None and pooled is not None
    assert pooled.params_ == pytest.approx(each.params_, rel=1e-12)
    assert pooled.loglik_ == pytest.approx(each.loglik_, rel=1e-12)


def test_the_spend_fit_on_weighted_patterns_is_the_fit_on_customers(cal):
    summary = bt._cal_summary(cal)
    each, _ = bt.fit_spend(summary)
    repeat = summary[(summary.frequency > 0) & (summary.monetary_value > 0)]
    pooled, _ = bt.fit_spend(_patterns(repeat, ["frequency", "monetary_value"]))
    assert each is not None and pooled is not None
    assert pooled.params_ == pytest.approx(each.params_, rel=1e-12)


def test_the_backtest_on_patterns_scores_and_chooses_as_on_customers(cal):
    keys = ["frequency_cal", "recency_cal", "T_cal", "frequency_holdout"]
    table = _patterns(cal, keys).assign(duration_holdout=cal["duration_holdout"].iloc[0])
    spend_rows = bt._cal_summary(cal)
    spend_rows = spend_rows[(spend_rows.frequency > 0) & (spend_rows.monetary_value > 0)]
    spend = bt.fit_spend(_patterns(spend_rows, ["frequency", "monetary_value"]))
    each = bt.backtest(cal, strict=False)
    pooled = bt.backtest(table, strict=False, spend=spend, value_sample=cal)
    for a, b in zip(each, pooled, strict=True):
        assert a.name == b.name
        for metric in ("mae", "rmse", "correlation", "predicted_total", "alive_auc"):
            assert b.backtest[metric] == pytest.approx(a.backtest[metric], rel=1e-9), metric
        assert b.backtest["customers"] == a.backtest["customers"]
        _same_table(b.backtest["by_frequency"], a.backtest["by_frequency"])
        assert b.backtest["value_spearman"] == pytest.approx(a.backtest["value_spearman"])
    assert choose(pooled).name == choose(each).name


def test_weighted_metrics_equal_the_metrics_over_repeated_rows():
    rng = np.random.default_rng(0)
    score = rng.integers(0, 5, 40).astype(float)
    label = rng.random(40) < 0.4
    w = rng.integers(1, 4, 40).astype(float)
    assert auc(score, label, w) == pytest.approx(
        auc(np.repeat(score, w.astype(int)), np.repeat(label, w.astype(int)))
    )
    cal = pd.DataFrame(
        {"frequency_cal": rng.integers(0, 9, 40).astype(float), "frequency_holdout": score}
    )
    pred = rng.random(40) * 3
    reps = w.astype(int)
    flat = score_holdout(np.repeat(pred, reps), cal.loc[cal.index.repeat(reps)])
    pooled = score_holdout(pred, cal.assign(weights=w))
    for key in ("customers", "mae", "rmse", "correlation", "predicted_total", "actual_total"):
        assert pooled[key] == pytest.approx(flat[key], rel=1e-12), key
    _same_table(pooled["by_frequency"], flat["by_frequency"])


@SPARK_WARNINGS
@needs_spark
def test_patterns_are_collected_in_order_through_arrow_and_the_setting_restored(spark) -> None:
    """The lake's patterns come to the driver through Arrow (a row-by-row collect peaked
    at 2.3 GB for 5M rows), ordered by each pattern's first customer, without the ids, and
    the session's own Arrow setting is left as it was."""
    from valueseg.lake.values import patterns

    key = "spark.sql.execution.arrow.pyspark.enabled"
    spark.conf.set(key, "false")
    rows = [("c3", 1.0, 2.0), ("c1", 0.0, 5.0), ("c2", 1.0, 2.0), ("c0", 2.0, 0.5)]
    frame = spark.createDataFrame(rows, ["customer_id", "frequency", "monetary_value"])
    got = patterns(frame, ["frequency", "monetary_value"])
    assert got.to_dict("list") == {
        "frequency": [2.0, 0.0, 1.0],  # first customers c0, c1, c2
        "monetary_value": [0.5, 5.0, 2.0],
        "weights": [1.0, 1.0, 2.0],
    }
    assert list(got.dtypes.astype(str)) == ["float64"] * 3
    assert spark.conf.get(key) == "false"
