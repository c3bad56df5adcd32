"""Issue 19's acceptance numbers on ``make_shop`` (tastes are planted), at 10,000 customers.

The shop runs to 2024-12-31; the stage sees it up to ``as_of`` = 2024-10-03 and never the
90 days after, which are the test here: the stage's own lists (the served policy: the
chosen model for customers with two or more orders, the segment fallback for the others)
against the true purchases of those 90 days, for customers who bought on both sides of
``as_of``; the global popularity baseline gets the same exclusions. The stage's own
evaluation (its temporal split inside the history) is checked too.

The segments passed are the planted ones; the run passes its behavioural clusters, which
recover them with ARI 0.83-0.85 (tests/segment/test_synth_acceptance.py).

Measured with the default stage (random_state=0), seeds 0-9 (BENCHMARKS.md,
"Recommendations"); lift = served / popularity:

====  =========  ========================  ========================  ====================
seed  chosen     next 90 days NDCG@10      split NDCG@10             ≤1 order, next 90:
                 served / popularity       served / popularity       segment / popularity
====  =========  ========================  ========================  ====================
0     als        0.1063 / 0.0403 (2.64×)   0.1055 / 0.0418 (2.52×)   0.1088 / 0.0605
1     als        0.1023 / 0.0667 (1.53×)   0.0965 / 0.0626 (1.54×)   0.1023 / 0.0659
2     als        0.1055 / 0.0475 (2.22×)   0.0997 / 0.0476 (2.09×)   0.1112 / 0.0517
3     als        0.0899 / 0.0395 (2.28×)   0.0992 / 0.0403 (2.46×)   0.0797 / 0.0457
4     als        0.1012 / 0.0422 (2.40×)   0.1003 / 0.0372 (2.70×)   0.1016 / 0.0478
5     als        0.1047 / 0.0453 (2.31×)   0.1125 / 0.0460 (2.45×)   0.1044 / 0.0529
6     item_item  0.1062 / 0.0706 (1.50×)   0.1073 / 0.0682 (1.57×)   0.1104 / 0.0759
7     als        0.1065 / 0.0349 (3.05×)   0.1185 / 0.0391 (3.03×)   0.1171 / 0.0280
8     als        0.0988 / 0.0400 (2.47×)   0.1059 / 0.0431 (2.46×)   0.0895 / 0.0362
9     als        0.1093 / 0.0581 (1.88×)   0.1029 / 0.0544 (1.89×)   0.1119 / 0.0705
====  =========  ========================  ========================  ====================

Seeds 1 and 6 draw catalogues where a few products dominate: popularity is strong there,
and the best setting of any model found by hand on seed 6's split reaches only about 1.57×.
The test runs seed 0 (about 15 s); the table is what ``python
tests/recommend/test_recommend_acceptance.py 0 1 2 …`` prints.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from valueseg.recommend import evaluation_table, ranking_metrics, recommend_stage

AS_OF = datetime(2024, 10, 3)
END = "2024-12-31"
LIFT = 1.5


def next_90_days(result, shop) -> pd.DataFrame:
    """NDCG@10 over the next 90 days: served lists, popularity, segment popularity."""
    rec = result.recommender
    log = rec.interactions_
    tx = shop.transactions
    future = tx[(tx["timestamp"] > pd.Timestamp(AS_OF)) & (tx["quantity"] > 0)]
    users = log.customers.get_indexer(pd.Index(future["customer_id"].unique()))
    users = np.sort(users[(users >= 0)])
    users = users[rec.orders_[users] > 0]
    items = log.products.get_indexer(pd.Index(future["product_id"]))
    rows = log.customers.get_indexer(pd.Index(future["customer_id"]))
    keep = (rows >= 0) & (items >= 0)
    truth = sp.csr_matrix(
        (np.ones(keep.sum()), (rows[keep], items[keep])), shape=log.shape
    ).tocsr()[users]
    served = result.recommendations.pivot(index="customer_id", columns="rank", values="product_id")
    served = served.reindex(log.customers[users])
    served_ids = np.stack(
        [log.products.get_indexer(pd.Index(served[c])) for c in served.columns], 1
    )
    lists = {"served": served_ids}
    for name in ("popularity", "segment_popularity"):
        lists[name] = rec.models_[name].recommend(users, 10, rec.exclude_)[0]
    few = rec.orders_[users] < rec.min_orders
    out = {}
    for name, ids in lists.items():
        m = ranking_metrics(ids, truth, 10)["ndcg"]
        out[name] = {"all": m.mean(), "≤1 order": m[few].mean(), "≥2 orders": m[~few].mean()}
    return pd.DataFrame(out).assign(customers=[users.size, few.sum(), (~few).sum()])


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0])
def test_chosen_model_beats_popularity_and_the_fallback_beats_it_for_few_orders(synth_shop, seed):
    shop = synth_shop(10_000, seed, END)
    segments = shop.truth.set_index("customer_id")["segment"]
    result = recommend_stage(shop.transactions, shop.events, segments, AS_OF, random_state=0)
    ahead = next_90_days(result, shop)
    assert ahead.loc["all", "served"] >= LIFT * ahead.loc["all", "popularity"]
    assert ahead.loc["≤1 order", "segment_popularity"] > ahead.loc["≤1 order", "popularity"]
    split = evaluation_table(result.evaluation)["ndcg@10"]
    assert split["served"] >= LIFT * split["popularity"]
    few = evaluation_table(result.evaluation, cohort="≤1 order")["ndcg@10"]
    assert few["segment_popularity"] > few["popularity"]


def _row(seed: int) -> str:
    """One line of the docstring's table for ``seed``."""
    result = _stage(seed)
    ahead = next_90_days(result, _shop(seed))
    split = evaluation_table(result.evaluation)["ndcg@10"]
    served, pop = ahead.loc["all", "served"], ahead.loc["all", "popularity"]
    few = ahead.loc["≤1 order"]
    return (
        f"{seed:<4}  {result.chosen:<9}  {served:.4f} / {pop:.4f} ({served / pop:.2f}×)   "
        f"{split['served']:.4f} / {split['popularity']:.4f} "
        f"({split['served'] / split['popularity']:.2f}×)   "
        f"{few['segment_popularity']:.4f} / {few['popularity']:.4f}"
    )


def _shop(seed: int):
    from valueseg.synth import make_shop

    return make_shop(10_000, end=END, random_state=seed)


def _stage(seed: int):
    shop = _shop(seed)
    segments = shop.truth.set_index("customer_id")["segment"]
    return recommend_stage(shop.transactions, shop.events, segments, AS_OF, random_state=0)


if __name__ == "__main__":
    import sys

    for arg in sys.argv[1:]:
        print(_row(int(arg)), flush=True)
