"""Behavioural clusters: :class:`Segmenter`, the third lens of docs/design.md §6.

A scikit-learn clusterer over the customer feature table: choose the columns, preprocess
them (:mod:`valueseg.segment._preprocess`), choose k (:mod:`valueseg.segment._ksel`), fit
one of five algorithms, and keep everything the report needs.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any, Protocol, Self, TypeGuard

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from valueseg.errors import InputError
from valueseg.segment import _ksel
from valueseg.segment._preprocess import Preprocessor, clustering_columns

__all__ = ["ALGORITHMS", "MINIBATCH_ABOVE", "Segmenter"]

ALGORITHMS = ("auto", "kmeans", "minibatch", "gmm", "agglomerative", "hdbscan")
#: ``algorithm="auto"`` uses mini-batch k-means above this many customers, else k-means.
MINIBATCH_ABOVE = 200_000
#: Ward clustering needs the pairwise distances: it is fit on a sample of this many.
WARD_ROWS = 5_000
#: HDBSCAN is fit on a sample of this many; the others take the label of their nearest
#: sampled neighbour (noise included).
HDBSCAN_ROWS = 20_000
K_MAX = 30
#: Fewest k-means / mini-batch k-means starts of the final fit on every customer.
FINAL_STARTS = 10

#: ``cluster(z, k) -> labels``: one candidate clustering while k is chosen.
ClusterFit = Callable[[np.ndarray, int], np.ndarray]


class _Predictor(Protocol):
    """The fitted model a Segmenter keeps: labels for points of the transformed space."""

    def predict(self, z: np.ndarray) -> np.ndarray: ...


def _param_error(name: str, expected: str, got: Any) -> InputError:
    return InputError(f"The '{name}' parameter of Segmenter must be {expected}. Got {got!r}.")


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


class Segmenter(ClusterMixin, TransformerMixin, BaseEstimator):
    """Behavioural clusters of customers, with k chosen from the data.

    Share columns (``cat_share_*``, ``channel_share_*``, ``top_category_share``,
    ``discount_order_share``) are shrunk towards their population mean by two
    pseudo-orders when the table has ``orders_total``: a share measured on one order is
    one-hot, and unshrunk such customers form piles that the k criteria reward splitting
    (see :mod:`valueseg.segment._preprocess`, rule 3).

    Parameters
    ----------
    algorithm : {"auto", "kmeans", "minibatch", "gmm", "agglomerative", "hdbscan"}
        ``kmeans``: k-means++ (Arthur & Vassilvitskii 2007); ``minibatch``: mini-batch
        k-means (Sculley 2010); ``gmm``: Gaussian mixture, full covariances;
        ``agglomerative``: Ward on a sample of 5,000 (dendrogram kept), the others assigned
        to the nearest cluster mean; ``hdbscan``: HDBSCAN (Campello et al. 2013) on a sample
        of 20,000, the others labelled like their nearest sampled neighbour; noise is -1
        and k is not chosen. ``auto``: ``minibatch`` above 200,000 customers, else
        ``kmeans``.
    n_clusters : "auto" or int in [2, 30]
        ``"auto"`` chooses k in ``k_range`` by the rule of :mod:`valueseg.segment._ksel`
        (the smallest k that a majority of five criteria cannot tell from their best, on
        the preprocessed matrix). Ignored by ``hdbscan``.
    k_range : tuple of two ints, default (3, 8)
        Smallest and largest k tried, both included (capped below the number of
        customers); equal bounds fix k. Three to eight segments is what a marketing team
        can act on; widen it to let the data ask for more.
    columns : list of str, optional
        Columns of a DataFrame to cluster on; default the documented rule of
        :func:`~valueseg.segment.clustering_columns`. Arrays use every column.
    pca : bool or float, default False
        True keeps the principal components explaining 95 % of the variance; a float in
        (0, 1) sets that share.
    correlation_threshold : float, default 0.95
        Near-duplicate columns above this ``|Spearman ρ|`` are dropped.
    max_missing : float, default 0.5
        Columns missing for a larger share of customers are dropped.
    selection_size : int, default 20000
        k is chosen on seeded samples of at most this many customers (one candidate fit
        per k and sample, ``n_init`` k-means++ starts); the final model is then fit on all
        of them.
    selection_repeats : int, default 3
        Independent samples (each with its own candidate fits, silhouette sample and gap
        references) whose scores are averaged before the criteria vote. One sample is
        noisy where two k score alike: on ``make_shop(50_000)`` one 20,000-customer
        sample chose the planted k = 5 for 15 of 20 (shop seed, sample) pairs, the mean
        of three for all 20. ``agglomerative`` on at most 5,000 customers scores its one
        tree of everyone once.
    n_init : int, default 4
        Restarts of k-means / mini-batch k-means, for the candidates of k selection and
        the final fit (and of the mixture in the final fit). One start is not enough to
        choose k: a k-means caught in a poor local optimum at the planted k scores worse
        than a good one at k + 1 on every criterion. The final k-means / mini-batch fit
        on everyone makes at least ``FINAL_STARTS`` (10): on ``make_shop(50_000)`` seed 0
        one in four single starts at k = 5 ends in a poorer optimum (inertia 952,000
        against 898,000; adjusted Rand index with the planted segments 0.53-0.65 against
        0.83), and for one seed of the final fit all four starts did.
    min_cluster_size : int, optional
        For ``hdbscan``; default 1 % of the sample, at least 5.
    random_state : int, numpy Generator or None
        Seed of every random step; resolved in ``fit``.

    Attributes
    ----------
    labels_ : ndarray of int, shape (n_samples,)
        Cluster of each customer of the fit (-1: noise, ``hdbscan`` only).
    n_clusters_ : int
        Number of clusters (the chosen k; for ``hdbscan``, the clusters found).
    algorithm_ : str
        The algorithm used (``auto`` resolved).
    k_scores_ : DataFrame or None
        One row per k tried: ``inertia, clusters_found, silhouette, davies_bouldin,
        calinski_harabasz, gap, gap_se`` (the mean over the ``selection_repeats``
        samples; ``clusters_found`` the fewest), and the standard errors over the
        samples ``silhouette_se, davies_bouldin_se, calinski_harabasz_se`` (``gap_se``:
        the gap's reference spread and its spread over the samples together); None when
        k was given or for ``hdbscan``.
    k_accepted_ : dict of str to list of int, or None
        The ks each criterion accepts: within one standard error of its best.
    k_votes_ : dict or None
        The smallest k each criterion accepts (None: the criterion had no score).
    k_reason_ : str or None
        Why k is what it is, in words ("k = 5: elbow, silhouette and Davies–Bouldin agree
        (within one standard error of their best)."); None for ``hdbscan``.
    cluster_centers_ : ndarray, shape (n_clusters_, n_components)
        Mean of each cluster in the transformed space (see :meth:`transform`).
    centroids_ : DataFrame
        Mean of each used column per cluster, in the columns' own units (for matching
        clusters across runs).
    columns_ : list of str
        Columns the clustering used after the drops.
    dropped_columns_ : dict of str to str
        Columns left out by the data-driven drops, with the reason.
    correlation_ : CorrelationReport
        Pearson and Spearman matrices of the candidate columns, near-duplicate pairs.
    dendrogram_ : ndarray or None
        SciPy linkage matrix of the Ward sample (``agglomerative`` only).
    model_ : estimator
        The fitted scikit-learn (or SciPy-backed) model.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Names of the columns seen in ``fit`` (DataFrames with string column names only).

    References
    ----------
    Arthur, D. & Vassilvitskii, S. (2007). k-means++: the advantages of careful seeding.
    SODA '07, 1027-1035.

    Sculley, D. (2010). Web-scale k-means clustering. WWW '10, 1177-1178.

    Campello, R. J. G. B., Moulavi, D. & Sander, J. (2013). Density-based clustering based
    on hierarchical density estimates. PAKDD 2013, 160-172.

    Ward, J. H. (1963). Hierarchical grouping to optimize an objective function. JASA 58.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> X, _ = make_blobs(n_samples=600, centers=4, n_features=3, random_state=0)
    >>> seg = Segmenter(k_range=(2, 6), random_state=0).fit(X)
    >>> seg.n_clusters_, seg.algorithm_
    (4, 'kmeans')
    >>> sorted(seg.k_votes_)
    ['calinski_harabasz', 'davies_bouldin', 'elbow', 'gap', 'silhouette']
    >>> seg.k_reason_.split(":")[0]
    'k = 4'
    >>> bool((seg.predict(X) == seg.labels_).all())
    True

    A fit that raises leaves the Segmenter as it was (unfitted, or with its previous fit);
    ``fit(X, y=None)`` lets it stand in a scikit-learn ``Pipeline``.
    """

    labels_: np.ndarray
    n_clusters_: int
    algorithm_: str
    k_scores_: pd.DataFrame | None
    k_votes_: dict[str, int | None] | None
    k_accepted_: dict[str, list[int]] | None
    k_reason_: str | None
    cluster_centers_: np.ndarray
    centroids_: pd.DataFrame
    columns_: list[str]
    dropped_columns_: dict[str, str]
    dendrogram_: np.ndarray | None
    model_: _Predictor
    preprocessor_: Preprocessor

    def __init__(
        self,
        *,
        algorithm: str = "auto",
        n_clusters: int | str = "auto",
        k_range: tuple[int, int] = (3, 8),
        columns: list[str] | None = None,
        pca: bool | float = False,
        correlation_threshold: float = 0.95,
        max_missing: float = 0.5,
        selection_size: int = 20_000,
        selection_repeats: int = 3,
        n_init: int = 4,
        min_cluster_size: int | None = None,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.algorithm = algorithm
        self.n_clusters = n_clusters
        self.k_range = k_range
        self.columns = columns
        self.pca = pca
        self.correlation_threshold = correlation_threshold
        self.max_missing = max_missing
        self.selection_size = selection_size
        self.selection_repeats = selection_repeats
        self.n_init = n_init
        self.min_cluster_size = min_cluster_size
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # -- parameters -------------------------------------------------------------------

    def _check_params(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise _param_error("algorithm", f"one of {', '.join(ALGORITHMS)}", self.algorithm)
        n = self.n_clusters
        if n != "auto" and not (_is_int(n) and 2 <= n <= K_MAX):
            raise _param_error("n_clusters", f"'auto' or an int in [2, {K_MAX}]", n)
        k = self.k_range
        ok = (
            isinstance(k, tuple | list)
            and len(k) == 2
            and all(_is_int(v) for v in k)
            and 2 <= k[0] <= k[1] <= K_MAX
        )
        if not ok:
            raise _param_error(
                "k_range", f"two ints (low, high) with 2 <= low <= high <= {K_MAX}", k
            )
        p = self.pca
        if not (isinstance(p, bool) or (isinstance(p, float) and 0 < p < 1)):
            raise _param_error("pca", "True, False or a share of variance in (0, 1)", p)
        t = self.correlation_threshold
        if not (isinstance(t, numbers.Real) and 0 < t <= 1):
            raise _param_error("correlation_threshold", "a number in (0, 1]", t)
        m = self.max_missing
        if not (isinstance(m, numbers.Real) and 0 <= m <= 1):
            raise _param_error("max_missing", "a number in [0, 1]", m)
        if not (_is_int(self.selection_size) and self.selection_size >= 100):
            raise _param_error("selection_size", "an int >= 100", self.selection_size)
        if not (_is_int(self.selection_repeats) and self.selection_repeats >= 1):
            raise _param_error("selection_repeats", "an int >= 1", self.selection_repeats)
        if not (_is_int(self.n_init) and self.n_init >= 1):
            raise _param_error("n_init", "an int >= 1", self.n_init)
        mcs = self.min_cluster_size
        if mcs is not None and not (_is_int(mcs) and mcs >= 2):
            raise _param_error("min_cluster_size", "None or an int >= 2", mcs)

    # -- input ------------------------------------------------------------------------

    def _frame_columns(self, frame: pd.DataFrame) -> list[str]:
        if self.columns is None:
            chosen = clustering_columns(frame)
            if not chosen:
                raise InputError(
                    "No column of the frame is usable for clustering: "
                    f"{', '.join(map(str, frame.columns))}. Pass columns=[...] naming "
                    "numeric behaviour columns."
                )
            return chosen
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise InputError(
                f"Columns not found in the frame: {', '.join(missing)}. "
                f"Available: {', '.join(map(str, frame.columns))}."
            )
        return list(self.columns)

    def _input(self, X: Any, *, reset: bool) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            if reset:
                X = X[self._frame_columns(X)]
            elif hasattr(self, "feature_names_in_"):
                names = list(self.feature_names_in_)
                if set(names) < set(map(str, X.columns)):
                    X = X[names]
        return validate_data(self, X, reset=reset, ensure_all_finite="allow-nan", dtype=np.float64)

    # -- fitting ----------------------------------------------------------------------

    def fit(self, X: Any, y: object = None) -> Self:
        """Choose columns, preprocess, choose k and cluster.

        Parameters
        ----------
        X : DataFrame or array-like, shape (n_customers, n_columns)
            The feature table (one row per customer) or a numeric matrix.
        y : ignored

        Returns
        -------
        Segmenter
            The fitted estimator. A fit that raises leaves it as it was: unfitted, or with
            its previous fit.
        """
        before = dict(self.__dict__)
        try:
            self._fit(X)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise
        return self

    def _fit(self, X: Any) -> None:
        self._check_params()
        x = self._input(X, reset=True)
        n = len(x)
        if n < 3:
            raise InputError(
                f"Segmenter needs at least 3 customers to cluster; got n_samples = {n}."
            )
        seed = np.random.default_rng(self.random_state).integers(0, 2**31 - 1)
        rng = np.random.default_rng(seed)
        names = [str(c) for c in getattr(self, "feature_names_in_", range(x.shape[1]))]
        pca = 0.95 if self.pca is True else (self.pca or None)
        self.preprocessor_ = Preprocessor(
            names, self.max_missing, self.correlation_threshold, pca, int(seed)
        ).fit(x)
        if not self.preprocessor_.kept:
            raise InputError(
                "Every column was dropped before clustering: "
                + "; ".join(f"{c}: {why}" for c, why in self.preprocessor_.dropped.items())
                + ". Pass columns that vary between customers."
            )
        self.columns_ = list(self.preprocessor_.kept)
        self.dropped_columns_ = dict(self.preprocessor_.dropped)
        self.correlation_ = self.preprocessor_.correlation
        z = self.preprocessor_.transform(x)
        self.algorithm_ = self._resolve_algorithm(n)
        self.k_scores_, self.k_votes_, self.dendrogram_ = None, None, None
        self.k_accepted_, self.k_reason_ = None, None
        if self.algorithm_ == "hdbscan":
            self._fit_hdbscan(z, rng)
        else:
            low, high = self.k_range
            if self.n_clusters != "auto":
                k = int(self.n_clusters)
                self.k_reason_ = f"k = {k}: given (n_clusters={k})."
            elif low == high:
                k = low
                self.k_reason_ = f"k = {k}: the only k asked for (k_range=({low}, {high}))."
            else:
                k = self._choose_k(z, rng)
            self._fit_k(z, min(k, n - 1), rng)
        self.labels_ = np.asarray(self.labels_, dtype=np.int64)
        self._summarise(x, z)

    def _resolve_algorithm(self, n: int) -> str:
        if self.algorithm != "auto":
            return str(self.algorithm)
        return "minibatch" if n > MINIBATCH_ABOVE else "kmeans"

    def _candidate(self, seed: int) -> ClusterFit:
        """``cluster(z, k) -> labels`` used while choosing k."""
        from sklearn.cluster import KMeans, MiniBatchKMeans
        from sklearn.mixture import GaussianMixture

        def cluster(z: np.ndarray, k: int) -> np.ndarray:
            if self.algorithm_ == "gmm":
                return GaussianMixture(k, random_state=seed, reg_covar=1e-4).fit(z).predict(z)
            if self.algorithm_ == "minibatch":
                return MiniBatchKMeans(k, n_init=self.n_init, random_state=seed).fit(z).labels_
            return KMeans(k, n_init=self.n_init, random_state=seed).fit(z).labels_

        return cluster

    def _choose_k(self, z: np.ndarray, rng: np.random.Generator) -> int:
        from threadpoolctl import threadpool_limits

        size = WARD_ROWS if self.algorithm_ == "agglomerative" else self.selection_size
        size = min(len(z), size)
        low, high = self.k_range
        ks = list(range(low, min(high, size - 1) + 1)) or [max(2, min(low, size - 1))]
        # a Ward tree of every customer is the same tree each time: build it once
        whole_tree = self.algorithm_ == "agglomerative" and size == len(z)
        tables = []
        for _ in range(1 if whole_tree else self.selection_repeats):
            sample = z[np.sort(rng.choice(len(z), size, replace=False))]
            # small fits: one thread each is fastest, and threads fight on a busy machine
            with threadpool_limits(limits=1):
                tables.append(_ksel.score_ks(sample, ks, self._selection_fit(sample, rng), rng))
        scores = _ksel.mean_scores(tables)
        knees = [_ksel.knee(t.index.to_numpy(), t["inertia"].to_numpy(dtype=float)) for t in tables]
        k, accepted, reason = _ksel.choose_k(scores, knees if len(tables) > 1 else None)
        self.k_scores_, self.k_accepted_, self.k_reason_ = scores, accepted, reason
        self.k_votes_ = {c: (min(ks_) if ks_ else None) for c, ks_ in accepted.items()}
        return k

    def _selection_fit(self, sample: np.ndarray, rng: np.random.Generator) -> ClusterFit:
        """``cluster(sample, k) -> labels`` for the candidates of one selection sample."""
        if self.algorithm_ != "agglomerative":
            return self._candidate(int(rng.integers(0, 2**31 - 1)))
        from scipy.cluster.hierarchy import fcluster, linkage

        tree = linkage(sample, method="ward")

        def cluster(part: np.ndarray, k: int) -> np.ndarray:
            return fcluster(tree, k, criterion="maxclust") - 1

        return cluster

    def _fit_k(self, z: np.ndarray, k: int, rng: np.random.Generator) -> None:
        from sklearn.cluster import KMeans, MiniBatchKMeans
        from sklearn.mixture import GaussianMixture

        seed = int(rng.integers(0, 2**31 - 1))
        starts = max(self.n_init, FINAL_STARTS)
        if self.algorithm_ == "kmeans":
            kmeans = KMeans(k, n_init=starts, random_state=seed).fit(z)
            self.model_, self.labels_ = kmeans, kmeans.labels_
        elif self.algorithm_ == "minibatch":
            self.model_ = MiniBatchKMeans(k, n_init=starts, batch_size=4096, random_state=seed).fit(
                z
            )
            self.labels_ = self.model_.predict(z)
        elif self.algorithm_ == "gmm":
            self.model_ = GaussianMixture(
                k, n_init=self.n_init, random_state=seed, reg_covar=1e-4
            ).fit(z)
            self.labels_ = self.model_.predict(z)
        else:
            self._fit_ward(z, k, rng)
        present = np.unique(self.labels_)
        if len(present) < k:  # a mixture component or mini-batch centre left empty
            self.model_ = _Restricted(self.model_, present)
            self.labels_ = self.model_.predict(z)

    def _fit_ward(self, z: np.ndarray, k: int, rng: np.random.Generator) -> None:
        from scipy.cluster.hierarchy import fcluster, linkage

        rows = np.sort(rng.choice(len(z), min(len(z), WARD_ROWS), replace=False))
        self.dendrogram_ = linkage(z[rows], method="ward")
        sample_labels = fcluster(self.dendrogram_, k, criterion="maxclust") - 1
        means = np.vstack([z[rows][sample_labels == c].mean(axis=0) for c in range(k)])
        self.model_ = _NearestMean(means)
        self.labels_ = self.model_.predict(z)

    def _fit_hdbscan(self, z: np.ndarray, rng: np.random.Generator) -> None:
        from sklearn.cluster import HDBSCAN

        rows = np.sort(rng.choice(len(z), min(len(z), HDBSCAN_ROWS), replace=False))
        size = self.min_cluster_size or max(5, round(0.01 * len(rows)))
        fit = HDBSCAN(min_cluster_size=min(size, max(len(rows) - 1, 2)), copy=True).fit(z[rows])
        self.model_ = _NearestNeighbourLabel(z[rows], fit.labels_, fit)
        self.labels_ = self.model_.predict(z)

    def _summarise(self, x: np.ndarray, z: np.ndarray) -> None:
        clusters = np.unique(self.labels_[self.labels_ >= 0])
        self.n_clusters_ = len(clusters)
        self.cluster_centers_ = (
            np.vstack([z[self.labels_ == c].mean(axis=0) for c in clusters])
            if len(clusters)
            else np.empty((0, z.shape[1]))
        )
        used = x[:, self.preprocessor_.columns_]
        frame = pd.DataFrame(used, columns=self.columns_)
        self.centroids_ = frame[self.labels_ >= 0].groupby(self.labels_[self.labels_ >= 0]).mean()
        self.centroids_.index.name = "cluster"

    # -- using the fit ----------------------------------------------------------------

    def transform(self, X: Any) -> np.ndarray:
        """The matrix the algorithm clusters: chosen columns, imputed, logged, scaled (PCA).

        Parameters
        ----------
        X : DataFrame or array-like
            Same columns as in ``fit``.

        Returns
        -------
        ndarray, shape (n_samples, n_components)
        """
        check_is_fitted(self, "labels_")
        return self.preprocessor_.transform(self._input(X, reset=False))

    def predict(self, X: Any) -> np.ndarray:
        """Cluster of new customers (the fitted model applied; -1 is HDBSCAN noise).

        Parameters
        ----------
        X : DataFrame or array-like
            Same columns as in ``fit``.

        Returns
        -------
        ndarray of int, shape (n_samples,)
        """
        check_is_fitted(self, "labels_")
        z = self.transform(X)
        return np.asarray(self.model_.predict(z), dtype=np.int64)

    def predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """:meth:`predict` of a float64 matrix of the columns ``feature_names_in_``, in
        order, that the caller checked (finite or NaN): real-time scoring's few rows,
        where scikit-learn's check of a frame costs more than the prediction."""
        check_is_fitted(self, "labels_")
        z = self.preprocessor_.transform(matrix)
        return np.asarray(_predict_checked(self.model_, z), dtype=np.int64)


def _predict_checked(model: Any, z: np.ndarray) -> np.ndarray:
    """``model.predict(z)`` of a checked float64 matrix. For k-means, the nearest centre
    computed here as scikit-learn's Lloyd step does (``|c|^2 - 2 z.c``, the first of equal
    distances): its ``predict`` checked the input again, which cost a few rows more than
    the arithmetic (tests/segment compares the two)."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    centers: np.ndarray | None = getattr(model, "cluster_centers_", None)
    plain = type(model) in (KMeans, MiniBatchKMeans)
    if plain and centers is not None and z.dtype == centers.dtype and np.isfinite(z).all():
        distances = np.einsum("ij,ij->i", centers, centers)[None, :] - 2.0 * (z @ centers.T)
        return np.asarray(distances.argmin(axis=1))
    return np.asarray(model.predict(z))


class _Restricted:
    """A k-means or mixture model restricted to its non-empty clusters, renumbered 0..m-1."""

    def __init__(self, model: Any, present: np.ndarray) -> None:
        self.model, self.present = model, present

    def predict(self, z: np.ndarray) -> np.ndarray:
        if hasattr(self.model, "predict_proba"):
            return self.model.predict_proba(z)[:, self.present].argmax(axis=1)
        return self.model.transform(z)[:, self.present].argmin(axis=1)


class _NearestMean:
    """Assign to the nearest of a set of cluster means (Ward's clusters, for all customers)."""

    def __init__(self, means: np.ndarray) -> None:
        self.means = means

    def predict(self, z: np.ndarray) -> np.ndarray:
        d = ((z[:, None, :] - self.means[None, :, :]) ** 2).sum(axis=2)
        return d.argmin(axis=1)


class _NearestNeighbourLabel:
    """The label of the nearest sampled customer (HDBSCAN's clusters, for all customers)."""

    def __init__(self, points: np.ndarray, labels: np.ndarray, model: Any) -> None:
        from sklearn.neighbors import KNeighborsClassifier

        self.model = model
        self.knn = KNeighborsClassifier(n_neighbors=1).fit(points, labels)

    def predict(self, z: np.ndarray) -> np.ndarray:
        return self.knn.predict(z)
