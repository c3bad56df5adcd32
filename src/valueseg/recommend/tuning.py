"""Hyperparameters chosen on a validation split carved from the training period.

For each model with hyperparameters, up to ``max_candidates`` settings of its grid
(all of them when the grid is that small, else a seeded sample without replacement,
scikit-learn's ``ParameterSampler``) are fitted on the validation split's training data and
scored by NDCG@k over the customers the model would serve (at least ``min_orders``
training orders). The best setting wins; ties go to the first in grid order.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from valueseg.errors import InputError
from valueseg.recommend.evaluate import Split, ranking_metrics
from valueseg.recommend.models import make_model

__all__ = ["DEFAULT_GRIDS", "Tuning", "candidates", "tune"]

#: The grids searched by default; a model not listed here has no hyperparameters to tune.
DEFAULT_GRIDS: Mapping[str, Mapping[str, Sequence[Any]]] = {
    "als": {
        "factors": [8, 16, 32, 64],
        "regularization": [0.1, 1.0],
        "alpha": [1.0, 3.0, 10.0],
        "iterations": [15],
    },
    "bpr": {
        "factors": [16, 64],
        "learning_rate": [0.005, 0.02],
        "regularization": [0.01],
        "iterations": [100],
    },
    "item_item": {"similarity": ["cosine", "bm25"], "K": [20, 50, 200]},
}


@dataclass
class Tuning:
    """The best setting per model and the validation score of every setting tried."""

    params: dict[str, dict[str, Any]]
    scores: pd.DataFrame  # model, params (JSON), ndcg, k, customers


def _seed(random_state: Any) -> int | None:
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31 - 1))
    return None if random_state is None else int(random_state)


def candidates(
    grid: Mapping[str, Sequence[Any]], max_candidates: int, random_state: Any = None
) -> list[dict[str, Any]]:
    """The settings of ``grid`` to try: all, or a seeded sample of ``max_candidates``.

    Examples
    --------
    >>> len(candidates({"K": [10, 20], "similarity": ["cosine", "bm25"]}, 8))
    4
    >>> len(candidates({"factors": [8, 16, 32, 64], "alpha": [1.0, 10.0]}, 3, random_state=0))
    3
    """
    if not isinstance(max_candidates, int) or max_candidates < 1:
        raise InputError(
            f"The 'max_candidates' parameter must be an int >= 1. Got {max_candidates!r}."
        )
    from sklearn.model_selection import ParameterGrid, ParameterSampler

    lists = {name: list(values) for name, values in grid.items()}
    full = list(ParameterGrid(lists))
    if len(full) <= max_candidates:
        return full
    sampler = ParameterSampler(lists, n_iter=max_candidates, random_state=_seed(random_state))
    return [dict(sorted(p.items())) for p in sampler]


def _score(
    name: str, params: dict[str, Any], split: Split, k: int, served: np.ndarray, random_state: Any
) -> float:
    model = make_model(name, params, random_state=random_state).fit(split.train)
    ids, _ = model.recommend(split.users[served], k, split.exclude)
    return float(ranking_metrics(ids, split.relevant[served], k)["ndcg"].mean())


def tune(
    models: Sequence[str],
    split: Split,
    *,
    grids: Mapping[str, Mapping[str, Sequence[Any]]] | None = None,
    max_candidates: int = 12,
    k: int = 10,
    min_orders: int = 2,
    random_state: Any = None,
) -> Tuning:
    """The best hyperparameters of each of ``models`` on the validation ``split``."""
    grids = DEFAULT_GRIDS if grids is None else grids
    served = np.flatnonzero(split.orders >= min_orders)
    if served.size == 0:
        served = np.arange(split.users.size)
    best: dict[str, dict[str, Any]] = {}
    rows = []
    for name in models:
        grid = grids.get(name)
        if not grid:
            continue
        scored = []
        for params in candidates(grid, max_candidates, random_state):
            value = _score(name, params, split, k, served, random_state)
            scored.append((value, params))
            rows.append(
                {
                    "model": name,
                    "params": json.dumps(params, sort_keys=True),
                    "ndcg": value,
                    "k": k,
                    "customers": int(served.size),
                }
            )
        best[name] = max(scored, key=lambda item: item[0])[1]
    return Tuning(best, pd.DataFrame(rows, columns=["model", "params", "ndcg", "k", "customers"]))
