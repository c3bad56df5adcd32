"""The models' shared contract: candidates, exclusions, padding, reasons, errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.sparse as sp

from valueseg.errors import InputError
from valueseg.recommend import (
    ALS,
    BPR,
    ItemItem,
    NotFittedError,
    Popularity,
    SegmentPopularity,
    TrainData,
)
from valueseg.recommend._rank import top_n
from valueseg.recommend.models import BUY_AGAIN, VIEWED, make_model

# products 0-4; product 4 has no interaction at all
MATRIX = np.array(
    [
        [1.0, 1.0, 0.0, 0.0, 0.0],
        [1.0, 1.0, 0.1, 0.0, 0.0],
        [0.0, 1.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 1.0, 0.0],
        [0.0, 0.0, 0.0, 0.1, 0.0],
    ],
    dtype=np.float32,
)


@pytest.fixture
def data() -> TrainData:
    m = sp.csr_matrix(MATRIX)
    bought = sp.csr_matrix((MATRIX >= 1).astype(np.float32))
    return TrainData.of(m, bought, segment=np.array([0, 0, 1, 1, -1]))


def _all_models() -> list:
    return [
        ALS(factors=2, iterations=3, random_state=0),
        BPR(factors=2, iterations=5, random_state=0),
        ItemItem(K=5),
        ItemItem(similarity="bm25", K=5),
        Popularity(),
        SegmentPopularity(),
    ]


@pytest.mark.parametrize("model", _all_models(), ids=lambda m: repr(m))
def test_never_recommends_excluded_or_unseen_products(model, data):
    model.fit(data)
    users = np.arange(5)
    ids, scores = model.recommend(users, 5, data.bought)
    assert ids.shape == (5, 5)
    for u in users:
        row = ids[u][ids[u] >= 0]
        assert 4 not in row  # no interaction anywhere: not a candidate
        assert not set(row) & set(np.flatnonzero(MATRIX[u] >= 1))
        assert len(set(row)) == row.size
        assert np.isnan(scores[u][ids[u] < 0]).all()
    if model.name != "item_item":  # item-item ranks only the neighbours of the history
        # four candidates, minus what each customer bought: lists as full as they can be
        assert (ids >= 0).sum(axis=1).tolist() == [2, 2, 2, 2, 4]


def test_popularity_ranks_by_buyers(data):
    ids, scores = Popularity().fit(data).recommend(np.array([4]), 4)
    # buyers: product 0: 2, 1: 3, 2: 2, 3: 1; ties by product code
    assert ids.tolist() == [[1, 0, 2, 3]]
    assert scores.tolist() == [[3.0, 2.0, 2.0, 1.0]]


def test_segment_popularity_by_hand(data):
    model = SegmentPopularity().fit(data)
    ids, _ = model.recommend(np.array([0, 2, 4]), 2)
    # segment 0 (customers 0, 1) bought 0 and 1 twice each: the tie goes to the shop's
    # favourite, 1; segment 1 bought 1, 2, 2, 3; customer 4 has no segment: the whole shop
    assert ids.tolist() == [[1, 0], [2, 1], [1, 0]]


def test_item_item_reasons_name_the_product_bought_with(data):
    model = ItemItem(K=5).fit(data)
    products = np.array(["p0", "p1", "p2", "p3", "p4"], dtype=object)
    # customer 3 holds 2 and 3: product 1 is linked to 2 only
    reasons = model.reasons(np.array([3, 1, 1]), np.array([[1], [0], [2]]), products)
    assert reasons[0, 0] == "bought with p2"
    # customer 1 bought 0 and links to it through 1 (strongest); customer 1 only viewed 2
    assert reasons[1, 0] == "bought with p1"
    assert reasons[2, 0] == "bought with p1"


def test_item_item_reasons_without_other_links():
    m = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 0.1]], dtype=np.float32))
    bought = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 0.0]], dtype=np.float32))
    model = ItemItem(K=5).fit(TrainData.of(m, bought))
    names = np.array(["x", "y"], dtype=object)
    reasons = model.reasons(np.array([0, 1]), np.array([[0], [1]]), names)
    assert reasons.ravel().tolist() == [BUY_AGAIN, VIEWED]


def test_similar_leaves_out_the_product_itself(data):
    ids, scores = ItemItem(K=5).fit(data).similar(np.array([0, 4]), 3)
    assert 0 not in ids[0] and ids[0, 0] == 1  # bought together by customers 0 and 1
    assert (ids[1] == -1).all() and np.isnan(scores[1]).all()


def test_als_is_reproducible_with_a_seed(data):
    def lists(seed):
        return (
            ALS(factors=3, iterations=4, random_state=seed).fit(data).recommend(np.arange(5), 3)[0]
        )

    np.testing.assert_array_equal(lists(7), lists(7))


def test_als_confidence_follows_hu_koren_volinsky():
    r = sp.csr_matrix(np.array([[1.0, 3.0]], dtype=np.float32))
    np.testing.assert_allclose(ALS(alpha=2.0).confidences(r).toarray(), [[3.0, 7.0]])
    log = ALS(alpha=2.0, confidence="log", epsilon=1.0).confidences(r).toarray()
    np.testing.assert_allclose(log, [[1 + 2 * np.log(2), 1 + 2 * np.log(4)]], rtol=1e-6)


def test_top_n_asks_for_enough_to_cover_exclusions():
    asked = []

    def fetch(users, k):
        asked.append(k)
        ids = np.tile(np.arange(k), (len(users), 1))
        return ids, -ids.astype(float)

    exclude = sp.csr_matrix(np.array([[1, 1, 1, 0, 0, 0, 0, 0], [0] * 8]))
    ids, _ = top_n(fetch, np.array([0, 1]), 2, np.ones(8, bool), exclude)
    assert ids.tolist() == [[3, 4], [0, 1]]
    assert sorted(asked) == [2, 6]  # 2 for customer 1; 2 + 4 (3 rounded up) for customer 0


@pytest.mark.parametrize(
    ("model", "msg"),
    [
        (
            ALS(confidence="square"),
            "The 'confidence' parameter of ALS must be 'linear' or 'log'. Got 'square'.",
        ),
        (
            ItemItem(similarity="jaccard"),
            "The 'similarity' parameter of ItemItem must be 'cosine' or 'bm25'. Got 'jaccard'.",
        ),
    ],
)
def test_bad_hyperparameters_are_refused(model, msg, data):
    with pytest.raises(InputError, match=re.escape(msg)):
        model.fit(data)


def test_unknown_model_and_not_fitted():
    msg = (
        "Unknown recommendation model 'svd'. Expected one of: als, bpr, item_item, "
        "segment_popularity, popularity."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        make_model("svd")
    with pytest.raises(NotFittedError, match=re.escape("This ALS is not fitted yet.")):
        ALS().recommend(np.array([0]), 3)
