"""Stability by subsampling, migration matrices and matched cluster identities."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from valueseg.errors import InputError
from valueseg.segment import (
    Segmenter,
    UnstableClustersWarning,
    carry_names,
    cluster_stability,
    match_clusters,
    migration_matrices,
    migration_matrix,
)


def test_separated_clusters_are_stable():
    X, _ = make_blobs(n_samples=600, centers=3, cluster_std=0.5, random_state=4)
    seg = Segmenter(n_clusters=3, random_state=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = cluster_stability(seg, X, n_resamples=4, random_state=1)
    assert result.stable and result.mean > 0.95
    assert result.ari.shape == (4,) and result.min <= result.mean


def test_clusters_of_noise_are_unstable_and_warn():
    X = np.random.default_rng(0).uniform(size=(400, 6))
    seg = Segmenter(n_clusters=9, random_state=0, n_init=1).fit(X)
    msg = "Clusters are unstable: mean adjusted Rand index"
    with pytest.warns(UnstableClustersWarning, match=re.escape(msg)):
        result = cluster_stability(seg, X, n_resamples=4, random_state=0)
    assert not result.stable and result.mean < 0.6


def test_stability_needs_a_fit():
    with pytest.raises(InputError, match=re.escape("cluster_stability needs a fitted Segmenter")):
        cluster_stability(Segmenter(), np.zeros((5, 2)))


BEFORE = pd.DataFrame(
    {
        "customer_id": ["a", "b", "c", "d", "e", "f"],
        "rfm_segment": ["Champions", "Champions", "At Risk", "Hibernating", "At Risk", "Champions"],
        "value_tier": ["Top 1%", "Rest", "Rest", "Rest", "Top 5%", "Rest"],
    }
)
AFTER = pd.DataFrame(
    {
        "customer_id": ["a", "b", "c", "e", "f", "g"],
        "rfm_segment": ["Champions", "At Risk", "Hibernating", "At Risk", "At Risk", "Champions"],
        "value_tier": ["Top 1%", "Rest", "Rest", "Rest", "Top 5%", "Rest"],
    }
)


def test_migration_matrix_by_hand():
    m = migration_matrix(BEFORE, AFTER, "rfm_segment")
    # a: C->C, b: C->AR, c: AR->H, d: H->gone, e: AR->AR, f: C->AR, g: new->C
    expected = pd.DataFrame(
        [[1, 0, 1, 0], [2, 1, 0, 0], [0, 0, 0, 1], [0, 1, 0, 0]],
        index=pd.Index(["At Risk", "Champions", "Hibernating", "(new)"], name="before"),
        columns=pd.Index(["At Risk", "Champions", "Hibernating", "(gone)"], name="after"),
    )
    pd.testing.assert_frame_equal(m, expected)
    inner = migration_matrix(BEFORE, AFTER, "rfm_segment", include_new_and_gone=False)
    assert inner.to_numpy().sum() == 5 and "(new)" not in inner.index
    order = ["Champions", "At Risk", "Hibernating"]
    assert list(migration_matrix(BEFORE, AFTER, "rfm_segment", order=order).columns) == [
        *order,
        "(gone)",
    ]


def test_every_lens_present_gets_a_matrix():
    out = migration_matrices(BEFORE, AFTER)
    assert sorted(out) == ["rfm_segment", "value_tier"]
    assert out["value_tier"].loc["Top 5%", "Rest"] == 1
    assert out["value_tier"].loc["Rest", "Top 5%"] == 1


def test_migration_errors():
    msg = "Column 'segment' not found in the before run's frame. Available: customer_id, "
    with pytest.raises(InputError, match=re.escape(msg)):
        migration_matrix(BEFORE, AFTER)
    twice = pd.concat([AFTER, AFTER.iloc[:1]])
    msg = "The after run's frame has customers on more than one row; pass one row per customer."
    with pytest.raises(InputError, match=re.escape(msg)):
        migration_matrix(BEFORE, twice, "rfm_segment")


def test_permuted_clusters_come_back_matched():
    X, _ = make_blobs(n_samples=900, centers=5, n_features=4, random_state=7)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(4)])
    first = Segmenter(n_clusters=5, random_state=0).fit(frame)
    rng = np.random.default_rng(3)
    permutation = rng.permutation(5)
    # the same clusters, numbered differently, and their centroids slightly moved
    moved = first.centroids_.iloc[np.argsort(permutation)] * 1.01
    moved.index = range(5)
    mapping = match_clusters(first.centroids_, moved)
    assert mapping == {new: int(permutation[new]) for new in range(5)} or mapping == {
        new: int(np.argsort(np.argsort(permutation))[new]) for new in range(5)
    }
    # a refit on a resample finds the same clusters under other numbers: matching undoes it
    second = Segmenter(n_clusters=5, random_state=11).fit(frame.sample(frac=0.9, random_state=2))
    mapping = match_clusters(first.centroids_, second.centroids_)
    relabelled = np.array([mapping[c] for c in second.predict(frame)])
    assert (relabelled == first.labels_).mean() > 0.99
    assert sorted(mapping.values()) == list(range(5))


def test_more_new_clusters_get_fresh_numbers_and_names_carry_over():
    old = pd.DataFrame({"x": [0.0, 10.0]}, index=[0, 1])
    new = pd.DataFrame({"x": [10.2, 30.0, 0.1]}, index=[0, 1, 2])
    mapping = match_clusters(old, new)
    assert mapping == {0: 1, 1: 2, 2: 0}
    names = carry_names(mapping, {0: "Browsers", 1: "Big spenders"}, {1: "Browsers"})
    assert names == {0: "Big spenders", 1: "Browsers 2", 2: "Browsers"}


def test_match_needs_shared_columns():
    msg = "match_clusters: the two runs' centroids share no column; cannot match clusters."
    with pytest.raises(InputError, match=re.escape(msg)):
        match_clusters(pd.DataFrame({"a": [1.0]}), pd.DataFrame({"b": [1.0]}))
