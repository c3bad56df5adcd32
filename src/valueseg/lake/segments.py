"""The segment stage on Spark: exact RFM and value-tier edges, clusters from a sample.

RFM scores and value tiers are ranks over all customers. Both are read off a few exact
order statistics (:mod:`valueseg.lake.ranks`): a customer scores at least ``s`` on F
exactly when its value is above the ``k_s``-th smallest, and so on, so every customer gets
the score :func:`valueseg.segment.rfm.quintile_scores` gives over the whole table. The
``Segmenter`` is fitted on a uniform sample of customers collected to the driver (everyone
up to 200,000) by :func:`valueseg.segment.segment_customers` and applied to every customer
on the executors; the cluster profiles and rules describe the sample, the sizes and
revenue shares count everyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from valueseg.lake.ranks import kth_smallest, quintile_ranks, tier_ranks
from valueseg.lake.values import SCORES, sampled
from valueseg.segment.grid import RfmGrid
from valueseg.segment.rfm import RFM_COLUMNS
from valueseg.segment.tiers import DEFAULT_CUTS, tier_labels

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

#: ``customer_scores`` columns the segment stage adds.
LENSES = ["rfm_r", "rfm_f", "rfm_m", "rfm_segment", "value_tier", "cluster", "segment"]
_ROUNDED = {"r": "_r", "f": "_f", "m": "_m"}


@dataclass
class Edges:
    """Values at the exact ranks: R (descending), F and M (ascending), tiers (descending)."""

    r: list[float]
    f: list[float]
    m: list[float]
    tiers: list[float]
    value_column: str


@dataclass
class Clusters:
    """The sample's clustering: the fitted Segmenter, names by cluster, its segment rows."""

    segmenter: Any = None
    names: dict[int, str] = field(default_factory=dict)
    rows: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)
    sample: int = 0


def ranked(joined: DataFrame, value_column: str) -> DataFrame:
    """``customer_id`` and the rounded R, F, M sources and the tier value (NaN as -inf),
    rounded by numpy on the executors exactly as ``quintile_scores`` rounds."""
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    sources = [RFM_COLUMNS["r"], RFM_COLUMNS["f"], RFM_COLUMNS["m"]]
    schema = StructType(
        [StructField("customer_id", StringType())]
        + [StructField(c, DoubleType()) for c in ("_r", "_f", "_m", "_v")]
    )

    def run(batches: Any) -> Any:
        for b in batches:
            out = pd.DataFrame({"customer_id": b["customer_id"]})
            for col, source in zip(("_r", "_f", "_m"), sources, strict=True):
                out[col] = np.round(b[source].to_numpy(dtype=float), 6)
            value = b[value_column].to_numpy(dtype=float)
            out["_v"] = np.where(np.isnan(value), -np.inf, value)
            yield out

    return joined.select("customer_id", *sources, value_column).mapInPandas(run, schema)


def edges(frame: DataFrame, n: int, value_column: str) -> Edges:
    """The exact values at the RFM quintile ranks and the tier ranks of ``ranked``'s
    columns."""
    ks = quintile_ranks(n)
    from_top = [n - k + 1 for k in ks]
    tiers = [n - k + 1 for k in tier_ranks(n, list(DEFAULT_CUTS))]
    return Edges(
        r=kth_smallest(frame, "_r", from_top),
        f=kth_smallest(frame, "_f", ks),
        m=kth_smallest(frame, "_m", ks),
        tiers=kth_smallest(frame, "_v", tiers),
        value_column=value_column,
    )


def scores_from_edges(x: np.ndarray, ascending: list[float], higher_is_better: bool) -> np.ndarray:
    """Quintile scores 1..5 of rounded values ``x`` from the edges of :func:`edges`.

    Examples
    --------
    >>> scores_from_edges(np.array([10.0, 20, 30, 40, 50]), [10, 20, 30, 40], True).tolist()
    [1, 2, 3, 4, 5]
    >>> scores_from_edges(np.array([3.0, 100, 40]), [100, 40, 40, 3], False).tolist()
    [4, 1, 2]
    """
    if higher_is_better:  # above the k_s-th smallest: score >= s
        above = np.searchsorted(np.asarray(ascending), x, side="left")
        return (1 + above).astype(np.int8)
    desc = np.sort(np.asarray(ascending))  # below the k_s-th largest: score >= s
    below = len(desc) - np.searchsorted(desc, x, side="right")
    return (1 + below).astype(np.int8)


def tiers_from_edges(value: np.ndarray, edges_desc: list[float]) -> np.ndarray:
    """Tier index (0 = the top cut) of each value: the number of edges it is below."""
    desc = np.sort(np.asarray(edges_desc))
    return len(desc) - np.searchsorted(desc, value, side="right")


def feature_sample(features: DataFrame, n: int, random_state: int) -> pd.DataFrame:
    """The features of the uniform sample of customers the driver fits on (everyone up to
    :data:`~valueseg.lake.values.SAMPLE`), ordered by ``customer_id``."""
    return sampled(features, n, seed=random_state).orderBy("customer_id").toPandas()


def cluster_sample(
    features: DataFrame,
    n: int,
    *,
    grid: RfmGrid | None,
    random_state: int,
    clusters: tuple[int, int],
    sample: pd.DataFrame | None = None,
) -> Clusters:
    """Fit the clusters on a uniform sample of customers (ordered by ``customer_id``, as
    the DuckDB run's feature table is); ``sample``: that sample, already collected
    (:func:`feature_sample`)."""
    from valueseg.segment.lenses import segment_customers

    if sample is None:
        sample = feature_sample(features, n, random_state)
    result = segment_customers(
        sample, None, grid=grid, random_state=random_state, clusters=clusters
    )
    notes = list(result.notes)
    if len(sample) < n:
        notes.append(
            f"the clusters were fitted on a uniform sample of {len(sample):,} of the {n:,} "
            "customers and applied to all; their profiles and rules describe the sample."
        )
    if result.segmenter is None:
        return Clusters(notes=notes, sample=len(sample))
    cust = result.customers
    named = cust[cust["cluster"] >= 0]
    names = dict(zip(named["cluster"].astype(int), named["segment"].astype(str), strict=True))
    rows = result.segments[result.segments["lens"] == "cluster"].reset_index(drop=True)
    return Clusters(result.segmenter, names, rows, notes, len(sample))


def apply_lenses(
    joined: DataFrame,
    e: Edges,
    grid: RfmGrid,
    clusters: Clusters,
    feature_columns: list[str],
    learners: Any = None,
) -> DataFrame:
    """``customer_scores``' rows (scores, the learners' predictions and lenses) plus
    ``_revenue`` (spend_total) for the segment sizes, batch by batch on the executors.

    ``learners``: a Spark broadcast of a :class:`valueseg.lake.learners.Scorer` (None: the
    learners were skipped and their columns stay empty)."""
    from pyspark.sql.types import (
        ByteType,
        DateType,
        DoubleType,
        IntegerType,
        StringType,
        StructField,
        StructType,
    )

    labels = tier_labels(list(DEFAULT_CUTS))
    seg = clusters.segmenter
    names = clusters.names
    schema = StructType(
        [StructField("customer_id", StringType())]
        + [StructField(c, DoubleType()) for c in [*SCORES, "churn_probability"]]
        + [StructField(c, ByteType()) for c in ("rfm_r", "rfm_f", "rfm_m")]
        + [
            StructField("rfm_segment", StringType()),
            StructField("value_tier", StringType()),
            StructField("cluster", IntegerType()),
            StructField("segment", StringType()),
            StructField("predicted_spend_90d", DoubleType()),
            StructField("expected_next_order_date", DateType()),
            StructField("_revenue", DoubleType()),
        ]
    )
    sources = [RFM_COLUMNS["r"], RFM_COLUMNS["f"], RFM_COLUMNS["m"]]

    def run(batches: Any) -> Any:
        scorer = None if learners is None else learners.value
        for b in batches:
            out = b[["customer_id", *SCORES]].copy()
            if scorer is None:
                out["churn_probability"] = np.nan
            else:
                predicted = scorer(b[feature_columns])
                out["churn_probability"] = predicted["churn_probability"].to_numpy(float)
            x = [np.round(b[c].to_numpy(dtype=float), 6) for c in sources]
            out["rfm_r"] = scores_from_edges(x[0], e.r, False)
            out["rfm_f"] = scores_from_edges(x[1], e.f, True)
            out["rfm_m"] = scores_from_edges(x[2], e.m, True)
            cells = grid.lookup(out["rfm_r"].to_numpy(), out["rfm_f"].to_numpy())
            out["rfm_segment"] = np.asarray(cells, dtype=object)
            value = b[e.value_column].to_numpy(dtype=float)
            tier = tiers_from_edges(np.where(np.isnan(value), -np.inf, value), e.tiers)
            out["value_tier"] = np.asarray(labels, dtype=object)[tier]
            if seg is None:
                out["cluster"] = pd.array([None] * len(b), dtype="Int32")
                out["segment"] = None
            else:
                got = np.asarray(seg.predict(b[feature_columns]), dtype=np.int64)
                out["cluster"] = got.astype(np.int32)
                out["segment"] = [names.get(int(c), "Noise") if c >= 0 else "Noise" for c in got]
            if scorer is None:
                out["predicted_spend_90d"] = np.nan
                out["expected_next_order_date"] = None
            else:
                out["predicted_spend_90d"] = predicted["predicted_spend_90d"].to_numpy(float)
                out["expected_next_order_date"] = _dates(predicted["expected_next_order_date"])
            out["_revenue"] = b["spend_total"].to_numpy(dtype=float)
            yield out

    return joined.mapInPandas(run, schema)


def _dates(values: pd.Series) -> list[Any]:
    """Days as ``datetime.date`` (None for a missing one), as Spark takes a DATE column."""
    return [None if pd.isna(v) else pd.Timestamp(v).date() for v in values]


def lens_rows(scored: DataFrame, clusters: Clusters) -> pd.DataFrame:
    """The ``segments`` rows: size and revenue share of every segment of each lens, counted
    over all customers; the cluster rows keep the sample's profile and rules."""
    from pyspark.sql import functions as F

    total_row = scored.agg(F.sum("_revenue")).first()
    total = float(total_row[0] or 0.0) if total_row is not None else 0.0
    parts = []
    for lens, column in (
        ("rfm", "rfm_segment"),
        ("value_tier", "value_tier"),
        ("cluster", "segment"),
    ):
        if lens == "cluster" and clusters.segmenter is None:
            continue
        agg = (
            scored.groupBy(column)
            .agg(F.count(F.lit(1)).alias("size"), F.sum("_revenue").alias("rev"))
            .toPandas()
            .rename(columns={column: "segment"})
        )
        agg["lens"] = lens
        agg["revenue_share"] = agg["rev"] / total if total > 0 else 0.0
        agg = agg.sort_values(["size", "segment"], ascending=[False, True])
        if lens == "cluster":
            kept = clusters.rows.drop(columns=["size", "revenue_share"])
            agg = agg.merge(kept, on=["lens", "segment"], how="left")
        else:
            agg["profile"], agg["rules"] = None, None
        parts.append(agg[["lens", "segment", "size", "revenue_share", "profile", "rules"]])
    out = pd.concat(parts, ignore_index=True)
    out["size"] = out["size"].astype(np.int64)
    return out
