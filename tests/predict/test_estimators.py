"""ChurnPredictor and SpendPredictor: the scikit-learn contract, the baseline, contributions."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.utils.estimator_checks import parametrize_with_checks

from valueseg.errors import InputError
from valueseg.predict import ChurnPredictor, SpendPredictor


@parametrize_with_checks(
    [
        ChurnPredictor(learner="tree", random_state=0),
        ChurnPredictor(learner="lr"),
        ChurnPredictor(learner="lgbm", random_state=0),
        SpendPredictor(learner="tree", random_state=0),
        SpendPredictor(learner="lr"),
    ]
)
def test_scikit_learn_contract(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def table() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Customers whose churn follows recency, with a missing value here and there."""
    rng = np.random.default_rng(0)
    n = 1500
    days = rng.uniform(0, 300, n)
    orders = rng.poisson(3, n).astype(float)
    gap = np.where(orders > 1, rng.uniform(5, 60, n), np.nan)
    churn = rng.random(n) < expit((days - 150) / 40 - 0.3 * orders)
    spend = np.where(churn, 0.0, rng.gamma(2.0, 20.0, n) * (1 + orders))
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "days_since_last_order": days,
            "orders_total": orders,
            "ipt_mean_days": gap,
            "btyd_p_churn": expit((days - 150) / 50),
            "btyd_expected_spend": 30.0 * (1 + orders) * (days < 150),
        }
    )
    return frame, churn, spend


@pytest.mark.parametrize("learner", ["lr", "tree", "rf", "lgbm"])
def test_churn_contributions_add_up_to_the_raw_output(table, learner):
    X, y, _ = table
    model = ChurnPredictor(learner=learner, random_state=0).fit(X, y)
    contrib = model.contributions(X)
    assert list(contrib.columns) == [*model.feature_names_in_, "bias"]
    total = contrib.sum(axis=1).to_numpy()
    proba = model.predict_proba(X)[:, 1]
    if learner in ("lr", "lgbm"):  # log-odds
        assert expit(total) == pytest.approx(proba, abs=1e-6)
    else:  # probabilities (Saabas)
        assert total == pytest.approx(proba, abs=1e-6)
    # recency drives churn here, and the explanations say so
    assert contrib.drop(columns="bias").abs().mean().idxmax() in {
        "days_since_last_order",
        "btyd_p_churn",
    }


@pytest.mark.parametrize("learner", ["lr", "tree", "rf", "lgbm"])
def test_spend_contributions_add_up(table, learner):
    X, _, spend = table
    model = SpendPredictor(learner=learner, random_state=0).fit(X, spend)
    total = model.contributions(X).sum(axis=1).to_numpy()
    raw = model.estimator_.predict(X.drop(columns="customer_id").to_numpy())
    expected = np.log(raw) if learner == "lgbm" else raw  # Tweedie: log link
    assert total == pytest.approx(expected, rel=1e-6, abs=1e-6)
    assert model.predict(X).min() >= 0


def test_baseline_reads_the_value_models_column(table):
    X, y, spend = table
    churn = ChurnPredictor(learner="btyd").fit(X, y)
    assert churn.predict_proba(X)[:, 1] == pytest.approx(X["btyd_p_churn"].to_numpy())
    money = SpendPredictor(learner="btyd").fit(X, spend)
    assert money.predict(X) == pytest.approx(X["btyd_expected_spend"].to_numpy())
    with pytest.raises(
        InputError,
        match=re.escape(
            "learner='btyd' reads the value model's column 'btyd_p_churn', which the feature "
            "table lacks."
        ),
    ):
        ChurnPredictor(learner="btyd").fit(X.drop(columns="btyd_p_churn"), y)


def test_text_columns_are_left_out_and_missing_ones_named(table):
    X, y, _ = table
    model = ChurnPredictor(learner="tree", random_state=0).fit(X, y)
    assert "customer_id" not in model.feature_names_in_
    with pytest.raises(
        InputError,
        match=re.escape(
            "The feature table lacks 1 column(s) the model was fitted on: orders_total."
        ),
    ):
        model.predict_proba(X.drop(columns="orders_total"))


@pytest.mark.parametrize(
    "estimator,message",
    [
        (
            ChurnPredictor(learner="xgb"),
            "The 'learner' parameter of ChurnPredictor must be one of lr, tree, rf, lgbm, "
            "btyd. Got 'xgb'.",
        ),
        (
            ChurnPredictor(calibration="platt"),
            "The 'calibration' parameter of ChurnPredictor must be None, 'isotonic' or "
            "'sigmoid'. Got 'platt'.",
        ),
    ],
)
def test_bad_parameters(table, estimator, message):
    X, y, _ = table
    with pytest.raises(InputError, match=re.escape(message)):
        estimator.fit(X, y)


def test_one_class_is_refused(table):
    X, _, _ = table
    with pytest.raises(InputError, match=re.escape("Got 1 class(es) (False) in 1500 rows: one")):
        ChurnPredictor(learner="tree").fit(X, np.zeros(len(X), bool))


def test_calibration_is_a_monotone_map_of_the_learner_refitted_on_all_rows(table):
    """ensemble=False: one learner fitted on every row, its scores mapped by the sigmoid."""
    from scipy.stats import spearmanr

    X, y, _ = table
    raw = ChurnPredictor(learner="lgbm", random_state=0).fit(X, y).predict_proba(X)[:, 1]
    model = ChurnPredictor(learner="lgbm", calibration="sigmoid", random_state=0).fit(X, y)
    p = model.predict_proba(X)[:, 1]
    assert spearmanr(raw, p).statistic == pytest.approx(1.0)
    assert not np.allclose(raw, p)
    assert model.contributions(X).sum(axis=1).to_numpy() == pytest.approx(
        np.log(raw / (1 - raw)), abs=1e-6
    )


@pytest.mark.parametrize("make", [ChurnPredictor, SpendPredictor])
def test_lightgbm_path_decomposition_adds_up_like_shap(table, make):
    """Saabas' path decomposition: the same sums as SHAP, much the same leading features."""
    X, churn, spend = table
    model = make(learner="lgbm", random_state=0).fit(X, churn if make is ChurnPredictor else spend)
    shap = model.contributions(X)
    path = model.contributions(X, method="path")
    assert path.sum(axis=1).to_numpy() == pytest.approx(shap.sum(axis=1).to_numpy(), abs=1e-6)
    assert path["bias"].nunique() == 1
    first = path.drop(columns="bias").abs().mean().idxmax()
    assert first in shap.drop(columns="bias").abs().mean().nlargest(3).index
    with pytest.raises(InputError, match=re.escape("must be 'shap' or 'path'. Got 'tree'.")):
        model.contributions(X, method="tree")


@pytest.mark.parametrize("learner", ["lr", "tree", "rf", "lgbm", "btyd"])
@pytest.mark.parametrize("calibration", [None, "sigmoid"])
def test_a_checked_matrix_predicts_as_the_frame_does(table, learner, calibration):
    """predict_proba_matrix / predict_matrix on :meth:`matrix` give what the learner's own
    scikit-learn prediction gives (LightGBM: its booster asked directly, not its wrapper),
    on the whole table and on a few rows with missing values."""
    X, y, spend = table
    if learner == "btyd" and calibration is not None:
        return
    churn = ChurnPredictor(learner=learner, calibration=calibration, random_state=0).fit(X, y)
    money = SpendPredictor(learner=learner, random_state=0).fit(X, spend)
    few = X.iloc[[3, 5, 8, 13]].assign(ipt_mean_days=np.nan)
    for rows in (X, few):
        matrix = churn.matrix(rows)
        assert matrix.dtype == np.float64 and matrix.shape == (len(rows), 5)
        if learner == "btyd":
            wrapped = np.clip(rows["btyd_p_churn"].to_numpy(), 0, 1)
            spent = rows["btyd_expected_spend"].to_numpy()
        else:
            wrapped = churn.estimator_.predict_proba(matrix)[:, 1]
            spent = money.estimator_.predict(matrix)
            if money.nonnegative_:
                spent = np.maximum(spent, 0.0)
        np.testing.assert_allclose(churn.predict_proba_matrix(matrix)[:, 1], wrapped, rtol=1e-12)
        np.testing.assert_array_equal(churn.predict_proba_matrix(matrix), churn.predict_proba(rows))
        np.testing.assert_allclose(money.predict_matrix(matrix), spent, rtol=1e-12)
        np.testing.assert_array_equal(money.predict_matrix(matrix), money.predict(rows))
