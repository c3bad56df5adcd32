"""The stage's contract with the run, its skips, and the frames the CLI prints."""

from __future__ import annotations

import re
from datetime import datetime

import pandas as pd
import pytest

from valueseg.errors import InputError
from valueseg.recommend import (
    customer_recommendations,
    evaluation_table,
    recommend_stage,
)
from valueseg.recommend.evaluate import EVALUATION_COLUMNS
from valueseg.recommend.recommender import RECOMMENDATION_COLUMNS, SIMILAR_COLUMNS

AS_OF = datetime(2024, 4, 1)


def test_a_shop_without_product_id_is_skipped_with_one_line(tiny_tx):
    result = recommend_stage(tiny_tx.drop(columns=["product_id"]), None, None, AS_OF)
    assert result.skipped and result.chosen is None
    assert result.notes == [
        "Recommendations skipped: the transactions have no product_id column (the product "
        "of each order line is needed). Load order lines with --map product_id=COLUMN."
    ]
    assert list(result.recommendations.columns) == list(RECOMMENDATION_COLUMNS)
    assert list(result.evaluation.columns) == list(EVALUATION_COLUMNS)
    assert list(result.similar.columns) == list(SIMILAR_COLUMNS)
    assert result.recommendations.empty and result.similar.empty


def test_a_shop_whose_products_are_all_missing_is_skipped(tiny_tx):
    result = recommend_stage(tiny_tx.assign(product_id=None), None, None, AS_OF)
    assert result.notes == [
        "Recommendations skipped: none of the 8 order lines up to 2024-04-01 has a product_id."
    ]


def test_events_without_products_are_left_out_with_a_note(tiny_tx, tiny_events):
    events = tiny_events.drop(columns=["product_id"])
    result = recommend_stage(tiny_tx, events, None, AS_OF)
    assert not result.skipped
    assert result.notes[0] == (
        "Events left out of the recommendations: no column product_id "
        "(needed: customer_id, timestamp, event_type, product_id)."
    )
    assert "e" not in set(result.recommendations["customer_id"])  # e only browsed


def test_lines_without_product_are_counted(tiny_tx):
    tx = tiny_tx.copy()
    tx.loc[0, "product_id"] = None
    result = recommend_stage(tx, None, None, AS_OF)
    assert "1 order lines without product_id were left out." in result.notes


def test_tiny_shop_gets_lists_for_every_buyer(tiny_tx, tiny_events):
    result = recommend_stage(tiny_tx, tiny_events, None, AS_OF, n=3)
    recs = result.recommendations
    assert sorted(recs["customer_id"].unique()) == ["a", "b", "c"]  # d bought after as_of
    assert recs.groupby("customer_id")["rank"].max().max() <= 3
    assert set(recs["model"]) <= {"popularity", "segment_popularity"}


@pytest.fixture(scope="module")
def synth_result(synth_shop):
    shop = synth_shop(3000, 2, "2024-12-31")
    segments = shop.truth.set_index("customer_id")["segment"]
    as_of = datetime(2025, 1, 1)
    return recommend_stage(shop.transactions, shop.events, segments, as_of), shop


def test_stage_frames_on_a_synthetic_shop(synth_result):
    result, shop = synth_result
    assert result.chosen in {"als", "bpr", "item_item", "segment_popularity", "popularity"}
    recs = result.recommendations
    assert list(recs.columns) == list(RECOMMENDATION_COLUMNS)
    assert recs["customer_id"].nunique() == shop.transactions["customer_id"].nunique()
    sim = result.similar
    assert (sim["product_id"] != sim["similar_product_id"]).all()
    assert sim.groupby("product_id").size().max() == 10
    assert sim["score"].notna().all()
    assert result.recommender is not None
    assert result.recommender.interactions_.as_of == pd.Timestamp("2025-01-01")


def test_evaluation_table_orders_models_and_marks_the_chosen(synth_result):
    result, _ = synth_result
    table = evaluation_table(result.evaluation)
    assert table.index[0] == "served"
    assert table.loc[result.chosen, "chosen"]
    assert table.columns.tolist() == [
        "chosen",
        "precision@10",
        "recall@10",
        "ndcg@10",
        "map@10",
        "hit_rate@10",
        "coverage",
        "gini",
        "novelty",
        "customers",
    ]
    rest = table.drop(index="served")["ndcg@10"]
    assert rest.is_monotonic_decreasing


def test_evaluation_table_unknown_group(synth_result):
    result, _ = synth_result
    msg = "The evaluation has no rows for cohort 'vip' and segment 'all'. Cohorts: all, "
    with pytest.raises(InputError, match=re.escape(msg)):
        evaluation_table(result.evaluation, cohort="vip")


def test_customer_recommendations(synth_result):
    result, _ = synth_result
    recs = result.recommendations
    first = recs["customer_id"].iloc[0]
    mine = customer_recommendations(recs, first)
    assert mine.columns.tolist() == ["rank", "product_id", "score", "reason", "model"]
    assert mine["rank"].tolist() == list(range(1, 11))
    msg = (
        f"Customer 'nobody' has no recommendations in this run; "
        f"{recs['customer_id'].nunique():,} customers have (for example {first!r}). "
        "Check the id: recommendations go to customers who bought before the run's as-of date."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        customer_recommendations(recs, "nobody")
