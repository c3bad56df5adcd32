"""The sequence learner on the predict stage's leaderboard (``--learners +sequence``).

The other learners see one row of the feature table per (customer, cutoff); the sequence
learner also needs that row's order sequence. :class:`SequenceBoard` holds what the stage
already knows of the stacked rows (their customer and cutoff, features and targets) and
the store, and builds the sequences only when the learner first needs them, once per
cutoff (and once at ``as_of`` for scoring). The leaderboard asks it, through
:class:`valueseg.predict.tasks.ExtraLearner`, for the out-of-fold predictions on the folds
every learner gets, its parameters, and the refit on every row when it wins.

The network trains both heads at once (churn and spend), so one fit per fold serves both
tasks: fits are kept by their training rows and the spend task reuses the churn task's.
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from valueseg.deep.learner import SequenceLearner
from valueseg.deep.sequences import DEFAULT_LENGTH, OrderSequences, sequences_at
from valueseg.store import Store
from valueseg.store.sequences import top_categories

if TYPE_CHECKING:
    from valueseg.predict.tasks import Stacked

__all__ = ["TOP_CATEGORIES", "SequenceBoard"]

#: Categories with an embedding of their own (the rest share "other").
TOP_CATEGORIES = 16
_JSON = (bool, int, float, str)


class SequenceBoard:
    """The sequence learner over a stage's stacked rows (see the module).

    Parameters
    ----------
    store : Store
    data : Stacked
        The stage's stacked rows (features, targets, cutoff number, customer id).
    cutoffs : sequence of datetime
        The cutoff of each ``data.cutoff`` number.
    scoring : pandas.DataFrame
        The feature table at ``as_of`` (``customer_id`` and ``columns``).
    columns : list of str
        The feature columns every learner sees.
    as_of : datetime
    random_state, n_jobs : as the stage's
    length : int, default 32
        Steps per sequence.
    params : mapping, optional
        More :class:`SequenceLearner` hyperparameters (``epochs``, ``hidden`` …).
    """

    def __init__(
        self,
        store: Store,
        data: Stacked,
        cutoffs: Sequence[datetime],
        scoring: pd.DataFrame,
        columns: Sequence[str],
        as_of: datetime,
        *,
        random_state: int | None = 0,
        n_jobs: int | None = None,
        length: int = DEFAULT_LENGTH,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.store, self.data, self.cutoffs = store, data, list(cutoffs)
        self.scoring, self.columns, self.as_of = scoring, list(columns), as_of
        self.length = length
        self.learner = SequenceLearner(random_state=random_state, n_jobs=n_jobs)
        self.learner.set_params(**dict(params or {}))
        self.fits: dict[str, SequenceLearner] = {}
        self.fold_epochs: list[int] = []
        self.seconds = {"sequences": 0.0, "fit": 0.0, "predict": 0.0}

    @cached_property
    def categories(self) -> list[str]:
        """The vocabulary: the top categories before the earliest cutoff (or ``as_of``)."""
        first = min(self.cutoffs, default=self.as_of)
        return top_categories(self.store, first, TOP_CATEGORIES)

    @cached_property
    def stacked(self) -> OrderSequences:
        """The sequences of the stacked rows, in their order."""
        started = time.perf_counter()
        parts, order = [], []
        for k, at in enumerate(self.cutoffs):
            rows = np.flatnonzero(self.data.cutoff == k)
            ids = self.data.customer_id[rows]
            parts.append(
                sequences_at(self.store, ids, at, categories=self.categories, length=self.length)
            )
            order.append(rows)
        out = OrderSequences.concat(parts).take(np.argsort(np.concatenate(order), kind="stable"))
        self.seconds["sequences"] += time.perf_counter() - started
        return out

    @cached_property
    def at_as_of(self) -> OrderSequences:
        """The sequences of the scoring customers at ``as_of``."""
        started = time.perf_counter()
        ids = self.scoring["customer_id"].to_numpy(object)
        out = sequences_at(
            self.store, ids, self.as_of, categories=self.categories, length=self.length
        )
        self.seconds["sequences"] += time.perf_counter() - started
        return out

    # -- ExtraLearner ------------------------------------------------------------------
    def out_of_fold(self, task: str, folds: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Predictions of each fold's validation rows by a fit on its training rows."""
        models = [self._fit(train) for train, _ in folds]
        self.fold_epochs = [m.best_epoch_ for m in models]
        parts = [self._predict(m, task, valid) for m, (_, valid) in zip(models, folds, strict=True)]
        return np.concatenate(parts) if parts else np.zeros(0)

    def params(self, task: str) -> dict[str, Any]:
        """The learner's hyperparameters, sequence length and the folds' best epochs."""
        out: dict[str, Any] = {"class": "SequenceLearner", "task": task, "length": self.length}
        for key, value in self.learner.get_params().items():
            if key != "task" and (value is None or isinstance(value, _JSON)):
                out[key] = value
        out["best_epochs"] = list(self.fold_epochs)
        return out

    def refit(self, task: str) -> SequenceLearner:
        """The learner fitted on every stacked row, answering ``task``."""
        model = copy.copy(self._fit(np.arange(len(self.data.X))))
        return model.set_params(task=task)

    def predict_scoring(self, task: str) -> np.ndarray:
        """``task``'s predictions of the refit learner for the customers at ``as_of``."""
        model = self._fit(np.arange(len(self.data.X)))
        started = time.perf_counter()
        X = self.scoring[self.columns]
        out = _answer(model, task, X, self.at_as_of)
        self.seconds["predict"] += time.perf_counter() - started
        return out

    def embed_scoring(self) -> np.ndarray:
        """The refit learner's embedding of the customers at ``as_of`` (one row each)."""
        model = self._fit(np.arange(len(self.data.X)))
        started = time.perf_counter()
        out = model.transform(self.scoring[self.columns], sequences=self.at_as_of)
        self.seconds["predict"] += time.perf_counter() - started
        return np.asarray(out, np.float64)

    # -- fits --------------------------------------------------------------------------
    def _fit(self, rows: np.ndarray) -> SequenceLearner:
        key = hashlib.sha1(np.ascontiguousarray(rows, np.int64).tobytes()).hexdigest()
        if key not in self.fits:
            sequences = self.stacked.take(rows)
            started = time.perf_counter()
            self.fits[key] = self._fit_rows(rows, sequences)
            self.seconds["fit"] += time.perf_counter() - started
        return self.fits[key]

    def _fit_rows(self, rows: np.ndarray, sequences: OrderSequences) -> SequenceLearner:
        """Both heads when the rows hold both churn classes; the spend head alone if not."""
        churn = np.asarray(self.data.target["churn"], np.float64)[rows]
        spend = np.asarray(self.data.target["spend"], np.float64)[rows]
        X = self.data.X.iloc[rows]
        model = copy.deepcopy(self.learner)
        if len(np.unique(churn)) == 2:
            return model.fit(X, np.column_stack([churn, spend]), sequences=sequences)
        return model.set_params(task="spend").fit(X, spend, sequences=sequences)

    def _predict(self, model: SequenceLearner, task: str, rows: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        out = _answer(model, task, self.data.X.iloc[rows], self.stacked.take(rows))
        self.seconds["predict"] += time.perf_counter() - started
        return out


def _answer(model: SequenceLearner, task: str, X: pd.DataFrame, seq: OrderSequences) -> np.ndarray:
    """P(churn) for churn; the expected spend otherwise."""
    if task == "churn":
        return np.asarray(model.predict_proba(X, sequences=seq)[:, 1])
    return model.predict_spend(X, sequences=seq)
