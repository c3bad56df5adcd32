"""Real-time scoring on arrays (valueseg.web.score_arrays) gives what the frame functions
give: the value models' numbers for each model, and a whole batch's scores."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from valueseg.models import BetaGeo, BetaGeoBetaBinom, GammaGamma, ModifiedBetaGeo, ParetoNBD
from valueseg.models.choice import score_customers
from valueseg.predict.btyd import ValueFit, next_order_periods, value_features
from valueseg.predict.estimators import ChurnPredictor, SpendPredictor
from valueseg.store import Store
from valueseg.web import realtime
from valueseg.web.realtime import RunModels, load_run_models, rescore_many
from valueseg.web.score_arrays import BatchNumbers, value_arrays

MODELS = {
    "bg_nbd": BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426),
    "mbg_nbd": ModifiedBetaGeo.from_params(r=0.5, alpha=6.0, a=0.9, b=3.0),
    "pareto_nbd": ParetoNBD.from_params(r=0.553, alpha=10.578, s=0.606, beta=11.669),
}
SPEND = GammaGamma.from_params(p=6.25, q=3.74, v=15.44)


def _summary(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """Customers of every kind: one-time buyers, regulars, long gone, brand new."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(0.5, 400.0, n)
    x = rng.poisson(2.0, n).astype(float)
    x[:5] = 0.0
    recency = np.where(x > 0, age * rng.uniform(0.0, 1.0, n), 0.0)
    money = np.where(x > 0, rng.gamma(2.0, 30.0, n), 0.0)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "frequency": x,
            "recency": recency,
            "T": age,
            "monetary_value": money,
        }
    )


def _arrays(summary: pd.DataFrame) -> list[np.ndarray]:
    columns = ("frequency", "recency", "T", "monetary_value")
    return [summary[c].to_numpy(np.float64, copy=True) for c in columns]


@pytest.mark.parametrize("spend", [SPEND, None], ids=["gamma_gamma", "no_spend_model"])
@pytest.mark.parametrize("name", list(MODELS))
def test_value_arrays_equal_the_frame_functions(name: str, spend: GammaGamma | None) -> None:
    model, summary = MODELS[name], _summary()
    got = value_arrays(model, spend, _arrays(summary), "D", 90.0)
    assert got is not None
    scored = score_customers(name, model, spend, summary, "D")
    np.testing.assert_allclose(got.p_alive, scored["p_alive"], rtol=1e-12)
    np.testing.assert_allclose(got.purchases_90d, scored["expected_purchases_90d"], rtol=1e-12)
    np.testing.assert_allclose(got.purchases_365d, scored["expected_purchases_365d"], rtol=1e-12)
    np.testing.assert_allclose(got.clv_365d, scored["predicted_clv_365d"], rtol=1e-12)
    assert np.isnan(got.clv_365d).all() == (spend is None)
    btyd = value_features(ValueFit(name, model, spend), summary, 90.0, "D")
    assert list(got.btyd) == list(btyd.columns)
    for column in btyd.columns:
        np.testing.assert_allclose(got.btyd[column], btyd[column], rtol=1e-12, err_msg=column)
    with np.errstate(all="ignore"):
        periods = next_order_periods(name, model, summary)
    np.testing.assert_allclose(got.next_order_periods, periods, rtol=1e-12)
    assert np.isnan(periods).any() and np.isfinite(periods).any()  # both kinds were checked


def test_the_horizon_and_the_time_unit_are_the_frame_functions() -> None:
    model, summary = MODELS["pareto_nbd"], _summary(seed=1)
    weeks = summary.assign(recency=summary["recency"] / 7, T=summary["T"] / 7)
    got = value_arrays(model, SPEND, _arrays(weeks), "W", 30.0)
    assert got is not None
    btyd = value_features(ValueFit("pareto_nbd", model, SPEND), weeks, 30.0, "W")
    np.testing.assert_allclose(got.btyd["btyd_p_churn"], btyd["btyd_p_churn"], rtol=1e-12)
    scored = score_customers("pareto_nbd", model, SPEND, weeks, "W")
    np.testing.assert_allclose(got.clv_365d, scored["predicted_clv_365d"], rtol=1e-12)


def test_bg_bb_and_a_summary_not_finite_take_the_frame_route() -> None:
    bb = BetaGeoBetaBinom.from_params(alpha=1.2, beta=0.75, gamma=0.66, delta=2.8)
    assert value_arrays(bb, SPEND, _arrays(_summary()), "D", 90.0) is None
    broken = _arrays(_summary())
    broken[2][3] = np.inf
    assert value_arrays(MODELS["bg_nbd"], SPEND, broken, "D", 90.0) is None
    broken[2][3] = np.nan
    assert value_arrays(MODELS["bg_nbd"], SPEND, broken, "D", 90.0) is None


def test_batch_numbers_give_up_where_an_array_cannot_stand_for_the_frame() -> None:
    rows: list[dict[str, Any]] = [
        {"a": 1.0, "flag": True, "when": date(2024, 1, 1), "na": pd.NA, "big": np.inf},
        {"a": None, "flag": False, "when": None, "na": 1.0, "big": 1.0, "late": 2},
    ]
    numbers = BatchNumbers(rows)
    np.testing.assert_array_equal(numbers.column("a"), [1.0, np.nan])
    np.testing.assert_array_equal(numbers.column("flag"), [1.0, 0.0])
    np.testing.assert_array_equal(numbers.column("late"), [np.nan, 2.0])  # one row lacks it
    assert numbers.column("when") is None
    assert numbers.column("na") is None
    assert numbers.column("nowhere") is None
    assert numbers.matrix(["a", "big"]) is None  # infinite: scikit-learn refuses it
    extra = {"big": np.array([0.5, 0.25])}  # given columns take the rows' place
    np.testing.assert_array_equal(numbers.matrix(["big", "a"], extra), [[0.5, 1.0], [0.25, np.nan]])
    assert list(numbers.frame.columns) == ["a", "flag", "when", "na", "big", "late"]


@pytest.fixture(scope="module")
def store(built_db: Path) -> Iterator[Store]:
    with Store(built_db, read_only=True) as opened:
        yield opened


@pytest.fixture(scope="module")
def models(store: Store) -> RunModels:
    """The run's models, with churn and spend learners fitted as a run keeps them (the run
    under test kept none: the baseline won)."""
    models = load_run_models(store, 1)
    features = (
        store.con.execute("SELECT * FROM customer_features WHERE run_id = 1")
        .df()
        .drop(columns="run_id")
    )
    fit = ValueFit(
        models.value_name or "", models.estimators["value_model"], models.estimators["spend_model"]
    )
    summary = features[["frequency", "recency", "T", "monetary_value"]]
    X = pd.concat([features, value_features(fit, summary, models.horizon_days, "D")], axis=1)
    X = X.drop(columns="customer_id")
    late = features["days_since_last_order"] > features["days_since_last_order"].median()
    churn = ChurnPredictor(learner="lr", random_state=0).fit(X, late.to_numpy())
    spend = SpendPredictor(learner="tree", random_state=0).fit(X, features["spend_total"] * 0.1)
    learners = {**models.estimators, "churn": churn, "spend": spend}
    return dataclasses.replace(models, estimators=learners)


def _batch(store: Store, models: RunModels, n: int) -> list[tuple[str, Any]]:
    ids = [r[0] for r in store.con.execute(
        "SELECT customer_id FROM customer_scores WHERE run_id = 1 ORDER BY customer_id LIMIT ?",
        [n],
    ).fetchall()]  # fmt: skip
    return [(c, models.as_of + timedelta(days=3 * i)) for i, c in enumerate(ids)]


def _no_frame(numbers: BatchNumbers) -> pd.DataFrame:
    raise AssertionError("the frame route was taken")


def test_a_batch_scores_alike_on_arrays_and_on_frames(
    store: Store, models: RunModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert {"churn", "spend", "segmenter", "value_model"} <= set(models.estimators)
    wanted = _batch(store, models, 40)
    with monkeypatch.context() as patch:  # the arrays alone: no frame is made
        patch.setattr(BatchNumbers, "frame", property(_no_frame))
        fast = rescore_many(store, models, wanted)
    monkeypatch.setattr(realtime, "value_arrays", lambda *args, **kwargs: None)
    monkeypatch.setattr(BatchNumbers, "matrix", lambda self, names, extra=None: None)
    slow = rescore_many(store, models, wanted)
    assert len(fast) == len(slow) == len(wanted)
    for a, b in zip(fast, slow, strict=True):
        assert not isinstance(a, Exception) and not isinstance(b, Exception)
        assert a.recomputed == b.recomputed and a.carried == b.carried and a.notes == b.notes
        assert a.scores.keys() == b.scores.keys()
        for key, value in a.scores.items():
            other = b.scores[key]
            if isinstance(value, float) and isinstance(other, float):
                assert value == pytest.approx(other, rel=1e-12, abs=1e-12), key
            else:
                assert value == other, key
    for key in ("churn_probability", "predicted_spend_90d", "cluster", "p_alive"):
        assert key in fast[0].recomputed, key


def test_learners_of_other_columns_read_a_matrix_each(
    store: Store, models: RunModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    spend = models.estimators["spend"]
    names = [str(n) for n in spend.feature_names_in_]
    features = store.con.execute("SELECT * FROM customer_features WHERE run_id = 1").df()
    narrow = SpendPredictor(learner="lr").fit(features[names[:5]], features["spend_total"])
    other = dataclasses.replace(models, estimators={**models.estimators, "spend": narrow})
    wanted = _batch(store, models, 5)
    fast = rescore_many(store, other, wanted)
    monkeypatch.setattr(realtime, "value_arrays", lambda *args, **kwargs: None)
    slow = rescore_many(store, other, wanted)
    for a, b in zip(fast, slow, strict=True):
        assert not isinstance(a, Exception) and not isinstance(b, Exception)
        assert "predicted_spend_90d" in a.recomputed
        assert a.scores["predicted_spend_90d"] == pytest.approx(b.scores["predicted_spend_90d"])


def test_a_row_a_learner_refuses_is_named_by_the_frame_route(
    store: Store, models: RunModels
) -> None:
    wanted = _batch(store, models, 3)
    learner = models.estimators["churn"]
    column = next(str(n) for n in learner.feature_names_in_ if str(n) in models.carried)
    rows = realtime.stored_rows(models, [c for c, _ in wanted])
    spoiled = {c: dict(row) for c, row in rows.items()}
    first = wanted[0][0]
    spoiled[first][column] = np.inf  # a carried column: the rebuild keeps it
    got = rescore_many(store, models, wanted, stored=spoiled)
    assert not isinstance(got[0], Exception) and not isinstance(got[1], Exception)
    assert "churn_probability" not in got[0].recomputed
    assert any("churn probability and spend not recomputed" in n for n in got[0].notes)
    assert "churn_probability" in got[1].recomputed  # the others are scored all the same


@pytest.mark.parametrize("freq", ["D", "W", "M"])
def test_order_dates_on_arrays_are_the_frame_days(freq: str) -> None:
    """Real-time scoring's next-order dates (numpy, each from its own moment) are
    order_days' (pandas), with NaN, fractions of a day close to midnight, naive and UTC
    moments; a moment in another zone goes through order_days itself."""
    from datetime import UTC, datetime, timezone

    from valueseg.predict.next_order import order_dates, order_days

    rng = np.random.default_rng(7)
    starts = [datetime(2025, 1, 1) + timedelta(seconds=int(s)) for s in rng.integers(0, 9e7, 300)]
    starts[::5] = [s.replace(hour=0, minute=0, second=0) for s in starts[::5]]
    periods = rng.gamma(1.0, 40.0, 300)
    periods[::7] = np.nan
    periods[::5] = (86_400 - 1e-4) / 86_400  # just short of a day from midnight starts
    for moments in (starts, [s.replace(tzinfo=UTC) for s in starts]):
        frame = order_days(moments, periods, freq)
        expected = [None if pd.isna(d) else d.date() for d in frame]
        got = order_dates(moments, periods, freq)
        assert got == expected and sum(d is None for d in got) == int(np.isnan(periods).sum())
    zoned = [datetime(2025, 3, 29, 23, 30, tzinfo=timezone(timedelta(hours=1)))]
    expected = [d.date() for d in order_days(zoned, np.array([0.6]), freq)]
    assert order_dates(zoned, np.array([0.6]), freq) == expected
