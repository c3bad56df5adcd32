"""The predict and recommend stages inside a run: what they write, say and print."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from valueseg.io import ingest
from valueseg.pipeline import run
from valueseg.store import Store
from valueseg.synth import make_shop

NOW = datetime(2025, 1, 2)


@pytest.fixture(scope="module")
def shop_run(tmp_path_factory):
    """A 1,500-customer shop with events, run once (all stages)."""
    shop = make_shop(1500, random_state=11)
    db = tmp_path_factory.mktemp("stages") / "s.duckdb"
    ingest(shop.transactions, db=db, now=NOW)
    ingest(shop.events, db=db, kind="events", now=NOW)
    result = run(db)
    return shop, db, result


def _sql(db, sql, args=()):
    with Store(db, read_only=True) as store:
        return store.con.execute(sql, list(args)).df()


def test_every_customer_gets_churn_spend_and_next_order(shop_run):
    shop, db, result = shop_run
    scores = _sql(db, "SELECT * FROM customer_scores WHERE run_id = ?", [result.run_id])
    assert len(scores) == len(shop.truth) == result.customers
    assert scores["churn_probability"].between(0, 1).all()
    assert np.isfinite(scores["predicted_spend_90d"]).all()
    assert (scores["predicted_spend_90d"] >= 0).all()
    dates = pd.to_datetime(scores["expected_next_order_date"])
    assert dates.notna().sum() > 100  # the active ones have a date …
    assert (dates.dropna() >= pd.Timestamp(result.as_of)).all()  # … after as_of
    # … and none is given to a customer more likely gone than not (p_alive < 0.5)
    assert dates[scores["p_alive"] < 0.5].isna().all()


def test_three_reasons_per_customer_in_words(shop_run):
    _, db, result = shop_run
    reasons = _sql(db, "SELECT * FROM customer_reasons WHERE run_id = ?", [result.run_id])
    per = reasons.groupby("customer_id")["rank"].apply(sorted)
    assert len(per) == result.customers
    assert (per.map(tuple) == (1, 2, 3)).all()
    assert reasons["text"].str.len().gt(5).all()


def test_the_leaderboard_is_stored_with_one_choice_per_task(shop_run):
    _, db, result = shop_run
    fits = _sql(db, "SELECT * FROM predict_fits WHERE run_id = ?", [result.run_id])
    assert set(fits["task"]) >= {"churn", "spend"}
    assert fits.groupby("task")["chosen"].sum().eq(1).all()
    churn = fits[fits["task"] == "churn"].set_index("model")
    assert set(churn.index) == {"lr", "tree", "rf", "lgbm", "btyd"}
    auc = {m: json.loads(churn.loc[m, "metrics"])["roc_auc"] for m in churn.index}
    chosen = churn.index[churn["chosen"]][0]
    assert auc[chosen] >= auc["btyd"]  # the chosen one is at least the baseline
    assert all(fits.loc[fits["chosen"], "reason"].str.len() > 0)


def test_a_learner_clv_that_won_replaces_the_value_models_one(shop_run):
    _, db, result = shop_run
    fits = _sql(db, "SELECT model FROM predict_fits WHERE task = 'clv_365d' AND chosen")
    stored = _sql(
        db,
        "SELECT customer_id, predicted_clv_365d FROM customer_scores WHERE run_id = ?",
        [result.run_id],
    ).set_index("customer_id")["predicted_clv_365d"]
    values = result.values.scores.set_index("customer_id")["predicted_clv_365d"]
    predicted = result.predict.scores.set_index("customer_id")
    if len(fits) and fits["model"].iloc[0] != "btyd":
        expected = predicted["predicted_clv_365d"]
    else:
        expected = values
    pd.testing.assert_series_equal(
        stored.sort_index(), expected.sort_index(), check_names=False, check_dtype=False
    )


def test_recommendations_for_every_customer_who_bought_a_product(shop_run):
    shop, db, result = shop_run
    recs = _sql(db, "SELECT * FROM recommendations WHERE run_id = ?", [result.run_id])
    buyers = set(shop.transactions.loc[shop.transactions["product_id"].notna(), "customer_id"])
    assert set(recs["customer_id"]) == buyers
    assert recs.groupby("customer_id").size().eq(10).all()
    assert recs["model"].notna().all() and recs["reason"].notna().all()
    evaluation = _sql(db, "SELECT * FROM recommend_evaluation WHERE run_id = ?", [result.run_id])
    assert {"popularity", "als"} <= set(evaluation["model"])
    similar = _sql(db, "SELECT * FROM similar_products WHERE run_id = ?", [result.run_id])
    assert len(similar) > 0 and (similar["product_id"] != similar["similar_product_id"]).all()


def test_the_run_keeps_its_notes_and_parameters(shop_run):
    _, db, result = shop_run
    notes = _sql(db, "SELECT stage, note FROM run_notes WHERE run_id = ?", [result.run_id])
    assert any(n.startswith("churn_probability from") for n in notes["note"])
    assert list(notes.itertuples(index=False, name=None)) == result.notes
    params = json.loads(_sql(db, "SELECT parameters FROM runs")["parameters"].iloc[0])
    assert params["horizon"] == 90 and params["learners"] == "lr,tree,rf,lgbm"


def test_a_shop_without_products_skips_recommendations_and_goes_on(store):
    shop = make_shop(300, random_state=2)
    ingest(shop.transactions.drop(columns=["product_id"]), db=store, now=NOW)
    result = run(store, learners="lr")
    assert result.recommend is not None and result.recommend.skipped
    notes = store.con.execute("SELECT note FROM run_notes WHERE stage = 'recommend'").fetchall()
    lines = len(shop.transactions)
    assert notes == [
        (
            f"Recommendations skipped: none of the {lines:,} order lines up to 2025-01-01 "
            "has a product_id.",
        )
    ]
    assert store.con.execute("SELECT count(*) FROM recommendations").fetchone() == (0,)
    assert store.con.execute(
        "SELECT count(*), count(churn_probability) FROM customer_scores"
    ).fetchone() == (300, 300)


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "valueseg", *args], capture_output=True, text=True, check=False
    )


def test_cli_predict_and_recommend_print_the_stored_tables(shop_run):
    _, db, result = shop_run
    done = _cli("predict", "--db", str(db), "--run", str(result.run_id))
    assert done.returncode == 0, done.stderr
    assert "value models (baseline)" in done.stdout and "ROC-AUC" in done.stdout
    assert "norm. Gini" in done.stdout and "chosen" in done.stdout
    done = _cli("recommend", "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert "popularity" in done.stdout and "NDCG@k" in done.stdout
    customer = _sql(db, "SELECT min(customer_id) AS c FROM recommendations")["c"].iloc[0]
    done = _cli("recommend", "--db", str(db), "--customer", customer)
    assert done.returncode == 0, done.stderr
    assert f"recommendations for {customer}" in done.stdout


def test_cli_recommend_for_an_unknown_customer_is_one_line(shop_run):
    _, db, _ = shop_run
    done = _cli("recommend", "--db", str(db), "--customer", "nobody")
    assert done.returncode == 1
    assert done.stderr.startswith("Error: Customer 'nobody' has no recommendations in this run")
    assert len(done.stderr.strip().splitlines()) == 1


def test_cli_predict_on_a_run_that_did_not_finish(shop_run):
    _, db, _ = shop_run
    done = _cli("predict", "--db", str(db), "--run", "99")
    assert done.returncode == 1
    assert done.stderr.startswith("Error: Run 99 did not finish in ")


def test_the_recommender_flag_names_the_recommend_package_models():
    from valueseg.params import RECOMMENDERS
    from valueseg.recommend.models import MODELS

    assert RECOMMENDERS == ("auto", *MODELS)


def test_a_fixed_recommender_serves_the_customers_with_orders(store):
    shop = make_shop(400, random_state=5)
    ingest(shop.transactions, db=store, now=NOW)
    result = run(store, learners="lr", recommender="item_item")
    assert result.recommend is not None and result.recommend.chosen == "item_item"
    models = store.con.execute("SELECT DISTINCT model FROM recommendations").fetchall()
    assert {m for (m,) in models} <= {"item_item", "segment_popularity"}
    params = store.con.execute("SELECT parameters FROM runs").fetchone()[0]
    assert json.loads(params)["recommender"] == "item_item"


def test_the_run_keeps_its_fitted_estimators_and_they_score_as_it_did(shop_run):
    from valueseg.models import backtest
    from valueseg.predict import ChurnPredictor
    from valueseg.store.estimators import estimator_names, read_estimator

    _, db, result = shop_run
    with Store(db, read_only=True) as store:
        names = estimator_names(store, result.run_id)
        model = read_estimator(store, result.run_id, "value_model")
        churn = read_estimator(store, result.run_id, "churn") if "churn" in names else None
        stored = store.con.execute(
            'SELECT f.frequency, f.recency, f."T", s.p_alive FROM customer_features f '
            "JOIN customer_scores s USING (run_id, customer_id) WHERE run_id = ?",
            [result.run_id],
        ).df()
    assert {"value_model", "spend_model", "segmenter"} <= set(names)
    if result.predict.tasks["churn"].model is not None:
        assert isinstance(churn, ChurnPredictor)
    again = backtest.p_alive(result.values.chosen.name, model, stored)
    np.testing.assert_allclose(again, stored["p_alive"], rtol=1e-12)


def test_a_sample_of_the_validation_predictions_is_kept_for_the_curves(shop_run):
    from valueseg.store.predict import read_validation

    _, db, result = shop_run
    with Store(db, read_only=True) as store:
        churn = read_validation(store, result.run_id, "churn")
        spend = read_validation(store, result.run_id, "spend")
    assert set(churn["model"]) == {"lr", "tree", "rf", "lgbm", "btyd"}
    rows = churn.groupby("model")["row"].apply(tuple)
    assert rows.nunique() == 1  # the same customers for every model
    assert set(churn["target"]) == {0.0, 1.0} and churn["prediction"].between(0, 1).all()
    cv = result.predict.validation["churn"]
    assert len(rows.iloc[0]) == min(5_000, len(cv.target))
    assert len(spend) > 0 and (spend["target"] >= 0).all()
