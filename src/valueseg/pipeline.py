"""One run: features → value models → predict → segments → recommend → store, read top to
bottom as its stages.

A run checks its parameters before it leaves a trace; then it is a row of ``runs``.
Everything it derives is written in one transaction with its ``run_id``. A run that fails
is marked ``failed`` with the error's message at once and leaves the previous runs' rows
intact; a process killed outright is marked ``failed`` by the next run.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from valueseg.errors import InputError, ValuesegError
from valueseg.params import RunParams, check_run_params
from valueseg.predict.learners import EXTRA_LEARNERS
from valueseg.store import DEFAULT_DB, Store
from valueseg.store.derived import write_features, write_fits, write_frame
from valueseg.store.estimators import write_estimators
from valueseg.store.orders import last_line_time, purchase_span, spend_between
from valueseg.store.predict import write_predict_fits, write_reasons
from valueseg.store.recommend import recommend_inputs, write_recommendations
from valueseg.store.runs import fail_run, finish_run, start_run, write_notes

if TYPE_CHECKING:
    from valueseg.models.choice import ValueModels
    from valueseg.predict.stage import PredictResult
    from valueseg.recommend.stage import RecommendResult
    from valueseg.segment.lenses import SegmentResult

__all__ = ["RunResult", "default_as_of", "run"]

#: The summary columns the value models take from the features.
_SUMMARY = ["customer_id", "frequency", "recency", "T", "monetary_value"]


@dataclass
class RunResult:
    """What a run did."""

    run_id: int
    as_of: datetime
    engine: str
    customers: int
    feature_columns: list[str]
    seconds: dict[str, float] = field(default_factory=dict)
    values: ValueModels | None = None
    segments: SegmentResult | None = None
    predict: PredictResult | None = None
    recommend: RecommendResult | None = None
    actions: pd.DataFrame | None = None
    notes: list[tuple[str, str]] = field(default_factory=list)


def default_as_of(store: Store) -> datetime:
    """Midnight after the day of the last order: the last day counts in full."""
    last = last_line_time(store)
    if last is None:
        raise InputError(
            f"Store {store.path} holds no transactions. Load orders first: "
            f"valueseg ingest FILE --db {store.path}"
        )
    return datetime(last.year, last.month, last.day) + timedelta(days=1)


def run(
    db: str | Path | Store = DEFAULT_DB,
    *,
    as_of: Any = None,
    engine: str = "duckdb",
    freq: str = "D",
    spark_master: str = "local[2]",
    segments_config: str | Path | None = None,
    random_state: int = 0,
    clusters: str | tuple[int, int] = "3-8",
    horizon_days: int = 90,
    learners: str | Sequence[str] = "lr,tree,rf,lgbm",
    recommender: str = "auto",
    playbooks: str | Path | None = None,
    cluster_features: str = "default",
    progress: Callable[[str], None] | None = None,
) -> RunResult:
    """Features, back-tested value models, scores and segments of every customer, stored.

    Every parameter is checked before the run's row is written; a bad one raises
    :class:`~valueseg.errors.InputError` naming the CLI flag (``--freq``, ``--engine`` …)
    and what it accepts, and the store is left untouched.

    Parameters
    ----------
    db : path or Store
    as_of : date, optional (``--as-of``)
        Observation end, an ISO date or date-time. Default: midnight after the last order.
    engine : {"duckdb", "spark"} (``--engine``)
        Where the features are computed; both give the same numbers.
    freq : {"D", "W", "M", "h"} (``--freq``)
        Period of the RFM summary.
    spark_master : str (``--spark-master``)
        ``spark.master`` for ``engine="spark"`` (``local[2]`` here; a cluster URL there).
    segments_config : path, optional (``--segments-config``)
        TOML file with an R×F grid replacing the packaged one.
    random_state : int (``--seed``)
        Seed of the clustering, from 0 to 2**32 - 1.
    clusters : str or (int, int) (``--clusters``)
        Fewest and most behavioural clusters looked for, ``"LOW-HIGH"`` (default
        ``"3-8"``: the fewest the k criteria cannot tell from their best) or one number.
    horizon_days : int, default 90 (``--horizon``)
        Churn is no purchase in the next ``horizon_days``; ``predicted_spend_90d`` is the
        spend in them.
    learners : str or sequence (``--learners``)
        Churn and spend learners compared with the value models' baseline, among
        ``lr, tree, rf, lgbm`` (default all).
    recommender : str, default "auto" (``--recommender``)
        ``auto`` tunes ALS, BPR and item-item on a validation split and keeps the best by
        NDCG@10; ``als``, ``bpr``, ``item_item``, ``segment_popularity`` or ``popularity``
        fixes the model (faster on a large shop).
    playbooks : path, optional (``--playbooks``)
        TOML file of actions and rules that extends the packaged playbook (its rules of the
        same name replace the packaged ones); each customer gets one next-best action.
    cluster_features : {"default", "+embedding"} (``--cluster-features``)
        ``+embedding``: the behavioural clusters also read the sequence learner's customer
        embedding (the learner is added to ``learners``; the ``deep`` extra); profiles and
        rules still speak of the feature table.
    progress : callable, optional
        Called with a short message as each stage starts.
    """
    params = check_run_params(
        as_of=as_of,
        engine=engine,
        freq=freq,
        spark_master=spark_master,
        segments_config=segments_config,
        random_state=random_state,
        clusters=clusters,
        horizon_days=horizon_days,
        learners=learners,
        recommender=recommender,
        playbooks=playbooks,
        cluster_features=cluster_features,
    )
    with _opened(db) as store:
        when = default_as_of(store) if params.as_of is None else params.as_of
        _check_as_of(store, when)
        run_id = start_run(store, when, params.record(when))
        try:
            return _stages(store, run_id, when, params, progress or (lambda _msg: None))
        except BaseException as exc:
            with contextlib.suppress(duckdb.Error):  # the run's own error is the one to see
                fail_run(store, run_id, _describe(exc))
            raise


def _stages(
    store: Store, run_id: int, when: datetime, params: RunParams, say: Callable[[str], None]
) -> RunResult:
    """The run's stages in order; each one's wall time goes into ``RunResult.seconds``."""
    seconds: dict[str, float] = {}
    with _timed(seconds, "features", say, f"computing features on {params.engine}"):
        from valueseg.features.compute import compute_features

        features = compute_features(
            store, when, engine=params.engine, freq=params.freq, spark_master=params.spark_master
        )
        table = features.to_pandas()
    with _timed(seconds, "models", say, "back-testing and fitting value models"):
        values = _value_models(store, when, table, params.freq)
    with _timed(seconds, "predict", say, "training churn and spend learners"):
        predicted = _predict(store, when, table, values, params)
        scores = _with_predictions(values.scores, predicted.scores)
    with _timed(seconds, "segments", say, "segmenting customers"):
        segments = _segments(store, table, scores, params, predicted.embedding)
    with _timed(seconds, "recommend", say, "fitting and evaluating recommenders"):
        recommended = _recommend(store, when, segments.customers, params)
    with _timed(seconds, "actions", say, "choosing each customer's next-best action"):
        actions = _actions(scores, segments, recommended, params)
    notes = [
        *(("models", n) for n in values.notes),
        *(("predict", n) for n in predicted.notes),
        *(("segments", n) for n in segments.notes),
        *(("recommend", n) for n in recommended.notes),
        *(("actions", n) for n in actions.attrs.get("notes", [])),
    ]
    with _timed(seconds, "write", say, "writing"):
        scores = scores.merge(segments.customers, on="customer_id", how="outer")
        with store.transaction():
            write_features(store, run_id, features)
            write_frame(store, "customer_scores", run_id, scores)
            write_frame(store, "segments", run_id, segments.segments)
            write_fits(store, run_id, values.fits())
            write_predict_fits(store, run_id, predicted.fits)
            write_reasons(store, run_id, predicted.reasons)
            write_frame(store, "predict_validation", run_id, _validation(predicted, params))
            write_recommendations(store, run_id, recommended)
            write_frame(store, "customer_actions", run_id, actions)
            write_notes(store, run_id, notes)
            write_estimators(store, run_id, _estimators(values, predicted, segments))
            finish_run(store, run_id)
    columns = [c for c in features.column_names if c != "customer_id"]
    return RunResult(
        run_id,
        when,
        params.engine,
        features.num_rows,
        columns,
        seconds,
        values=values,
        segments=segments,
        predict=predicted,
        recommend=recommended,
        actions=actions,
        notes=notes,
    )


def _estimators(
    values: ValueModels, predicted: PredictResult, segments: SegmentResult
) -> dict[str, Any]:
    """What a server needs to score a new order as this run would: the chosen value model,
    the spend model, the segmenter and the chosen churn and spend learners (calibration
    included). Baselines and skipped stages keep nothing, nor does a learner that reads
    more than the feature table (the sequence learner): ``not_kept`` names it, so a server
    says why it does not rescore with it."""
    churn, spend = predicted.tasks.get("churn"), predicted.tasks.get("spend")
    chosen = values.chosen
    extra = [t.chosen for t in (churn, spend) if t is not None and t.chosen in EXTRA_LEARNERS]
    return {
        "value_model": None if chosen is None else chosen.model,
        "spend_model": values.spend_model,
        "segmenter": segments.segmenter,
        "churn": None if churn is None or churn.chosen in extra else churn.model,
        "churn_calibration": None if churn is None else churn.calibration,
        "spend": None if spend is None or spend.chosen in extra else spend.model,
        "not_kept": sorted(set(extra)),
    }


def _check_as_of(store: Store, as_of: datetime) -> None:
    span = purchase_span(store)
    if span.first is None or as_of <= span.first:
        raise InputError(
            f"No orders before --as-of {as_of:%Y-%m-%d}: the store holds {span.lines:,} "
            f"purchase lines from {span.describe()}. Pick an --as-of after the first order."
        )


def _value_models(store: Store, as_of: datetime, features: pd.DataFrame, freq: str) -> ValueModels:
    """Back-test the purchase models on a holdout before ``as_of``, choose one, score all."""
    from valueseg.features import calibration_holdout
    from valueseg.models.backtest import holdout_start
    from valueseg.models.choice import value_models

    first = purchase_span(store).first
    assert first is not None  # _check_as_of saw orders
    cal_end = holdout_start(first, as_of)
    cal, why = None, ""
    if (as_of - cal_end).days < 1 or cal_end <= first:
        why = f"history from {first:%Y-%m-%d} to {as_of:%Y-%m-%d} is too short for a holdout"
    else:
        try:
            cal = calibration_holdout(
                store, calibration_end=cal_end, observation_end=as_of, freq=freq
            )
        except InputError as exc:
            why = str(exc)
    if cal is not None:
        spend = spend_between(store, cal_end, as_of).rename(columns={"spend": "spend_holdout"})
        cal = cal.merge(spend, on="customer_id", how="left").fillna({"spend_holdout": 0.0})
    return value_models(cal, features[_SUMMARY], freq=freq, why_no_cal=why)


def _predict(
    store: Store, as_of: datetime, features: pd.DataFrame, values: ValueModels, params: RunParams
) -> PredictResult:
    """Churn and spend learners against the value models' baseline (docs/predict.md)."""
    from valueseg.predict.stage import predict_stage

    return predict_stage(
        store,
        as_of,
        features,
        values,
        freq=params.freq,
        horizon_days=params.horizon_days,
        learners=params.learners,
        random_state=params.random_state,
        engine=params.engine,
        embedding=params.cluster_embedding,
    )


def _validation(predicted: PredictResult, params: RunParams) -> pd.DataFrame:
    """A sample of the learners' validation predictions, for the report's curves."""
    from valueseg.predict.sample import validation_sample

    return validation_sample(predicted.validation, random_state=params.random_state)


def _with_predictions(scores: pd.DataFrame, predicted: pd.DataFrame) -> pd.DataFrame:
    """The value models' scores with the predict stage's columns; a learner's 365-day CLV,
    when it won its back-test, replaces the value models' one."""
    taken = [c for c in predicted.columns if c != "customer_id"]
    kept = scores.drop(columns=[c for c in taken if c in scores.columns])
    return kept.merge(predicted, on="customer_id", how="left")


def _recommend(
    store: Store, as_of: datetime, segments: pd.DataFrame, params: RunParams
) -> RecommendResult:
    """Recommendations for every customer who bought, evaluated on the last horizon."""
    from valueseg.recommend.stage import recommend_stage

    transactions, events = recommend_inputs(store, as_of)
    by_customer = segments.set_index("customer_id")["segment"] if len(segments) else None
    return recommend_stage(
        transactions,
        events,
        by_customer,
        as_of,
        horizon_days=params.horizon_days,
        random_state=params.random_state,
        model=params.recommender,
    )


def _actions(
    scores: pd.DataFrame,
    segments: SegmentResult,
    recommended: RecommendResult,
    params: RunParams,
) -> pd.DataFrame:
    """Each customer's next-best action from the playbook (docs/actions.md)."""
    from valueseg.actions.nba import next_best_actions

    everything = scores.merge(segments.customers, on="customer_id", how="left")
    return next_best_actions(
        everything, params.playbook, recommendations=recommended.recommendations
    )


def _segments(
    store: Store,
    features: pd.DataFrame,
    scores: pd.DataFrame,
    params: RunParams,
    embedding: pd.DataFrame | None = None,
) -> SegmentResult:
    """RFM segments, value tiers and clusters; cluster names carried from the last run."""
    from valueseg.segment.lenses import segment_customers
    from valueseg.segment.stored import previous_segments

    return segment_customers(
        features,
        scores,
        grid=params.grid,
        previous=previous_segments(store),
        random_state=params.random_state,
        clusters=params.clusters,
        extra_features=embedding,
    )


@contextlib.contextmanager
def _opened(db: str | Path | Store) -> Iterator[Store]:
    """The store ``db`` names, closed afterwards only if this run opened it."""
    if isinstance(db, Store):
        yield db
        return
    with Store(db) as store:
        yield store


@contextlib.contextmanager
def _timed(
    seconds: dict[str, float], stage: str, say: Callable[[str], None], message: str
) -> Iterator[None]:
    say(message)
    started = time.perf_counter()
    yield
    seconds[stage] = time.perf_counter() - started


def _describe(exc: BaseException) -> str:
    """The message a failed run's row keeps: a user's error as written, else its type too."""
    if isinstance(exc, ValuesegError):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    return f"{type(exc).__name__}: {exc}"
