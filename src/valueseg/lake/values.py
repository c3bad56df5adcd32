"""The value stage on Spark: back-test and fits from patterns, scores on the executors.

The purchase models see each customer only through ``frequency, recency, T``, so they are
fitted on the distinct patterns with their counts (``weights``): the same fit as over the
customers, as the models collapse identical rows into weights themselves. The patterns come
in the order of their first customer by ``customer_id``, the order the DuckDB run's rows
collapse in, so the two runs fit the same numbers. The spend model takes the distinct
``frequency, monetary_value`` of the repeat buyers likewise. The back-test's holdout errors
are sums over ``frequency_cal, recency_cal, T_cal, frequency_holdout``; its value metrics
(Spearman, top-decile capture of the holdout spend) read a uniform sample of customers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd

from valueseg.errors import InputError
from valueseg.lake.frames import as_ibis, as_spark, numbers_to_pandas
from valueseg.models import backtest as bt
from valueseg.models.choice import ValueModels, fit_value_models, score_customers

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

#: The score columns, in ``customer_scores`` order.
SCORES = ["p_alive", "expected_purchases_90d", "expected_purchases_365d", "predicted_clv_365d"]
#: Most customers in the driver's samples (back-test value metrics, clusters).
SAMPLE = 200_000


@dataclass
class ValueStage:
    """The fitted value models and the per-customer scores (a Spark DataFrame, lazy)."""

    values: ValueModels
    scores: DataFrame


def sampled(frame: DataFrame, n: int, cap: int = SAMPLE, seed: int = 0) -> DataFrame:
    """A uniform sample of about ``cap`` customers (everyone when ``n <= cap``), chosen by
    a hash of ``customer_id`` and ``seed``: the same customers on any cluster layout."""
    from pyspark.sql import functions as F

    if n <= cap:
        return frame
    share = cap / n
    draw = (F.xxhash64("customer_id", F.lit(seed)) % 1_000_000_000).cast("double")
    return frame.filter(F.abs(draw) < share * 1e9)


def patterns(frame: DataFrame, columns: list[str], where: Column | None = None) -> pd.DataFrame:
    """Distinct rows of ``columns`` with ``weights`` (customers), in the order of each
    pattern's first customer by ``customer_id``.

    The first customer's id orders the rows on the executors and is dropped there: the
    driver collects the patterns' numbers only, through Arrow (the spend patterns are about
    one per repeat buyer: millions of rows at 100M order lines)."""
    from pyspark.sql import functions as F

    if where is not None:
        frame = frame.filter(where)
    grouped = frame.groupBy(*columns).agg(
        F.count(F.lit(1)).cast("double").alias("weights"), F.min("customer_id").alias("_first")
    )
    out = numbers_to_pandas(grouped.orderBy("_first").drop("_first"))
    return out.astype("float64")


def value_stage(
    con: Any, purchases: DataFrame, features: DataFrame, as_of: datetime, freq: str, n: int
) -> ValueStage:
    """Back-test, choose and fit on the driver from patterns; score on the executors."""
    from pyspark.sql import functions as F

    first = purchases.agg(F.min("timestamp")).first()
    assert first is not None and first[0] is not None
    loose, why = _backtest(con, purchases, first[0], as_of, freq)
    summary = patterns(features, ["frequency", "recency", "T"])
    repeat = (F.col("frequency") > 0) & (F.col("monetary_value") > 0)
    spend = patterns(features, ["frequency", "monetary_value"], repeat)
    values = fit_value_models(loose, summary, spend_summary=spend, freq=freq, why_no_cal=why)
    return ValueStage(values, _scores(features, values, freq))


def _backtest(
    con: Any, purchases: DataFrame, first: datetime, as_of: datetime, freq: str
) -> tuple[list[bt.ModelResult] | None, str]:
    """The back-test's results (None, and why, when history is too short), as the DuckDB
    run's :func:`valueseg.pipeline._value_models` decides."""
    from pyspark.sql import functions as F

    from valueseg.features.summary import calibration_holdout_expr

    cal_end = bt.holdout_start(first, as_of)
    if (as_of - cal_end).days < 1 or cal_end <= first:
        return None, f"history from {first:%Y-%m-%d} to {as_of:%Y-%m-%d} is too short for a holdout"
    lines = as_ibis(con, purchases, "vs_purchases")
    cal = calibration_holdout_expr(lines, cal_end, as_of, freq=freq)
    hold = lines.filter((lines["timestamp"] > cal_end) & (lines["timestamp"] <= as_of))
    spent = hold.group_by("customer_id").aggregate(spend_holdout=hold.amount.sum())
    joined = cal.left_join(spent, "customer_id").drop("customer_id_right")
    joined = joined.mutate(spend_holdout=joined.spend_holdout.fill_null(ibis.literal(0.0)))
    frame = as_spark(con, joined)
    keys = ["frequency_cal", "recency_cal", "T_cal", "frequency_holdout"]
    table = patterns(frame, keys)
    if table.empty:
        return None, (
            f"No customer bought by calibration_end {cal_end:%Y-%m-%d}. "
            "Pick a later calibration_end."
        )
    duration = frame.select("duration_holdout").first()
    assert duration is not None
    table["duration_holdout"] = float(duration[0])
    spend_cal = patterns(
        frame.select(
            F.col("customer_id"),
            F.col("frequency_cal").alias("frequency"),
            F.col("monetary_value_cal").alias("monetary_value"),
        ),
        ["frequency", "monetary_value"],
        (F.col("frequency") > 0) & (F.col("monetary_value") > 0),
    )
    n = int(table["weights"].sum())
    sample = sampled(frame, n).orderBy("customer_id").toPandas()
    spend = bt.fit_spend(spend_cal)
    return bt.backtest(table, freq=freq, strict=False, spend=spend, value_sample=sample), ""


def _scores(features: DataFrame, values: ValueModels, freq: str) -> DataFrame:
    """Every customer's scores, computed batch by batch on the executors."""
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    chosen = values.chosen
    name = None if chosen is None or chosen.model is None else chosen.name
    model = None if chosen is None else chosen.model
    spend_model = values.spend_model
    schema = StructType(
        [StructField("customer_id", StringType()), *[StructField(c, DoubleType()) for c in SCORES]]
    )
    columns = ["customer_id", "frequency", "recency", "T", "monetary_value"]

    def score(batches: Any) -> Any:
        for batch in batches:
            if name is None or model is None:
                out = pd.DataFrame({"customer_id": batch["customer_id"]})
                for col in SCORES:
                    out[col] = float("nan")
                yield out
                continue
            yield score_customers(name, model, spend_model, batch, freq)[["customer_id", *SCORES]]

    return features.select(*columns).mapInPandas(score, schema)


def check_as_of(purchases: DataFrame, as_of: datetime) -> int:
    """The purchase lines before ``as_of``; refuses an ``as_of`` before every order."""
    from pyspark.sql import functions as F

    row = purchases.agg(
        F.min("timestamp").alias("lo"), F.max("timestamp").alias("hi"), F.count(F.lit(1)).alias("n")
    ).first()
    assert row is not None
    if row["lo"] is None or as_of <= row["lo"]:
        span = (
            "no purchase lines"
            if row["lo"] is None
            else f"{row['n']:,} purchase lines from {row['lo']:%Y-%m-%d} to {row['hi']:%Y-%m-%d}"
        )
        raise InputError(
            f"No orders before --as-of {as_of:%Y-%m-%d}: the input holds {span}. "
            "Pick an --as-of after the first order."
        )
    return int(row["n"])
