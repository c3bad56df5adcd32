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
independent samples, each with its own candidate fits, and averaged per k; their spread
over the samples is the noise of each score (the standard error of the mean: standard
deviation over the samples / sqrt(repeats); 0 with one sample).

**The rule: the fewest clusters the criteria cannot tell from the best.** Each criterion
*accepts* every k whose mean score is within one standard error of its best (the
one-standard-error rule the gap statistic uses; Tibshirani et al. 2001, and Breiman et al.
1984 for trees):

- silhouette and Calinski–Harabasz: ``score(k) >= best - se(best)``; Davies–Bouldin:
  ``score(k) <= best + se(best)``;
- gap: ``gap(k) >= max gap - s``, with ``s`` the gap's own reference spread and its
  spread over the samples together (``sqrt(s_k² + se²)``; the "global SE max" form of
  the rule);
- elbow: its knee, on the mean curve and on each sample's (it has no score to be within
  the noise of).

The chosen k is the smallest that a majority of the criteria accept. Where no k has a
majority, the smallest of those most criteria accept. Every score and its noise is kept
(``Segmenter.k_scores_``), and so is what each criterion accepted (``k_accepted_``) and
the reason in words (``k_reason_``: "k = 5: elbow, silhouette and Davies–Bouldin agree
(within one standard error of their best)"). On ``make_shop(50_000)`` seeds 0-4 every
criterion but Calinski–Harabasz (which falls with k on these data and accepts only the
smallest) and the gap (which rises to the largest k) accepts the planted 5; on CDNOW,
silhouette and Calinski–Harabasz accept 3 only, Davies–Bouldin 4, the elbow 5.

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

Breiman, L., Friedman, J. H., Olshen, R. A. & Stone, C. J. (1984). Classification and
Regression Trees. Wadsworth (the one-standard-error rule, §3.4.3).

Rousseeuw, P. J. (1987). Silhouettes: a graphical aid to the interpretation and validation
of cluster analysis. J. Comput. Appl. Math. 20, 53-65.

Davies, D. L. & Bouldin, D. W. (1979). A cluster separation measure. IEEE TPAMI 1(2).

Caliński, T. & Harabasz, J. (1974). A dendrite method for cluster analysis.
Communications in Statistics 3(1), 1-27.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = ["CRITERIA", "accepted_ks", "choose_k", "knee", "mean_scores", "score_ks"]

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


#: Criteria with a score, and whether lower is better.
SCORED = (("silhouette", False), ("davies_bouldin", True), ("calinski_harabasz", False))
NAMES = {
    "elbow": "elbow",
    "silhouette": "silhouette",
    "davies_bouldin": "Davies–Bouldin",
    "calinski_harabasz": "Calinski–Harabasz",
    "gap": "gap",
}


def mean_scores(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """The scores of several selection samples as one table: the mean of each score per
    k (NaN only where every sample's is), the fewest ``clusters_found``, and the noise:
    ``<criterion>_se`` the standard error of the mean over the samples (0 for one sample),
    ``gap_se`` the gap's reference spread and its spread over the samples together.

    Examples
    --------
    >>> a = pd.DataFrame({"clusters_found": [2, 3], "silhouette": [0.2, 0.4]}, index=[2, 3])
    >>> b = pd.DataFrame({"clusters_found": [2, 2], "silhouette": [0.4, np.nan]}, index=[2, 3])
    >>> mean_scores([a, b]).round(3).to_dict("list")
    {'clusters_found': [2, 2], 'silhouette': [0.3, 0.4], 'silhouette_se': [0.1, 0.0]}
    """
    stacked = pd.concat(tables)
    groups = stacked.groupby(level=0, sort=True)
    out = groups.mean()
    if "clusters_found" in out:
        out["clusters_found"] = groups["clusters_found"].min()
    out.index.name = tables[0].index.name
    columns = list(tables[0].columns)
    spread = groups.std(ddof=1).div(np.sqrt(groups.count())).fillna(0.0)
    for name, _ in SCORED:
        if name in out:
            out[f"{name}_se"] = spread[name]
            columns.append(f"{name}_se")
    if "gap" in out and "gap_se" in out:
        out["gap_se"] = np.sqrt(groups["gap_se"].mean() ** 2 + spread["gap"] ** 2)
    return out[columns]


def _within(series: pd.Series, noise: pd.Series, lowest: bool = False) -> list[int]:
    """The ks whose score is within one standard error of the best."""
    clean = series.dropna()
    if clean.empty:
        return []
    values = clean.to_numpy(dtype=float)
    at = int(np.argmin(values) if lowest else np.argmax(values))
    se = float(noise.get(clean.index[at], 0.0)) if noise is not None else 0.0
    se = se if np.isfinite(se) else 0.0
    ok = values <= values[at] + se if lowest else values >= values[at] - se
    return [int(k) for k in clean.index[ok]]


def accepted_ks(scores: pd.DataFrame, knees: list[int] | None = None) -> dict[str, list[int]]:
    """Per criterion, the ks within one standard error of its best (module docstring).

    ``knees``: the elbow's knee on each selection sample, accepted with the knee of the
    mean curve.
    """
    ks = scores.index.to_numpy()
    zero = pd.Series(0.0, index=scores.index)
    elbow = {knee(ks, scores["inertia"].to_numpy(dtype=float)), *(knees or [])}
    accepted = {"elbow": sorted(int(k) for k in elbow)}
    for name, lowest in SCORED:
        accepted[name] = _within(scores[name], scores.get(f"{name}_se", zero), lowest)
    accepted["gap"] = _within(scores["gap"], scores.get("gap_se", zero))
    return accepted


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def choose_k(
    scores: pd.DataFrame, knees: list[int] | None = None
) -> tuple[int, dict[str, list[int]], str]:
    """The smallest k a majority of the criteria accept; why, in words.

    Returns the k, what each criterion accepted, and the reason.

    Examples
    --------
    >>> scores = pd.DataFrame({
    ...     "inertia": [100.0, 40, 30, 25], "silhouette": [0.3, 0.5, 0.52, 0.35],
    ...     "davies_bouldin": [1.0, 0.7, 0.9, 0.8], "calinski_harabasz": [50.0, 80, 70, 90],
    ...     "gap": [0.1, 0.4, 0.42, 0.43], "gap_se": [0.05] * 4,
    ...     "silhouette_se": [0.03] * 4}, index=[2, 3, 4, 5])
    >>> k, accepted, why = choose_k(scores)
    >>> k, accepted
    (3, {'elbow': [3], 'silhouette': [3, 4], 'davies_bouldin': [3], \
'calinski_harabasz': [5], 'gap': [3, 4, 5]})
    >>> why.split(" (")[0]
    'k = 3: elbow, silhouette, Davies–Bouldin and gap agree'
    """
    accepted = accepted_ks(scores, knees)
    voting = [c for c in CRITERIA if accepted[c]]
    count = {int(k): sum(int(k) in accepted[c] for c in voting) for k in scores.index}
    majority = [k for k in sorted(count) if count[k] > len(voting) / 2]
    if majority:
        k = majority[0]
    else:
        k = min(k for k, n in count.items() if n == max(count.values()))
    names = [NAMES[c] for c in voting if k in accepted[c]]
    within = "(within one standard error of their best)"
    if majority and len(names) > 1:
        return k, accepted, f"k = {k}: {_and(names)} agree {within}."
    verb = "accepts" if len(names) == 1 else "accept"
    why = f"k = {k}: {_and(names)} {verb} it {within}"
    if not majority:
        why += "; no k has a majority, and no smaller k is accepted as often"
    return k, accepted, why + "."
