"""The metrics on tiny arrays computed by hand, and against scikit-learn where it has them."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import f1_score, roc_auc_score

from valueseg.predict.metrics import (
    best_f1_threshold,
    calibration_table,
    churn_metrics,
    decile_mape,
    decile_table,
    gain_curve,
    normalized_gini,
    spend_metrics,
)


def test_normalized_gini_by_hand():
    """Four customers; actual 10, 0, 30, 60 (total 100), predicted 4, 3, 1, 2.

    Ranked by prediction: 10, 0, 60, 30 -> gain 0.1, 0.1, 0.7, 1.0, mean 0.475,
    raw Gini 2 * 0.475 - 1 = -0.05. Perfect ranking: 60, 30, 10, 0 -> gain 0.6, 0.9, 1.0,
    1.0, mean 0.875, raw Gini 0.75. Normalized: -0.05 / 0.75 = -1/15.
    """
    actual = np.array([10.0, 0.0, 30.0, 60.0])
    predicted = np.array([4.0, 3.0, 1.0, 2.0])
    assert gain_curve(actual, predicted).tolist() == pytest.approx([0.1, 0.1, 0.7, 1.0])
    assert normalized_gini(actual, predicted) == pytest.approx(-1 / 15)
    assert normalized_gini(actual, actual) == pytest.approx(1.0)
    assert normalized_gini(actual, -actual) < 0


def test_normalized_gini_undefined():
    assert normalized_gini(np.zeros(3), np.arange(3.0)) is None
    assert normalized_gini(np.array([]), np.array([])) is None


def test_decile_mape_by_hand():
    """Twenty customers, two per decile: actual (19.5, 18.5), (17.5, 16.5), ... (1.5, 0.5),
    so the deciles' actual means are 19, 17, ..., 1; every prediction is 1 too high, so
    the decile MAPE is the mean over the deciles of 1 / (actual mean)."""
    means = np.array([19.0, 17, 15, 13, 11, 9, 7, 5, 3, 1])
    actual = np.repeat(means, 2) + np.tile([0.5, -0.5], 10)
    predicted = actual + 1.0
    table = decile_table(actual, predicted)
    assert table["customers"].tolist() == [2] * 10
    assert table["actual"].tolist() == pytest.approx(means)
    assert decile_mape(actual, predicted) == pytest.approx(np.mean(1.0 / means))


def test_decile_mape_leaves_out_deciles_without_spend():
    """Predictions 0..19; the ten highest spent 10 each, the others nothing. The top five
    deciles predict 18.5, 16.5, ..., 10.5 against 10; the bottom five (actual 0) are left out."""
    actual = np.array([0.0] * 10 + [10.0] * 10)
    predicted = np.arange(20.0)
    expected = np.mean(np.abs(np.array([18.5, 16.5, 14.5, 12.5, 10.5]) - 10) / 10)
    assert decile_mape(actual, predicted) == pytest.approx(expected)


def test_spend_metrics_of_a_perfect_prediction():
    actual = np.array([0.0, 0.0, 5.0, 10.0, 100.0])
    m = spend_metrics(actual, actual)
    assert m["mae"] == 0 and m["rmse"] == 0 and m["gini"] == pytest.approx(1.0)
    assert m["decile_mape"] == 0 and m["top_decile_capture"] == pytest.approx(100 / 115)


def test_churn_metrics_match_scikit_learn():
    rng = np.random.default_rng(1)
    y = rng.random(500) < 0.3
    p = np.clip(0.3 + 0.4 * (y - 0.3) + rng.normal(0, 0.2, 500), 0, 1)
    m = churn_metrics(y, p)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    said = p >= m["threshold"]
    assert m["f1"] == pytest.approx(f1_score(y, said))
    # no other threshold gives a higher F1
    assert all(f1_score(y, p >= t) <= m["f1"] + 1e-12 for t in np.unique(p))
    assert sum(row["customers"] for row in m["calibration"]) == 500


def test_best_f1_threshold_by_hand():
    # thresholds 0.8 (F1 2/3), 0.75 (1/2), 0.7 (4/5), 0.2 (2/3), 0.1 (4/7)
    y = np.array([0, 0, 1, 1, 0])
    assert best_f1_threshold(y, np.array([0.1, 0.2, 0.7, 0.8, 0.75])) == 0.7


def test_calibration_table_is_scikit_learns_curve():
    rng = np.random.default_rng(2)
    p = rng.random(1000)
    y = rng.random(1000) < p
    table = calibration_table(y, p, n_bins=10)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy="quantile")
    assert table["actual"].to_numpy() == pytest.approx(prob_true)
    assert table["predicted"].to_numpy() == pytest.approx(prob_pred)
    assert table["customers"].sum() == 1000
