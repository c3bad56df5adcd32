"""The three segment lenses of a run, together: RFM grid, value tiers, behavioural clusters.

:func:`segment_customers` is what ``valueseg run`` calls: it takes the run's feature table
(and the value models' scores when there are any) and gives every customer an RFM segment,
a value tier and a named cluster, plus one row per segment for the ``segments`` table
(size, share of revenue, profile, rules). Cluster identities and names are carried over
from the previous run by matching centroids, so a cluster keeps its name from run to run
as long as its members still bear every word of it out (else it takes its new name).

The behavioural lens looks for 3 to 8 clusters (``clusters``, ``--clusters``) and takes
the fewest the k criteria cannot tell from their best; the run's notes say why. One-order
customers are clustered with everyone else, not set apart as a fixed group first: on
``make_shop(50_000)`` a fixed one-time group (and k-means on the repeat buyers) matched
the planted segments with an adjusted Rand index of 0.54-0.56 on seeds 0-1, against 0.83
for one clustering of everyone, because the planted browsers, bargain hunters and
one-time buyers all hold one-order customers. The rules say "one order only" where that
is what sets a cluster apart.
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
from valueseg.segment._preprocess import clustering_columns
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
#: Smallest and largest number of behavioural clusters looked for, by default.
CLUSTERS = (3, 8)


@dataclass
class SegmentResult:
    """Per-customer lenses and per-segment rows of one run."""

    customers: pd.DataFrame  # customer_id, rfm_r, rfm_f, rfm_m, rfm_segment, value_tier, ...
    segments: pd.DataFrame  # lens, segment, size, revenue_share, profile (JSON), rules
    segmenter: Segmenter | None = None
    notes: list[str] = field(default_factory=list)
    stability: StabilityResult | None = None
    fidelity: float | None = None
    k_reason: str | None = None


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


def _previous_clusters(
    previous: pd.DataFrame | None,
) -> tuple[pd.DataFrame, dict[int, str], dict[int, list[str]]]:
    """Centroids, names and name words of the previous run's clusters (from its
    ``segments`` rows; a row without words, from before names were checked, has none)."""
    if previous is None or previous.empty:
        return pd.DataFrame(), {}, {}
    rows = previous[previous["lens"] == "cluster"]
    centroids, names, words = {}, {}, {}
    for _, row in rows.iterrows():
        profile = json.loads(row["profile"]) if row["profile"] else {}
        if "cluster" in profile and "centroid" in profile:
            centroids[int(profile["cluster"])] = profile["centroid"]
            names[int(profile["cluster"])] = str(row["segment"])
            if isinstance(profile.get("name_words"), list):
                words[int(profile["cluster"])] = [str(w) for w in profile["name_words"]]
    return pd.DataFrame.from_dict(centroids, orient="index"), names, words


def _still_backed(
    mapping: dict[int, int],
    old_names: dict[int, str],
    old_words: dict[int, list[str]],
    profiles: ClusterProfiles,
) -> dict[int, str]:
    """The old names whose every word the members of the matched new cluster bear out."""
    kept = {}
    for new, old in mapping.items():
        if old in old_names and old in old_words:
            if set(old_words[old]) <= profiles.backed.get(new, set()):
                kept[old] = old_names[old]
    return kept


def _clusters(
    features: pd.DataFrame,
    previous: pd.DataFrame | None,
    random_state: int,
    clusters: tuple[int, int],
    notes: list[str],
    extra: pd.DataFrame | None = None,
) -> tuple[np.ndarray, dict[int, str], pd.DataFrame, Segmenter, StabilityResult, float]:
    frame, columns, own = _with_extra(features, extra)
    seg = Segmenter(k_range=clusters, random_state=random_state, columns=columns).fit(frame)
    labels = np.asarray(seg.labels_)
    profiles = profile_clusters(features, labels)
    rules = cluster_rules(features, labels, random_state=random_state)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnstableClustersWarning)
        stability = cluster_stability(seg, frame, random_state=random_state)
    notes += [str(w.message) for w in caught if issubclass(w.category, UnstableClustersWarning)]
    own_names = profiles.names()  # by this fit's cluster number
    old_centroids, old_names, old_words = _previous_clusters(previous)
    mapping = {c: c for c in own_names}  # this fit's number -> stored identity
    centroids = _own_centroids(seg, own)
    if not old_centroids.empty:
        mapping = match_clusters(old_centroids, centroids)
        kept = _still_backed(mapping, old_names, old_words, profiles)
        own_names = carry_names(mapping, kept, own_names)
        labels = np.array([mapping.get(int(c), int(c)) if c >= 0 else c for c in labels])
    names = {mapping.get(c, c): name for c, name in own_names.items()}  # by identity
    summary = profiles.summary
    rows = []
    for cluster, info in zip(
        summary.index.to_numpy(np.int64).tolist(), summary.to_dict("records"), strict=True
    ):
        ident = mapping.get(cluster, cluster)
        name = names.get(ident, str(info["name"]))
        rows.append(
            _cluster_row(cluster, ident, name, info, centroids, profiles, rules, seg.k_reason_)
        )
    low, high = clusters
    if low == high:
        notes.append(f"behavioural clusters: {low}, as asked (--clusters {low}).")
    else:
        notes.append(f"behavioural clusters, {low} to {high} looked for: {seg.k_reason_}")
    return labels, names, pd.DataFrame(rows), seg, stability, float(rules.fidelity)


def _with_extra(
    features: pd.DataFrame, extra: pd.DataFrame | None
) -> tuple[pd.DataFrame, list[str] | None, list[str] | None]:
    """(the frame the clustering reads, its columns, the feature table's columns among them):
    the feature table alone, or with ``extra``'s columns joined by ``customer_id``."""
    if extra is None or extra.empty:
        return features, None, None
    own = clustering_columns(features)
    added = [c for c in extra.columns if c != "customer_id" and c not in features.columns]
    frame = features.merge(extra[["customer_id", *added]], on="customer_id", how="left")
    return frame, [*own, *added], own


def _own_centroids(seg: Segmenter, own: list[str] | None) -> pd.DataFrame:
    """The centroids in the feature table's columns: what is stored and matched between
    runs (another run's embedding has other axes)."""
    centroids: pd.DataFrame = seg.centroids_
    return centroids if own is None else centroids[[c for c in centroids.columns if c in own]]


def _cluster_row(
    cluster: int,
    ident: int,
    name: str,
    info: dict[Hashable, Any],
    centroids: pd.DataFrame,
    profiles: ClusterProfiles,
    rules: ClusterRules,
    k_reason: str | None,
) -> dict[str, Any]:
    """The ``segments`` row of one cluster: this fit's ``cluster``, stored as ``ident``."""
    per = rules.per_cluster
    own = rules.rules.get(cluster, [])
    profile = {
        "cluster": ident,
        "share": float(info["share"]),
        "top_features": list(info["top_features"]),
        "name_words": profiles.words.get(cluster, []),
        "name_evidence": profiles.evidence.get(cluster, []),
        "lift": _clean_row(profiles.lift, cluster),
        "median": _clean_row(profiles.median, cluster),
        "centroid": _clean_row(centroids, cluster) if cluster in centroids.index else {},
        "rules": [
            {
                "conditions": [c.as_dict() for c in r.conditions],
                "text": str(r),
                "precision": r.precision,
                "recall": r.recall,
                "customers": r.customers,
            }
            for r in own
        ],
        "rule_fit": _clean_row(per, cluster) if cluster in per.index else {},
        "k_reason": k_reason,
    }
    return {
        "lens": "cluster",
        "segment": name,
        "size": int(info["size"]),
        "revenue_share": float(info["revenue_share"]),
        "profile": json.dumps(profile),
        "rules": rules.text(cluster),
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
    clusters: tuple[int, int] = CLUSTERS,
    extra_features: pd.DataFrame | None = None,
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
    clusters : tuple of two ints, default (3, 8)
        Fewest and most behavioural clusters looked for (``--clusters 3-8``); equal
        bounds fix the number.
    extra_features : DataFrame, optional
        ``customer_id`` and more numeric columns the clustering reads beside the feature
        table's own (the sequence learner's embedding, ``--cluster-features +embedding``).
        Profiles, names and rules still speak of the feature table, and cluster identities
        carry over between runs by the feature table's centroids only.
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
            clustered = _clusters(features, previous, random_state, clusters, notes, extra_features)
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
        result.k_reason = seg.k_reason_
    else:
        out["cluster"] = pd.array([None] * len(out), dtype="Int64")
        out["segment"] = None
    result.customers = out
    result.segments = pd.concat(parts, ignore_index=True)
    return result
