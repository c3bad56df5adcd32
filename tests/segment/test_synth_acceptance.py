"""The issue's acceptance numbers on make_shop(50_000), against its planted segments.

The issue asks: default clustering ARI >= 0.8 against the planted segments, the k rule
picking the planted k (5) for at least 4 of 5 seeds, rule fidelity >= 0.9. Measured with
the default Segmenter (random_state=0) on seeds 0-4, features from the real feature code
(ingest, then ``compute_features``, which now gives ``channel_share_<channel>``), share
columns shrunk by two pseudo-orders (``valueseg.segment._preprocess``, rule 3):

====  ==  =====  ========  ====================  =====================  ==============
seed  k   ARI    fidelity  ARI with k = 5 given  fidelity, k = 5 given  stability, k=5
====  ==  =====  ========  ====================  =====================  ==============
0     6   0.80   0.87      0.83                  0.89                   0.99
1     5   0.83   0.88      0.83                  0.88                   0.99
2     5   0.84   0.87      0.84                  0.87                   0.99
3     7   0.68   0.76      0.84                  0.88                   0.99
4     5   0.85   0.87      0.85                  0.87                   1.00
====  ==  =====  ========  ====================  =====================  ==============

(rules: the default surrogate tree, depth ``ceil(log2 k) + 1`` up to 5; stability: mean
ARI of 3 subsample re-fits on 20,000 customers.) Votes, seeds 0-4: elbow 6, 5, 5, 7, 5;
silhouette 6, 5, 5, 10, 5; Davies-Bouldin 6, 5, 5, 7, 5; Calinski-Harabasz 2 always; gap
7, 3, 8, 6, 9.

History. Before the channel columns and the share shrinkage, k was 11, 12, 2, 12, 7 and
ARI 0.24-0.70. With the channel columns but unshrunk shares: k 11, 12, 12, 12, 6, ARI
0.57, 0.53, 0.50, 0.47, 0.83, fidelity 0.67-0.87: silhouette and Davies-Bouldin improved
up to k = 11-12 because one-order customers have one-hot category shares, pile up near a
few corners, and small clusters split the piles by the category bought. Collapsing
duplicates did not help (no two rows of the selection sample coincide, even rounded to
0.1 sd), nor would a 1-2 % minimum cluster share (the smallest cluster at k = 11-12 held
1.2-2 %). Shrinking the shares (a prior worth one order instead of two: k 6, 5, 8, 5, 4)
fixed it on three seeds of five.

Still short (``xfail(strict=True)``: they will report when a change makes them pass):
the k rule picks 5 on 3 seeds of 5, not 4; rule fidelity is 0.87-0.88 where the clusters
are right, below 0.9 (the depth-4 surrogate tree). Asserted: the default clustering of
seed 0 reaches ARI >= 0.8 (0.802: close to the line; seeds 1, 2, 4 are at 0.83-0.85);
given the planted k, the clustering recovers the planted segments (ARI >= 0.8 on every
seed), its clusters are stable, named distinctly and described by rules most customers
follow.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from valueseg.segment import (
    Segmenter,
    cluster_rules,
    cluster_stability,
    profile_clusters,
)

PLANTED_K = 5
WHY = "the k rule does not point at the planted k (see module docstring)"


@pytest.fixture(scope="module")
def default_fit(shop50k):
    features = shop50k.drop(columns="planted")
    return features, Segmenter(random_state=0).fit(features)


@pytest.fixture(scope="module")
def planted_k_fit(shop50k):
    features = shop50k.drop(columns="planted")
    return features, Segmenter(n_clusters=PLANTED_K, random_state=0).fit(features)


def test_default_clustering_recovers_the_planted_segments(shop50k, default_fit):
    _, seg = default_fit
    assert adjusted_rand_score(shop50k["planted"], seg.labels_) >= 0.8  # measured 0.802


@pytest.mark.xfail(strict=True, reason="fidelity 0.87 < 0.9 (see module docstring)")
def test_rules_of_the_default_clustering_are_faithful(default_fit):
    features, seg = default_fit
    assert cluster_rules(features, seg.labels_).fidelity >= 0.9


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=WHY)
def test_the_k_rule_picks_the_planted_k(features_of):
    picked = []
    for seed in range(5):
        features = features_of(50_000, seed).drop(columns="planted")
        picked.append(Segmenter(random_state=0).fit(features).n_clusters_)
    assert sum(k == PLANTED_K for k in picked) >= 4, picked


def test_with_the_planted_k_the_clusters_follow_the_segments(shop50k, planted_k_fit):
    _, seg = planted_k_fit
    assert seg.n_clusters_ == PLANTED_K
    assert adjusted_rand_score(shop50k["planted"], seg.labels_) >= 0.8  # measured 0.83-0.85
    assert seg.k_scores_ is None
    # the columns follow the documented rule, whatever the generator
    assert not any(c.startswith("attr_") or c.endswith(("_30d", "_90d")) for c in seg.columns_)
    assert {"frequency", "recency", "T", "monetary_value"}.isdisjoint(seg.columns_)


def test_profiles_names_rules_and_stability_with_the_planted_k(planted_k_fit):
    features, seg = planted_k_fit
    profiles = profile_clusters(features, seg.labels_)
    names = profiles.names()
    assert len(set(names.values())) == PLANTED_K
    assert profiles.summary["size"].sum() == len(features)
    assert profiles.summary["revenue_share"].sum() == pytest.approx(1.0)
    rules = cluster_rules(features, seg.labels_)
    assert rules.fidelity >= 0.8  # depth 4 for five clusters; measured 0.87-0.89
    assert rules.fidelity == np.mean(rules.assigned == seg.labels_)
    assert all(rules.rules.values())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no UnstableClustersWarning
        stability = cluster_stability(seg, features, n_resamples=3, max_rows=20_000)
    assert stability.stable and stability.mean >= 0.6


def test_k_selection_scores_are_kept_for_the_report(default_fit):
    _, seg = default_fit
    assert list(seg.k_scores_.index) == list(range(2, 13))
    assert seg.k_scores_.notna().all().all()
    assert seg.n_clusters_ in seg.k_votes_.values()
    assert seg.algorithm_ == "kmeans"
