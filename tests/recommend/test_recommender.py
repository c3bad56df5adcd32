"""``Recommender``: serving rules, fallbacks, exclusions, no leakage, and its errors."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from valueseg.errors import InputError
from valueseg.recommend import NotFittedError, Recommender

AS_OF = pd.Timestamp("2024-04-01")
#: Small fixed settings: no tuning, so these tests stay quick.
FAST = {
    "als": {"factors": 8, "iterations": 5},
    "bpr": {"factors": 8, "iterations": 20},
    "item_item": {"K": 50},
}


@pytest.fixture(scope="module")
def fitted(synth_shop):
    shop = synth_shop(2000, 0, "2024-12-31")
    segments = shop.truth.set_index("customer_id")["segment"]
    rec = Recommender(params=FAST, random_state=0)
    return rec.fit(shop.transactions, shop.events, segments=segments), shop, segments


def test_every_customer_who_bought_gets_a_full_list(fitted):
    rec, shop, _ = fitted
    out = rec.recommend()
    assert out["customer_id"].nunique() == shop.transactions["customer_id"].nunique()
    assert (out.groupby("customer_id").size() == 10).all()
    assert (
        out.groupby("customer_id")["rank"].apply(list).map(lambda r: r == list(range(1, 11))).all()
    )
    assert not out.duplicated(["customer_id", "product_id"]).any()


def test_few_orders_get_the_segment_fallback_and_others_the_chosen_model(fitted):
    rec, _, _ = fitted
    out = rec.recommend()
    orders = pd.Series(rec.orders_, index=rec.interactions_.customers)
    models = out.groupby("customer_id")["model"].agg(set)
    few = orders.reindex(models.index) < 2
    assert models[few].map(lambda m: m == {"segment_popularity"}).all()
    assert models[~few].map(lambda m: rec.chosen_ in m).all()
    reasons = out.groupby("model")["reason"].agg(set).to_dict()
    assert reasons["segment_popularity"] == {"popular in your segment"}


def test_unseen_customers_get_the_fallback_never_an_error(fitted):
    rec, _, _ = fitted
    out = rec.recommend(["new-1", "C0000001"], n=5)
    new = out[out["customer_id"] == "new-1"]
    assert new["model"].unique().tolist() == ["popularity"]  # no segment known for new-1
    assert new["rank"].tolist() == [1, 2, 3, 4, 5]
    top = rec.models_["popularity"].order_[:5]
    assert new["product_id"].tolist() == rec.interactions_.products[top].tolist()


def test_unseen_customer_with_a_segment_gets_that_segment(synth_shop):
    shop = synth_shop(2000, 0, "2024-12-31")
    segments = shop.truth.set_index("customer_id")["segment"]
    segments = pd.concat([segments, pd.Series({"new-1": "browsers", "new-2": "lapsed_vips"})])
    rec = Recommender(model="popularity", params=FAST).fit(shop.transactions, segments=segments)
    out = rec.recommend(["new-1", "new-2", "nobody"], n=3)
    assert out.groupby("customer_id")["model"].first().to_dict() == {
        "new-1": "segment_popularity",
        "new-2": "segment_popularity",
        "nobody": "popularity",
    }
    assert (
        out[out["customer_id"] == "new-1"]["product_id"].tolist()
        != out[out["customer_id"] == "new-2"]["product_id"].tolist()
    )


def test_already_bought_products_are_left_out(fitted):
    rec, shop, _ = fitted
    assert (rec.repeat_rates_ < rec.repeat_threshold).all()  # synth: nothing is re-bought much
    out = rec.recommend()
    bought = shop.transactions[["customer_id", "product_id"]].drop_duplicates()
    both = out.merge(bought, on=["customer_id", "product_id"])
    assert both.empty


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [(0.3, ["p2", "p3", "p1", "p4", "p5"]), (0.5, ["p3", "p4", "p5"])],
)
def test_a_category_re_bought_often_keeps_bought_products(
    tiny_tx, tiny_events, threshold, expected
):
    # food's repeat rate is 1/3 (conftest): at 0.3 a's food products p1, p2 stay in
    rec = Recommender(model="popularity", repeat_threshold=threshold)
    rec.fit(tiny_tx, tiny_events, as_of=AS_OF)
    assert rec.recommend(["a"], n=5)["product_id"].tolist() == expected


def test_too_short_a_history_is_noted_and_falls_back(tiny_tx, tiny_events):
    rec = Recommender().fit(tiny_tx, tiny_events, as_of=AS_OF)
    assert rec.chosen_ == "segment_popularity"
    assert rec.notes_ == [
        "Hyperparameters not tuned: 0 customers bought in the validation window 2023-10-04 "
        "to 2024-01-02 after buying before it (fewer than 20); the models' defaults are used.",
        "No evaluation: 0 customers bought in the last 90 days (2024-01-02 to 2024-04-01) "
        "after buying before them (fewer than 20); recommending with segment_popularity.",
    ]
    assert rec.evaluation_.empty


def test_nothing_after_as_of_changes_the_fit(synth_shop):
    shop = synth_shop(2000, 1, "2024-12-31")
    as_of = pd.Timestamp("2024-10-01")
    tx, ev = shop.transactions, shop.events
    settings = {"params": FAST, "random_state": 0, "max_candidates": 2}
    full = Recommender(**settings).fit(tx, ev, as_of=as_of)
    cut = Recommender(**settings).fit(
        tx[tx["timestamp"] <= as_of], ev[ev["timestamp"] <= as_of], as_of=as_of
    )
    assert (tx["timestamp"] > as_of).sum() > 1000  # there is a future to leak
    pd.testing.assert_frame_equal(full.recommend(), cut.recommend())
    pd.testing.assert_frame_equal(full.evaluation_, cut.evaluation_)
    assert full.interactions_.time.max() <= np.datetime64(as_of)


def test_evaluation_frame_covers_models_cohorts_and_segments(fitted):
    rec, _, segments = fitted
    ev = rec.evaluation_
    assert set(ev["model"]) == {
        "als",
        "bpr",
        "item_item",
        "segment_popularity",
        "popularity",
        "served",
    }
    assert set(ev["cohort"]) == {"all", "≤1 order", "≥2 orders"}
    assert set(ev["segment"]) == {"all", *segments.unique()}
    assert ev.loc[ev["chosen"], "model"].unique().tolist() == [rec.chosen_]
    one = ev[(ev["cohort"] == "all") & (ev["segment"] == "all")]
    assert one.groupby("model").size().unique().tolist() == [8]  # eight metrics each
    assert not ev.duplicated(["model", "cohort", "segment", "metric"]).any()


def test_similar_items_known_and_unknown(fitted):
    rec, _, _ = fitted
    out = rec.similar_items(["P00001", "no-such-product"], n=4)
    known = out[out["product_id"] == "P00001"]
    assert "P00001" not in known["similar_product_id"].tolist()
    assert known["score"].is_monotonic_decreasing and known["score"].notna().all()
    unknown = out[out["product_id"] == "no-such-product"]
    assert unknown["rank"].tolist() == [1, 2, 3, 4] and unknown["score"].isna().all()


@pytest.mark.parametrize(
    ("kwargs", "msg"),
    [
        (
            {"model": "svd"},
            "The 'model' parameter of Recommender must be one of auto, als, "
            "bpr, item_item, segment_popularity, popularity. Got 'svd'.",
        ),
        (
            {"horizon_days": 0},
            "The 'horizon_days' parameter of Recommender must be an int >= 1. Got 0.",
        ),
        (
            {"repeat_threshold": 2},
            "The 'repeat_threshold' parameter of Recommender must be a number in [0, 1]. Got 2.",
        ),
        (
            {"params": {"svd": {}}},
            "The 'params' parameter of Recommender names unknown "
            "models: svd. Expected some of: als, bpr, item_item, segment_popularity, popularity.",
        ),
    ],
)
def test_bad_parameters_are_refused(tiny_tx, kwargs, msg):
    with pytest.raises(InputError, match=re.escape(msg)):
        Recommender(**kwargs).fit(tiny_tx)


def test_segments_must_be_a_series(tiny_tx):
    msg = (
        "The 'segments' argument of Recommender.fit must be a pandas Series of segment names "
        "indexed by customer_id. Got DataFrame. Pass frame.set_index('customer_id')['segment']."
    )
    frame = pd.DataFrame({"customer_id": ["a"], "segment": ["x"]})
    with pytest.raises(InputError, match=re.escape(msg)):
        Recommender().fit(tiny_tx, segments=frame)


def test_not_fitted_and_bad_n(fitted):
    msg = "This Recommender is not fitted yet. Call fit(transactions) first."
    with pytest.raises(NotFittedError, match=re.escape(msg)):
        Recommender().recommend(["a"])
    msg = "The 'n' parameter of Recommender must be an int >= 1. Got 0."
    with pytest.raises(InputError, match=re.escape(msg)):
        fitted[0].recommend(["a"], n=0)


def test_a_fitted_recommender_pickles_for_the_run(fitted):
    import pickle

    rec = fitted[0]
    again = pickle.loads(pickle.dumps(rec))
    pd.testing.assert_frame_equal(again.recommend(["C0000002"]), rec.recommend(["C0000002"]))
    pd.testing.assert_frame_equal(again.similar_items(["P00002"]), rec.similar_items(["P00002"]))
