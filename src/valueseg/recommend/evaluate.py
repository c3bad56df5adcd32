"""Offline evaluation on a temporal split: ranking and catalogue metrics for every model.

A split trains on what happened before ``train_end`` and tests on the purchases in
``[train_end, test_end)``. The customers evaluated are those who bought in the test window
and had bought before it (a customer's first purchase cannot be predicted from their
history). Every model ranks the same candidates for the same customers with the same
exclusions, and is scored on its top ``k``.

Definitions (binary relevance: a product is relevant when the customer bought it in the
test window), per customer, then averaged over customers:

- ``precision`` = hits / k;  ``recall`` = hits / |test|;  ``hit_rate`` = 1 if any hit;
- ``ndcg`` = DCG / IDCG, DCG = sum over hits at rank i (1-based) of 1 / log2(i + 1), IDCG
  the DCG of min(k, |test|) hits at the top;
- ``map`` = (1 / min(k, |test|)) * sum over hits at rank i of precision@i. The normaliser
  is implicit's (``implicit.evaluation.mean_average_precision_at_k``); Microsoft
  Recommenders divides by |test| instead, which is smaller whenever |test| > k.

implicit's ``ndcg_at_k`` and MAP agree with these exactly; its ``precision_at_k`` is not a
mean over customers but total hits / total min(k, |test|), which equals ``precision`` when
every customer has at least k test products.

Catalogue metrics, over the recommendation lists of the customers in the group:

- ``coverage`` = distinct products recommended / candidate products (those with any
  interaction in the training window);
- ``gini`` = the Gini index of how often each candidate product is recommended (0: all
  equally often; near 1: a few products take every slot; Shani & Gunawardana 2011);
- ``novelty`` = mean self-information -log2(p) of the recommended products, p = share of
  the training window's customers who interacted with the product (Zhou et al. 2010).

References
----------
Järvelin, K. & Kekäläinen, J. (2002). Cumulated gain-based evaluation of IR techniques.
ACM TOIS 20(4), 422-446.

Shani, G. & Gunawardana, A. (2011). Evaluating Recommendation Systems. In Recommender
Systems Handbook, 257-297.

Zhou, T. et al. (2010). Solving the apparent diversity-accuracy dilemma of recommender
systems. PNAS 107(10), 4511-4515.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from valueseg.recommend._rank import in_rows
from valueseg.recommend.interactions import Interactions
from valueseg.recommend.models import RecommenderModel, TrainData

__all__ = [
    "CATALOGUE_METRICS",
    "EVALUATION_COLUMNS",
    "METRICS",
    "RANKING_METRICS",
    "Evaluation",
    "Split",
    "catalogue_metrics",
    "cohort_labels",
    "evaluate",
    "exclusions",
    "make_split",
    "ranking_metrics",
]

RANKING_METRICS = ("precision", "recall", "ndcg", "map", "hit_rate")
CATALOGUE_METRICS = ("coverage", "gini", "novelty")
METRICS = RANKING_METRICS + CATALOGUE_METRICS
#: Columns of the long evaluation frame (one row per model, group and metric).
EVALUATION_COLUMNS = (
    "model",
    "chosen",
    "cohort",
    "segment",
    "metric",
    "k",
    "value",
    "customers",
)
#: Name of the served policy in the evaluation: chosen model, segment fallback for few orders.
SERVED = "served"
NO_SEGMENT = "(none)"


def ranking_metrics(recommended: np.ndarray, relevant: sp.csr_matrix, k: int) -> pd.DataFrame:
    """Per-customer precision, recall, NDCG, MAP and hit rate at ``k``.

    Parameters
    ----------
    recommended : array of shape (customers, >= k)
        Product codes in rank order, -1 for an empty slot.
    relevant : csr_matrix of shape (customers, products)
        Row j holds customer j's test products (values are ignored).
    k : int

    Examples
    --------
    Hits at ranks 1 and 3 of 3, with 2 relevant products: DCG = 1 + 1/2, IDCG = 1 + 1/log2(3).

    >>> rel = sp.csr_matrix(np.array([[1, 0, 1, 0, 0]]))
    >>> m = ranking_metrics(np.array([[0, 1, 2]]), rel, k=3).iloc[0]  # map: (1/1 + 2/3) / 2
    >>> round(float(m["ndcg"]), 4), round(1.5 / (1 + 1 / float(np.log2(3))), 4)
    (0.9197, 0.9197)
    >>> [round(float(m[c]), 4) for c in ("precision", "recall", "map", "hit_rate")]
    [0.6667, 1.0, 0.8333, 1.0]
    """
    top = np.asarray(recommended, dtype=np.int64)[:, :k]
    hit = in_rows(relevant.tocsr(), np.arange(top.shape[0]), top)
    n_rel = np.diff(relevant.tocsr().indptr).astype(np.float64)
    hits = hit.sum(axis=1).astype(np.float64)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discount)[np.clip(np.minimum(n_rel, k).astype(np.int64) - 1, 0, None)]
    at_i = np.cumsum(hit, axis=1) / np.arange(1, top.shape[1] + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame = pd.DataFrame(
            {
                "precision": hits / k,
                "recall": hits / n_rel,
                "ndcg": (hit * discount[: top.shape[1]]).sum(axis=1) / ideal,
                "map": (hit * at_i).sum(axis=1) / np.minimum(n_rel, k),
                "hit_rate": (hits > 0).astype(np.float64),
            }
        )
    return frame


def catalogue_metrics(
    recommended: np.ndarray, k: int, candidates: np.ndarray, reach: np.ndarray, n_customers: int
) -> dict[str, float]:
    """Coverage, Gini index and novelty of a set of top-``k`` lists.

    ``reach``: customers who interacted with each product in training, of ``n_customers``.

    Examples
    --------
    Two customers get products 0 and 1 of three candidates; each product reaches 1 of 4:

    >>> m = catalogue_metrics(np.array([[0], [1]]), 1, np.ones(3, bool), np.ones(3), 4)
    >>> round(m["coverage"], 4), round(m["gini"], 4), m["novelty"]
    (0.6667, 0.3333, 2.0)
    """
    top = np.asarray(recommended, dtype=np.int64)[:, :k]
    shown = top[top >= 0]
    ids = np.flatnonzero(candidates)
    if shown.size == 0 or ids.size == 0:
        return {"coverage": 0.0, "gini": float("nan"), "novelty": float("nan")}
    counts = np.sort(np.bincount(shown, minlength=candidates.size)[ids]).astype(np.float64)
    m = counts.size
    gini = float(np.sum((2 * np.arange(1, m + 1) - m - 1) * counts) / (m * counts.sum()))
    share = np.maximum(reach[shown], 1.0) / max(n_customers, 1)
    return {
        "coverage": float(np.count_nonzero(counts) / m),
        "gini": gini,
        "novelty": float(np.mean(-np.log2(share))),
    }


def exclusions(
    interactions: Interactions, end: Any, repeat_threshold: float
) -> tuple[sp.csr_matrix, pd.Series]:
    """Products bought before ``end`` in categories re-bought less than ``repeat_threshold``.

    Returns the exclusion matrix and the categories' repeat rates.
    """
    rates = interactions.repeat_rates(end=end)
    rebought = set(rates.index[rates >= repeat_threshold])
    keep = ~np.isin(interactions.category, list(rebought))
    bought = interactions.bought(end=end)
    return (bought @ sp.diags(keep.astype(np.float32))).tocsr(), rates


@dataclass(frozen=True, eq=False)
class Split:
    """Training data and test truth of one temporal split."""

    train: TrainData
    exclude: sp.csr_matrix  # customers × products: left out of every list
    users: np.ndarray  # customers evaluated (codes)
    relevant: sp.csr_matrix  # row j: test purchases of users[j]
    orders: np.ndarray  # training orders of users[j]
    reach: np.ndarray  # training customers who interacted with each product
    n_customers: int  # training customers with any interaction


def make_split(
    interactions: Interactions,
    segment: np.ndarray | None,
    train_end: Any,
    test_end: Any = None,
    *,
    repeat_threshold: float = 0.3,
) -> Split:
    """Train on ``[.., train_end)``, test on the purchases in ``[train_end, test_end)``."""
    matrix = interactions.matrix(end=train_end)
    bought = interactions.bought(end=train_end)
    exclude, _ = exclusions(interactions, train_end, repeat_threshold)
    test = interactions.bought(start=train_end, end=test_end)
    orders = interactions.orders(end=train_end)
    users = np.flatnonzero((np.diff(test.indptr) > 0) & (orders > 0))
    seen = (matrix > 0).astype(np.float32)
    return Split(
        train=TrainData.of(matrix, bought, segment),
        exclude=exclude,
        users=users,
        relevant=test[users],
        orders=orders[users],
        reach=np.asarray(seen.sum(axis=0)).ravel(),
        n_customers=int(np.count_nonzero(np.diff(matrix.indptr))),
    )


def cohort_labels(orders: np.ndarray, min_orders: int) -> np.ndarray:
    """ "≤m orders" below ``min_orders`` (m = min_orders - 1), else "≥min_orders orders".

    Examples
    --------
    >>> cohort_labels(np.array([1, 2, 5]), 2).tolist()
    ['≤1 order', '≥2 orders', '≥2 orders']
    """
    few = min_orders - 1
    low = f"≤{few} order" + ("" if few == 1 else "s")
    return np.where(orders < min_orders, low, f"≥{min_orders} orders")


@dataclass
class Evaluation:
    """The long evaluation frame, the chosen model and every model's top-k lists."""

    frame: pd.DataFrame
    chosen: str
    lists: dict[str, np.ndarray]
    ndcg: dict[str, float]  # per model: NDCG@k over the customers it would serve


def _rows(
    name: str, lists: np.ndarray, per_user: pd.DataFrame, groups: pd.DataFrame, split: Split, k: int
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for (cohort, segment), members in groups.groupby(["cohort", "segment"], sort=True):
        idx = members["i"].to_numpy()
        values = per_user.iloc[idx].mean().to_dict()
        values.update(
            catalogue_metrics(lists[idx], k, split.train.candidates, split.reach, split.n_customers)
        )
        for metric in METRICS:
            rows.append(
                {
                    "model": name,
                    "cohort": cohort,
                    "segment": segment,
                    "metric": metric,
                    "k": k,
                    "value": float(values[metric]),
                    "customers": int(idx.size),
                }
            )
    return rows


def _groups(split: Split, segment_names: np.ndarray | None, min_orders: int) -> pd.DataFrame:
    """Every evaluated customer's index in the groups: all, per cohort, per segment."""
    n = split.users.size
    index = np.arange(n)
    cohort = cohort_labels(split.orders, min_orders)
    parts = [
        pd.DataFrame({"i": index, "cohort": "all", "segment": "all"}),
        pd.DataFrame({"i": index, "cohort": cohort, "segment": "all"}),
    ]
    if segment_names is not None:
        code = split.train.segment[split.users]
        named = np.asarray(segment_names, dtype=object)[np.maximum(code, 0)]
        names = np.where(code >= 0, named, NO_SEGMENT)
        parts.append(pd.DataFrame({"i": index, "cohort": "all", "segment": names}))
    return pd.concat(parts, ignore_index=True)


def evaluate(
    models: Mapping[str, RecommenderModel],
    split: Split,
    *,
    k: int = 10,
    min_orders: int = 2,
    segment_names: np.ndarray | None = None,
    chosen: str | None = None,
) -> Evaluation:
    """Score every fitted model on ``split``; choose the best; add the served policy.

    The chosen model (unless given) is the best by NDCG@k over the evaluated customers with
    at least ``min_orders`` training orders (those it serves; all customers if none has).
    ``served`` is what the run writes: the chosen model for those customers, the segment
    popularity (else the popularity) for the others.
    """
    lists = {name: m.recommend(split.users, k, split.exclude)[0] for name, m in models.items()}
    per_user = {name: ranking_metrics(ids, split.relevant, k) for name, ids in lists.items()}
    served_by_model = split.orders >= min_orders
    if not served_by_model.any():
        served_by_model[:] = True
    ndcg = {name: float(m["ndcg"][served_by_model].mean()) for name, m in per_user.items()}
    if chosen is None:
        chosen = max(ndcg, key=lambda name: (ndcg[name], -list(ndcg).index(name)))
    fallback = next((f for f in ("segment_popularity", "popularity") if f in lists), chosen)
    few = split.orders < min_orders
    lists[SERVED] = np.where(few[:, None], lists[fallback], lists[chosen])
    per_user[SERVED] = ranking_metrics(lists[SERVED], split.relevant, k)
    groups = _groups(split, segment_names, min_orders)
    rows: list[dict[str, Any]] = []
    for name, ids in lists.items():
        rows += _rows(name, ids, per_user[name], groups, split, k)
    frame = pd.DataFrame(rows)
    frame.insert(1, "chosen", frame["model"] == chosen)
    return Evaluation(frame[list(EVALUATION_COLUMNS)], chosen, lists, ndcg)
