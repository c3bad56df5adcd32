"""The 365-day value: a spend learner back-tested against the value models' CLV.

When the history holds a 365-day spend label on two cutoffs or more (cutoffs ``as_of -
365 - k h``), a spend learner is trained on them as the 90-day one is, and its ranking of
the latest cutoff's next 365 days is compared with the BTYD CLV's (Gamma-Gamma spend times
the purchase model's discounted purchases, the value stage's ``predicted_clv_365d``) by
normalized Gini. ``predicted_clv_365d`` comes from whichever ranks better; the run says
which. The training rows' label windows may reach past the latest cutoff, but no customer
is on both sides of a fold.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from valueseg.models.choice import score_customers
from valueseg.predict.btyd import ValueFit, value_features
from valueseg.predict.evaluate import cross_validate, predictor, score, temporal_folds
from valueseg.predict.labels import SUMMARY, CutoffTable
from valueseg.predict.learners import BASELINE
from valueseg.predict.tasks import Stacked, why_baseline

__all__ = ["CLV_DAYS", "ClvOutcome", "clv_365"]

CLV_DAYS = 365
TASK = "clv_365d"


@dataclass
class ClvOutcome:
    """The learner's 365-day predictions when it won (else None), its rows and the note."""

    predictions: np.ndarray | None
    note: str
    fits: list[dict[str, Any]] = field(default_factory=list)


def _with_clv(table: CutoffTable, freq: str) -> CutoffTable:
    fit = table.value_fit
    assert fit is not None
    summary = table.features[SUMMARY]
    clv = score_customers(fit.name, fit.model, fit.spend_model, summary, freq)
    table.features["btyd_clv_365d"] = clv["predicted_clv_365d"].to_numpy()
    return table


def clv_365(
    tables: Sequence[CutoffTable],
    stack: Callable[[Sequence[CutoffTable]], Stacked],
    scoring: pd.DataFrame,
    value_fit: ValueFit | None,
    learner: str | None,
    *,
    available: int,
    freq: str,
    random_state: int | None,
    n_jobs: int | None = None,
) -> ClvOutcome:
    """Back-test ``learner`` on ``tables`` (365-day labels) against the CLV; predict when it wins.

    ``stack`` turns the tables into the learners' rows (the same columns as the horizon's
    tasks); ``scoring`` is the feature table at ``as_of``.
    """
    value = "predicted_clv_365d comes from the value models"
    if learner is None:
        return ClvOutcome(None, f"{value}: no spend learner to compare with them")
    if available < 2 or len(tables) < 2:
        return ClvOutcome(
            None,
            f"{value}: the history holds a {CLV_DAYS}-day label on {available} cutoff(s), "
            "2 needed to back-test a learner against them",
        )
    if value_fit is None or any(t.value_fit is None for t in tables):
        return ClvOutcome(None, f"{value}: the value model could not be refitted at a cutoff")
    data = stack([_with_clv(t, freq) for t in tables])
    why = why_baseline(TASK, data)
    if why is not None:
        return ClvOutcome(None, f"{value}: {why}")
    return _contest(data, tables, scoring, value_fit, learner, freq, (random_state, n_jobs))


def _contest(
    data: Stacked,
    tables: Sequence[CutoffTable],
    scoring: pd.DataFrame,
    value_fit: ValueFit,
    learner: str,
    freq: str,
    seeds: tuple[int | None, int | None],
) -> ClvOutcome:
    random_state, n_jobs = seeds
    folds = temporal_folds(data.cutoff, data.group, data.n_groups)
    y = data.target[TASK]
    cv = cross_validate(
        TASK, data.X, y, folds, [learner], random_state=random_state, baseline=False, n_jobs=n_jobs
    )
    clv = pd.concat([t.features["btyd_clv_365d"] for t in tables], ignore_index=True)
    baseline = score(TASK, cv.target, clv.to_numpy(np.float64)[cv.rows])
    ours, theirs = cv.metrics[learner].get("gini"), baseline.get("gini")
    wins = ours is not None and (theirs is None or ours > theirs)
    when = tables[-1].at.date()
    verdict = (
        f"predicted_clv_365d comes from the {learner} learner: it ranks the next {CLV_DAYS} "
        f"days after {when} better than the value models' CLV (normalized Gini "
        f"{_fmt(ours)} against {_fmt(theirs)})"
        if wins
        else f"predicted_clv_365d comes from the value models: their CLV ranks the next "
        f"{CLV_DAYS} days after {when} at least as well as the {learner} learner "
        f"(normalized Gini {_fmt(theirs)} against {_fmt(ours)})"
    )
    fits = [
        _row(learner, cv.params[learner], cv.metrics[learner], wins, verdict),
        _row(BASELINE, {"class": "btyd", "column": "btyd_clv_365d"}, baseline, not wins, verdict),
    ]
    if not wins:
        return ClvOutcome(None, verdict, fits)
    model = predictor(TASK, learner, random_state, n_jobs).fit(data.X, y)
    extra = value_features(value_fit, scoring[SUMMARY[1:]], CLV_DAYS, freq)
    matrix = pd.concat([scoring.drop(columns=extra.columns, errors="ignore"), extra], axis=1)
    return ClvOutcome(np.asarray(model.predict(matrix)), verdict, fits)


def _row(
    model: str, params: dict[str, Any], metrics: dict[str, Any], chosen: bool, reason: str
) -> dict[str, Any]:
    return {
        "task": TASK,
        "model": model,
        "params": params,
        "metrics": metrics,
        "chosen": chosen,
        "reason": reason if chosen else None,
    }


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
