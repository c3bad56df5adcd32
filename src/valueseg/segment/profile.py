"""Cluster profiles and automatic names (design.md §6, issue item 4).

For each cluster: size, share of customers, share of revenue, mean and median of every
feature, lift (cluster mean / population mean) and the features that set it apart.

**How far a cluster stands out on a feature** is measured by its *position*: the mean,
over its members, of their percentile rank in the whole population (ties count half).
0.5 is the population's own; 0.8 means a member beats a random customer 80 % of the time
(the common-language effect size of McGraw & Wong 1992). It needs no scaling, is not
thrown by skewed money columns, and treats the many zeros of sparse columns fairly. The
top distinguishing features are those with the position farthest from 0.5.

**Names** are built from this vocabulary, one word group per slot, the first matching
entry of each slot winning ("high" = position ≥ 0.7, "low" = position ≤ 0.3):

========  ====================  ==============================================
slot      words                 when
========  ====================  ==============================================
status    Lapsed                days_since_last_order high
          New                   tenure_days low
          Active                days_since_last_order low
value     High-value            spend_total high (left out before "big spenders")
          Low-value             spend_total low
habit     Discount-driven       discount_order_share high
          Return-prone          return_rate high
noun      browsers              view_to_purchase_rate low or cart_abandonment_rate high
          big spenders          avg_order_value high
          frequent buyers       orders_total high
          one-time buyers       median orders_total of the cluster is 1
          occasional buyers     orders_total low
          customers             otherwise
========  ====================  ==============================================

Examples: "High-value frequent buyers", "Lapsed big spenders", "Discount-driven occasional
buyers". A slot whose feature is not in the table is skipped. **No two clusters share a
name**: clusters are named from the largest down, and a name already taken gets the
feature on which the cluster differs most from the one that took it ("Occasional buyers
(toys)", "… (high mean session duration)"), then a number if still taken. HDBSCAN's
noise (-1) is "Unclustered".

References
----------
McGraw, K. O. & Wong, S. P. (1992). A common language effect size statistic.
Psychological Bulletin 111(2), 361-365.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from valueseg.errors import InputError

__all__ = ["VOCABULARY", "ClusterProfiles", "name_clusters", "profile_clusters"]

HIGH, LOW = 0.7, 0.3
NOISE_NAME = "Unclustered"
#: (slot, words, [(feature, "high" | "low"), ...] any of which qualifies), in order.
VOCABULARY: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("status", "Lapsed", (("days_since_last_order", "high"),)),
    ("status", "New", (("tenure_days", "low"),)),
    ("status", "Active", (("days_since_last_order", "low"),)),
    ("value", "High-value", (("spend_total", "high"),)),
    ("value", "Low-value", (("spend_total", "low"),)),
    ("habit", "Discount-driven", (("discount_order_share", "high"),)),
    ("habit", "Return-prone", (("return_rate", "high"),)),
    ("noun", "browsers", (("view_to_purchase_rate", "low"), ("cart_abandonment_rate", "high"))),
    ("noun", "big spenders", (("avg_order_value", "high"),)),
    ("noun", "frequent buyers", (("orders_total", "high"),)),
    ("noun", "one-time buyers", (("orders_total", "median1"),)),
    ("noun", "occasional buyers", (("orders_total", "low"),)),
)
_SLOTS = ("status", "value", "habit", "noun")
_IDS = {"customer_id", "run_id"}


@dataclass
class ClusterProfiles:
    """Everything known about each cluster.

    Attributes
    ----------
    summary : DataFrame
        Index ``cluster``; ``name, size, share, revenue_share, top_features`` (a list of
        ``"feature high|low"``), largest cluster first.
    mean, median, lift, position : DataFrame
        Cluster × feature. ``lift`` = cluster mean / population mean (NaN where that mean
        is 0); ``position`` as in the module docstring.
    population : DataFrame
        Feature × ``mean, median, std`` over all customers.
    """

    summary: pd.DataFrame
    mean: pd.DataFrame
    median: pd.DataFrame
    lift: pd.DataFrame
    position: pd.DataFrame
    population: pd.DataFrame

    def names(self) -> dict[int, str]:
        """Cluster number → name."""
        clusters = self.summary.index.to_numpy(np.int64).tolist()
        return dict(zip(clusters, self.summary["name"].astype(str), strict=True))


def _positions(values: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """Mean population percentile rank (ties half, missing left out) per cluster."""
    ranks = values.rank(method="average", pct=True)
    counts = values.notna().sum()
    # mid-rank percentile: (rank - 0.5) / n maps a constant column to exactly 0.5
    mid = ranks - 0.5 / counts.where(counts > 0, 1)
    return mid.groupby(labels).mean()


def _readable(feature: str, direction: str) -> str:
    if feature.startswith("cat_share_"):
        return feature.removeprefix("cat_share_").replace("_", " ")
    words = feature.replace("_", " ").removesuffix(" s").removesuffix(" days")
    return f"{direction} {words}"


def _matches(feature: str, rule: str, position: pd.Series, median: pd.Series) -> bool:
    if feature not in position.index or pd.isna(position[feature]):
        return False
    if rule == "median1":
        return bool(median[feature] <= 1)
    return bool(position[feature] >= HIGH if rule == "high" else position[feature] <= LOW)


def _base_name(position: pd.Series, median: pd.Series) -> str:
    chosen: dict[str, str] = {}
    for slot, words, conditions in VOCABULARY:
        if slot in chosen:
            continue
        if any(_matches(f, r, position, median) for f, r in conditions):
            chosen[slot] = words
    noun = chosen.get("noun", "customers")
    if noun == "big spenders" and chosen.get("value") == "High-value":
        del chosen["value"]
    parts = [chosen[s] for s in _SLOTS[:3] if s in chosen] + [noun]
    if not chosen:
        parts = ["typical", "customers"]
    text = " ".join(w.lower() for w in parts)
    return text[0].upper() + text[1:]


def name_clusters(position: pd.DataFrame, median: pd.DataFrame, sizes: pd.Series) -> dict:
    """A distinct name per cluster from the vocabulary (module docstring).

    Parameters
    ----------
    position, median : DataFrame
        Cluster × feature (see :class:`ClusterProfiles`).
    sizes : Series
        Customers per cluster; larger clusters are named first.

    Returns
    -------
    dict of int to str

    Examples
    --------
    >>> position = pd.DataFrame({"orders_total": [0.9, 0.9, 0.2],
    ...                          "spend_total": [0.85, 0.85, 0.25],
    ...                          "cat_share_toys": [0.5, 0.8, 0.5]})
    >>> median = pd.DataFrame({"orders_total": [12, 11, 1]})
    >>> names = name_clusters(position, median, pd.Series([50, 30, 20]))
    >>> names[0], names[1]
    ('High-value frequent buyers', 'High-value frequent buyers (toys)')
    >>> names[2]
    'Low-value one-time buyers'
    """
    names: dict[int, str] = {}
    taken: dict[str, int] = {}
    for cluster in sizes.sort_values(ascending=False, kind="stable").index:
        if cluster == -1:
            names[-1] = NOISE_NAME
            taken[NOISE_NAME] = -1
            continue
        pos = position.loc[cluster]
        med = median.loc[cluster] if cluster in median.index else pd.Series(dtype=float)
        name = _base_name(pos, med.reindex(pos.index))
        if name in taken:
            # what sets it apart from the cluster that has the name already
            apart = (pos - position.loc[taken[name]]).abs()
            feature = apart.sort_values(ascending=False, kind="stable").index[0]
            name = f"{name} ({_readable(feature, 'high' if pos[feature] > 0.5 else 'low')})"
        base, i = name, 2
        while name in taken:
            name, i = f"{base} {i}", i + 1
        names[int(cluster)] = name
        taken[name] = cluster
    return names


def profile_columns(frame: pd.DataFrame) -> list[str]:
    """Every numeric column but the identifiers."""
    return [
        str(c)
        for c in frame.columns
        if str(c) not in _IDS
        and (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))
    ]


def profile_clusters(
    frame: pd.DataFrame,
    labels: object,
    *,
    columns: list[str] | None = None,
    revenue: str | None = "spend_total",
    top: int = 3,
) -> ClusterProfiles:
    """Size, revenue share, means, medians, lift, positions, top features and names.

    Parameters
    ----------
    frame : DataFrame
        One row per customer (the feature table).
    labels : array-like of int
        Cluster of each row (-1: noise).
    columns : list of str, optional
        Features to profile; default every numeric column but identifiers.
    revenue : str or None, default "spend_total"
        Column summed for the revenue share; None (or absent) gives NaN shares.
    top : int, default 3
        How many distinguishing features to list per cluster.

    Returns
    -------
    ClusterProfiles

    Examples
    --------
    >>> frame = pd.DataFrame({
    ...     "orders_total": [1, 1, 2, 1, 9, 12, 10, 11],
    ...     "spend_total": [20.0, 30, 50, 25, 900, 1500, 1100, 1300],
    ...     "days_since_last_order": [300, 280, 320, 350, 5, 12, 3, 9]})
    >>> prof = profile_clusters(frame, [0, 0, 0, 0, 1, 1, 1, 1])
    >>> prof.summary[["name", "size", "revenue_share"]].round(3)  # doctest: +NORMALIZE_WHITESPACE
                                          name  size  revenue_share
    cluster
    0         Lapsed low-value one-time buyers     4          0.025
    1        Active high-value frequent buyers     4          0.975
    """
    labels = np.asarray(labels)
    if len(labels) != len(frame):
        raise InputError(
            f"profile_clusters got {len(labels):,} labels for {len(frame):,} customers; "
            "pass one label per row."
        )
    columns = columns if columns is not None else profile_columns(frame)
    values = frame[columns].apply(pd.to_numeric, errors="coerce").astype(float)
    values.index = range(len(values))
    groups = values.groupby(labels)
    mean, median = groups.mean(), groups.median()
    population = pd.DataFrame(
        {"mean": values.mean(), "median": values.median(), "std": values.std()}
    )
    lift = mean / population["mean"].where(population["mean"] != 0)
    position = _positions(values, labels)
    sizes = pd.Series(labels).value_counts().sort_index()
    if revenue is not None and revenue in frame.columns:
        money = pd.to_numeric(frame[revenue], errors="coerce").fillna(0).to_numpy()
        total = money.sum()
        revenue_share = pd.Series(money).groupby(labels).sum() / (total if total else np.nan)
    else:
        revenue_share = pd.Series(np.nan, index=sizes.index)
    names = name_clusters(position, median, sizes)
    distance = (position - 0.5).abs()
    high = position > 0.5
    tops = {
        c: [
            f"{f} {'high' if high.at[c, f] else 'low'}"
            for f in distance.loc[c].sort_values(ascending=False, kind="stable").index[:top]
        ]
        for c in sizes.index
    }
    summary = pd.DataFrame(
        {
            "name": pd.Series(names),
            "size": sizes,
            "share": sizes / sizes.sum(),
            "revenue_share": revenue_share,
            "top_features": pd.Series(tops),
        }
    )
    summary.index.name = "cluster"
    summary = summary.sort_values("size", ascending=False, kind="stable")
    return ClusterProfiles(summary, mean, median, lift, position, population)
