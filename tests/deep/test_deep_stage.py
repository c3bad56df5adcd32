"""The sequence learner on the predict stage's leaderboard: same folds, chosen only if it wins."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from valueseg.deep.board import SequenceBoard
from valueseg.features.compute import compute_features
from valueseg.io import ingest
from valueseg.pipeline import _estimators
from valueseg.predict import PredictResult, predict_stage
from valueseg.predict.evaluate import MAX_TRAIN_ROWS, _at_most, temporal_folds
from valueseg.predict.tasks import Stacked, run_task
from valueseg.segment.lenses import segment_customers
from valueseg.store import Store
from valueseg.synth import make_shop

AS_OF = datetime(2025, 1, 1)
NOW = datetime(2025, 1, 2)


class _Fake:
    """An extra learner that predicts the target (``perfect``) or noise, and records folds."""

    def __init__(self, data: Stacked, perfect: bool) -> None:
        self.data, self.perfect = data, perfect
        self.folds: Any = None

    def out_of_fold(self, task, folds):
        self.folds = folds
        rng = np.random.default_rng(0)
        valid = np.concatenate([v for _, v in folds])
        truth = np.asarray(self.data.target[task], np.float64)[valid]
        return truth if self.perfect else rng.random(len(valid))

    def params(self, task):
        return {"class": "Fake"}

    def refit(self, task):
        return "refitted"


def _stacked(n: int = 600) -> Stacked:
    rng = np.random.default_rng(3)
    x = rng.normal(size=2 * n)
    churn = rng.random(2 * n) < 1 / (1 + np.exp(-2 * x))
    ids = np.tile([f"c{i}" for i in range(n)], 2)
    return Stacked(
        X=pd.DataFrame({"x": x}),
        target={"churn": churn, "spend": np.where(churn, 0.0, 10.0)},
        cutoff=np.repeat([0, 1], n),
        group=np.tile(np.arange(n) % 2, 2),
        n_groups=2,
        dates=["2024-01-01", "2024-04-01"],
        customer_id=ids,
    )


@pytest.mark.parametrize("perfect", [True, False])
def test_an_extra_learner_gets_the_same_folds_and_wins_only_by_its_metric(perfect):
    data = _stacked()
    fake = _Fake(data, perfect)
    result = run_task(
        "churn", data, ["lr", "sequence"], random_state=0, baseline=False, extra={"sequence": fake}
    )
    rng = np.random.default_rng(0)
    expected = [
        (_at_most(t, MAX_TRAIN_ROWS, rng), v)
        for t, v in temporal_folds(data.cutoff, data.group, data.n_groups)
    ]
    for (t, v), (t2, v2) in zip(fake.folds, expected, strict=True):
        np.testing.assert_array_equal(t, t2)
        np.testing.assert_array_equal(v, v2)
    assert result.cv is not None
    assert list(result.cv.predictions.columns) == ["lr", "sequence"]
    assert {row["model"] for row in result.fits} == {"lr", "sequence"}
    assert result.chosen == ("sequence" if perfect else "lr")
    assert (result.model == "refitted") is perfect
    if perfect:
        assert result.cv.metrics["sequence"]["roc_auc"] == 1.0


@pytest.fixture(scope="module")
def shop_run() -> Iterator[tuple[Store, pd.DataFrame, Any]]:
    from valueseg.pipeline import _value_models

    shop = make_shop(1_000, random_state=4)
    with Store(":memory:") as store:
        ingest(shop.transactions, db=store, now=NOW)
        ingest(shop.events, kind="events", db=store, now=NOW)
        features = compute_features(store, AS_OF).to_pandas()
        yield store, features, _value_models(store, AS_OF, features, "D")


@pytest.fixture(scope="module")
def sequence_run(shop_run) -> PredictResult:
    store, features, values = shop_run
    return predict_stage(store, AS_OF, features, values, learners="lr,sequence", embedding=True)


def test_the_stage_runs_the_sequence_learner_beside_the_others(sequence_run):
    result = sequence_run
    json.dumps(result.fits)
    board = result.leaderboard
    for task, metric in (("churn", "roc_auc"), ("spend", "gini")):
        rows = board[board["task"] == task].set_index("model")
        assert set(rows.index) == {"lr", "sequence", "btyd"}
        assert np.isfinite(rows.loc["sequence", metric])
        assert rows["chosen"].sum() == 1
        assert rows.loc[rows["chosen"], metric].iloc[0] == rows[metric].max()
        predictions = result.validation[task].predictions
        assert predictions["sequence"].notna().all() and len(predictions) > 300
    row = next(f for f in result.fits if f["model"] == "sequence" and f["task"] == "churn")
    assert row["params"]["class"] == "SequenceLearner" and len(row["params"]["best_epochs"]) == 2
    assert result.seconds["sequence_fit"] > 0 and result.seconds["sequence_sequences"] > 0
    assert result.scores["churn_probability"].between(0, 1).all()


def test_the_embedding_feeds_the_clusters_which_still_speak_of_the_feature_table(
    shop_run, sequence_run
):
    """--cluster-features +embedding: one embedding row per customer from the refit
    learner; the segmenter reads it, the stored profiles, rules and centroids do not."""
    features = shop_run[1]
    embedding = sequence_run.embedding
    assert embedding is not None
    assert list(embedding["customer_id"]) == list(features["customer_id"])
    dims = [c for c in embedding.columns if c != "customer_id"]
    assert len(dims) == 32 and np.isfinite(embedding[dims].to_numpy()).all()
    assert embedding[dims].to_numpy().std(axis=0).min() > 0  # every axis varies
    assert any("32-number customer embedding" in n for n in sequence_run.notes)

    plain = segment_customers(features, random_state=0, clusters=(4, 4))
    both = segment_customers(features, random_state=0, clusters=(4, 4), extra_features=embedding)
    assert set(dims) <= set(both.segmenter.columns_)
    assert not set(dims) & set(plain.segmenter.columns_)
    assert both.customers["cluster"].notna().all()
    assert adjusted_rand_score(plain.customers["cluster"], both.customers["cluster"]) < 1.0
    for profile in both.segments.loc[both.segments["lens"] == "cluster", "profile"]:
        info = json.loads(profile)
        assert info["centroid"] and not any(k.startswith("embedding_") for k in info["centroid"])
        words = json.dumps([info["lift"], info["median"], info["rules"], info["top_features"]])
        assert "embedding_" not in words


def test_without_the_sequence_learner_there_is_no_embedding_and_a_note(shop_run):
    store, features, values = shop_run
    result = predict_stage(store, AS_OF, features, values, learners="lr", embedding=True)
    assert result.embedding is None
    assert "no customer embedding: the sequence learner was not asked for" in result.notes


def test_when_the_sequence_learner_wins_it_scores_everyone(shop_run, monkeypatch):
    """A sequence learner that 'predicts' the validation labels wins both tasks: the refit
    scores every customer, reasons come from the surrogate, the 365-day contest goes to lr."""

    def perfect(self, task, folds):
        valid = np.concatenate([v for _, v in folds])
        return np.asarray(self.data.target[task], np.float64)[valid]

    monkeypatch.setattr(SequenceBoard, "out_of_fold", perfect)
    store, features, values = shop_run
    result = predict_stage(store, AS_OF, features, values, learners=("lr", "sequence"))
    assert result.tasks["churn"].chosen == result.tasks["spend"].chosen == "sequence"
    assert type(result.tasks["spend"].model).__name__ == "SequenceLearner"
    assert result.tasks["spend"].model.task == "spend"
    scores = result.scores
    assert len(scores) == len(features) and scores["customer_id"].is_unique
    assert scores["churn_probability"].between(0, 1).all()
    assert (scores["predicted_spend_90d"] >= 0).all() and scores["predicted_spend_90d"].std() > 0
    assert any(n.startswith("reasons of the sequence learner's churn scores") for n in result.notes)
    assert any("predicted_clv_365d" in n and "lr" in n for n in result.notes)
    assert len(result.reasons) == 3 * len(features)
    # a server cannot rerun it per event: the run keeps no such learner and says so
    kept = _estimators(
        SimpleNamespace(chosen=None, spend_model=None), result, SimpleNamespace(segmenter=None)
    )
    assert kept["churn"] is None and kept["spend"] is None and kept["not_kept"] == ["sequence"]
