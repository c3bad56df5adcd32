"""The issues' acceptance numbers on make_shop(50_000), against its planted segments.

Issue 12 asked: default clustering ARI >= 0.8 against the planted segments, the k rule
picking the planted k (5) for at least 4 of 5 seeds, rule fidelity >= 0.9. Issue 25 asks
for clusters a marketer can read: 3-8 of them, at most 2 rules of at most 3 conditions
each, in words, placing at least 80 % of customers right, names unique and backed by the
members; and the ARI and the five planted segments still found. Measured with the
default Segmenter (random_state=0) on seeds 0-4, features from the real feature code
(ingest, then ``compute_features``), share columns and the return rate shrunk by two
pseudo-orders / pseudo-lines (``valueseg.segment._preprocess``, rule 3), candidate
k-means of k selection with 4 starts, scores averaged over 3 selection samples, k in 3-8
by the one-standard-error rule, the final k-means with 10 starts:

====  ==  =====  ========================  ====================  ===================
seed  k   ARI    fidelity (before: tree)   ARI with k = 5 given  longest rules
====  ==  =====  ========================  ====================  ===================
0     5   0.833  0.872 (0.903)             0.833                 2 x 3 (was 4 x 6)
1     5   0.834  0.860 (0.913)             0.834                 2 x 3 (4 x 6)
2     5   0.844  0.836 (0.904)             0.844                 2 x 3 (4 x 6)
3     5   0.835  0.849 (0.911)             0.835                 2 x 3 (4 x 6)
4     5   0.849  0.845 (0.907)             0.849                 2 x 3 (3 x 6)
====  ==  =====  ========================  ====================  ===================

Accepted within one standard error of their best, seeds 0-4: elbow, silhouette and
Davies-Bouldin 5 only; Calinski-Harabasz 3 only; the gap 8, 6-8, 7-8, 7-8, 8. Before
issue 25 (k in 2-12, a vote of each criterion's best): elbow and silhouette 5 always;
Davies-Bouldin 5, 5, 4, 5, 4; Calinski-Harabasz 2 always; gap 7, 11, 12, 7, 6.


History. Before the channel columns and the share shrinkage, k was 11, 12, 2, 12, 7 and
ARI 0.24-0.70. With the channel columns but unshrunk shares: k 11, 12, 12, 12, 6, ARI
0.47-0.83: silhouette and Davies-Bouldin improved up to k = 11-12 because one-order
customers have one-hot category shares and small clusters split them by the category
bought. With the shares shrunk: k 6, 5, 5, 7, 5 (ARI 0.68-0.85). At k = 6 the extra
cluster held the ~1,100 one-order customers with one of their 1-3 lines returned
(``return_rate`` 0.33-1); and with one start, seed 3's candidate k-means at k = 5 was
caught in a poor optimum (inertia barely below k = 4's), so every criterion preferred
6-7. Shrinking the return rate over ``purchase_lines`` alone gave k 5, 5, 7, 5, 2; with 4
starts per candidate as well, 5 on every seed. Rules from a depth-4 tree (about the same
leaf budget, grown level by level) had fidelity 0.873-0.884.

Two fragilities found in CI. (1) ``top_category_share`` is a sum over a customer's lines
divided by a total summed in another order; DuckDB's threads change that order from run to
run, and on some runs one customer's share read 1.0000000000000002. The column then failed
the "in [0, 1]" test of a share, went unshrunk, and seed 0 chose k = 7 (ARI 0.69, fidelity
0.884) on those runs only. Shares are now capped at 1 where they are computed, and the
preprocessing accepts a share a rounding error outside [0, 1]. (2) With the scores of one
20,000-customer sample, four other samples per seed chose k = 5 for 15 of 20 (seed,
sample) pairs (6 three times, 7 and 2 once); averaged over three samples, 20 of 20. The
whole default fit with ``random_state`` 0-3 on seeds 0-4 now picks k = 5 in 20 of 20 fits
(one sample, ``random_state`` 0-5: 27 of 30).
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
    assert seg.n_clusters_ == PLANTED_K
    assert adjusted_rand_score(shop50k["planted"], seg.labels_) >= 0.8  # measured 0.833
    assert seg.k_reason_ == (
        "k = 5: elbow, silhouette and Davies–Bouldin agree (within one standard error of "
        "their best)."
    )


def test_the_default_clusters_read_well(default_fit, readable):
    """3-8 clusters, at most 2 rules x 3 conditions, fidelity >= 0.8, names backed."""
    features, seg = default_fit
    rules = cluster_rules(features, seg.labels_)
    names = profile_clusters(features, seg.labels_).names()
    readable(features, seg.labels_, names, rules)
    assert rules.fidelity >= 0.83  # measured 0.872
    assert sorted(names.values()) == [
        "Active big spenders",
        "Discount-driven customers",
        "Lapsed big spenders",
        "One-time browsers",
        "One-time buyers",
    ]


@pytest.mark.slow
def test_the_k_rule_picks_the_planted_k_and_every_shop_reads_well(features_of, readable):
    picked = []
    for seed in range(5):
        features = features_of(50_000, seed).drop(columns="planted")
        seg = Segmenter(random_state=0).fit(features)
        picked.append(seg.n_clusters_)
        names = profile_clusters(features, seg.labels_).names()
        readable(features, seg.labels_, names, cluster_rules(features, seg.labels_))
    assert sum(k == PLANTED_K for k in picked) >= 4, picked  # measured 5 of 5


def test_with_the_planted_k_the_clusters_follow_the_segments(shop50k, planted_k_fit):
    _, seg = planted_k_fit
    assert seg.n_clusters_ == PLANTED_K
    assert adjusted_rand_score(shop50k["planted"], seg.labels_) >= 0.8  # measured 0.833
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
    assert rules.fidelity >= 0.8  # measured 0.833-0.872 on seeds 0-4
    assert rules.fidelity == np.mean(rules.assigned == seg.labels_)
    assert all(rules.rules.values())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no UnstableClustersWarning
        stability = cluster_stability(seg, features, n_resamples=3, max_rows=20_000)
    assert stability.stable and stability.mean >= 0.6


def test_k_selection_scores_are_kept_for_the_report(default_fit):
    _, seg = default_fit
    assert list(seg.k_scores_.index) == list(range(3, 9))
    assert seg.k_scores_.notna().all().all()
    assert seg.n_clusters_ in seg.k_votes_.values()
    assert all(seg.n_clusters_ in seg.k_accepted_[c] for c in ("elbow", "silhouette"))
    assert seg.algorithm_ == "kmeans"
