"""The predict stage of a run: churn probability, spend, next order and reasons per customer.

:func:`predict_stage` sits between the value models and the segments (docs/design.md §5).
From the run's store, ``as_of``, its feature table and its value models it:

1. rolls cutoffs back from ``as_of`` by the horizon and builds, at each, the features of
   the history before it and the labels of the window after it (:mod:`.labels`);
2. compares the learners and the BTYD baseline on the temporal, customer-disjoint fold
   (:mod:`.evaluate`), chooses per task, refits the chosen learner on every cutoff and
   calibrates the churn learner (:mod:`.tasks`, :mod:`.calibrate`);
3. scores every customer at ``as_of``: ``churn_probability``, ``predicted_spend_90d`` (the
   horizon's spend), ``expected_next_order_date`` (:mod:`.next_order`) and, when a 365-day
   learner beats the value models' CLV, ``predicted_clv_365d`` (:mod:`.clv`);
4. explains each customer's churn score by its three largest contributions (:mod:`.reasons`).

It never returns empty scores: where learners cannot run (too little history, too few
churners, one class only) the value models' baseline scores everyone and ``notes`` says why.

The sequence learner (``--learners +sequence``, :mod:`valueseg.deep`) also reads each
row's order sequence: the stage hands it the stacked rows and the store
(:class:`valueseg.deep.board.SequenceBoard`, built only when asked for, PyTorch imported
only then); it competes on the same folds as the others (``docs/deep.md``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from valueseg.errors import ValuesegError
from valueseg.models.choice import ValueModels
from valueseg.predict.btyd import BTYD_COLUMNS, ValueFit, value_features
from valueseg.predict.clv import CLV_DAYS, ClvOutcome, clv_365
from valueseg.predict.evaluate import CrossValidation, leaderboard_frame
from valueseg.predict.labels import (
    SUMMARY,
    CutoffTable,
    customer_groups,
    cutoff_table,
    plan_cutoffs,
)
from valueseg.predict.learners import BASELINE, EXTRA_LEARNERS, LEARNERS, SEQUENCE
from valueseg.predict.next_order import backtest_next_order, next_order_dates
from valueseg.predict.params import check_predict_params
from valueseg.predict.reasons import importance, surrogate_contributions, top_reasons
from valueseg.predict.tasks import ExtraLearner, Stacked, TaskResult, run_task
from valueseg.store import Store
from valueseg.store.predict import first_purchase

__all__ = ["PredictResult", "predict_stage", "scores_at", "scoring_table"]

#: Customer groups of the cross-validation (each fold validates on one).
N_GROUPS = 2
#: Up to this many customers, LightGBM's reasons are exact SHAP values (``pred_contrib``);
#: beyond, its path decomposition, and the importance the mean |SHAP| of a sample.
EXACT_SHAP_ROWS = 50_000
SHAP_SAMPLE = 10_000
_UNITS = {"D": "days", "W": "weeks", "M": "months", "h": "hours"}


@dataclass
class PredictResult:
    """What the predict stage produced (frames for the store, and what the report draws).

    ``scores``: ``customer_id, churn_probability, predicted_spend_90d,
    expected_next_order_date`` (and ``predicted_clv_365d`` when the 365-day learner won).
    ``reasons``: ``customer_id, rank, feature, value, contribution, text`` (3 per customer).
    ``leaderboard``: ``task, model, <metrics>, chosen``. ``fits``: rows for ``predict_fits``
    (``task, model, params, metrics, chosen, reason``). ``importance``: ``feature,
    mean_abs_contribution``. ``validation``: the out-of-fold predictions per task.
    ``seconds``: wall time per step (labels, learners, scoring, clv_365d, reasons,
    next_order_backtest; with the sequence learner, also the parts of learners and scoring
    it took: sequence_sequences, sequence_fit, sequence_predict). ``columns``: the
    learners' feature columns (the feature table's and the value model's, in order).
    """

    scores: pd.DataFrame
    reasons: pd.DataFrame
    leaderboard: pd.DataFrame
    fits: list[dict[str, Any]]
    importance: pd.DataFrame
    next_order_backtest: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    cutoffs: list[datetime] = field(default_factory=list)
    validation: dict[str, CrossValidation] = field(default_factory=dict)
    tasks: dict[str, TaskResult] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    embedding: pd.DataFrame | None = None
    columns: list[str] = field(default_factory=list)


def predict_stage(
    store: Store,
    as_of: datetime,
    features: pd.DataFrame,
    values: ValueModels,
    *,
    freq: str = "D",
    horizon_days: int = 90,
    learners: Sequence[str] | str = LEARNERS,
    max_cutoffs: int = 4,
    random_state: int = 0,
    engine: str = "duckdb",
    n_jobs: int | None = None,
    embedding: bool = False,
    clv_contest: bool = True,
    explain: bool = True,
) -> PredictResult:
    """Churn and spend learners on time-respecting labels; every customer scored at ``as_of``.

    Parameters
    ----------
    store : Store
        The run's store (its ``transactions`` give the features before each cutoff and
        the labels after it).
    as_of : datetime
        The run's observation end; the cutoffs roll back from it.
    features : pandas.DataFrame
        The run's feature table at ``as_of`` (one row per customer, ``customer_id`` first).
    values : ValueModels
        The run's value stage: its chosen model is refitted at each cutoff (the baseline and
        the learners' value features) and scores ``as_of``.
    freq : {"D", "W", "M", "h"}
        The run's summary period.
    horizon_days : int, default 90 (``--horizon``)
        Churn is no purchase in the next ``horizon_days``; spend is the spend in them.
    learners : sequence or comma-separated str (``--learners``)
        Among ``lr, tree, rf, lgbm, sequence`` (a leading ``+`` adds to the first four);
        the baseline always competes.
    max_cutoffs : int, default 4
        Cutoffs stacked for training, as many as the history allows up to this.
    random_state : int
        Seed of the learners and of the customer groups of the folds.
    engine : {"duckdb", "spark"}
        Where the cutoffs' features are computed.
    n_jobs : int, optional
        Threads of the random forests and LightGBM (default one each).
    embedding : bool, default False (``--cluster-features +embedding``)
        Also give every customer at ``as_of`` the sequence learner's embedding
        (``PredictResult.embedding``: ``customer_id, embedding_0 …``); needs ``sequence``
        among ``learners``.
    clv_contest : bool, default True
        Back-test a 365-day spend learner against the value models' CLV (step 3). False:
        ``predicted_clv_365d`` stays the value models' and no ``clv_365d`` rows are made
        (the lake run, which scores every customer on Spark with ``tasks``).
    explain : bool, default True
        Each customer's three reasons and the importance (step 4). False: both empty.

    Returns
    -------
    PredictResult
    """
    horizon_days, names = check_predict_params(horizon_days, learners)
    ctx = _Context(store, as_of, freq, horizon_days, engine, random_state, values, n_jobs)
    seconds: dict[str, float] = {}
    notes: list[str] = []
    with _timed(seconds, "labels"):
        scoring = ctx.scoring(features, horizon_days)
        first = first_purchase(store)
        cutoffs = plan_cutoffs(
            first, as_of, horizon_days=horizon_days, max_cutoffs=max_cutoffs, freq=freq
        )
        tables = [ctx.table(at, horizon_days) for at in cutoffs]
        columns = _columns(scoring, tables, ctx.value_fit is not None, notes)
        data = _stack(tables, columns, random_state)
    extra = _extra(names, ctx, data, cutoffs, scoring, columns)
    with _timed(seconds, "learners"):
        base = ctx.has_baseline(tables)
        churn, spend = (
            run_task(
                task,
                data,
                names,
                random_state=random_state,
                baseline=base,
                n_jobs=n_jobs,
                extra=extra,
            )
            for task in ("churn", "spend")
        )
    with _timed(seconds, "scoring"):
        scores = _scores(scoring, columns, churn, spend, ctx, notes, extra)
    embedded = _embedding(extra, notes) if embedding else None
    for part, sec in getattr(extra.get(SEQUENCE), "seconds", {}).items():
        seconds[f"sequence_{part}"] = sec
    with _timed(seconds, "clv_365d"):
        clv = (
            _clv(ctx, first, scoring, columns, spend, max_cutoffs, horizon_days)
            if clv_contest
            else ClvOutcome(
                None,
                "predicted_clv_365d comes from the value models: no 365-day "
                "learner was back-tested against them",
            )
        )
    notes += [*_task_notes(churn, spend, horizon_days), clv.note]
    if clv.predictions is not None:
        scores["predicted_clv_365d"] = clv.predictions
    with _timed(seconds, "reasons"):
        reasons, imp = (
            _reasons(churn, scoring, columns, scores, ctx, notes) if explain else _no_reasons()
        )
    with _timed(seconds, "next_order_backtest"):
        backtest = backtest_next_order(store, tables, as_of, freq)
    next_order = _next_order_fit(backtest, ctx.value_name)
    notes.append(next_order["reason"])
    fits = [*churn.fits, *spend.fits, *clv.fits, next_order]
    return PredictResult(
        scores=scores,
        reasons=reasons,
        leaderboard=leaderboard_frame(fits),
        fits=fits,
        importance=imp,
        next_order_backtest=backtest,
        notes=notes,
        cutoffs=cutoffs,
        validation={t.task: t.cv for t in (churn, spend) if t.cv is not None},
        tasks={"churn": churn, "spend": spend},
        seconds=seconds,
        embedding=embedded,
        columns=columns,
    )


@contextlib.contextmanager
def _timed(seconds: dict[str, float], step: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    seconds[step] = time.perf_counter() - started


@dataclass
class _Context:
    """What every step of the stage reads: the run's settings and its value model."""

    store: Store
    as_of: datetime
    freq: str
    horizon_days: int
    engine: str
    random_state: int
    values: ValueModels
    n_jobs: int | None = None
    cache: dict[tuple[datetime, int], CutoffTable] = field(default_factory=dict)

    @property
    def value_fit(self) -> ValueFit | None:
        chosen = self.values.chosen
        if chosen is None or chosen.model is None:
            return None
        return ValueFit(chosen.name, chosen.model, self.values.spend_model)

    @property
    def value_name(self) -> str:
        return self.values.chosen.name if self.values.chosen is not None else "bg_nbd"

    def table(self, at: datetime, label_days: int) -> CutoffTable:
        key = (at, label_days)
        if key not in self.cache:
            self.cache[key] = cutoff_table(
                self.store,
                at,
                label_days=label_days,
                value_model=self.value_name,
                freq=self.freq,
                engine=self.engine,
            )
        return self.cache[key]

    def scoring(self, features: pd.DataFrame, days: int) -> pd.DataFrame:
        """The run's features with the value model's outputs for ``days`` at ``as_of``."""
        return scoring_table(features, self.value_fit, days, self.freq)

    def has_baseline(self, tables: Sequence[CutoffTable]) -> bool:
        return self.value_fit is not None and all(t.value_fit is not None for t in tables)


def _extra(
    names: Sequence[str],
    ctx: _Context,
    data: Stacked,
    cutoffs: Sequence[datetime],
    scoring: pd.DataFrame,
    columns: list[str],
) -> dict[str, ExtraLearner]:
    """The learners asked for that read more than the feature table (the sequence one)."""
    if SEQUENCE not in names:
        return {}
    from valueseg.deep._torch import require_torch
    from valueseg.deep.board import SequenceBoard

    require_torch()
    board = SequenceBoard(
        ctx.store,
        data,
        cutoffs,
        scoring,
        columns,
        ctx.as_of,
        random_state=ctx.random_state,
        n_jobs=ctx.n_jobs,
    )
    return {SEQUENCE: board}


def _embedding(extra: dict[str, ExtraLearner], notes: list[str]) -> pd.DataFrame | None:
    """The sequence learner's embedding of every customer at ``as_of`` (its refit on every
    stacked row, the one that scores them), or None with a note saying why not."""
    board: Any = extra.get(SEQUENCE)
    if board is None:
        notes.append("no customer embedding: the sequence learner was not asked for")
        return None
    try:
        vectors = np.asarray(board.embed_scoring(), np.float64)
    except (ValuesegError, ValueError) as exc:  # e.g. no stacked row to fit on
        notes.append(f"no customer embedding: {exc}")
        return None
    frame = pd.DataFrame(vectors, columns=[f"embedding_{i}" for i in range(vectors.shape[1])])
    frame.insert(0, "customer_id", board.scoring["customer_id"].to_numpy())
    notes.append(
        f"behavioural clusters also read the sequence learner's {vectors.shape[1]}-number "
        "customer embedding (--cluster-features +embedding)"
    )
    return frame


def _predicted(result: TaskResult, X: pd.DataFrame, extra: dict[str, ExtraLearner]) -> np.ndarray:
    """The chosen learner's churn probability or spend for the customers at ``as_of``."""
    if result.chosen in extra:
        board: Any = extra[result.chosen]
        return np.asarray(board.predict_scoring(result.task), np.float64)
    assert result.model is not None
    if result.task == "churn":
        return np.asarray(result.model.predict_proba(X)[:, 1], np.float64)
    return np.asarray(result.model.predict(X), np.float64)


def _columns(
    scoring: pd.DataFrame, tables: Sequence[CutoffTable], btyd: bool, notes: list[str]
) -> list[str]:
    """Feature columns present (and numeric) at every cutoff and at ``as_of``."""
    frames = [scoring, *(t.features for t in tables)]
    numeric = [
        {c for c in f.columns if c != "customer_id" and pd.api.types.is_numeric_dtype(f[c])}
        for f in frames
    ]
    common = set.intersection(*numeric)
    dropped = sorted(set.union(*numeric) - common)
    if dropped:
        notes.append(
            f"{len(dropped)} feature(s) not present at every cutoff left out of the learners: "
            + ", ".join(dropped[:8])
            + (" …" if len(dropped) > 8 else "")
        )
    if not btyd or any(t.value_fit is None for t in tables):
        common -= set(BTYD_COLUMNS)
    return [c for c in scoring.columns if c in common]


def _stack(tables: Sequence[CutoffTable], columns: list[str], random_state: int) -> Stacked:
    """Every cutoff's rows: features, churn and spend targets, cutoff number, group."""
    if not tables:
        empty = pd.DataFrame(columns=columns, dtype=np.float64)
        none = np.zeros(0)
        return Stacked(
            empty, {"churn": none, "spend": none}, none.astype(int), none.astype(int), N_GROUPS
        )
    frames = [t.features for t in tables]
    ids = pd.concat([f["customer_id"] for f in frames], ignore_index=True)
    return Stacked(
        X=pd.concat([f[columns] for f in frames], ignore_index=True),
        target={
            "churn": np.concatenate([t.churn for t in tables]),
            "spend": np.concatenate([t.spend for t in tables]),
            "clv_365d": np.concatenate([t.spend for t in tables]),
        },
        cutoff=np.repeat(np.arange(len(tables)), [len(f) for f in frames]),
        group=customer_groups(ids, N_GROUPS, random_state),
        n_groups=N_GROUPS,
        dates=[str(t.at.date()) for t in tables],
        customer_id=ids.to_numpy(),
    )


def _scores(
    scoring: pd.DataFrame,
    columns: list[str],
    churn: TaskResult,
    spend: TaskResult,
    ctx: _Context,
    notes: list[str],
    extra: dict[str, ExtraLearner],
) -> pd.DataFrame:
    """``customer_id, churn_probability, predicted_spend_90d, expected_next_order_date``."""
    out = scores_at(
        scoring,
        columns,
        churn,
        spend,
        ctx.value_fit,
        ctx.as_of,
        ctx.freq,
        predicted=lambda result, X: _predicted(result, X, extra),
    )
    for column in ("churn_probability", "predicted_spend_90d"):
        empty = int((~np.isfinite(out[column].to_numpy(np.float64))).sum())
        if empty:
            notes.append(
                f"{column} left empty for {empty:,} customers: the value model gives no number "
                f"for them over {ctx.horizon_days} days (--horizon)"
            )
    if ctx.value_fit is None:
        notes.append("no value model: no baseline churn probability and no expected next order")
    return out


def scoring_table(
    features: pd.DataFrame, value_fit: ValueFit | None, days: int, freq: str
) -> pd.DataFrame:
    """``features`` with the value model's outputs for the next ``days``
    (:data:`~valueseg.predict.btyd.BTYD_COLUMNS`; NaN without a value model): the table the
    learners score."""
    base = features.drop(columns=[c for c in BTYD_COLUMNS if c in features.columns])
    if value_fit is None:
        extra = pd.DataFrame(np.nan, index=base.index, columns=list(BTYD_COLUMNS))
    else:
        extra = value_features(value_fit, base[SUMMARY[1:]], days, freq)
    return pd.concat([base.reset_index(drop=True), extra.reset_index(drop=True)], axis=1)


def scores_at(
    scoring: pd.DataFrame,
    columns: list[str],
    churn: TaskResult,
    spend: TaskResult,
    value_fit: ValueFit | None,
    as_of: datetime,
    freq: str,
    predicted: Callable[[TaskResult, pd.DataFrame], np.ndarray] | None = None,
) -> pd.DataFrame:
    """``customer_id, churn_probability, predicted_spend_90d, expected_next_order_date`` of
    the customers of ``scoring`` (:func:`scoring_table`): the chosen churn learner,
    calibrated, and the chosen spend learner, or the value models' baseline where it won;
    the next order from the value model. The lake run calls it on the executors, batch by
    batch, with the tasks the stage fitted on a sample (``predicted`` None: the tasks'
    own feature-table models)."""
    out = pd.DataFrame({"customer_id": scoring["customer_id"].to_numpy()})
    predict = predicted or (lambda result, X: _predicted(result, X, {}))
    X = scoring[columns]
    if churn.model is not None:
        raw = predict(churn, X)
        calibration = churn.calibration
        out["churn_probability"] = calibration.transform(raw) if calibration else raw
    else:
        out["churn_probability"] = scoring["btyd_p_churn"].to_numpy(np.float64)
    if spend.model is not None:
        out["predicted_spend_90d"] = predict(spend, X)
    else:
        out["predicted_spend_90d"] = scoring["btyd_expected_spend"].to_numpy(np.float64)
    if value_fit is None:
        out["expected_next_order_date"] = pd.NaT
    else:
        dates = next_order_dates(value_fit.name, value_fit.model, scoring[SUMMARY[1:]], as_of, freq)
        out["expected_next_order_date"] = dates.dt.date.to_numpy()
    return out


def _no_reasons() -> tuple[pd.DataFrame, pd.DataFrame]:
    """No reasons and no importance (``explain=False``)."""
    reasons = pd.DataFrame(
        columns=["customer_id", "rank", "feature", "value", "contribution", "text"]
    )
    return reasons, pd.DataFrame(columns=["feature", "mean_abs_contribution"])


def _clv(
    ctx: _Context,
    first: datetime | None,
    scoring: pd.DataFrame,
    columns: list[str],
    spend: TaskResult,
    max_cutoffs: int,
    horizon_days: int,
) -> ClvOutcome:
    """The 365-day contest (:func:`valueseg.predict.clv.clv_365`): the chosen spend learner,
    or the best of the feature-table learners when the baseline or the sequence learner won
    (the contest reads the feature table only)."""
    tabular = spend.chosen not in (BASELINE, *EXTRA_LEARNERS)
    learner = spend.chosen if tabular else _best_learner(spend)
    at = plan_cutoffs(
        first,
        ctx.as_of,
        horizon_days=horizon_days,
        max_cutoffs=max_cutoffs,
        label_days=CLV_DAYS,
        freq=ctx.freq,
    )
    tables = [ctx.table(a, CLV_DAYS) for a in at] if learner is not None and len(at) >= 2 else []
    cols = [c for c in columns if all(c in t.features.columns for t in tables)]
    return clv_365(
        tables,
        lambda ts: _stack(ts, cols, ctx.random_state),
        scoring,
        ctx.value_fit,
        learner,
        available=len(at),
        freq=ctx.freq,
        random_state=ctx.random_state,
        n_jobs=ctx.n_jobs,
    )


def _next_order_fit(backtest: dict[str, Any], model: str) -> dict[str, Any]:
    """The next-order back-test as a ``predict_fits`` row (task ``next_order``) with its
    reading: the share who ordered by their date, next to the 50 % it should be."""
    share, checked = backtest.get("share"), int(backtest.get("customers_checked") or 0)
    if share is None:
        reason = (
            "expected_next_order_date not back-tested: no customer's predicted date at a "
            "cutoff fell before as_of"
        )
    else:
        reason = (
            f"expected_next_order_date back-tested: {100 * share:.1f} % of {checked:,} "
            "customers ordered by their predicted date (50 % expected)"
        )
    return {
        "task": "next_order",
        "model": model,
        "params": None,
        "metrics": backtest,
        "chosen": True,
        "reason": reason,
    }


def _best_learner(result: TaskResult) -> str | None:
    """The spend leaderboard's best feature-table learner, if any was fitted."""
    if result.cv is None:
        return None
    ranked = [n for n in result.cv.metrics if n not in (BASELINE, *EXTRA_LEARNERS)]
    key = [result.cv.metrics[n].get("gini") or -np.inf for n in ranked]
    return ranked[int(np.argmax(key))] if ranked else None


def _task_notes(churn: TaskResult, spend: TaskResult, horizon_days: int) -> list[str]:
    out = []
    for result, what in ((churn, "churn_probability"), (spend, "predicted_spend_90d")):
        if result.fallback is not None:
            out.append(f"{what} from the value models' baseline: {result.fallback}")
        else:
            how = "the value models' baseline" if result.chosen == BASELINE else result.chosen
            extra = ""
            if result.calibration is not None and result.calibration.method != "none":
                extra = f", calibrated ({result.calibration.method})"
            elif result.calibration is not None:
                extra = ", not recalibrated (no calibrator beat its own scores)"
            out.append(f"{what} from {how}{extra}: {result.reason}")
    if horizon_days != 90:
        out.append(
            f"predicted_spend_90d holds the spend of the next {horizon_days} days (--horizon)"
        )
    return out


def reasons_method(churn: TaskResult, customers: int) -> str:
    """How the churn scores of ``customers`` customers are explained: ``"surrogate"`` (the
    baseline's scores, or a learner without contributions: a linear fit of their log-odds
    on the purchase history), ``"shap"`` (exact), or ``"path"`` (LightGBM's path
    decomposition, past :data:`EXACT_SHAP_ROWS` customers). The lake run decides the same."""
    if churn.model is None or churn.chosen in EXTRA_LEARNERS:
        return "surrogate"
    return "shap" if churn.chosen != "lgbm" or customers <= EXACT_SHAP_ROWS else "path"


def reasons_context(horizon_days: int, freq: str) -> dict[str, Any]:
    """What the reasons' texts say of the run: its horizon and its period's unit."""
    return {"horizon_days": horizon_days, "unit": _UNITS.get(freq, "periods")}


def _reasons(
    churn: TaskResult,
    scoring: pd.DataFrame,
    columns: list[str],
    scores: pd.DataFrame,
    ctx: _Context,
    notes: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each customer's three largest contributions to the churn score, and the importance."""
    context = reasons_context(ctx.horizon_days, ctx.freq)
    method = reasons_method(churn, len(scoring))
    if method == "surrogate":
        p = scores["churn_probability"].to_numpy(np.float64)
        if not np.all(np.isfinite(p)):
            empty = pd.DataFrame(columns=["feature", "mean_abs_contribution"])
            return top_reasons(pd.DataFrame(), scoring), empty
        contrib, r2 = surrogate_contributions(scoring, p)
        who = "the baseline's" if churn.model is None else f"the {churn.chosen} learner's"
        notes.append(
            f"reasons of {who} churn scores come from a linear fit of its log-odds on "
            f"the purchase history (R² {r2:.2f})"
        )
        return top_reasons(contrib, scoring, context=context), importance(contrib)
    assert churn.model is not None  # a learner's own contributions
    X = scoring[columns]
    contrib = churn.model.contributions(X, method=method)
    if method == "shap":
        return top_reasons(contrib, scoring, context=context), importance(contrib)
    sample = X.sample(n=min(SHAP_SAMPLE, len(X)), random_state=ctx.random_state)
    notes.append(
        f"reasons per customer from LightGBM's path decomposition ({len(X):,} customers; "
        f"exact SHAP costs about half a millisecond each); the importance is the mean |SHAP| "
        f"of {len(sample):,} customers"
    )
    shap = churn.model.contributions(sample, method="shap")
    return top_reasons(contrib, scoring, context=context), importance(shap)
