"""One prediction task (churn, or spend in the horizon) from the stacked cutoffs to a model.

:func:`run_task` decides whether learners can be compared at all (two cutoffs or more, and
enough customers of each class), runs the leaderboard (:mod:`valueseg.predict.evaluate`),
chooses, refits the chosen learner on every cutoff and, for churn, calibrates it
(:mod:`valueseg.predict.calibrate`). Where learners cannot run, the baseline stands in and
the reason is kept for the run's notes and for every learner's ``predict_fits`` row.

A learner that reads more than the feature table (the sequence learner, which also reads
each row's order sequence: :mod:`valueseg.deep.board`) joins as an :class:`ExtraLearner`:
it gets the same folds (the same training sample), is scored by the same metrics and is
chosen by the same rule; the stage built it over the stacked rows, so it is handed fold
positions, not a matrix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from valueseg.predict.calibrate import Calibration, choose_calibration
from valueseg.predict.estimators import ChurnPredictor, SpendPredictor
from valueseg.predict.evaluate import (
    MAX_TRAIN_ROWS,
    CrossValidation,
    _at_most,
    choose,
    cross_validate,
    predictor,
    score,
    temporal_folds,
)
from valueseg.predict.learners import BASELINE, BASELINE_COLUMN

__all__ = ["MIN_CLASS", "ExtraLearner", "Stacked", "TaskResult", "run_task"]

#: Customers of each class (churned and not; buyers for spend) learners need, in the
#: training rows and in the validation rows alike.
MIN_CLASS = 50


@dataclass
class Stacked:
    """Every cutoff's rows, stacked: features, targets, cutoff number and customer group."""

    X: pd.DataFrame
    target: dict[str, np.ndarray]
    cutoff: np.ndarray
    group: np.ndarray
    n_groups: int
    dates: list[str] = field(default_factory=list)
    customer_id: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))

    @property
    def n_cutoffs(self) -> int:
        return len(np.unique(self.cutoff))


class ExtraLearner(Protocol):
    """A learner built over the stacked rows that reads more than their features."""

    def out_of_fold(self, task: str, folds: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Each fold's validation rows predicted by a fit on its training rows, in order."""

    def params(self, task: str) -> dict[str, Any]:
        """The hyperparameters, JSON-ready (a ``predict_fits`` row's ``params``)."""

    def refit(self, task: str) -> Any:
        """The learner fitted on every stacked row."""


@dataclass
class TaskResult:
    """The chosen model of a task, how it was chosen, and its ``predict_fits`` rows.

    ``model`` is a :class:`ChurnPredictor` or :class:`SpendPredictor`, or what an
    :class:`ExtraLearner`'s ``refit`` returned when it won (None: the baseline).
    """

    task: str
    chosen: str
    reason: str
    model: ChurnPredictor | SpendPredictor | Any | None = None
    calibration: Calibration | None = None
    cv: CrossValidation | None = None
    fits: list[dict[str, Any]] = field(default_factory=list)
    fallback: str | None = None


def why_baseline(task: str, data: Stacked, min_class: int = MIN_CLASS) -> str | None:
    """Why learners cannot be compared on ``data`` (None: they can)."""
    if data.n_cutoffs < 2:
        have = f"{data.n_cutoffs} cutoff" + ("" if data.n_cutoffs == 1 else "s")
        return (
            f"too little history for learners: {have} with a whole label window "
            f"({', '.join(data.dates) or 'none'}), 2 needed. Pass a shorter --horizon or load "
            "more history"
        )
    latest = data.cutoff == data.cutoff.max()
    target = data.target[task]
    positive = target.astype(bool) if task == "churn" else target > 0
    words = ("churned", "stayed") if task == "churn" else ("buyers", "non-buyers")
    for part, rows in (("training", ~latest), ("validation", latest)):
        counts = (int(positive[rows].sum()), int((~positive[rows]).sum()))
        if min(counts) == 0:
            one = words[0] if counts[1] == 0 else words[1]
            return (
                f"one class only in the {part} cutoffs: every customer {one}. The baseline "
                "scores everyone; a longer or shorter --horizon may give both classes"
            )
        if min(counts) < min_class:
            return (
                f"too few customers of one class for learners in the {part} cutoffs: "
                f"{counts[0]:,} {words[0]}, {counts[1]:,} {words[1]} ({min_class} of each "
                "needed). The baseline scores everyone"
            )
    return None


def run_task(
    task: str,
    data: Stacked,
    learners: Sequence[str],
    *,
    random_state: int | None = 0,
    min_class: int = MIN_CLASS,
    baseline: bool = True,
    n_jobs: int | None = None,
    extra: Mapping[str, ExtraLearner] | None = None,
) -> TaskResult:
    """Leaderboard, choice, refit and calibration of ``task`` (see the module).

    ``extra``: the learners among ``learners`` that the stage built over the stacked rows
    (name → :class:`ExtraLearner`); the others come from the learner zoo.
    """
    fallback = why_baseline(task, data, min_class)
    if fallback is not None or not learners:
        fallback = fallback or "no learner asked for"
        return _baseline_only(task, data, learners, fallback)
    extra = {n: e for n, e in (extra or {}).items() if n in learners}
    rng = np.random.default_rng(random_state)  # the sample cross_validate would draw
    folds = [
        (_at_most(train, MAX_TRAIN_ROWS, rng), valid)
        for train, valid in temporal_folds(data.cutoff, data.group, data.n_groups)
    ]
    cv = cross_validate(
        task,
        data.X,
        data.target[task],
        folds,
        [n for n in learners if n not in extra],
        random_state=random_state,
        n_jobs=n_jobs,
        baseline=baseline,
        max_train_rows=None,
    )
    _add_extra(cv, task, folds, extra, [*learners, BASELINE])
    chosen, reason = choose(task, cv.metrics)
    cv.customer_id = data.customer_id[cv.rows] if len(data.customer_id) else None
    result = TaskResult(task, chosen, reason, cv=cv)
    if chosen in extra:
        result.model = extra[chosen].refit(task)
    elif chosen != BASELINE:
        result.model = predictor(task, chosen, random_state, n_jobs).fit(data.X, data.target[task])
        if task == "churn":
            groups = data.group[cv.rows]
            result.calibration = choose_calibration(
                cv.predictions[chosen].to_numpy(), cv.target, groups
            )
    result.fits = _fit_rows(result)
    return result


def _add_extra(
    cv: CrossValidation,
    task: str,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    extra: Mapping[str, ExtraLearner],
    order: Sequence[str],
) -> None:
    """The extra learners' out-of-fold predictions, parameters and metrics, into ``cv``;
    its columns in ``order`` (the learners as asked for, then the baseline)."""
    for name, learner in extra.items():
        cv.predictions[name] = learner.out_of_fold(task, folds)
        cv.params[name] = learner.params(task)
        cv.metrics[name] = score(task, cv.target, cv.predictions[name].to_numpy())
    if extra:
        columns = [n for n in order if n in cv.predictions.columns]
        cv.predictions = cv.predictions[columns]
        cv.params = {n: cv.params[n] for n in columns}
        cv.metrics = {n: cv.metrics[n] for n in columns}


def _baseline_only(task: str, data: Stacked, learners: Sequence[str], why: str) -> TaskResult:
    """The baseline, scored on the latest cutoff when it can be; the learners' rows say why."""
    result = TaskResult(task, BASELINE, why, fallback=why)
    metrics: dict[str, Any] = {}
    if data.n_cutoffs and BASELINE_COLUMN[task] in data.X.columns:
        latest = data.cutoff == data.cutoff.max()
        target = data.target[task][latest]
        guess = data.X.loc[latest, BASELINE_COLUMN[task]].to_numpy(np.float64)
        if _scorable(task, target, guess):
            metrics = score(task, target, guess)
    result.fits = [
        {
            "task": task,
            "model": BASELINE,
            "params": {"class": "btyd", "column": BASELINE_COLUMN[task]},
            "metrics": metrics,
            "chosen": True,
            "reason": why,
        },
        *(
            {
                "task": task,
                "model": name,
                "params": None,
                "metrics": {},
                "chosen": False,
                "reason": f"not fitted: {why}",
            }
            for name in learners
        ),
    ]
    return result


def _scorable(task: str, target: np.ndarray, guess: np.ndarray) -> bool:
    if len(target) == 0 or not np.all(np.isfinite(guess)):
        return False
    if task == "churn":
        return len(np.unique(target)) == 2
    return bool(np.sum(target) > 0)


def _fit_rows(result: TaskResult) -> list[dict[str, Any]]:
    assert result.cv is not None
    rows = []
    for name, metrics in result.cv.metrics.items():
        chosen = name == result.chosen
        extra: dict[str, Any] = {}
        if chosen and result.calibration is not None:
            extra = {
                "calibration": result.calibration.method,
                "brier_by_calibration": result.calibration.brier,
            }
        rows.append(
            {
                "task": result.task,
                "model": name,
                "params": result.cv.params[name],
                "metrics": {**metrics, **extra},
                "chosen": chosen,
                "reason": result.reason if chosen else None,
            }
        )
    return rows
