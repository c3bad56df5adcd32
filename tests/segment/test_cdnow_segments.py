"""The behavioural lens on a real shop: CDNOW's order log, shipped in the package.

CDNOW's 23,570 customers bought CDs from January 1997 to June 1998; 59 % of them once by
the end of September 1997, 51 % by the end. The data have nothing but orders (no
categories, discounts, channels or browsing), so the clusters can only say who bought how
much, how often and how lately. Before the lens looked for few clusters and checked its
names, both cutoffs gave two clusters, "One-time buyers" and "Active high-value frequent
buyers" (nothing the RFM grid does not say), with rules of two OR-ed clauses.
Measured with ``random_state`` 0 (see BENCHMARKS.md, "Segments"):

==========  ==  ========  ============================================================
history to  k   fidelity  clusters
==========  ==  ========  ============================================================
1997-09-30  3   0.916     Low-value one-time buyers 10,369; One-time big spenders
                          7,077; Active high-value frequent buyers 6,124
1998-06-30  3   0.904     Low-value one-time buyers 10,023; Active high-value frequent
                          buyers 6,885; One-time big spenders 6,662
==========  ==  ========  ============================================================
"""

from __future__ import annotations

from functools import cache

import pandas as pd
import pytest

from valueseg.datasets import load_cdnow
from valueseg.features.compute import compute_features
from valueseg.io import ingest
from valueseg.segment import Segmenter, cluster_rules, profile_clusters
from valueseg.store import Store


@cache
def cdnow_features(as_of: str) -> pd.DataFrame:
    """CDNOW master's feature table at ``as_of``, through ingest like a user's export."""
    with Store(":memory:") as store:
        ingest(load_cdnow("master"), db=store, now=pd.Timestamp("1998-07-02").to_pydatetime())
        return compute_features(store, pd.Timestamp(as_of).to_pydatetime()).to_pandas()


def _lens(as_of: str, random_state: int = 0):
    features = cdnow_features(as_of)
    seg = Segmenter(random_state=random_state).fit(features)
    rules = cluster_rules(features, seg.labels_, random_state=random_state)
    profiles = profile_clusters(features, seg.labels_)
    return features, seg, rules, profiles


@pytest.fixture(scope="module")
def september():
    return _lens("1997-10-01")


def test_cdnow_to_september_1997_reads_well(september, readable):
    features, seg, rules, profiles = september
    readable(features, seg.labels_, profiles.names(), rules)
    assert rules.fidelity >= 0.85  # measured 0.916
    sizes = profiles.summary.set_index("name")["size"].to_dict()
    assert sizes == {
        "Low-value one-time buyers": 10_369,
        "One-time big spenders": 7_077,
        "Active high-value frequent buyers": 6_124,
    }


def test_cdnow_rules_say_what_sets_each_cluster_apart(september):
    _, _, rules, profiles = september
    by_name = {name: rules.text(c) for c, name in profiles.names().items()}
    assert by_name["One-time big spenders"] == (
        "average order more than 27.5 and last order more than 140 days ago and at most 2 orders"
    )
    assert by_name["Active high-value frequent buyers"].splitlines() == [
        "last order at most 140 days ago and spent more than 30 in total",
        "or more than 2 orders and last order at most 200 days ago",
    ]
    per = rules.per_cluster
    assert (per["precision"] >= 0.9).all() and (per["recall"] >= 0.85).all()


def test_cdnow_says_why_k(september):
    _, seg, _, _ = september
    assert seg.k_accepted_["silhouette"] == [3]
    assert seg.k_reason_ == (
        "k = 3: silhouette and Calinski–Harabasz accept it (within one standard error of "
        "their best); no k has a majority, and no smaller k is accepted as often."
    )


@pytest.mark.slow
@pytest.mark.parametrize(("as_of", "random_state"), [("1998-07-01", 0), ("1997-10-01", 1)])
def test_cdnow_reads_well_at_the_end_and_for_another_seed(as_of, random_state, readable):
    features, seg, rules, profiles = _lens(as_of, random_state)
    readable(features, seg.labels_, profiles.names(), rules)
