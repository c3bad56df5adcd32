"""Churn and spend learners on time-respecting labels, leaderboard, calibration, reasons.

A run's predict stage is :func:`predict_stage` (see :mod:`valueseg.predict.stage`); a
notebook user fits :class:`ChurnPredictor` or :class:`SpendPredictor` on a feature table.
The definitions (labels, metrics, calibration, reasons, the next-order date, fallbacks)
are in ``docs/predict.md``.

Examples
--------
>>> from valueseg.predict import check_predict_params
>>> check_predict_params(90, "lr,lgbm")
(90, ('lr', 'lgbm'))
"""

from __future__ import annotations

from valueseg.predict.estimators import ChurnPredictor, SpendPredictor
from valueseg.predict.evaluate import leaderboard_frame
from valueseg.predict.learners import BASELINE, LEARNERS
from valueseg.predict.metrics import decile_mape, normalized_gini
from valueseg.predict.params import check_predict_params
from valueseg.predict.stage import PredictResult, predict_stage
from valueseg.predict.stored import stored_leaderboard, stored_reasons

__all__ = [
    "BASELINE",
    "LEARNERS",
    "ChurnPredictor",
    "PredictResult",
    "SpendPredictor",
    "check_predict_params",
    "decile_mape",
    "leaderboard_frame",
    "normalized_gini",
    "predict_stage",
    "stored_leaderboard",
    "stored_reasons",
]
