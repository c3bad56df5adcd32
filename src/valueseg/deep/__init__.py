"""The optional sequence learner: churn and spend from each customer's order sequence.

Behind the ``deep`` extra (``pip install 'valueseg[deep]'``): importing this package does
not import PyTorch; fitting does. :class:`SequenceLearner` is a scikit-learn estimator
over the static feature table and each customer's :class:`OrderSequences` (the orders
before a cutoff, :func:`sequences_at`); the predict stage runs it on its leaderboard when
asked (``--learners +sequence``, :mod:`valueseg.deep.board`). Definitions, training and
the measured numbers are in ``docs/deep.md``.

Examples
--------
>>> from valueseg.deep import SequenceLearner
>>> SequenceLearner(hidden=16).get_params()["hidden"]
16
"""

from __future__ import annotations

from valueseg.deep.learner import SequenceLearner
from valueseg.deep.sequences import (
    DEFAULT_LENGTH,
    STEP_FEATURES,
    OrderSequences,
    build_sequences,
    sequences_at,
)

__all__ = [
    "DEFAULT_LENGTH",
    "STEP_FEATURES",
    "OrderSequences",
    "SequenceLearner",
    "build_sequences",
    "sequences_at",
]
