"""Real-time scoring against the run it scores with: at the run's ``as_of`` it must give
every customer the run's own features and scores back; later, it must follow the orders."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from valueseg.errors import InputError
from valueseg.predict.btyd import ValueFit, value_features
from valueseg.predict.estimators import ChurnPredictor
from valueseg.store import Store
from valueseg.store.web import LINE_COLUMNS, customer_line_rows, customer_views
from valueseg.web.realtime import Rescored, RunModels, load_run_models, rescore, rescore_many
from valueseg.web.rebuild import rebuild_features, summary


@pytest.fixture(scope="module")
def store(built_db: Path) -> Iterator[Store]:
    with Store(built_db, read_only=True) as opened:
        yield opened


@pytest.fixture(scope="module")
def models(store: Store) -> RunModels:
    return load_run_models(store, 1)


def _stored(store: Store, table: str) -> pd.DataFrame:
    return (
        store.con.execute(f"SELECT * FROM {table} WHERE run_id = 1").df().set_index("customer_id")
    )


def _same(a: object, b: object) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    x = np.nan if a is None else float(a)  # type: ignore[arg-type]
    y = np.nan if b is None else float(b)  # type: ignore[arg-type]
    return bool(np.isclose(x, y, rtol=1e-9, atol=1e-12, equal_nan=True))


def test_rebuilt_features_equal_the_runs_for_every_customer(
    store: Store, models: RunModels
) -> None:
    stored = _stored(store, "customer_features")
    wrong: list[tuple[str, str, object, object]] = []
    for customer in stored.index:
        lines = customer_line_rows(store, customer, models.as_of)
        views = customer_views(store, customer, models.as_of)
        row = rebuild_features(
            lines, models.as_of, channels=models.channels, categories=models.categories,
            views=views,
        )  # fmt: skip
        wrong += [(customer, k, v, stored.loc[customer, k]) for k, v in row.items()
                  if not _same(v, stored.loc[customer, k])]  # fmt: skip
    assert wrong == []
    assert len(row) >= 30  # the summary, the order columns and the shares


def test_rescoring_at_as_of_gives_every_customer_the_runs_scores(
    store: Store, models: RunModels
) -> None:
    stored = _stored(store, "customer_scores")
    actions = _stored(store, "customer_actions")
    assert len(actions) == len(stored)
    wrong = []
    for customer in stored.index:
        scores = rescore(store, models, customer, models.as_of).scores
        if scores["action"] != actions.loc[customer, "action"]:
            wrong.append((customer, "action", scores["action"], actions.loc[customer, "action"]))
        for key, value in scores.items():
            if key in ("frequency", "recency", "T", "monetary_value", "action", "action_rule"):
                continue
            expected = stored.loc[customer, key]
            if key == "expected_next_order_date":
                value = pd.NaT if value is None else pd.Timestamp(value)
                same = (pd.isna(value) and pd.isna(expected)) or value == pd.Timestamp(expected)
            else:
                same = _same(value, expected)
            if not same:
                wrong.append((customer, key, value, expected))
    assert wrong == []


def test_an_order_later_moves_the_summary_and_the_recency_score(
    store: Store, models: RunModels
) -> None:
    customer = store.con.execute(
        "SELECT customer_id FROM customer_scores WHERE run_id = 1 AND rfm_r = 1 "
        "ORDER BY customer_id LIMIT 1"
    ).fetchall()[0][0]
    lines = pd.DataFrame(customer_line_rows(store, customer, models.as_of), columns=LINE_COLUMNS)
    later = models.as_of + timedelta(days=3)
    extra = lines.iloc[[-1]].assign(timestamp=later, order_id="later", is_return=False)
    grown = pd.concat([lines, extra], ignore_index=True)
    before = summary(lines[~lines["is_return"]], models.as_of)
    after = summary(grown[~grown["is_return"]], later)
    assert after["frequency"] == before["frequency"] + 1
    assert after["recency"] == after["T"] == before["T"] + 3
    at_order = rescore(store, models, customer, later)  # the store lacks that order:
    assert at_order.scores["rfm_r"] == 1  # nothing changed but the clock


def test_a_customer_without_purchases_cannot_be_scored(store: Store, models: RunModels) -> None:
    with pytest.raises(InputError, match="has no purchase up to 2025-01-01 00:00"):
        rescore(store, models, "nobody", models.as_of)


def test_a_kept_churn_learner_scores_the_rebuilt_row(store: Store, models: RunModels) -> None:
    """The run under test kept no learner (the baseline won), so fit one as a run would keep
    it, and check real-time scoring feeds it the rebuilt row, value-model columns included."""
    features = _stored(store, "customer_features").drop(columns="run_id").reset_index()
    fit = ValueFit(models.value_name or "", models.estimators["value_model"],
                   models.estimators["spend_model"])  # fmt: skip
    summary_cols = features[["frequency", "recency", "T", "monetary_value"]]
    X = pd.concat([features, value_features(fit, summary_cols, models.horizon_days, "D")], axis=1)
    y = (features["days_since_last_order"] > features["days_since_last_order"].median()).to_numpy()
    learner = ChurnPredictor(learner="lr", random_state=0).fit(X, y)
    with_learner = dataclasses.replace(models, estimators={**models.estimators, "churn": learner})
    for i in (0, 7, 42):
        customer = str(features.loc[i, "customer_id"])
        rescored = rescore(store, with_learner, customer, models.as_of)
        got = rescored.scores.get("churn_probability")
        assert "churn_probability" in rescored.recomputed, rescored.notes
        assert got == pytest.approx(learner.predict_proba(X.iloc[[i]])[0, 1], rel=1e-9)


def test_a_sequence_learner_the_run_chose_is_not_rerun_and_says_so(
    store: Store, models: RunModels
) -> None:
    """A run won by the sequence learner keeps none (it reads the order sequence): the
    churn probability is not recomputed, and the response says why."""
    estimators = {**models.estimators, "churn": None, "spend": None, "not_kept": ["sequence"]}
    chosen_sequence = dataclasses.replace(models, estimators=estimators)
    customer = str(_stored(store, "customer_features").index[0])
    rescored = rescore(store, chosen_sequence, customer, models.as_of)
    assert "churn_probability" not in rescored.recomputed
    assert any("sequence learner reads the order sequence" in n for n in rescored.notes)
    assert {"p_alive", "predicted_clv_365d"} <= set(rescored.recomputed)  # the rest goes on


def test_clusters_that_read_the_embedding_are_not_recomputed_and_say_so(
    store: Store, models: RunModels
) -> None:
    segmenter = SimpleNamespace(columns_=["orders_total", "embedding_0"])
    embedded = dataclasses.replace(models, estimators={**models.estimators, "segmenter": segmenter})
    customer = str(_stored(store, "customer_features").index[0])
    rescored = rescore(store, embedded, customer, models.as_of)
    assert "cluster" not in rescored.recomputed
    assert any("read the sequence learner's embedding" in n for n in rescored.notes)


def test_clusters_are_named_as_the_run_named_them(store: Store, models: RunModels) -> None:
    names = store.con.execute(
        "SELECT segment FROM segments WHERE run_id = 1 AND lens = 'cluster' ORDER BY 1"
    ).fetchall()
    assert sorted(name for _, name in models.clusters.values()) == [n for (n,) in names]
    assert models.customers == 200 and models.value_name == "bg_nbd"


def test_a_batch_scores_each_customer_as_alone(store: Store, models: RunModels) -> None:
    """rescore_many of every customer, at mixed moments, one of them with no purchase,
    gives each the answer rescore gives them alone (the estimators applied once to all)."""
    customers = [str(c) for c in _stored(store, "customer_scores").index]
    wanted = [(c, models.as_of + timedelta(days=(i % 3) * 20)) for i, c in enumerate(customers)]
    wanted.insert(57, ("nobody", models.as_of))
    together = rescore_many(store, models, wanted)
    assert isinstance(together[57], InputError)
    assert str(together[57]).startswith("Customer 'nobody' has no purchase")
    wrong = []
    for (customer, at), got in zip(wanted, together, strict=True):
        if customer == "nobody":
            continue
        assert isinstance(got, Rescored)
        alone = rescore(store, models, customer, at)
        if (got.recomputed, got.carried, got.notes) != (alone.recomputed, alone.carried,
                                                        alone.notes):  # fmt: skip
            wrong.append((customer, "columns or notes"))
        wrong += [(customer, k) for k, v in alone.scores.items()
                  if not (v == got.scores.get(k) or _same(v, got.scores.get(k)))]  # fmt: skip
    assert wrong == []
    assert len({str(r.scores["expected_next_order_date"]) for r in together[:9]  # type: ignore[union-attr]
                if isinstance(r, Rescored)}) > 3  # fmt: skip


def test_a_batch_holds_each_customer_once(store: Store, models: RunModels) -> None:
    customer = str(_stored(store, "customer_scores").index[0])
    with pytest.raises(ValueError, match="each customer once"):
        rescore_many(store, models, [(customer, models.as_of), (customer, models.as_of)])
