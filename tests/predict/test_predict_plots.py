"""The predict displays keep the numbers they draw: equal to scikit-learn's and to hand counts."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from valueseg.errors import InputError
from valueseg.predict.evaluate import CrossValidation
from valueseg.report.predict_plots import (
    ChurnCalibrationDisplay,
    ChurnConfusionDisplay,
    ContributionSummaryDisplay,
    GainCurveDisplay,
    PrecisionRecallCurvesDisplay,
    RocCurvesDisplay,
)


@pytest.fixture(scope="module")
def churn() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    y = rng.random(400) < 0.4
    return y, {"a": y + rng.normal(0, 0.6, 400), "b": rng.random(400)}


def test_roc_curves(churn):
    y, scores = churn
    disp = RocCurvesDisplay.from_predictions(y, scores).plot()
    assert disp.summary_["roc_auc"].tolist() == pytest.approx(
        [roc_auc_score(y, scores["a"]), roc_auc_score(y, scores["b"])]
    )
    fpr, tpr, _ = roc_curve(y, scores["a"])
    part = disp.curves_[disp.curves_["model"] == "a"]
    assert part["fpr"].tolist() == pytest.approx(fpr) and part["tpr"].tolist() == pytest.approx(tpr)
    assert len(disp.ax_.get_lines()) == 3  # two models and chance


def test_precision_recall_curves(churn):
    y, scores = churn
    disp = PrecisionRecallCurvesDisplay.from_predictions(y, scores).plot()
    assert disp.summary_["pr_auc"].iloc[0] == pytest.approx(average_precision_score(y, scores["a"]))
    assert disp.summary_["prevalence"].iloc[0] == pytest.approx(y.mean())


def test_from_validation(churn):
    y, scores = churn
    cv = CrossValidation("churn", np.arange(400), y, pd.DataFrame(scores), {}, {})
    disp = RocCurvesDisplay.from_validation(cv)
    assert disp.summary_["model"].tolist() == ["a", "b"]


def test_one_class_is_refused():
    with pytest.raises(InputError, match=re.escape("RocCurvesDisplay needs both classes")):
        RocCurvesDisplay.from_predictions([1, 1], {"a": [0.2, 0.3]})


def test_calibration_and_confusion_by_hand():
    y = [0, 0, 1, 1, 1, 0]
    p = [0.1, 0.2, 0.9, 0.7, 0.4, 0.6]
    cal = ChurnCalibrationDisplay.from_predictions(y, p, n_bins=2).plot()
    assert cal.table_[["customers", "actual"]].values.tolist() == [[3, 1 / 3], [3, 2 / 3]]
    conf = ChurnConfusionDisplay.from_predictions(y, p, threshold=0.5).plot()
    # stayed: 0.1, 0.2 right, 0.6 wrong; churned: 0.9, 0.7 right, 0.4 wrong
    assert conf.matrix_.tolist() == [[2, 1], [1, 2]]


def test_gain_curve_by_hand():
    disp = GainCurveDisplay.from_predictions([10.0, 0.0, 30.0, 60.0], {"m": [4, 3, 1, 2]}).plot()
    m = disp.curves_[disp.curves_["model"] == "m"]
    assert m["spend_share"].tolist() == pytest.approx([0.1, 0.1, 0.7, 1.0])
    assert disp.summary_["gini"].iloc[0] == pytest.approx(-1 / 15)


def test_contribution_summary():
    rng = np.random.default_rng(1)
    contrib = pd.DataFrame({"x": rng.normal(0, 2, 50), "y": rng.normal(0, 1, 50), "bias": 1.0})
    values = pd.DataFrame({"x": rng.random(50), "y": rng.random(50)})
    disp = ContributionSummaryDisplay.from_contributions(contrib, values, max_points=20).plot()
    assert disp.importance_["feature"].tolist() == ["x", "y"]
    assert disp.importance_["mean_abs_contribution"].iloc[0] == pytest.approx(
        contrib["x"].abs().mean()
    )
    assert len(disp.points_) == 40 and disp.points_["value_rank"].between(0, 1).all()
