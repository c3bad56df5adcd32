"""The leaderboard: every learner and the baseline, validated across time and customers.

The rows of all cutoffs are stacked. Customers are split into ``n_groups`` groups by a hash
of their id (the same group at every cutoff). Fold ``g`` trains on the **earlier** cutoffs'
rows of the customers outside group ``g`` and validates on the **latest** cutoff's rows of
group ``g``: a model never sees the period it is validated on, nor the customer. The folds'
validation predictions together cover every customer of the latest cutoff once, and the
metrics (:mod:`valueseg.predict.metrics`) are computed on them.

The churn learner with the highest ROC-AUC is chosen, the spend learner with the highest
normalized Gini; the baseline (``btyd``) competes like any learner, so a learner is chosen
only when it beats it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from valueseg.predict.estimators import ChurnPredictor, SpendPredictor
from valueseg.predict.learners import BASELINE
from valueseg.predict.metrics import churn_metrics, spend_metrics

__all__ = [
    "CHOICE_METRIC",
    "CrossValidation",
    "choose",
    "cross_validate",
    "leaderboard_frame",
    "predictor",
    "temporal_folds",
]

#: The metric each task's learner is chosen by (higher is better).
CHOICE_METRIC = {"churn": "roc_auc", "spend": "gini", "clv_365d": "gini"}
#: Leaderboard columns, per task, in the order printed.
COLUMNS = {
    "churn": ["roc_auc", "pr_auc", "brier", "log_loss", "accuracy", "precision", "recall", "f1"],
    "spend": ["gini", "spearman", "decile_mape", "top_decile_capture", "mae", "rmse"],
}
COLUMNS["clv_365d"] = COLUMNS["spend"]
#: Training rows of one fold of the leaderboard, at most (see :func:`cross_validate`).
MAX_TRAIN_ROWS = 300_000


def predictor(
    task: str, learner: str, random_state: int | None, n_jobs: int | None = None
) -> ChurnPredictor | SpendPredictor:
    """A new predictor of ``task`` with ``learner``."""
    if task == "churn":
        return ChurnPredictor(learner=learner, random_state=random_state, n_jobs=n_jobs)
    return SpendPredictor(learner=learner, random_state=random_state, n_jobs=n_jobs)


def temporal_folds(
    cutoff: np.ndarray, group: np.ndarray, n_groups: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train rows, validation rows) per customer group: earlier cutoffs vs the latest.

    Examples
    --------
    >>> cutoff = np.array([1, 1, 2, 2])
    >>> group = np.array([0, 1, 0, 1])
    >>> [(t.tolist(), v.tolist()) for t, v in temporal_folds(cutoff, group, 2)]
    [([1], [2]), ([0], [3])]
    """
    latest = cutoff.max()
    return [
        (
            np.flatnonzero((cutoff < latest) & (group != g)),
            np.flatnonzero((cutoff == latest) & (group == g)),
        )
        for g in range(n_groups)
    ]


@dataclass
class CrossValidation:
    """Out-of-fold predictions of the latest cutoff's rows, one column per model."""

    task: str
    rows: np.ndarray  # positions of the validation rows in the stacked table
    target: np.ndarray
    predictions: pd.DataFrame
    params: dict[str, dict[str, Any]]
    metrics: dict[str, dict[str, Any]]
    customer_id: np.ndarray | None = None


def cross_validate(
    task: str,
    X: pd.DataFrame,
    y: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    learners: Sequence[str],
    *,
    random_state: int | None = None,
    baseline: bool = True,
    max_train_rows: int | None = MAX_TRAIN_ROWS,
    n_jobs: int | None = None,
) -> CrossValidation:
    """Fit every learner (and the baseline) on each fold; predict and score its validation.

    A fold trains on at most ``max_train_rows`` rows (a uniform sample of its training
    rows, the same for every learner): the leaderboard compares learners; the chosen one
    is refitted on every row afterwards.
    """
    rng = np.random.default_rng(random_state)
    folds = [(_at_most(train, max_train_rows, rng), valid) for train, valid in folds]
    rows = np.concatenate([valid for _, valid in folds])
    target = np.asarray(y)[rows]
    predictions = pd.DataFrame(index=pd.RangeIndex(len(rows)))
    params: dict[str, dict[str, Any]] = {}
    for name in [*learners, *([BASELINE] if baseline else [])]:
        out = np.empty(len(rows))
        start = 0
        for train, valid in folds:
            model = predictor(task, name, random_state, n_jobs)
            model.fit(X.iloc[train], np.asarray(y)[train])
            out[start : start + len(valid)] = _predict(model, X.iloc[valid])
            start += len(valid)
        predictions[name] = out
        params[name] = model.learner_params()
    metrics = {str(n): score(task, target, predictions[n].to_numpy()) for n in predictions}
    return CrossValidation(task, rows, target, predictions, params, metrics)


def _at_most(rows: np.ndarray, limit: int | None, rng: np.random.Generator) -> np.ndarray:
    if limit is None or len(rows) <= limit:
        return rows
    return np.sort(rng.choice(rows, size=limit, replace=False))


def _predict(model: ChurnPredictor | SpendPredictor, X: pd.DataFrame) -> np.ndarray:
    if isinstance(model, ChurnPredictor):
        return np.asarray(model.predict_proba(X)[:, 1])
    return np.asarray(model.predict(X))


def score(task: str, target: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """The task's metrics of ``predicted`` against ``target``."""
    if task == "churn":
        return churn_metrics(np.asarray(target, bool), predicted)
    return spend_metrics(np.asarray(target, np.float64), predicted)


def choose(task: str, metrics: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """(model, why): the model with the best :data:`CHOICE_METRIC`; the baseline on ties."""
    key = CHOICE_METRIC[task]

    def value(name: str) -> float:
        v = metrics[name].get(key)
        return -np.inf if v is None or not np.isfinite(v) else float(v)

    best = max(metrics, key=lambda n: (value(n), n == BASELINE))
    base = value(BASELINE) if BASELINE in metrics else -np.inf
    if best == BASELINE:
        return best, f"no learner beat the baseline's {key} ({base:.3f})"
    return best, f"highest {key} on the validation fold: {value(best):.3f} (baseline {base:.3f})"


def leaderboard_frame(fits: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The leaderboard a person reads: ``task, model, <metrics>, chosen``, best first.

    ``fits`` are :class:`~valueseg.predict.stage.PredictResult` ``fits`` (or the rows of
    ``predict_fits`` read back by :func:`valueseg.store.predict.read_predict_fits`).
    """
    fits = [fit for fit in fits if fit["task"] in COLUMNS]  # the next-order back-test is not
    rows = []
    for fit in fits:
        task = fit["task"]
        metrics = fit.get("metrics") or {}
        row: dict[str, Any] = {"task": task, "model": fit["model"]}
        for column in COLUMNS.get(task, []):
            row[column] = metrics.get(column)
        row["chosen"] = bool(fit["chosen"])
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["task", "model", "chosen"])
    frame["_key"] = [_sort_key(fit) for fit in fits]
    frame = frame.sort_values(["task", "_key"], kind="stable").drop(columns="_key")
    return frame.reset_index(drop=True)


def _sort_key(fit: dict[str, Any]) -> float:
    """Best first: minus the choice metric; models without one last."""
    value = (fit.get("metrics") or {}).get(CHOICE_METRIC.get(fit["task"], ""))
    if isinstance(value, int | float) and np.isfinite(value):
        return -float(value)
    return np.inf
