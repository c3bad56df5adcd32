"""The three segment lenses of a run, together: RFM grid, value tiers, behavioural clusters.

:func:`segment_customers` is what ``valueseg run`` calls: it takes the run's feature table
(and the value models' scores when there are any) and gives every customer an RFM segment,
a value tier and a named cluster, plus one row per segment for the ``segments`` table
(size, share of revenue, profile, rules). Cluster identities and names are carried over
from the previous run by matching centroids, so a cluster keeps its name from run to run.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from valueseg.errors import ValuesegError
from valueseg.segment.cluster import Segmenter
from valueseg.segment.grid import RfmGrid
from valueseg.segment.migration import carry_names, match_clusters
from valueseg.segment.profile import ClusterProfiles, profile_clusters
from valueseg.segment.rfm import rfm_segments
from valueseg.segment.rules import ClusterRules, cluster_rules
from valueseg.segment.stability import (
    StabilityResult,
    UnstableClustersWarning,
    cluster_stability,
)
from valueseg.segment.tiers import value_tiers

#: Fewer customers than this are not clustered (the other lenses still apply).
MIN_CLUSTER_CUSTOMERS = 50


@dataclass
class SegmentResult:
    """Per-customer lenses and per-segment rows of one run."""

    customers: pd.DataFrame  # customer_id, rfm_r, rfm_f, rfm_m, rfm_segment, value_tier, ...
    segments: pd.DataFrame  # lens, segment, size, revenue_share, profile (JSON), rules
    segmenter: Segmenter | None = None
    notes: list[str] = field(default_factory=list)
    stability: StabilityResult | None = None
    fidelity: float | None = None


def _revenue_share(revenue: pd.Series) -> pd.Series:
    total = float(revenue.sum())
    return revenue / total if total > 0 else revenue * 0.0


def _lens_rows(lens: str, labels: pd.Series, revenue: pd.Series) -> pd.DataFrame:
    grouped = pd.DataFrame({"segment": labels.to_numpy(), "revenue": revenue.to_numpy()})
    agg = grouped.groupby("segment", sort=False).agg(
        size=("revenue", "size"), rev=("revenue", "sum")
    )
    agg = agg.sort_values("size", ascending=False)
    return pd.DataFrame(
        {
            "lens": lens,
            "segment": agg.index.astype(str),
            "size": agg["size"].to_numpy(np.int64),
            "revenue_share": _revenue_share(agg["rev"]).to_numpy(),
            "profile": None,
            "rules": None,
        }
    )


def _previous_clusters(previous: pd.DataFrame | None) -> tuple[pd.DataFrame, dict[int, str]]:
    """Centroids and names of the previous run's clusters (from its ``segments`` rows)."""
    if previous is None or previous.empty:
        return pd.DataFrame(), {}
    rows = previous[previous["lens"] == "cluster"]
    centroids, names = {}, {}
    for _, row in rows.iterrows():
        profile = json.loads(row["profile"]) if row["profile"] else {}
        if "cluster" in profile and "centroid" in profile:
            centroids[int(profile["cluster"])] = profile["centroid"]
            names[int(profile["cluster"])] = str(row["segment"])
    return pd.DataFrame.from_dict(centroids, orient="index"), names


def _clusters(
    features: pd.DataFrame,
    previous: pd.DataFrame | None,
    random_state: int,
    notes: list[str],
) -> tuple[np.ndarray, dict[int, str], pd.DataFrame, Segmenter, StabilityResult, float]:
    seg = Segmenter(random_state=random_state).fit(features)
    labels = np.asarray(seg.labels_)
    profiles = profile_clusters(features, labels)
    rules = cluster_rules(features, labels, random_state=random_state)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnstableClustersWarning)
        stability = cluster_stability(seg, features, random_state=random_state)
    notes += [str(w.message) for w in caught if issubclass(w.category, UnstableClustersWarning)]
    own_names = profiles.names()  # by this fit's cluster number
    old_centroids, old_names = _previous_clusters(previous)
    mapping = {c: c for c in own_names}  # this fit's number -> stored identity
    if not old_centroids.empty:
        mapping = match_clusters(old_centroids, seg.centroids_)
        own_names = carry_names(mapping, old_names, own_names)
        labels = np.array([mapping.get(int(c), int(c)) if c >= 0 else c for c in labels])
    names = {mapping.get(c, c): name for c, name in own_names.items()}  # by identity
    summary = profiles.summary
    rows = []
    for cluster, info in zip(
        summary.index.to_numpy(np.int64).tolist(), summary.to_dict("records"), strict=True
    ):
        ident = mapping.get(cluster, cluster)
        name = names.get(ident, str(info["name"]))
        rows.append(_cluster_row(cluster, ident, name, info, seg, profiles, rules))
    return labels, names, pd.DataFrame(rows), seg, stability, float(rules.fidelity)


def _cluster_row(
    cluster: int,
    ident: int,
    name: str,
    info: dict[Hashable, Any],
    seg: Segmenter,
    profiles: ClusterProfiles,
    rules: ClusterRules,
) -> dict[str, Any]:
    """The ``segments`` row of one cluster: this fit's ``cluster``, stored as ``ident``."""
    centroids = seg.centroids_
    profile = {
        "cluster": ident,
        "share": float(info["share"]),
        "top_features": list(info["top_features"]),
        "lift": _clean_row(profiles.lift, cluster),
        "median": _clean_row(profiles.median, cluster),
        "centroid": _clean_row(centroids, cluster) if cluster in centroids.index else {},
        "rule_precision": _clean_row(rules.per_cluster, cluster)
        if cluster in rules.per_cluster.index
        else {},
    }
    return {
        "lens": "cluster",
        "segment": name,
        "size": int(info["size"]),
        "revenue_share": float(info["revenue_share"]),
        "profile": json.dumps(profile),
        "rules": rules.rules.get(cluster, ""),
    }


def _clean_row(frame: pd.DataFrame, key: int) -> dict[str, float | None]:
    """Row ``key`` of ``frame`` (indexed by cluster, unique) as JSON-ready numbers."""
    row = frame.loc[key]
    assert isinstance(row, pd.Series)  # a unique index gives one row
    return _clean(row)


def _clean(series: pd.Series) -> dict[str, float | None]:
    return {
        str(k): (None if v is None or not np.isfinite(v) else float(v)) for k, v in series.items()
    }


def segment_customers(
    features: pd.DataFrame,
    scores: pd.DataFrame | None = None,
    *,
    grid: RfmGrid | str | Path | None = None,
    previous: pd.DataFrame | None = None,
    random_state: int = 0,
) -> SegmentResult:
    """Every customer's RFM segment, value tier and behavioural cluster.

    Parameters
    ----------
    features : DataFrame
        The run's feature table (``customer_features`` columns).
    scores : DataFrame, optional
        ``customer_id, predicted_clv_365d``: value tiers rank by predicted CLV when present,
        else by historical spend.
    grid : RfmGrid or path, optional
        An R×F grid (or a TOML file of one) replacing the packaged one (``--segments-config``).
    previous : DataFrame, optional
        The previous run's ``segments`` rows: cluster names are carried over.
    random_state : int
        Seed of the clustering and its checks.
    """
    notes: list[str] = []
    frame = features
    if scores is not None and "predicted_clv_365d" in scores.columns:
        frame = features.merge(
            scores[["customer_id", "predicted_clv_365d"]], on="customer_id", how="left"
        )
    rfm = rfm_segments(frame, grid=grid)
    tiers = value_tiers(frame)[["customer_id", "value_tier"]]
    tiers = tiers.assign(value_tier=tiers["value_tier"].astype(str))
    out = rfm.merge(tiers, on="customer_id", how="left")
    revenue = frame["spend_total"].astype(float)
    parts = [
        _lens_rows("rfm", out["rfm_segment"], revenue),
        _lens_rows("value_tier", out["value_tier"], revenue),
    ]
    result = SegmentResult(out, pd.DataFrame(), notes=notes)
    clustered = None
    if len(features) >= MIN_CLUSTER_CUSTOMERS:
        try:
            clustered = _clusters(features, previous, random_state, notes)
        except ValuesegError as exc:  # the library's own refusal: e.g. no column that varies
            notes.append(f"no behavioural clusters: {exc}")
    elif len(features):
        notes.append(
            f"{len(features)} customers: too few to cluster (at least "
            f"{MIN_CLUSTER_CUSTOMERS}); RFM segments and value tiers only."
        )
    if clustered is not None:
        labels, names, rows, seg, stability, fidelity = clustered
        out["cluster"] = labels
        out["segment"] = [names.get(int(c), "Noise") if c >= 0 else "Noise" for c in labels]
        parts.append(rows)
        result.segmenter, result.stability, result.fidelity = seg, stability, fidelity
    else:
        out["cluster"] = pd.array([None] * len(out), dtype="Int64")
        out["segment"] = None
    result.customers = out
    result.segments = pd.concat(parts, ignore_index=True)
    return result
