"""Calibration of the chosen churn learner: applied only where it lowers the Brier score."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss

from valueseg.predict.calibrate import choose_calibration


def _drawn(seed: int, n: int = 6000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0.02, 0.98, n)
    return truth, (rng.random(n) < truth).astype(int), np.arange(n) % 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_that_are_already_probabilities_are_kept_as_they_are(seed):
    truth, y, groups = _drawn(seed)
    cal = choose_calibration(truth, y, groups)
    assert cal.method == "none" and cal.model is None
    assert cal.brier["none"] <= min(cal.brier["sigmoid"], cal.brier["isotonic"])
    np.testing.assert_array_equal(cal.transform(np.array([-0.1, 0.3, 1.2])), [0.0, 0.3, 1.0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_distorted_scores_are_mapped_and_the_brier_score_drops(seed):
    truth, y, groups = _drawn(seed)
    scores = truth**3  # ranks right, probabilities far too low
    cal = choose_calibration(scores, y, groups)
    assert cal.method in ("sigmoid", "isotonic")
    assert cal.brier[cal.method] < cal.brier["none"]
    assert brier_score_loss(y, cal.transform(scores)) < brier_score_loss(y, scores)
