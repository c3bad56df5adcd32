"""Are the clusters real? Subsample re-clustering and the adjusted Rand index.

The fitted :class:`~valueseg.segment.Segmenter` is refit, with the same k, on
``n_resamples`` random subsamples of ``fraction`` of the customers (without replacement:
duplicated rows of a bootstrap would inflate the agreement). Each refit labels the
subsample, and its agreement with the original labels of the same customers is the
adjusted Rand index (Hubert & Arabie 1985): 1 for the same partition, about 0 for chance.
Below a mean ARI of 0.6 the clusters are called unstable: the result says so and an
:class:`UnstableClustersWarning` is issued.

References
----------
Hubert, L. & Arabie, P. (1985). Comparing partitions. Journal of Classification 2, 193-218.

Lange, T., Roth, V., Braun, M. L. & Buhmann, J. M. (2004). Stability-based validation of
clustering solutions. Neural Computation 16(6), 1299-1323.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import clone

from valueseg.errors import InputError

__all__ = ["STABLE_ARI", "StabilityResult", "UnstableClustersWarning", "cluster_stability"]

#: Mean ARI below which clusters are reported unstable.
STABLE_ARI = 0.6


class UnstableClustersWarning(UserWarning):
    """The clusters change a lot when the customers are resampled (mean ARI < 0.6)."""


@dataclass
class StabilityResult:
    """Agreement of re-clusterings with the original clusters.

    Attributes
    ----------
    ari : ndarray
        Adjusted Rand index of each resample.
    mean, min : float
    stable : bool
        ``mean >= threshold``.
    threshold : float
    fraction : float
        Share of customers in each subsample.
    """

    ari: np.ndarray
    mean: float
    min: float
    stable: bool
    threshold: float
    fraction: float


def cluster_stability(
    segmenter: Any,
    X: Any,
    *,
    n_resamples: int = 10,
    fraction: float = 0.8,
    max_rows: int | None = 50_000,
    threshold: float = STABLE_ARI,
    random_state: int | None = 0,
) -> StabilityResult:
    """Refit on subsamples with the same k and compare with the fitted labels (ARI).

    Parameters
    ----------
    segmenter : Segmenter
        Fitted on ``X``.
    X : DataFrame or array-like
        The data ``segmenter`` was fitted on (same rows, same order).
    n_resamples : int, default 10
    fraction : float, default 0.8
        Share of the customers in each subsample.
    max_rows : int or None, default 50000
        Cap on the subsample size, so large shops stay quick.
    threshold : float, default 0.6
        Mean ARI below which the clusters are unstable.
    random_state : int or None, default 0

    Returns
    -------
    StabilityResult

    Warns
    -----
    UnstableClustersWarning
        When the mean ARI is below ``threshold``.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from valueseg.segment import Segmenter
    >>> X, _ = make_blobs(n_samples=500, centers=3, n_features=2, random_state=0)
    >>> seg = Segmenter(n_clusters=3, random_state=0).fit(X)
    >>> result = cluster_stability(seg, X, n_resamples=5)
    >>> result.stable, bool(result.mean > 0.9)
    (True, True)
    """
    from sklearn.metrics import adjusted_rand_score

    labels = getattr(segmenter, "labels_", None)
    if labels is None:
        raise InputError("cluster_stability needs a fitted Segmenter: call fit(X) first.")
    if not (0 < fraction < 1) or not (isinstance(n_resamples, int) and n_resamples >= 1):
        raise InputError(
            "cluster_stability needs 0 < fraction < 1 and n_resamples >= 1. "
            f"Got fraction={fraction!r}, n_resamples={n_resamples!r}."
        )
    n = len(labels)
    size = max(3, int(fraction * n))
    if max_rows is not None:
        size = min(size, max_rows)
    rng = np.random.default_rng(random_state)
    params: dict[str, Any] = {"random_state": None}
    if segmenter.algorithm_ != "hdbscan":
        params["n_clusters"] = max(2, segmenter.n_clusters_)
    params["algorithm"] = segmenter.algorithm_
    scores = []
    for _ in range(n_resamples):
        rows = np.sort(rng.choice(n, size, replace=False))
        params["random_state"] = int(rng.integers(0, 2**31 - 1))
        refit = clone(segmenter).set_params(**params)
        part = X.iloc[rows] if hasattr(X, "iloc") else np.asarray(X)[rows]
        refit.fit(part)
        scores.append(adjusted_rand_score(labels[rows], refit.labels_))
    ari = np.array(scores)
    result = StabilityResult(
        ari, float(ari.mean()), float(ari.min()), bool(ari.mean() >= threshold), threshold, fraction
    )
    if not result.stable:
        warnings.warn(
            f"Clusters are unstable: mean adjusted Rand index {result.mean:.2f} over "
            f"{n_resamples} subsamples of {size:,} customers (below {threshold}). Treat the "
            "cluster lens with care; try another k or algorithm.",
            UnstableClustersWarning,
            stacklevel=2,
        )
    return result
