"""Reasons in plain words, the top three by size, and the baseline's surrogate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from valueseg.predict.reasons import (
    fit_surrogate,
    importance,
    surrogate_contributions,
    top_reasons,
)
from valueseg.predict.texts import describe


@pytest.mark.parametrize(
    "feature,value,row,text",
    [
        (
            "days_since_last_order",
            140.0,
            {"ipt_mean_days": 35.0},
            "no order in 140 days (usual gap 35)",
        ),
        (
            "spend_trend_90d",
            -0.6 / 1.4,
            {"spend_90d": 40.0},
            "spend down 60 % on the previous 90 days",
        ),
        ("spend_trend_90d", 0.2, {"spend_90d": 60.0}, "spend up 50 % on the previous 90 days"),
        (
            "spend_trend_90d",
            -1.0,
            {"spend_90d": 0.0},
            "no spend in the last 90 days, after spending in the 90 before",
        ),
        ("spend_trend_90d", 0.0, {"spend_90d": 0.0}, "no spend in the last 180 days"),
        ("orders_90d", 0.0, {}, "no order in the last 90 days"),
        ("orders_30d", 1.0, {}, "1 order in the last 30 days"),
        ("spend_180d", 1234.5, {}, "spent 1,234.50 in the last 180 days"),
        ("frequency", 1.0, {}, "1 repeat purchase"),
        ("distinct_categories", 3.0, {}, "3 categories"),
        ("cat_share_home_garden", 0.25, {}, "25 % of spend on home garden"),
        ("channel_share_app", 1.0, {}, "100 % of orders via app"),
        ("attr_region_south", 1.0, {}, "region south"),
        ("attr_region_south", 0.0, {}, "not region south"),
        ("btyd_p_churn", 0.8, {}, "value model: 80 % chance of no order in 30 days"),
        ("some_new_feature", 0.123456, {}, "some new feature 0.123"),
        ("ipt_mean_days", np.nan, {}, "ipt mean days not known"),
    ],
)
def test_texts(feature, value, row, text):
    rows = pd.DataFrame([row]) if row else pd.DataFrame(index=[0])
    assert describe(feature, np.array([value]), rows, {"horizon_days": 30}) == [text]


def test_top_reasons_are_the_three_largest_by_size():
    contrib = pd.DataFrame(
        {
            "orders_total": [0.1, -2.0],
            "days_since_last_order": [1.5, 0.2],
            "frequency": [-0.7, 0.0],
            "spend_total": [0.05, 0.3],
            "bias": [9.0, 9.0],
        }
    )
    features = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "orders_total": [3, 1],
            "days_since_last_order": [140.0, 20.0],
            "frequency": [2.0, 0.0],
            "spend_total": [50.0, 9.0],
            "ipt_mean_days": [35.0, np.nan],
        }
    )
    out = top_reasons(contrib, features)
    assert out["feature"].tolist() == [
        "days_since_last_order",
        "frequency",
        "orders_total",
        "orders_total",
        "spend_total",
        "days_since_last_order",
    ]
    assert out["rank"].tolist() == [1, 2, 3, 1, 2, 3]
    assert out["value"].tolist() == [140.0, 2.0, 3.0, 1.0, 9.0, 20.0]
    assert out["text"].iloc[0] == "no order in 140 days (usual gap 35)"
    assert out["text"].iloc[5] == "no order in 20 days (one order so far)"
    assert importance(contrib)["feature"].tolist()[0] == "orders_total"


def _histories(n: int, seed: int, spread: float) -> tuple[pd.DataFrame, np.ndarray]:
    """``n`` customers' purchase history and a churn probability that rises with the days
    since their last order; tenure is those days plus 100 (``spread`` 0) or plus a uniform
    draw up to ``spread``."""
    rng = np.random.default_rng(seed)
    days = rng.uniform(1, 300, n)
    frequency = rng.poisson(2, n).astype(float)
    tenure = days + (rng.uniform(0, spread, n) if spread else 100.0)
    features = pd.DataFrame(
        {
            "customer_id": np.arange(n).astype(str),
            "days_since_last_order": days,
            "frequency": frequency,
            "tenure_days": tenure,
        }
    )
    return features, 1 / (1 + np.exp(-(np.log(days) - 4)))


def test_surrogate_explains_the_baseline_by_the_history():
    features, p = _histories(2000, seed=0, spread=0)
    contrib, r2 = surrogate_contributions(features, p)
    assert r2 > 0.95
    assert importance(contrib)["feature"].iloc[0] in {"days_since_last_order", "tenure_days"}
    logit = np.log(p / (1 - p))
    assert contrib.sum(axis=1).to_numpy() == pytest.approx(logit, abs=0.5)


def test_a_surrogate_fitted_on_a_sample_explains_other_customers():
    """The lake run fits the baseline's surrogate on the driver's sample and applies it on
    the executors: applied to customers it was not fitted on, the contributions add up to
    its own prediction of their log-odds, and on the sample they are the one-shot fit's."""
    features, p = _histories(3000, seed=1, spread=200)
    sample, rest = features.iloc[:1000], features.iloc[1000:]
    surrogate = fit_surrogate(sample, p[:1000])
    assert surrogate.names == ["days_since_last_order", "frequency", "tenure_days"]
    contrib = surrogate.contributions(rest)
    assert list(contrib.index) == list(rest.index)
    matrix = rest[surrogate.names].to_numpy(np.float64)
    predicted = surrogate.pipeline.predict(matrix)
    np.testing.assert_allclose(contrib.sum(axis=1).to_numpy(), predicted, rtol=1e-9, atol=1e-9)
    logit = np.log(p[1000:] / (1 - p[1000:]))
    assert np.corrcoef(predicted, logit)[0, 1] > 0.9
    once, r2 = surrogate_contributions(sample, p[:1000])
    pd.testing.assert_frame_equal(surrogate.contributions(sample), once)
    assert r2 == surrogate.r2


def test_the_method_of_the_reasons_is_decided_in_one_place():
    """The DuckDB run and the lake run both ask reasons_method: the baseline or a learner
    without contributions is explained by the surrogate, LightGBM past EXACT_SHAP_ROWS
    customers by its path decomposition, everything else by exact SHAP."""
    from types import SimpleNamespace

    from valueseg.predict.learners import SEQUENCE
    from valueseg.predict.stage import EXACT_SHAP_ROWS, reasons_context, reasons_method

    model = object()
    assert reasons_method(SimpleNamespace(model=None, chosen="btyd"), 10) == "surrogate"
    assert reasons_method(SimpleNamespace(model=model, chosen=SEQUENCE), 10) == "surrogate"
    lgbm = SimpleNamespace(model=model, chosen="lgbm")
    assert reasons_method(lgbm, EXACT_SHAP_ROWS) == "shap"
    assert reasons_method(lgbm, EXACT_SHAP_ROWS + 1) == "path"
    assert reasons_method(SimpleNamespace(model=model, chosen="rf"), 10**7) == "shap"
    assert reasons_context(90, "W") == {"horizon_days": 90, "unit": "weeks"}
