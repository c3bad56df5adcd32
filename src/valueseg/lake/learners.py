"""The churn and spend learners on Spark: fitted on a sample on the driver, applied on the
executors.

The learners read each customer's history before several cutoffs (features and labels,
:mod:`valueseg.predict.labels`), which the lake run does not compute for everyone. So the
driver takes a uniform sample of customers (everyone up to :data:`LEARNER_SAMPLE`,
100,000, chosen by the hash the clusters' sample uses, so a subset of theirs:
:func:`valueseg.lake.values.sampled`), collects those customers' accepted input rows
(order lines, events, attributes: the columns the features read) into an in-memory DuckDB
store and runs the DuckDB run's predict stage there, with the lake run's value models and
its features of the sampled customers: the same leaderboard, choice, refit and
calibration. The fitted churn and spend learners (or the value models' baseline, where
none beat it) are then broadcast and score every customer on the executors, batch by
batch, through :func:`valueseg.predict.stage.scores_at`, the function that scores the
DuckDB run's customers.

Each customer's three reasons for their churn score are written on the executors too
(:meth:`Scorer.explain`, ``OUT/customer_reasons``), as the DuckDB run's predict stage
writes them: the chosen learner's contributions (LightGBM's SHAP values up to 50,000
customers, its path decomposition beyond; the trees' path decomposition; the linear
models' coefficient × (value − mean)), or, where the value models' baseline scores churn,
a linear fit of its log-odds on the purchase history, fitted here on the sample.

When the sample is everyone, the lake run's ``churn_probability``,
``predicted_spend_90d``, ``expected_next_order_date`` and reasons are the DuckDB run's.
What the lake run leaves out: the 365-day learner's back-test against the value models'
CLV, and the sequence learner (it reads order sequences with PyTorch, which the executors
do not run).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from valueseg.errors import InputError
from valueseg.features.table import OPTIONAL
from valueseg.lake.values import sampled
from valueseg.predict.btyd import ValueFit
from valueseg.predict.learners import LEARNERS, SEQUENCE
from valueseg.predict.reasons import Surrogate
from valueseg.store.schema import INPUT_COLUMNS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from valueseg.models.choice import ValueModels
    from valueseg.params import RunParams
    from valueseg.predict.stage import PredictResult
    from valueseg.predict.tasks import TaskResult

__all__ = [
    "LEARNER_SAMPLE",
    "PREDICTED",
    "REASONS_SCHEMA",
    "Explainer",
    "FittedLearners",
    "Scorer",
    "explain_customers",
    "fit_learners",
    "lake_learners",
]

#: ``customer_scores`` columns the learners fill.
PREDICTED = ("churn_probability", "predicted_spend_90d", "expected_next_order_date")
#: ``--learners none``: the lake run skips the learners.
NONE = "none"
#: Most customers the learners are fitted on. The predict stage holds every sampled
#: customer's features at each cutoff and the fitted forests: at 200,154 customers the
#: driver peaked at 2.5 GB (BENCHMARKS.md, Spark); at this cap it stays under 2 GB.
LEARNER_SAMPLE = 100_000
#: ``OUT/customer_reasons``' columns (Spark DDL), as the store's ``customer_reasons``.
REASONS_SCHEMA = (
    "customer_id STRING, rank INT, feature STRING, value DOUBLE, contribution DOUBLE, text STRING"
)
#: The transactions columns the features read (besides the optional ones).
_LINE_COLUMNS = ("customer_id", "order_id", "timestamp", "amount", "is_return")


def lake_learners(value: str | Sequence[str]) -> str | Sequence[str] | None:
    """``--learners`` of the lake run: None for ``none`` (skip the learners), else as given
    (checked later as the DuckDB run checks it); the sequence learner is refused.

    Examples
    --------
    >>> lake_learners("none"), lake_learners("lr,rf")
    (None, 'lr,rf')
    >>> lake_learners("+sequence")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    valueseg.errors.InputError: The lake run does not run the sequence learner ...
    """
    raw = value.split(",") if isinstance(value, str) else list(value)
    names = [str(n).strip().lower().removeprefix("+").strip() for n in raw]
    names = [n for n in names if n]
    if SEQUENCE in names:
        raise InputError(
            f"The lake run does not run the sequence learner (--learners {_shown(value)}): it "
            "reads each customer's order sequence with PyTorch, which the lake run does not "
            f"put on Spark's executors. Leave it out (default: --learners {','.join(LEARNERS)}"
            "), or ingest the orders and run `valueseg run --learners +sequence` on the store."
        )
    if NONE in names:
        if names != [NONE]:
            raise InputError(
                f"--learners none skips the churn and spend learners; it takes no other name. "
                f"Got {_shown(value)}."
            )
        return None
    return value


def _shown(value: str | Sequence[str]) -> str:
    return value if isinstance(value, str) else ",".join(map(str, value))


@dataclass
class Explainer:
    """How each customer's churn score is explained, as the DuckDB run's predict stage
    does it: the chosen learner's contributions by ``method`` (``"shap"`` or ``"path"``),
    or ``surrogate`` (the baseline's scores: a linear fit of their log-odds on the
    purchase history, fitted on the sample). ``context`` goes to the reasons' texts."""

    method: str
    surrogate: Surrogate | None
    context: dict[str, Any]


@dataclass
class Scorer:
    """What scores a batch of customers' features as the predict stage scored its own: the
    value model (its outputs join the features), the chosen tasks and the learners'
    columns; and what explains the churn scores (None: the run writes no reasons).
    Pickled once and broadcast to the executors."""

    columns: list[str]
    churn: TaskResult
    spend: TaskResult
    value_fit: ValueFit | None
    horizon_days: int
    as_of: datetime
    freq: str
    explainer: Explainer | None = None

    def _scoring(self, batch: pd.DataFrame) -> pd.DataFrame:
        from valueseg.predict.stage import scoring_table

        return scoring_table(batch, self.value_fit, self.horizon_days, self.freq)

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        """``customer_id`` and :data:`PREDICTED` of the customers of ``batch``."""
        from valueseg.predict.stage import scores_at

        out = scores_at(
            self._scoring(batch),
            self.columns,
            self.churn,
            self.spend,
            self.value_fit,
            self.as_of,
            self.freq,
        )
        return out[["customer_id", *PREDICTED]]

    def explain(self, batch: pd.DataFrame) -> pd.DataFrame:
        """``customer_id, rank, feature, value, contribution, text``: each customer's three
        largest contributions to their churn score (no rows without an explainer)."""
        from valueseg.predict.reasons import top_reasons

        scoring = self._scoring(batch)
        e = self.explainer
        if e is None:
            contrib = pd.DataFrame()
        elif e.surrogate is not None:
            contrib = e.surrogate.contributions(scoring)
        else:
            assert self.churn.model is not None  # an explainer by method has a learner
            contrib = self.churn.model.contributions(scoring[self.columns], method=e.method)
        out = top_reasons(contrib, scoring, context=None if e is None else e.context)
        return out.astype({"rank": "int32"})


@dataclass
class FittedLearners:
    """The predict stage's result on the sample, its scorer and the run's notes of it."""

    result: PredictResult
    scorer: Scorer
    sample: int
    customers: int
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def fit_learners(
    inputs: Mapping[str, DataFrame],
    sample: pd.DataFrame,
    n: int,
    values: ValueModels,
    as_of: datetime,
    params: RunParams,
    say: Callable[[str], None] = lambda _msg: None,
) -> FittedLearners:
    """The predict stage on the sampled customers (``sample``: their features, ordered by
    ``customer_id``; ``inputs``: every accepted input row by kind) and a scorer for all
    ``n`` customers."""
    import time

    from valueseg.predict.stage import predict_stage
    from valueseg.store import Store
    from valueseg.store.lake import load_lines

    seconds: dict[str, float] = {}
    tick = time.perf_counter()
    with Store(":memory:") as store:
        for kind, frame in inputs.items():
            rows = sampled(
                frame.select(*_columns(kind, frame)), n, LEARNER_SAMPLE, params.random_state
            )
            load_lines(store, kind, rows.toArrow())
        if n > LEARNER_SAMPLE:  # the clusters' sample, narrowed to the learners' customers
            kept = store.con.execute("SELECT DISTINCT customer_id FROM transactions").df()
            sample = sample[sample["customer_id"].isin(kept["customer_id"])]
            sample = sample.reset_index(drop=True)
        seconds["collect"], tick = time.perf_counter() - tick, time.perf_counter()
        say(f"training churn and spend learners on {len(sample):,} customers")
        result = predict_stage(
            store,
            as_of,
            sample,
            values,
            freq=params.freq,
            horizon_days=params.horizon_days,
            learners=params.learners,
            random_state=params.random_state,
            clv_contest=False,
            explain=False,
        )
    seconds["fit"] = time.perf_counter() - tick
    churn, spend = result.tasks["churn"], result.tasks["spend"]
    chosen = values.chosen
    fit = (
        None
        if chosen is None or chosen.model is None
        else ValueFit(chosen.name, chosen.model, values.spend_model)
    )
    scorer = Scorer(
        result.columns,
        replace(churn, cv=None, fits=[]),  # what scoring reads: no leaderboard to ship
        replace(spend, cv=None, fits=[]),
        fit,
        params.horizon_days,
        as_of,
        params.freq,
    )
    said = _sample_note(len(sample), n, churn, spend)
    scorer.explainer, explained = _explainer(scorer, sample, result.scores, n)
    notes = [said, *_notes(result), *explained]
    return FittedLearners(result, scorer, len(sample), n, notes, seconds)


def _explainer(
    scorer: Scorer, sample: pd.DataFrame, scores: pd.DataFrame, n: int
) -> tuple[Explainer | None, list[str]]:
    """How the run explains the churn scores of its ``n`` customers, and what it says of
    it (the DuckDB run's choices: :func:`valueseg.predict.stage.reasons_method`)."""
    from valueseg.predict.reasons import fit_surrogate
    from valueseg.predict.stage import reasons_context, reasons_method

    context = reasons_context(scorer.horizon_days, scorer.freq)
    method = reasons_method(scorer.churn, n)
    if method == "shap":
        return Explainer("shap", None, context), []
    if method == "path":
        note = (
            f"reasons per customer from LightGBM's path decomposition ({n:,} customers; "
            "exact SHAP costs about half a millisecond each)"
        )
        return Explainer("path", None, context), [note]
    scoring = scorer._scoring(sample)
    p = scoring[["customer_id"]].merge(scores, on="customer_id", how="left")
    probability = p["churn_probability"].to_numpy(np.float64)
    if not len(probability) or not np.all(np.isfinite(probability)):
        return None, ["no reasons per customer: the baseline gave no churn score to explain"]
    surrogate = fit_surrogate(scoring, probability)
    note = (
        f"reasons of the baseline's churn scores come from a linear fit of its log-odds on "
        f"the purchase history of the {len(sample):,} sampled customers (R² "
        f"{surrogate.r2:.2f}), applied to all {n:,}"
    )
    return Explainer("surrogate", surrogate, context), [note]


def explain_customers(features: DataFrame, scorer: Any) -> DataFrame:
    """Every customer's reasons (:data:`REASONS_SCHEMA`), batch by batch on the executors;
    ``scorer`` is a Spark broadcast of a :class:`Scorer`."""
    columns = list(features.columns)

    def run(batches: Any) -> Any:
        explain = scorer.value.explain
        for batch in batches:
            yield explain(batch[columns])

    return features.mapInPandas(run, REASONS_SCHEMA)


def _columns(kind: str, frame: DataFrame) -> list[str]:
    """The columns of an input the features read, present in ``frame``."""
    if kind == "transactions":
        wanted = [*_LINE_COLUMNS, *OPTIONAL]
    elif kind == "events":
        wanted = [c.name for c in INPUT_COLUMNS["events"]]
    else:
        wanted = frame.columns
    return [c for c in wanted if c in frame.columns]


def _sample_note(k: int, n: int, churn: TaskResult, spend: TaskResult) -> str:
    """Where the learners were fitted and applied, and which won."""
    from valueseg.predict.learners import BASELINE

    won = []
    for result, what in ((churn, "churn"), (spend, "spend")):
        if result.fallback is not None:
            won.append(f"{what}: the value models' baseline (learners could not run)")
        elif result.chosen == BASELINE:
            won.append(f"{what}: no learner beat the value models' baseline")
        else:
            won.append(f"{what}: {result.chosen} won")
    where = (
        f"a uniform sample of {k:,} of the {n:,} customers"
        if k < n
        else f"all {n:,} customers (the sample is everyone up to {LEARNER_SAMPLE:,})"
    )
    return (
        f"the churn and spend learners were fitted on the driver on {where} and applied to "
        f"all {n:,} customers on the executors ({'; '.join(won)})"
    )


def _notes(result: PredictResult) -> list[str]:
    """The stage's notes, with what the lake run leaves out said once."""
    out = [n for n in result.notes if not n.startswith("predicted_clv_365d comes from")]
    out.append(
        "predicted_clv_365d comes from the value models: the lake run does not back-test a "
        "365-day learner against them (docs/lake.md)"
    )
    return out
