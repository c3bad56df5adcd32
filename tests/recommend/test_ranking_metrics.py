"""Ranking and catalogue metrics: by hand, by property, and against implicit.evaluation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from valueseg.recommend import ALS, TrainData, catalogue_metrics, ranking_metrics
from valueseg.recommend.models import one_blas_thread


def _rel(rows: list[list[int]], n_items: int = 10) -> sp.csr_matrix:
    dense = np.zeros((len(rows), n_items))
    for r, items in enumerate(rows):
        dense[r, items] = 1
    return sp.csr_matrix(dense)


def test_metrics_of_known_rankings_by_hand():
    # customer 0: relevant {2, 5}; ranked 2, 7, 5 -> hits at ranks 1 and 3
    # customer 1: relevant {1, 3, 4, 8}; ranked 0, 1, 9 -> hit at rank 2
    # customer 2: relevant {6}; ranked 0, 1, -1 (two slots only) -> no hit
    recs = np.array([[2, 7, 5], [0, 1, 9], [0, 1, -1]])
    m = ranking_metrics(recs, _rel([[2, 5], [1, 3, 4, 8], [6]]), k=3)
    d = [1 / math.log2(i + 1) for i in (1, 2, 3)]
    assert m["precision"].tolist() == pytest.approx([2 / 3, 1 / 3, 0.0])
    assert m["recall"].tolist() == pytest.approx([1.0, 1 / 4, 0.0])
    assert m["ndcg"].tolist() == pytest.approx(
        [(d[0] + d[2]) / (d[0] + d[1]), d[1] / (d[0] + d[1] + d[2]), 0.0]
    )
    # MAP normaliser min(k, |test|): (1/1 + 2/3) / 2 and (1/2) / 3
    assert m["map"].tolist() == pytest.approx([(1 + 2 / 3) / 2, 0.5 / 3, 0.0])
    assert m["hit_rate"].tolist() == [1.0, 1.0, 0.0]


def test_ranks_beyond_k_do_not_count():
    m = ranking_metrics(np.array([[0, 1, 2, 3]]), _rel([[3]]), k=2)
    assert m.iloc[0].tolist() == [0.0, 0.0, 0.0, 0.0, 0.0]


def test_catalogue_metrics_by_hand():
    candidates = np.ones(4, dtype=bool)
    reach = np.array([8.0, 4.0, 2.0, 1.0])
    # every customer gets product 0: one product takes every slot
    one = catalogue_metrics(np.array([[0], [0]]), 1, candidates, reach, 8)
    assert one == {"coverage": 0.25, "gini": pytest.approx(0.75), "novelty": 0.0}
    # each product once: even
    even = catalogue_metrics(np.array([[0, 1], [2, 3]]), 2, candidates, reach, 8)
    assert even["coverage"] == 1.0 and even["gini"] == pytest.approx(0.0)
    assert even["novelty"] == pytest.approx((0 + 1 + 2 + 3) / 4)  # -log2(8/8), (4/8), ...


def test_catalogue_metrics_of_empty_lists():
    out = catalogue_metrics(np.full((2, 3), -1), 3, np.ones(4, bool), np.ones(4), 2)
    assert out["coverage"] == 0.0 and math.isnan(out["gini"])


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 6),
    st.lists(
        st.lists(st.integers(0, 11), min_size=1, max_size=12, unique=True), min_size=1, max_size=6
    ),
)
def test_metrics_lie_in_unit_interval_and_perfect_rankings_score_one(k, relevant):
    rel = _rel(relevant, n_items=12)
    rng = np.random.default_rng(len(relevant) * 13 + k)
    recs = np.stack([rng.permutation(12)[:k] for _ in relevant])
    m = ranking_metrics(recs, rel, k)
    assert ((m >= 0) & (m <= 1 + 1e-12)).all().all()
    perfect = np.stack([np.r_[r, [i for i in range(12) if i not in r]][:k] for r in relevant])
    best = ranking_metrics(perfect, rel, k)
    assert best["ndcg"].to_numpy() == pytest.approx(1.0)
    assert best["map"].to_numpy() == pytest.approx(1.0)


@pytest.fixture(scope="module")
def fitted_als():
    rng = np.random.default_rng(3)
    train = sp.random(120, 40, density=0.15, format="csr", dtype=np.float32, rng=rng)
    train.data[:] = 1.0
    model = ALS(factors=6, iterations=5, random_state=0).fit(TrainData.of(train, train))
    return model, train, rng


def _implicit_lists(model, train, users, k):
    with one_blas_thread():
        ids, _ = model.model_.recommend(users, train[users], N=k)
    return ids


def test_ndcg_and_map_equal_implicit_evaluation(fitted_als):
    from implicit.evaluation import ranking_metrics_at_k

    model, train, rng = fitted_als
    test = sp.random(120, 40, density=0.1, format="csr", dtype=np.float32, rng=rng)
    test.data[:] = 1.0
    test = (test - test.multiply(train > 0)).tocsr()  # test products are new to the customer
    test.eliminate_zeros()
    users = np.flatnonzero(np.diff(test.indptr))
    k = 5
    with one_blas_thread():
        theirs = ranking_metrics_at_k(model.model_, train, test, K=k, show_progress=False)
    ours = ranking_metrics(_implicit_lists(model, train, users, k), test[users], k).mean()
    assert ours["ndcg"] == pytest.approx(theirs["ndcg"], rel=1e-9)
    assert ours["map"] == pytest.approx(theirs["map"], rel=1e-9)


def test_precision_equals_implicit_when_every_customer_has_k_test_products(fitted_als):
    from implicit.evaluation import precision_at_k

    model, train, rng = fitted_als
    k = 3
    dense = np.zeros(train.shape, dtype=np.float32)
    for u in range(0, train.shape[0], 2):  # half the customers, k or more new products each
        new = np.flatnonzero(train[u].toarray().ravel() == 0)
        dense[u, rng.choice(new, size=k + u % 3, replace=False)] = 1.0
    test = sp.csr_matrix(dense)
    users = np.flatnonzero(np.diff(test.indptr))
    with one_blas_thread():
        theirs = precision_at_k(model.model_, train, test, K=k, show_progress=False)
    ours = ranking_metrics(_implicit_lists(model, train, users, k), test[users], k)
    assert ours["precision"].mean() == pytest.approx(theirs, rel=1e-9)
