"""The predict stage end to end: scores for everyone, reasons, leaderboard, fallbacks."""

from __future__ import annotations

import json
import re
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from valueseg.io import ingest
from valueseg.predict import leaderboard_frame, stored_leaderboard, stored_reasons
from valueseg.predict.evaluate import temporal_folds
from valueseg.predict.labels import customer_groups
from valueseg.store import Store
from valueseg.store.predict import read_reasons, write_predict_fits, write_reasons
from valueseg.synth import make_shop

NOW = datetime(2025, 1, 2)
AS_OF = datetime(2025, 1, 1)


def test_every_customer_scored(small_shop, small_run):
    shop, _ = small_shop
    scores = small_run.scores
    assert len(scores) == len(shop.truth) and scores["customer_id"].is_unique
    assert scores["churn_probability"].between(0, 1).all()
    assert (scores["predicted_spend_90d"] >= 0).all()
    dates = pd.to_datetime(scores["expected_next_order_date"])
    assert (dates.dropna() >= pd.Timestamp(AS_OF)).all()
    assert 0.05 < dates.notna().mean() < 0.95  # some more likely gone than not


def test_three_reasons_per_customer(small_run):
    reasons = small_run.reasons
    assert reasons.groupby("customer_id")["rank"].apply(list).map(lambda r: r == [1, 2, 3]).all()
    assert reasons["customer_id"].nunique() == len(small_run.scores)
    assert reasons["text"].str.len().gt(0).all()
    size = reasons["contribution"].abs().to_numpy().reshape(-1, 3)
    assert (np.diff(size, axis=1) <= 1e-12).all()  # largest first
    assert list(small_run.importance.columns) == ["feature", "mean_abs_contribution"]


def test_leaderboard_and_fits(small_run):
    fits = small_run.fits
    json.dumps(fits)  # JSON-ready for predict_fits
    board = small_run.leaderboard
    for task in ("churn", "spend"):
        rows = board[board["task"] == task]
        assert set(rows["model"]) == {"lr", "tree", "btyd"}
        assert rows["chosen"].sum() == 1
        chosen = rows[rows["chosen"]].iloc[0]
        metric = "roc_auc" if task == "churn" else "gini"
        assert chosen[metric] == rows[metric].max()
    assert any(n.startswith("churn_probability from") for n in small_run.notes)
    assert any("predicted_clv_365d" in n for n in small_run.notes)


def test_validation_is_later_and_other_customers(small_run):
    cv = small_run.validation["churn"]
    assert len(cv.target) == len(cv.customer_id) == cv.predictions.shape[0]
    ids = pd.Series(["a", "b", "c", "d"] * 3)
    group = customer_groups(ids, 2, 0)
    cutoff = np.repeat([0, 1, 2], 4)
    for train, valid in temporal_folds(cutoff, group, 2):
        assert set(ids[train]).isdisjoint(set(ids[valid]))
        assert cutoff[train].max() < cutoff[valid].min()


def test_next_order_backtest_near_half(small_run):
    bt = small_run.next_order_backtest
    assert bt["expected_share"] == 0.5
    assert bt["customers_checked"] > 500
    assert 0.35 < bt["share"] < 0.65
    row = next(f for f in small_run.fits if f["task"] == "next_order")  # kept in predict_fits
    assert row["metrics"] == bt and row["reason"] in small_run.notes
    assert f"{100 * bt['share']:.1f} % of {bt['customers_checked']:,} customers" in row["reason"]


def test_store_round_trip(small_run):
    with Store(":memory:") as store:  # schema 3 has the predict tables
        write_predict_fits(store, 7, small_run.fits)
        write_reasons(store, 7, small_run.reasons)
        board = stored_leaderboard(store, 7)
        pd.testing.assert_frame_equal(board, leaderboard_frame(small_run.fits))
        assert len(stored_reasons(store, 7)) == 4  # churn, spend, clv_365d, next_order
        one = small_run.reasons["customer_id"].iloc[0]
        assert len(read_reasons(store, 7, one)) == 3


@pytest.fixture(scope="module")
def half_year(load_shop):
    """Six months of history: one 90-day cutoff (2024-10-03) with 90 days before it."""
    shop = make_shop(1_500, start="2024-07-01", end="2024-12-31", random_state=2)
    with Store(":memory:") as store:
        yield load_shop(store, shop)


def test_one_cutoff_falls_back_to_the_baseline(half_year, run_stage):
    result = run_stage(half_year, learners=("lr",))
    why = (
        "too little history for learners: 1 cutoff with a whole label window (2024-10-03), "
        "2 needed. Pass a shorter --horizon or load more history"
    )
    assert f"churn_probability from the value models' baseline: {why}" in result.notes
    assert result.scores["churn_probability"].notna().all()
    churn = [f for f in result.fits if f["task"] == "churn"]
    assert [(f["model"], f["chosen"]) for f in churn] == [("btyd", True), ("lr", False)]
    assert churn[0]["metrics"]["roc_auc"] > 0.6  # scored on the one cutoff it has
    assert churn[1]["reason"] == f"not fitted: {why}"
    assert len(result.reasons) == 3 * len(result.scores)
    assert any(n.startswith("reasons of the baseline's churn scores") for n in result.notes)


def test_horizon_longer_than_the_history(half_year, run_stage):
    result = run_stage(half_year, horizon_days=200, learners=("lr",))
    assert result.cutoffs == []
    assert any(
        re.search(r"too little history for learners: 0 cutoffs .*\(none\).*--horizon", n)
        for n in result.notes
    )
    assert result.scores["churn_probability"].notna().all()
    assert result.next_order_backtest["customers_checked"] == 0


def test_too_few_churners(run_stage, load_shop):
    shop = make_shop(150, random_state=4)
    with Store(":memory:") as store:
        result = run_stage(load_shop(store, shop), learners=("tree",))
    note = next(n for n in result.notes if n.startswith("churn_probability"))
    assert "too few customers of one class for learners" in note
    assert "(50 of each needed)" in note


def test_one_class_only(run_stage):
    """Eighty customers who buy every week: nobody goes 90 days without an order."""
    days = pd.date_range("2023-06-01", "2024-12-31", freq="7D")
    rows = [
        {"customer_id": f"c{c}", "order_id": f"{c}-{i}", "timestamp": d, "amount": 10.0 + c}
        for c in range(80)
        for i, d in enumerate(days + pd.Timedelta(hours=c))
    ]
    with Store(":memory:") as store:
        ingest(pd.DataFrame(rows), db=store, now=NOW)
        result = run_stage(store, learners=("lr",))
    note = next(n for n in result.notes if n.startswith("churn_probability"))
    assert "one class only in the training cutoffs: every customer stayed" in note
    assert len(result.scores) == 80


def test_large_shops_get_path_reasons_and_sampled_shap(monkeypatch):
    """Past EXACT_SHAP_ROWS customers, LightGBM's reasons come from its path decomposition
    and the importance from the exact SHAP values of a sample; the notes say so."""
    from types import SimpleNamespace

    from valueseg.predict import stage as stage_mod
    from valueseg.predict.estimators import ChurnPredictor
    from valueseg.predict.tasks import TaskResult

    rng = np.random.default_rng(0)
    days = rng.uniform(0, 300, 600)
    X = pd.DataFrame(
        {
            "customer_id": np.arange(600).astype(str),
            "days_since_last_order": days,
            "orders_total": rng.poisson(3, 600).astype(float),
        }
    )
    y = rng.random(600) < days / 300
    model = ChurnPredictor(learner="lgbm", random_state=0).fit(X, y)
    churn = TaskResult("churn", "lgbm", "", model=model)
    ctx = SimpleNamespace(horizon_days=90, freq="D", random_state=0)
    monkeypatch.setattr(stage_mod, "EXACT_SHAP_ROWS", 100)
    monkeypatch.setattr(stage_mod, "SHAP_SAMPLE", 50)
    notes: list[str] = []
    columns = ["days_since_last_order", "orders_total"]
    reasons, imp = stage_mod._reasons(churn, X, columns, pd.DataFrame(), ctx, notes)
    assert len(reasons) == 2 * 600  # two features: two reasons each
    path = model.contributions(X[columns], method="path")
    first = reasons[reasons["rank"] == 1]["contribution"].abs().to_numpy()
    assert first == pytest.approx(path[columns].abs().max(axis=1).to_numpy())
    assert notes[0].startswith("reasons per customer from LightGBM's path decomposition")
    assert imp["feature"].iloc[0] == "days_since_last_order"
