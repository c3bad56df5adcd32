"""Calibrating the chosen churn learner on its out-of-fold predictions.

The chosen learner is refitted on all cutoffs; its probabilities are then mapped through a
calibrator learned on the validation fold's out-of-fold predictions (scores the learner
made for customers and a period it had not seen). Platt's sigmoid and isotonic regression
are both tried, each through scikit-learn's ``CalibratedClassifierCV`` around the frozen
scores; the one with the lower Brier score across the customer groups of the validation
fold (fit on the other groups, score on this one) is kept, then fitted on the whole fold.
When neither beats the raw scores' own Brier score on that fold, the scores are kept as
they are (method ``"none"``): a calibrator that does not help is not applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

__all__ = ["METHODS", "Calibration", "choose_calibration"]

#: Calibration methods tried, in the order ties are broken (scikit-learn's names).
METHODS = ("sigmoid", "isotonic")


class _Scores(ClassifierMixin, BaseEstimator):
    """A "classifier" whose probability is its single input column: scores to calibrate."""

    def fit(self, X: Any, y: Any) -> Self:
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        s = np.clip(np.asarray(X, np.float64)[:, 0], 0.0, 1.0)
        return np.column_stack([1.0 - s, s])

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)


def _fit(method: str, scores: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    frozen = FrozenEstimator(_Scores().fit(None, None))
    return CalibratedClassifierCV(frozen, method=method).fit(scores[:, None], y)


@dataclass
class Calibration:
    """The chosen method, its calibrator, and every method's cross-validated Brier score."""

    method: str
    model: Any = field(repr=False)
    brier: dict[str, float]

    def transform(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of the raw ``scores`` (clipped to [0, 1] for "none")."""
        if self.model is None:
            return np.clip(np.asarray(scores, np.float64), 0.0, 1.0)
        proba = self.model.predict_proba(np.asarray(scores, np.float64)[:, None])
        return np.asarray(proba[:, 1])


def choose_calibration(scores: np.ndarray, y: np.ndarray, groups: np.ndarray) -> Calibration:
    """Isotonic or Platt, whichever gives the lower Brier score across ``groups``, or
    ``"none"`` when neither does better than the scores themselves.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.uniform(0, 1, 4000)
    >>> y = (rng.random(4000) < truth).astype(int)
    >>> scores = truth**3  # ranks right, probabilities too low
    >>> cal = choose_calibration(scores, y, np.arange(4000) % 2)
    >>> cal.method in METHODS, bool(cal.brier[cal.method] < cal.brier["none"])
    (True, True)
    >>> choose_calibration(truth, y, np.arange(4000) % 2).method  # already calibrated
    'none'
    """
    from sklearn.metrics import brier_score_loss

    scores = np.asarray(scores, np.float64)
    y = np.asarray(y).astype(np.int64)
    brier: dict[str, float] = {"none": float(brier_score_loss(y, np.clip(scores, 0, 1)))}
    for method in METHODS:
        losses, weights = [], []
        for g in np.unique(groups):
            train, test = groups != g, groups == g
            if len(np.unique(y[train])) < 2:
                continue
            fitted = _fit(method, scores[train], y[train])
            proba = fitted.predict_proba(scores[test][:, None])[:, 1]
            losses.append(brier_score_loss(y[test], proba) if test.any() else 0.0)
            weights.append(int(test.sum()))
        brier[method] = float(np.average(losses, weights=weights)) if losses else np.inf
    method = min(METHODS, key=lambda m: brier[m])
    if not brier[method] < brier["none"]:
        return Calibration("none", None, brier)
    return Calibration(method, _fit(method, scores, y), brier)
