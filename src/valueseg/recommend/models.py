"""The recommendation models, one interface over implicit's estimators and two baselines.

Every model is fitted on a :class:`TrainData` (interaction matrix, purchases, segment per
customer) and ranks products for customer rows with ``recommend(users, n, exclude)``. The
same filtering (:func:`valueseg.recommend._rank.top_n`) applies to all of them: products
without any interaction in the training data are never recommended, and each customer's
``exclude`` row (already-bought products, docs/recommend.md) is left out.

- :class:`ALS`: implicit's alternating least squares with the confidence of Hu, Koren &
  Volinsky (2008), ``c = 1 + alpha * r`` (or ``1 + alpha * log(1 + r / epsilon)``);
- :class:`BPR`: implicit's Bayesian personalised ranking (Rendle et al. 2009);
- :class:`ItemItem`: implicit's item-item nearest neighbours, cosine or BM25 weighted;
- :class:`SegmentPopularity`: the products most bought in the customer's segment;
- :class:`Popularity`: the products most bought in the shop (the baseline).

References
----------
Hu, Y., Koren, Y. & Volinsky, C. (2008). Collaborative Filtering for Implicit Feedback
Datasets. ICDM 2008, 263-272.

Rendle, S., Freudenthaler, C., Gantner, Z. & Schmidt-Thieme, L. (2009). BPR: Bayesian
Personalized Ranking from Implicit Feedback. UAI 2009, 452-461.

Robertson, S. & Zaragoza, H. (2009). The Probabilistic Relevance Framework: BM25 and
Beyond. Foundations and Trends in Information Retrieval 3(4), 333-389.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from valueseg.errors import InputError, ValuesegError
from valueseg.recommend._rank import row_argmax, top_n

__all__ = [
    "ALS",
    "BPR",
    "MODELS",
    "REASONS",
    "ItemItem",
    "NotFittedError",
    "Popularity",
    "RecommenderModel",
    "SegmentPopularity",
    "TrainData",
    "make_model",
]

#: The ``reason`` each model's rows carry (item-item names the product: "bought with X").
REASONS: dict[str, str] = {
    "als": "customers like you bought",
    "bpr": "customers like you bought",
    "item_item": "bought with {product}",
    "segment_popularity": "popular in your segment",
    "popularity": "popular across the shop",
}
#: Recommendations explained per batch by ItemItem.reasons (bounds its memory).
_REASON_BATCH = 200_000
#: Item-item reasons when the product's strongest link is to itself.
BUY_AGAIN, VIEWED = "buy it again", "you viewed it"


class NotFittedError(ValuesegError, ValueError):
    """A recommender was used before ``fit``."""


@dataclass(frozen=True, eq=False)
class TrainData:
    """What a model is fitted on: customers × products matrices and segments.

    ``matrix`` holds interaction strengths, ``bought`` is 1 where the customer bought the
    product, ``segment`` is each customer's segment code (-1: none). ``candidates`` marks
    products with at least one interaction: the only ones a model may recommend.
    """

    matrix: sp.csr_matrix
    bought: sp.csr_matrix
    segment: np.ndarray
    candidates: np.ndarray

    @classmethod
    def of(
        cls, matrix: sp.csr_matrix, bought: sp.csr_matrix, segment: np.ndarray | None = None
    ) -> TrainData:
        """Build one, deriving ``candidates`` (and no segments when ``segment`` is None).

        Examples
        --------
        >>> m = sp.csr_matrix(np.array([[1.0, 0.0, 0.0], [0.5, 1.0, 0.0]], dtype=np.float32))
        >>> TrainData.of(m, m).candidates.tolist()
        [True, True, False]
        """
        seg = np.full(matrix.shape[0], -1, np.int64) if segment is None else segment
        candidates = np.diff(matrix.tocsc().indptr) > 0
        return cls(matrix.tocsr(), bought.tocsr(), np.asarray(seg, np.int64), candidates)


def one_blas_thread() -> AbstractContextManager[object]:
    """BLAS on one thread, as implicit asks for its ALS (its own threads do the work)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, "blas")


class RecommenderModel(BaseEstimator):
    """Base of the models: ``fit(data)``, ``recommend(users, n, exclude)``, ``reasons``."""

    name: ClassVar[str] = ""
    candidates_: np.ndarray

    def fit(self, data: TrainData) -> Self:
        """Fit on ``data`` and return the model."""
        self._fit(data)
        self.candidates_ = data.candidates
        return self

    def _fit(self, data: TrainData) -> None:
        raise NotImplementedError

    def _top(self, users: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not hasattr(self, "candidates_"):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet. Call fit(data) first."
            )

    def recommend(
        self, users: np.ndarray, n: int, exclude: sp.csr_matrix | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best ``n`` products per customer row: ``(ids, scores)``, padded with -1 / NaN.

        ``exclude`` (customers × products) names products to leave out per customer.
        """
        self._check_fitted()
        return top_n(self._top, np.asarray(users, np.int64), n, self.candidates_, exclude)

    def reasons(self, users: np.ndarray, ids: np.ndarray, products: pd.Index) -> np.ndarray:
        """The reason of every recommended ``ids[j, c]`` for customer ``users[j]``."""
        return np.full(ids.shape, REASONS[self.name], dtype=object)


class _Factors(RecommenderModel):
    """A factorisation: scores are inner products of customer and product factors."""

    model_: Any
    blocked_: np.ndarray

    def _top(self, users: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        blocked = self.blocked_ if self.blocked_.size else None
        with one_blas_thread():
            ids, scores = self.model_.recommend(
                users, None, N=k, filter_already_liked_items=False, filter_items=blocked
            )
        return np.atleast_2d(ids), np.atleast_2d(scores)


class ALS(_Factors):
    """Implicit ALS (Hu, Koren & Volinsky 2008) over implicit's CPU solver.

    The confidence of an interaction of strength ``r`` is ``1 + alpha * r`` (``"linear"``)
    or ``1 + alpha * log(1 + r / epsilon)`` (``"log"``); implicit is given ``c`` itself.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> m = sp.random(60, 20, density=0.2, format="csr", dtype=np.float32, rng=rng)
    >>> model = ALS(factors=4, iterations=3, random_state=0).fit(TrainData.of(m, m))
    >>> ids, scores = model.recommend(np.array([0, 1]), 3)
    >>> ids.shape, bool(np.all(np.diff(scores, axis=1) <= 0))
    ((2, 3), True)
    """

    name = "als"

    def __init__(
        self,
        *,
        factors: int = 64,
        regularization: float = 0.01,
        alpha: float = 1.0,
        iterations: int = 15,
        confidence: str = "linear",
        epsilon: float = 1.0,
        num_threads: int = 0,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.confidence = confidence
        self.epsilon = epsilon
        self.num_threads = num_threads
        self.random_state = random_state

    def confidences(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        """The matrix of confidences ``c`` of Hu et al. for a matrix of strengths ``r``.

        Examples
        --------
        >>> r = sp.csr_matrix(np.array([[2.0, 0.0]], dtype=np.float32))
        >>> ALS(alpha=10.0).confidences(r).toarray()
        array([[21.,  0.]], dtype=float32)
        """
        if self.confidence not in ("linear", "log"):
            raise InputError(
                f"The 'confidence' parameter of ALS must be 'linear' or 'log'. "
                f"Got {self.confidence!r}."
            )
        out = matrix.astype(np.float32, copy=True)
        if self.confidence == "linear":
            out.data = 1.0 + self.alpha * out.data
        else:
            out.data = 1.0 + self.alpha * np.log1p(out.data / self.epsilon)
        return out

    def _fit(self, data: TrainData) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        with one_blas_thread():
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=1.0,  # the confidences are computed here, as Hu et al. define them
                iterations=self.iterations,
                num_threads=self.num_threads,
                random_state=self.random_state,
            )
            model.fit(self.confidences(data.matrix), show_progress=False)
        self.model_ = model
        self.blocked_ = np.flatnonzero(~data.candidates).astype(np.int32)


class BPR(_Factors):
    """Bayesian personalised ranking (Rendle et al. 2009) over implicit's CPU solver.

    Positive items are those with any interaction. ``num_threads=1`` (the default) keeps a
    fit reproducible; more threads update the factors without locks (faster, not repeatable).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> m = sp.random(60, 20, density=0.2, format="csr", dtype=np.float32, rng=rng)
    >>> model = BPR(factors=4, iterations=5, random_state=0).fit(TrainData.of(m, m))
    >>> model.recommend(np.array([0]), 3)[0].shape
    (1, 3)
    """

    name = "bpr"

    def __init__(
        self,
        *,
        factors: int = 64,
        learning_rate: float = 0.01,
        regularization: float = 0.01,
        iterations: int = 100,
        num_threads: int = 1,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.num_threads = num_threads
        self.random_state = random_state

    def _fit(self, data: TrainData) -> None:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        with one_blas_thread():
            model = BayesianPersonalizedRanking(
                factors=self.factors,
                learning_rate=self.learning_rate,
                regularization=self.regularization,
                iterations=self.iterations,
                num_threads=self.num_threads,
                random_state=self.random_state,
            )
            model.fit(data.matrix, show_progress=False)
        self.model_ = model
        self.blocked_ = np.flatnonzero(~data.candidates).astype(np.int32)


class ItemItem(RecommenderModel):
    """Item-item nearest neighbours over implicit's ``ItemItemRecommender``.

    Products are compared by the cosine of their customer columns (``"cosine"``) or after
    BM25 weighting (``"bm25"``, parameters ``K1`` and ``B``), keeping ``K`` neighbours per
    product; a customer's score of a product sums the similarities of the products in
    their history, weighted by strength. The weighting is implicit's own
    (``CosineRecommender``, ``BM25Recommender``), applied here so the matrix reaches
    implicit in CSR form.

    Examples
    --------
    >>> m = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [0, 1, 1]], dtype=np.float32))
    >>> model = ItemItem(K=3).fit(TrainData.of(m, m))
    >>> ids, _ = model.recommend(np.array([2]), 1, exclude=m)
    >>> ids.tolist()  # product 0 is bought with product 1, which customer 2 has
    [[0]]
    """

    name = "item_item"

    def __init__(
        self, *, similarity: str = "cosine", K: int = 50, K1: float = 1.2, B: float = 0.75
    ) -> None:
        self.similarity = similarity
        self.K = K
        self.K1 = K1
        self.B = B

    def _weighted(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        from implicit.nearest_neighbours import bm25_weight, normalize

        if self.similarity == "cosine":
            return normalize(matrix.T).T.tocsr()
        if self.similarity == "bm25":
            return bm25_weight(matrix.T, self.K1, self.B).T.tocsr()
        raise InputError(
            f"The 'similarity' parameter of ItemItem must be 'cosine' or 'bm25'. "
            f"Got {self.similarity!r}."
        )

    def _fit(self, data: TrainData) -> None:
        from implicit.nearest_neighbours import ItemItemRecommender

        model = ItemItemRecommender(K=self.K, num_threads=0)
        model.fit(self._weighted(data.matrix), show_progress=False)
        self.model_ = model
        self.history_ = data.matrix
        self.bought_ = data.bought
        links = model.similarity.T.tocoo()  # row i: each product's similarity to i
        other = links.row != links.col  # a product's link to itself explains nothing
        self.links_ = sp.csr_matrix(
            (links.data[other], (links.row[other], links.col[other])), shape=links.shape
        )

    def _top(self, users: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        ids, scores = self.model_.recommend(
            users, self.history_[users], N=k, filter_already_liked_items=False
        )
        return np.atleast_2d(ids), np.atleast_2d(scores)

    def reasons(self, users: np.ndarray, ids: np.ndarray, products: pd.Index) -> np.ndarray:
        """ "bought with X" for the history product X that adds most to the score.

        When nothing but the product itself links it to the history: "buy it again" if the
        customer bought it, else "you viewed it".
        """
        self._check_fitted()
        out = np.full(ids.shape, None, dtype=object)
        row, col = np.nonzero(ids >= 0)
        labels = np.array([f"bought with {p}" for p in products], dtype=object)
        for start in range(0, row.size, _REASON_BATCH):
            part = slice(start, start + _REASON_BATCH)
            user, item = users[row[part]], ids[row[part], col[part]]
            best = row_argmax(sp.csr_matrix(self.history_[user].multiply(self.links_[item])))
            text = labels[np.maximum(best, 0)]
            again = np.asarray(self.bought_[user, item]).ravel() > 0
            text[best < 0] = np.where(again[best < 0], BUY_AGAIN, VIEWED)
            out[row[part], col[part]] = text
        return out

    def similar(self, items: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` nearest other products of each product: ``(ids, scores)``, padded."""
        self._check_fitted()
        sim = self.model_.similarity[np.asarray(items, np.int64)].tocoo()
        keep = sim.col != np.asarray(items)[sim.row]
        frame = pd.DataFrame({"row": sim.row[keep], "col": sim.col[keep], "s": sim.data[keep]})
        frame = frame.sort_values(["row", "s", "col"], ascending=[True, False, True])
        frame["rank"] = frame.groupby("row").cumcount()
        frame = frame[frame["rank"] < n]
        ids = np.full((len(items), n), -1, np.int64)
        scores = np.full((len(items), n), np.nan)
        ids[frame["row"], frame["rank"]] = frame["col"]
        scores[frame["row"], frame["rank"]] = frame["s"]
        return ids, scores


class Popularity(RecommenderModel):
    """The products bought by the most customers (the baseline every model must beat).

    Examples
    --------
    >>> b = sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 0], [0, 1, 1]], dtype=np.float32))
    >>> Popularity().fit(TrainData.of(b, b)).recommend(np.array([0]), 3)[0].tolist()
    [[1, 0, 2]]
    """

    name = "popularity"

    def __init__(self) -> None:
        pass

    def _fit(self, data: TrainData) -> None:
        counts = np.asarray(data.bought.sum(axis=0), dtype=np.float64).ravel()
        self.counts_ = counts
        self.order_ = _ranking(counts, counts, data.candidates)

    def _top(self, users: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        ids = np.broadcast_to(self.order_[:k], (users.size, min(k, self.order_.size)))
        return ids, self.counts_[ids]


class SegmentPopularity(RecommenderModel):
    """The products bought by the most customers of the customer's segment.

    A customer without a segment gets the shop's popularity.

    Examples
    --------
    >>> b = sp.csr_matrix(np.array([[1, 0, 0], [1, 0, 0], [0, 1, 1], [0, 0, 1]], np.float32))
    >>> data = TrainData.of(b, b, segment=np.array([0, 0, 1, 1]))
    >>> SegmentPopularity().fit(data).recommend(np.array([0, 3]), 1)[0].tolist()
    [[0], [2]]
    """

    name = "segment_popularity"

    def __init__(self) -> None:
        pass

    def _fit(self, data: TrainData) -> None:
        n_seg = int(data.segment.max(initial=-1)) + 1
        code = np.where(data.segment >= 0, data.segment, n_seg)  # n_seg: no segment
        member = sp.csr_matrix(
            (np.ones(code.size), (code, np.arange(code.size))), shape=(n_seg + 1, code.size)
        )
        counts = np.asarray((member @ data.bought).todense(), dtype=np.float64)
        counts[n_seg] = counts.sum(axis=0)  # no segment: the whole shop
        self.counts_ = counts
        self.orders_ = np.stack([_ranking(row, counts[n_seg], data.candidates) for row in counts])
        self.segment_ = code

    def _top(self, users: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.segment_top(self.segment_[users], k)

    def segment_top(self, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most bought products of segment rows ``rows`` (last row: no segment)."""
        ids = self.orders_[rows, :k]
        return ids, np.take_along_axis(self.counts_[rows], ids, axis=1)


def _ranking(counts: np.ndarray, overall: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Candidate products by count, most first; ties by ``overall``, then product code."""
    ids = np.flatnonzero(candidates)
    return ids[np.lexsort((-overall[ids], -counts[ids]))]


#: Model name -> class.
MODELS: dict[str, type[RecommenderModel]] = {
    "als": ALS,
    "bpr": BPR,
    "item_item": ItemItem,
    "segment_popularity": SegmentPopularity,
    "popularity": Popularity,
}


def make_model(
    name: str, params: dict[str, Any] | None = None, random_state: Any = None
) -> RecommenderModel:
    """A model by name with ``params`` (and ``random_state`` where it has one).

    Examples
    --------
    >>> make_model("als", {"factors": 8}, random_state=1)
    ALS(factors=8, random_state=1)
    """
    if name not in MODELS:
        raise InputError(
            f"Unknown recommendation model {name!r}. Expected one of: {', '.join(MODELS)}."
        )
    model = MODELS[name]()
    if "random_state" in model.get_params():
        model.set_params(random_state=random_state)
    return model.set_params(**(params or {}))
