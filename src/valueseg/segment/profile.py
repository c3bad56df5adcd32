"""Cluster profiles and names the members bear out (docs/design.md §6).

For each cluster: size, share of customers, share of revenue, mean and median of every
feature, lift (cluster mean / population mean) and the features that set it apart.

**How far a cluster stands out on a feature** is measured by its *position*: the mean,
over its members, of their percentile rank in the whole population (ties count half).
0.5 is the population's own; 0.8 means a member beats a random customer 80 % of the time
(the common-language effect size of McGraw & Wong 1992). It needs no scaling, is not
thrown by skewed money columns, and treats the many zeros of sparse columns fairly. The
top distinguishing features are those with the position farthest from 0.5.

**Names.** Every word of a name is a claim about the members, and is used only when the
cluster stands out on the word's feature (position at least 0.7, or at most 0.3: "stands
out" below) *and* most members (more than half) bear the claim out:

========  ====================  ==================================================
slot      word                  stands out on, and most members have
========  ====================  ==================================================
status    Lapsed                days_since_last_order high; last order longer ago
                                than the shop's median
          New                   tenure_days low; first order more recent than the
                                shop's median
          Active                days_since_last_order low; last order more recent
                                than the shop's median
value     High-value            spend_total high; spend in the shop's top third
          Low-value             spend_total low; spend in the shop's bottom third
habit     Discount-driven       discount_order_share high; half their orders or
                                more discounted
          Return-prone          return_rate high; a return rate in the shop's top
                                third, above 0
once      one-time buyers       (no position needed) one order
noun      browsers              view_to_purchase_rate low (bottom third), or
                                cart_abandonment_rate high (top third, above 0)
          big spenders          avg_order_value high; average order in the top third
          frequent buyers       orders_total high; more orders than two thirds of
                                the shop, and at least 3
          occasional buyers     orders_total low; at most the shop's median orders
          customers             otherwise
========  ====================  ==================================================

The first word of each slot whose claim holds is used: "Lapsed one-time buyers",
"High-value frequent buyers" ("High-value" is left out before "big spenders"),
"Discount-driven customers"; "one-time" goes before "big spenders" and "browsers"
("One-time big spenders"), and otherwise makes the noun "one-time buyers"; a cluster
with no word is "Typical customers". A slot whose
feature is not in the table is skipped. The share of members behind each word is kept
(:attr:`ClusterProfiles.evidence`).

**No two clusters share a name**, and no name carries a code: clusters are named from
the largest down, and one whose name is taken gets a phrase saying how it differs from the
cluster that has it, on the feature where their positions differ most among those the
phrase book knows ("One-time buyers with bigger baskets", "Typical customers who ordered
more recently", "… buying more in toys"). HDBSCAN's noise (-1) is "Unclustered".

References
----------
McGraw, K. O. & Wong, S. P. (1992). A common language effect size statistic.
Psychological Bulletin 111(2), 361-365.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from valueseg.errors import InputError

__all__ = ["VOCABULARY", "ClusterProfiles", "Word", "name_clusters", "profile_clusters"]

HIGH, LOW = 0.7, 0.3
#: Share of the members that must bear a word's claim out.
MOST = 0.5
#: Two clusters whose positions differ by less than this on every feature are alike.
APART = 0.05
NOISE_NAME = "Unclustered"


@dataclass(frozen=True)
class Word:
    """A word of a name and the claim it makes about each member.

    A member bears the claim out when its ``feature`` is above (``direction`` "high") or
    below ("low") the shop's ``quantile`` of that feature, or the ``fixed`` value;
    ``at_least`` raises (for "high") the bar to at least that value. ``distinct`` False:
    the cluster need not stand out on the feature (an absolute claim such as one order).
    """

    slot: str
    text: str
    feature: str
    direction: str
    quantile: float | None = None
    fixed: float | None = None
    at_least: float | None = None
    distinct: bool = True
    claim: str = ""


VOCABULARY: tuple[Word, ...] = (
    Word("status", "Lapsed", "days_since_last_order", "high", 0.5,
         claim="last order longer ago than the shop's median ({} days)"),
    Word("status", "New", "tenure_days", "low", 0.5,
         claim="first order more recent than the shop's median ({} days)"),
    Word("status", "Active", "days_since_last_order", "low", 0.5,
         claim="last order more recent than the shop's median ({} days)"),
    Word("value", "High-value", "spend_total", "high", 2 / 3,
         claim="spend in the shop's top third (above {})"),
    Word("value", "Low-value", "spend_total", "low", 1 / 3,
         claim="spend in the shop's bottom third (below {})"),
    Word("habit", "Discount-driven", "discount_order_share", "high", fixed=0.5,
         claim="half their orders or more discounted"),
    Word("habit", "Return-prone", "return_rate", "high", 2 / 3, at_least=0.0,
         claim="a return rate in the shop's top third (above {})"),
    Word("once", "one-time buyers", "orders_total", "low", fixed=1.0, distinct=False,
         claim="one order"),
    Word("noun", "browsers", "view_to_purchase_rate", "low", 1 / 3,
         claim="a view-to-purchase rate in the shop's bottom third (below {})"),
    Word("noun", "browsers", "cart_abandonment_rate", "high", 2 / 3, at_least=0.0,
         claim="a cart abandonment rate in the shop's top third (above {})"),
    Word("noun", "big spenders", "avg_order_value", "high", 2 / 3,
         claim="an average order in the shop's top third (above {})"),
    Word("noun", "frequent buyers", "orders_total", "high", 2 / 3, at_least=2.0,
         claim="more orders than two thirds of the shop ({}), and at least 3"),
    Word("noun", "occasional buyers", "orders_total", "low", 0.5,
         claim="at most the shop's median orders ({})"),
)  # fmt: skip
_SLOTS = ("status", "value", "habit", "once", "noun")
#: Nouns that "one-time" goes in front of ("one-time big spenders"); with any other, or
#: none, the cluster is "one-time buyers".
_ONCE_NOUNS = ("big spenders", "browsers")
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
    backing : DataFrame
        Cluster × word of :data:`VOCABULARY` (by ``slot:text:feature``): the share of the
        members who bear the word's claim out.
    evidence : dict of int to list of str
        Cluster → why its name holds, one line per word ("one-time buyers: 84% of
        members, one order").
    words : dict of int to list of str
        Cluster → the vocabulary words of its name.
    backed : dict of int to set of str
        Cluster → every vocabulary word its members bear out (whether used or not).
    """

    summary: pd.DataFrame
    mean: pd.DataFrame
    median: pd.DataFrame
    lift: pd.DataFrame
    position: pd.DataFrame
    population: pd.DataFrame
    backing: pd.DataFrame = field(default_factory=pd.DataFrame)
    evidence: dict[int, list[str]] = field(default_factory=dict)
    words: dict[int, list[str]] = field(default_factory=dict)
    backed: dict[int, set[str]] = field(default_factory=dict)

    def names(self) -> dict[int, str]:
        """Cluster number → name."""
        clusters = self.summary.index.to_numpy(np.int64).tolist()
        return dict(zip(clusters, self.summary["name"].astype(str), strict=True))


def _row(frame: pd.DataFrame, key: int) -> pd.Series:
    """Row ``key`` of a frame indexed by cluster (unique: one row)."""
    row = frame.loc[key]
    assert isinstance(row, pd.Series)
    return row


def _key(word: Word) -> str:
    return f"{word.slot}:{word.text}:{word.feature}"


def _positions(values: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """Mean population percentile rank (ties half, missing left out) per cluster."""
    ranks = values.rank(method="average", pct=True)
    counts = values.notna().sum()
    # mid-rank percentile: (rank - 0.5) / n maps a constant column to exactly 0.5
    mid = ranks - 0.5 / counts.where(counts > 0, 1)
    return mid.groupby(labels).mean()


def _threshold(word: Word, column: pd.Series) -> float:
    if word.fixed is not None:
        return word.fixed
    value = float(column.quantile(word.quantile or 0.5))
    return max(value, word.at_least) if word.at_least is not None else value


def _bears(word: Word, column: pd.Series, threshold: float) -> pd.Series:
    """Whether each customer bears the word's claim out (a missing value does not)."""
    if word.direction == "low":
        return column <= threshold
    return column >= threshold if word.fixed is not None else column > threshold


def _backing(values: pd.DataFrame, labels: np.ndarray) -> tuple[pd.DataFrame, dict[str, str]]:
    """Share of each cluster's members bearing each word out; the claims in words."""
    shares, claims = {}, {}
    for word in VOCABULARY:
        if word.feature not in values.columns:
            continue
        column = values[word.feature]
        threshold = _threshold(word, column)
        shares[_key(word)] = _bears(word, column, threshold).groupby(labels).mean()
        claims[_key(word)] = word.claim.format(f"{threshold:,.4g}")
    return pd.DataFrame(shares), claims


def _stands_out(word: Word, position: pd.Series) -> bool:
    if not word.distinct:
        return True
    if word.feature not in position.index or pd.isna(position[word.feature]):
        return False
    value = position[word.feature]
    return bool(value >= HIGH if word.direction == "high" else value <= LOW)


def _holds(word: Word, position: pd.Series, backing: pd.Series) -> bool:
    """The cluster stands out on the word's feature and most members bear it out."""
    share = backing.get(_key(word), np.nan)
    return bool(pd.notna(share) and share > MOST and _stands_out(word, position))


def _backed_words(position: pd.Series, backing: pd.Series) -> set[str]:
    return {w.text for w in VOCABULARY if _holds(w, position, backing)}


def _words_of(position: pd.Series, backing: pd.Series) -> dict[str, Word]:
    """Slot → the first word whose claim the cluster bears out."""
    chosen: dict[str, Word] = {}
    for word in VOCABULARY:
        if word.slot not in chosen and _holds(word, position, backing):
            chosen[word.slot] = word
    if "once" in chosen and "noun" in chosen and chosen["noun"].text not in _ONCE_NOUNS:
        del chosen["noun"]  # "one-time buyers", not "one-time occasional buyers"
    if "noun" in chosen and chosen["noun"].text == "big spenders":
        value = chosen.get("value")
        if value is not None and value.text == "High-value":
            del chosen["value"]
    return chosen


def _base_name(chosen: dict[str, Word]) -> str:
    noun = chosen["noun"].text if "noun" in chosen else "customers"
    if "once" in chosen:
        noun = f"one-time {noun}" if "noun" in chosen else chosen["once"].text
    parts = [chosen[s].text for s in _SLOTS[:3] if s in chosen] + [noun]
    if not chosen:
        parts = ["typical", "customers"]
    text = " ".join(w.lower() for w in parts)
    return text[0].upper() + text[1:]


#: feature -> (phrase when the cluster is higher, phrase when lower) than the one it is
#: told apart from.
APART_PHRASES: dict[str, tuple[str, str]] = {
    "days_since_last_order": ("who ordered less recently", "who ordered more recently"),
    "tenure_days": ("who joined earlier", "who joined later"),
    "orders_total": ("with more orders", "with fewer orders"),
    "spend_total": ("who spend more", "who spend less"),
    "avg_order_value": ("with bigger baskets", "with smaller baskets"),
    "ipt_mean_days": ("who order less often", "who order more often"),
    "discount_order_share": ("using more discounts", "using fewer discounts"),
    "return_rate": ("returning more", "returning less"),
    "view_to_purchase_rate": ("buying more of what they view", "buying less of what they view"),
    "cart_abandonment_rate": ("abandoning more carts", "abandoning fewer carts"),
    "mean_session_duration_s": ("with longer visits", "with shorter visits"),
    "distinct_categories": ("buying across more categories", "buying in fewer categories"),
    "spend_180d": ("who spent more lately", "who spent less lately"),
}


def _apart_phrase(feature: str, higher: bool) -> str | None:
    for prefix, what in (("cat_share_", "buying"), ("channel_share_", "ordering")):
        if feature.startswith(prefix):
            name = feature.removeprefix(prefix).replace("_", " ")
            via = " via" if prefix == "channel_share_" else " in"
            return f"{what} more{via} {name}" if higher else f"{what} less{via} {name}"
    phrases = APART_PHRASES.get(feature)
    return None if phrases is None else phrases[0 if higher else 1]


def _told_apart(pos: pd.Series, other: pd.Series, used: set[str]) -> str | None:
    """How a cluster differs from another, in words: the phrase-book feature on which
    their positions differ most (by at least ``APART``), not yet used for this name."""
    gap = (pos - other).dropna()
    for feature in gap.abs().sort_values(ascending=False, kind="stable").index:
        if abs(gap[feature]) < APART:
            break
        phrase = _apart_phrase(str(feature), bool(gap[feature] > 0))
        if phrase is not None and phrase not in used:
            return phrase
    return None


def name_clusters(
    position: pd.DataFrame, backing: pd.DataFrame, sizes: pd.Series
) -> dict[int, str]:
    """A distinct name per cluster, every word backed by the members (module docstring).

    Parameters
    ----------
    position : DataFrame
        Cluster × feature (see :class:`ClusterProfiles`).
    backing : DataFrame
        Cluster × word key: the share of members bearing the word out
        (:attr:`ClusterProfiles.backing`).
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
    >>> backing = pd.DataFrame({"value:High-value:spend_total": [0.9, 0.8, 0.0],
    ...                         "noun:frequent buyers:orders_total": [0.8, 0.7, 0.0],
    ...                         "noun:one-time buyers:orders_total": [0.0, 0.0, 0.4]})
    >>> names = name_clusters(position, backing, pd.Series([50, 30, 20]))
    >>> names[0], names[1]
    ('High-value frequent buyers', 'High-value frequent buyers buying more in toys')
    >>> names[2]  # 40 % have one order: not "one-time buyers"
    'Typical customers'
    """
    names: dict[int, str] = {}
    taken: dict[str, int] = {}
    for cluster in sizes.sort_values(ascending=False, kind="stable").index:
        if cluster == -1:
            names[-1] = NOISE_NAME
            taken[NOISE_NAME] = -1
            continue
        pos = _row(position, cluster)
        back = _row(backing, cluster) if cluster in backing.index else pd.Series(dtype=float)
        name = _base_name(_words_of(pos, back))
        used: set[str] = set()
        while name in taken:
            phrase = _told_apart(pos, _row(position, taken[name]), used)
            if phrase is None:
                break
            used.add(phrase)
            name = f"{name} {phrase}"
        base, i = name, 2
        while name in taken:  # alike on every feature the phrase book knows
            name, i = f"{base} {i}", i + 1
        names[int(cluster)] = name
        taken[name] = cluster
    return names


def _evidence(
    backing: pd.DataFrame, claims: dict[str, str], position: pd.DataFrame, cluster: int
) -> list[str]:
    """Why the cluster's name holds: the share of members behind each of its words."""
    if cluster not in backing.index:
        return []
    back = _row(backing, cluster)
    chosen = _words_of(_row(position, cluster), back)
    return [
        f"{w.text}: {float(back[_key(w)]):.0%} of members, {claims[_key(w)]}"
        for w in chosen.values()
    ]


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
    backing, claims = _backing(values, labels)
    names = name_clusters(position, backing, sizes)
    named = [int(c) for c in sizes.index if c >= 0 and c in backing.index]
    evidence = {c: _evidence(backing, claims, position, c) for c in named}
    rows = {c: (_row(position, c), _row(backing, c)) for c in named}
    words = {c: [w.text for w in _words_of(*rows[c]).values()] for c in named}
    backed = {c: _backed_words(*rows[c]) for c in named}
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
    return ClusterProfiles(
        summary, mean, median, lift, position, population, backing, evidence, words, backed
    )
