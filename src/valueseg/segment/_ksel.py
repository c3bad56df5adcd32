"""Choosing the number of clusters: five criteria, one rule (private to Segmenter).

For every k of the range, the candidate clustering is scored by

- **elbow**: the within-cluster sum of squares (inertia); its knee is the k farthest below
  the chord joining the first and last points of the curve, both axes scaled to [0, 1]
  (the "kneedle" idea of Satopää et al. 2011);
- **silhouette** (higher is better; on a sample of at most 5,000 customers);
- **Davies–Bouldin** (lower is better);
- **Calinski–Harabasz** (higher is better);
- **gap statistic** (Tibshirani, Walther & Hastie 2001): ``log W_k`` of the data against
  its mean over 5 uniform reference sets drawn in the box of the data's principal axes,
  on a sample of at most 4,000 customers; k-means (one k-means++ start, at most 50
  iterations) fits both. The criterion's k is the smallest with
  ``gap(k) >= gap(k+1) - s(k+1)``.

**Several samples.** The scores are computed on ``Segmenter.selection_repeats`` (3)
independent samples, each with its own candidate fits, and averaged per k before the
vote: two k often score within the noise of one sample (on ``make_shop(50_000)`` a single
sample chose the planted k for 15 of 20 (shop, sample) pairs; the mean of three, 20).

**The rule.** Each criterion votes for one k (the knee, the best silhouette, the lowest
Davies–Bouldin, the highest Calinski–Harabasz, the gap's k). The k with the most votes
wins; a tie goes to the tied k with the highest silhouette. Every score is kept
(``Segmenter.k_scores_``) for the report.

**What the criteria see.** They score the preprocessed matrix, in which share columns
(category, channel, discount shares) are shrunk towards the population mix by two
pseudo-orders (:mod:`valueseg.segment._preprocess`, rule 3). Unshrunk, a one-order
customer's shares are one-hot, one-order customers pile up near a few corners, and
silhouette and Davies–Bouldin keep improving as small clusters split those piles by the
one category bought (k = 11–12 on ``make_shop(50_000)``, planted k = 5). Two other fixes
were measured and left out: the points are near-, not exactly, identical, so computing the
criteria on de-duplicated rows changes nothing; and the smallest cluster at k = 11–12
still holds 1–2 % of customers, so a minimum cluster share would have to be tuned to the
data to rule those k out.

References
----------
Satopää, V., Albrecht, J., Irwin, D. & Raghavan, B. (2011). Finding a "Kneedle" in a
Haystack: Detecting Knee Points in System Behavior. ICDCS Workshops, 166-171.

Tibshirani, R., Walther, G. & Hastie, T. (2001). Estimating the number of clusters in a
data set via the gap statistic. JRSS B 63(2), 411-423.

Rousseeuw, P. J. (1987). Silhouettes: a graphical aid to the interpretation and validation
of cluster analysis. J. Comput. Appl. Math. 20, 53-65.

Davies, D. L. & Bouldin, D. W. (1979). A cluster separation measure. IEEE TPAMI 1(2).

Caliński, T. & Harabasz, J. (1974). A dendrite method for cluster analysis.
Communications in Statistics 3(1), 1-27.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = ["CRITERIA", "choose_k", "knee", "mean_scores", "score_ks"]

CRITERIA = ("elbow", "silhouette", "davies_bouldin", "calinski_harabasz", "gap")
SILHOUETTE_ROWS = 5_000
GAP_REFERENCES = 5
GAP_ROWS = 4_000


def inertia(z: np.ndarray, labels: np.ndarray) -> float:
    """Within-cluster sum of squared distances to the cluster means."""
    total = 0.0
    for label in np.unique(labels):
        part = z[labels == label]
        total += float(((part - part.mean(axis=0)) ** 2).sum())
    return total


def knee(ks: np.ndarray, values: np.ndarray) -> int:
    """The k farthest below the chord of a decreasing curve (first k when none is below).

    Examples
    --------
    >>> int(knee(np.arange(1, 7), np.array([100.0, 40, 20, 17, 15, 14])))
    3
    """
    x = (ks - ks[0]) / max(ks[-1] - ks[0], 1)
    span = values.max() - values.min()
    y = (values - values.min()) / span if span > 0 else np.zeros_like(values)
    below = (1 - x) - y
    return int(ks[int(np.argmax(below))]) if below.max() > 1e-9 else int(ks[0])


def _kmeans_log_w(z: np.ndarray, k: int, seed: int) -> float:
    from sklearn.cluster import KMeans

    fit = KMeans(k, n_init=1, max_iter=50, tol=1e-3, random_state=seed).fit(z)
    return float(np.log(max(fit.inertia_, 1e-300)))


def _gap(z: np.ndarray, ks: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Gap and its standard error per k, references in the box of the principal axes."""
    if len(z) > GAP_ROWS:
        z = z[np.sort(rng.choice(len(z), GAP_ROWS, replace=False))]
    centred = z - z.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    rotated = centred @ vt.T
    lo, hi = rotated.min(axis=0), rotated.max(axis=0)
    refs = [
        rng.uniform(lo, hi, size=rotated.shape) @ vt + z.mean(axis=0) for _ in range(GAP_REFERENCES)
    ]
    seeds = rng.integers(0, 2**31 - 1, size=(len(ks), GAP_REFERENCES + 1))
    gap, se = np.empty(len(ks)), np.empty(len(ks))
    for i, k in enumerate(ks):
        log_w = _kmeans_log_w(z, int(k), int(seeds[i, 0]))
        ref = np.array([_kmeans_log_w(r, int(k), int(seeds[i, b + 1])) for b, r in enumerate(refs)])
        gap[i] = ref.mean() - log_w
        se[i] = ref.std() * np.sqrt(1 + 1 / GAP_REFERENCES)
    return gap, se


def score_ks(
    z: np.ndarray,
    ks: list[int],
    cluster: Callable[[np.ndarray, int], np.ndarray],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """All scores per k: ``inertia, silhouette, davies_bouldin, calinski_harabasz, gap,
    gap_se``; ``cluster(z, k)`` gives the candidate labels."""
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

    rows = []
    sil_rows = np.sort(rng.choice(len(z), min(len(z), SILHOUETTE_ROWS), replace=False))
    for k in ks:
        labels = cluster(z, k)
        n_labels = len(np.unique(labels))
        row = {"k": k, "inertia": inertia(z, labels), "clusters_found": n_labels}
        valid = 2 <= n_labels <= len(z) - 1
        sil_labels = labels[sil_rows]
        sil_ok = 2 <= len(np.unique(sil_labels)) <= len(sil_rows) - 1
        row["silhouette"] = silhouette_score(z[sil_rows], sil_labels) if sil_ok else np.nan
        row["davies_bouldin"] = davies_bouldin_score(z, labels) if valid else np.nan
        row["calinski_harabasz"] = calinski_harabasz_score(z, labels) if valid else np.nan
        rows.append(row)
    scores = pd.DataFrame(rows).set_index("k")
    scores["gap"], scores["gap_se"] = _gap(z, np.array(ks), rng)
    return scores


def mean_scores(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """The scores of several selection samples as one table: the mean of each score per
    k (NaN only where every sample's is), the fewest ``clusters_found``.

    Examples
    --------
    >>> a = pd.DataFrame({"clusters_found": [2, 3], "silhouette": [0.2, 0.4]}, index=[2, 3])
    >>> b = pd.DataFrame({"clusters_found": [2, 2], "silhouette": [0.4, np.nan]}, index=[2, 3])
    >>> mean_scores([a, b]).round(3).to_dict("list")
    {'clusters_found': [2, 2], 'silhouette': [0.3, 0.4]}
    """
    stacked = pd.concat(tables)
    out = stacked.groupby(level=0, sort=True).mean()
    if "clusters_found" in out:
        out["clusters_found"] = stacked.groupby(level=0)["clusters_found"].min()
    out.index.name = tables[0].index.name
    return out[list(tables[0].columns)]


def _gap_k(scores: pd.DataFrame) -> int:
    ks = scores.index.to_numpy()
    gap, se = scores["gap"].to_numpy(), scores["gap_se"].to_numpy()
    for i in range(len(ks) - 1):
        if gap[i] >= gap[i + 1] - se[i + 1]:
            return int(ks[i])
    return int(ks[int(np.nanargmax(gap))])


def _best(series: pd.Series, lowest: bool = False) -> int | None:
    clean = series.dropna()
    if clean.empty:
        return None
    values = clean.to_numpy(dtype=float)
    return int(clean.index[int(np.argmin(values) if lowest else np.argmax(values))])


def choose_k(scores: pd.DataFrame) -> tuple[int, dict[str, int | None]]:
    """The rule: each criterion votes; most votes wins; ties go to the best silhouette.

    Examples
    --------
    >>> scores = pd.DataFrame({
    ...     "inertia": [100.0, 40, 30, 25], "silhouette": [0.3, 0.5, 0.4, 0.35],
    ...     "davies_bouldin": [1.0, 0.7, 0.9, 0.8], "calinski_harabasz": [50.0, 80, 70, 90],
    ...     "gap": [0.1, 0.4, 0.42, 0.43], "gap_se": [0.05] * 4}, index=[2, 3, 4, 5])
    >>> choose_k(scores)
    (3, {'elbow': 3, 'silhouette': 3, 'davies_bouldin': 3, 'calinski_harabasz': 5, 'gap': 3})
    """
    ks = scores.index.to_numpy()
    votes: dict[str, int | None] = {
        "elbow": knee(ks, scores["inertia"].to_numpy(dtype=float)),
        "silhouette": _best(scores["silhouette"]),
        "davies_bouldin": _best(scores["davies_bouldin"], lowest=True),
        "calinski_harabasz": _best(scores["calinski_harabasz"]),
        "gap": _gap_k(scores),
    }
    counts = Counter(v for v in votes.values() if v is not None)
    top = max(counts.values())
    tied = [k for k, n in counts.items() if n == top]
    if len(tied) == 1:
        return tied[0], votes
    sil = scores.loc[tied, "silhouette"]
    if sil.notna().any():
        return tied[int(np.nanargmax(sil.to_numpy(dtype=float)))], votes
    return min(tied), votes
