"""Score one customer again, at once, with a finished run's stored estimators.

:func:`load_run_models` reads what a run kept (table ``run_estimators``: the chosen value
model, Gamma-Gamma, the segmenter, the churn and spend learners when they beat the
baseline), what its lenses rank against (its customers' days since the last order,
orders, spend and predicted CLV) and its customers' rows an order's answer starts from
(:mod:`valueseg.web.run_rows`), once per run. :func:`rescore` then rebuilds the
customer's order features at a moment (:mod:`valueseg.web.rebuild`) and gives:

- P(alive), expected purchases in 90 and 365 days and the 365-day CLV: the run's value
  model and Gamma-Gamma in closed form (``valueseg.models.choice.score_customers``);
- churn probability and 90-day spend: the run's learner (calibration included) on the
  rebuilt feature row, or the value model's baseline where the run chose it;
- R, F and M: the customer's quintile among the run's customers (the customer's own old
  values taken out), and the run's R×F grid's name;
- value tier: the customer's rank by predicted CLV among the run's customers;
- cluster: the run's segmenter, its cluster matched to the stored names by centroid.

What is carried rather than recomputed is listed in :attr:`Rescored.carried`. The value
models, the learners and the segmenter read the batch's numbers as arrays
(:mod:`valueseg.web.score_arrays`), and frames where arrays cannot stand for them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from valueseg.actions.nba import first_rules, first_rules_of_rows
from valueseg.actions.playbooks import Playbook, load_playbooks
from valueseg.errors import InputError, ValuesegError
from valueseg.models.choice import score_customers
from valueseg.predict.btyd import ValueFit, next_order_periods, value_features
from valueseg.predict.next_order import order_dates
from valueseg.segment.grid import RfmGrid, load_rfm_grid
from valueseg.segment.tiers import DEFAULT_CUTS, tier_labels
from valueseg.store import Store
from valueseg.store.estimators import estimator_names, read_estimator
from valueseg.store.many_customers import line_rows_of, views_of
from valueseg.store.predict import read_predict_fits
from valueseg.store.web import (
    LINE_COLUMNS,
    SCORE_COLUMNS,
    chosen_value_model,
    feature_types,
    run_distribution,
    run_row,
)
from valueseg.web.rebuild import rebuild_features
from valueseg.web.run_changes import LoggedChanges, load_logged_changes
from valueseg.web.run_rows import RunRows, index_positions, load_run_rows
from valueseg.web.score_arrays import BatchNumbers, ValueArrays, value_arrays

__all__ = ["Rescored", "RunModels", "load_run_models", "rescore", "rescore_many", "stored_rows"]

_RFM = {"r": "days_since_last_order", "f": "orders_total", "m": "spend_total"}
_SUMMARY = ("frequency", "recency", "T", "monetary_value")


@dataclass
class RunModels:
    """What one finished run gives real-time scoring (loaded once per run)."""

    run_id: int
    as_of: datetime
    freq: str
    horizon_days: int
    value_name: str | None
    estimators: dict[str, Any]
    grid: RfmGrid
    playbook: Playbook
    channels: list[str]
    categories: list[str]
    has_events: bool
    distribution: pd.DataFrame  # customer_id index; _RFM, predicted_clv_365d, recommended
    sorted_values: dict[str, np.ndarray]
    clusters: dict[int, tuple[int, str]]  # the segmenter's label -> (stored id, name)
    clv_learner: str | None  # the learner the run's CLV came from, when not the value models
    new_customer: dict[str, float]  # the carried columns of a customer the run did not see
    rows: RunRows  # its customers' scores, actions and the feature columns rescoring reads
    changes: LoggedChanges  # the segment changes logged under it, newest per lens
    columns: list[str] = field(default_factory=list)  # the feature table's, in its order
    carried: list[str] = field(default_factory=list)  # those not rebuilt from the orders
    notes: list[str] = field(default_factory=list)
    #: The thread pools of the libraries loaded with the estimators (see :func:`_score`).
    threads: ThreadpoolController = field(default_factory=ThreadpoolController)

    @property
    def customers(self) -> int:
        """How many customers the run scored."""
        return len(self.distribution)

    @functools.cached_property
    def ranking_columns(self) -> dict[str, np.ndarray]:
        """The columns of :attr:`distribution` a batch reads (:func:`_own_rows`), as arrays
        made once (a frame's column access cost more than the lookup)."""
        names = [*_RFM.values(), "predicted_clv_365d", "recommended"]
        return {name: self.distribution[name].to_numpy() for name in names}


@dataclass
class Rescored:
    """A customer's scores at a moment; ``recomputed`` and ``carried`` name the columns."""

    at: datetime
    scores: dict[str, Any]
    recomputed: list[str]
    carried: list[str]
    notes: list[str]


def _round(values: Any) -> np.ndarray:
    return np.round(np.asarray(values, dtype=float), 6)


def load_run_models(store: Store, run_id: int) -> RunModels:
    """Read run ``run_id``'s estimators and its customers' ranking columns."""
    row = run_row(store, run_id)
    if row is None or row["status"] != "succeeded":
        raise InputError(f"Run {run_id} did not finish in {store.path}; nothing to score with.")
    params = row["parameters"]
    if params.get("inputs"):  # the lake run's record names its input URIs
        raise InputError(
            f"run {run_id} is a lake run (`valueseg serve --from`): its order lines stay in "
            "the lake, so a customer's history is not here to score again. To score orders "
            "as they are posted, ingest the orders into this store and `valueseg run` it"
        )
    estimators = {
        name: read_estimator(store, run_id, name) for name in estimator_names(store, run_id)
    }
    notes: list[str] = []
    dist = run_distribution(store, run_id).set_index("customer_id")
    sorted_values = {c: np.sort(_round(dist[c])) for c in _RFM.values()}
    clv = _round(dist["predicted_clv_365d"])
    sorted_values["predicted_clv_365d"] = np.sort(np.where(np.isnan(clv), -np.inf, clv))
    channels, categories, has_events = _shop_lists(store, row["as_of"])
    columns = [c for c in feature_types(store) if c != "run_id"]
    rebuilt = rebuild_features(  # the columns a rebuild gives, for one made-up order
        [("probe", row["as_of"], 1.0, None, None, None, None, False)],
        row["as_of"],
        channels=channels,
        categories=categories,
        views=0 if has_events else None,
    )
    carried = [c for c in columns if c not in rebuilt and c != "customer_id"]
    return RunModels(
        run_id=run_id,
        as_of=row["as_of"],
        freq=str(params.get("freq", "D")),
        horizon_days=int(params.get("horizon", 90)),
        value_name=chosen_value_model(store, run_id),
        estimators=estimators,
        grid=_grid(params.get("segments_config"), notes),
        playbook=_playbook(params.get("playbooks"), notes),
        channels=channels,
        categories=categories,
        has_events=has_events,
        distribution=dist,
        sorted_values=sorted_values,
        clusters=_cluster_names(store, run_id, estimators.get("segmenter")),
        clv_learner=_clv_learner(store, run_id),
        new_customer=_new_customer(store),
        rows=load_run_rows(store, run_id, SCORE_COLUMNS, [*carried, *_SUMMARY]),
        changes=load_logged_changes(store, run_id),
        columns=columns,
        carried=carried,
        notes=notes,
    )


def _grid(path: str | None, notes: list[str]) -> RfmGrid:
    if path is not None and Path(path).exists():
        return load_rfm_grid(path)
    if path is not None:
        notes.append(f"the run's R×F grid {path} is gone; segments named by the default grid")
    return load_rfm_grid(None)


def _playbook(path: str | None, notes: list[str]) -> Playbook:
    if path is not None and Path(path).exists():
        return load_playbooks(path)
    if path is not None:
        notes.append(f"the run's playbook {path} is gone; actions chosen by the packaged one")
    return load_playbooks(None)


def _shop_lists(store: Store, as_of: datetime) -> tuple[list[str], list[str], bool]:
    """The run's main channels and categories (its share columns), and whether the shop
    has events: computed as the run computed them (valueseg.features.table)."""
    import ibis

    from valueseg.features.table import (
        TOP_CHANNELS,
        top_categories,
        top_values,
        with_optional_columns,
    )

    con = ibis.duckdb.from_connection(store.con)
    tx = with_optional_columns(con.table("transactions"))
    events = store.con.execute("SELECT count(*) > 0 FROM events").fetchone()
    return (
        top_values(tx, as_of, "channel", TOP_CHANNELS),
        top_categories(tx, as_of),
        bool(events and events[0]),
    )


def _new_customer(store: Store) -> dict[str, float]:
    """What the feature table gives a customer without events or attributes: 0 for the
    event counts and rates (:data:`~valueseg.features.behaviour.EVENT_ZERO`) and for
    one-hot attributes (integer columns), missing for the rest."""
    from valueseg.features.behaviour import EVENT_ZERO

    out = {}
    for name, kind in feature_types(store).items():
        one_hot = name.startswith("attr_") and "INT" in kind
        out[name] = 0.0 if name in EVENT_ZERO or one_hot else float("nan")
    return out


def _clv_learner(store: Store, run_id: int) -> str | None:
    for fit in read_predict_fits(store, run_id):
        if fit["task"] == "clv_365d" and fit["chosen"] and fit["model"] != "btyd":
            return str(fit["model"])
    return None


def _cluster_names(store: Store, run_id: int, segmenter: Any) -> dict[int, tuple[int, str]]:
    """The segmenter's own cluster labels -> (stored cluster id, name), by centroid.

    A run carries cluster identities over from the previous run, so its stored ids need not
    be the segmenter's labels; each stored profile keeps its centroid, the segmenter its own.
    """
    if segmenter is None:
        return {}
    rows = store.con.execute(
        "SELECT segment, profile FROM segments WHERE run_id = ? AND lens = 'cluster'", [run_id]
    ).fetchall()
    stored = []
    for name, profile in rows:
        info = json.loads(profile) if profile else {}
        if "cluster" in info and info.get("centroid"):
            stored.append((int(info["cluster"]), str(name), info["centroid"]))
    out: dict[int, tuple[int, str]] = {}
    centroids: pd.DataFrame = segmenter.centroids_
    for label, centre in centroids.iterrows():
        best = min(stored, key=lambda s: _distance(centre, s[2]), default=None)
        if best is not None:
            out[int(str(label))] = (best[0], best[1])
    return out


def _distance(centre: pd.Series, other: dict[str, float | None]) -> float:
    keys = [k for k in centre.index if other.get(str(k)) is not None]
    a = centre[keys].to_numpy(np.float64)
    b = np.array([other[str(k)] for k in keys], dtype=np.float64)
    return float(np.nansum((a - b) ** 2))


def rescore(
    store: Store,
    models: RunModels,
    customer_id: str,
    at: datetime,
    *,
    stored: dict[str, Any] | None = None,
) -> Rescored:
    """The customer's scores at ``at`` from their order lines up to then (see the module).

    ``stored``: the customer's feature row of the run when the caller has read it already
    (None: read here)."""
    rows = None if stored is None else {customer_id: stored}
    got = rescore_many(store, models, [(customer_id, at)], stored=rows)[0]
    if isinstance(got, ValuesegError):
        raise got
    return got


def rescore_many(
    store: Store,
    models: RunModels,
    wanted: Sequence[tuple[str, datetime]],
    *,
    stored: Mapping[str, dict[str, Any] | None] | None = None,
    lines: Mapping[str, list[tuple[Any, ...]]] | None = None,
) -> list[Rescored | ValuesegError]:
    """:func:`rescore` of several customers (each at its own moment) at once: their rows
    read in a few statements (:mod:`valueseg.store.many_customers`), every estimator
    applied once to all of them. One answer per ``wanted`` pair, in order: the scores, or
    the error of a customer who cannot be scored (the others are scored all the same).

    ``stored``: customer id -> their feature row of the run (None: the run did not see
    them; at least the columns :func:`stored_rows` reads), when the caller has read them
    already; else read here. ``lines``: customer id -> their order lines
    (:data:`~valueseg.store.web.LINE_COLUMNS`, oldest first) where the caller has them
    (the batch's load read them); the others' are read here."""
    ids = list(dict.fromkeys(c for c, _ in wanted))
    if len(ids) < len(wanted):
        raise ValueError("rescore_many takes each customer once")
    lines = dict(lines or {})
    unread = [c for c in ids if c not in lines]
    if unread:
        lines |= line_rows_of(store, unread, LINE_COLUMNS)
    views = views_of(store, dict(wanted)) if models.has_events else {}
    known = stored if stored is not None else stored_rows(models, ids)
    out: list[Rescored | ValuesegError] = []
    batch: list[_Item] = []
    for customer_id, at in wanted:
        rebuilt = rebuild_features(
            lines.get(customer_id, []),
            at,
            freq=models.freq,
            channels=models.channels,
            categories=models.categories,
            views=views.get(customer_id, 0) if models.has_events else None,
        )
        if not rebuilt:
            out.append(
                InputError(
                    f"Customer {customer_id!r} has no purchase up to {at:%Y-%m-%d %H:%M}; "
                    "there is nothing to score. Post an order of theirs first."
                )
            )
            continue
        item = _item(models, customer_id, at, rebuilt, known.get(customer_id))
        batch.append(item)
        out.append(item.rescored)
    if batch:
        _score(models, batch)
    return out


def stored_rows(models: RunModels, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The customers' feature rows of the run, as far as rescoring needs them: the columns
    not rebuilt from the orders (carried) and the summary (a posted order's answer shows
    the run's), from the rows the server keeps (:attr:`RunModels.rows`). A customer the
    run did not see is absent."""
    return models.rows.features(ids, [*models.carried, *_SUMMARY])


@dataclass
class _Item:
    """One customer of a batch: the rebuilt columns, the full feature row, the answer."""

    customer_id: str
    rebuilt: dict[str, Any]
    row: dict[str, Any]
    rescored: Rescored


def _item(
    models: RunModels,
    customer_id: str,
    at: datetime,
    rebuilt: dict[str, Any],
    old: dict[str, Any] | None,
) -> _Item:
    notes = list(models.notes)
    if old is None:
        old = {k: v for k, v in models.new_customer.items() if k not in ("run_id", "customer_id")}
        notes.append("a customer the run did not see: event and attribute columns as for none")
    merged = {**old, **rebuilt, "customer_id": customer_id}
    row = {k: merged.pop(k) for k in models.columns if k in merged} | merged  # the table's order
    carried = sorted(k for k in old if k not in rebuilt and k != "customer_id")
    scores: dict[str, Any] = {k: rebuilt[k] for k in _SUMMARY}
    return _Item(customer_id, rebuilt, row, Rescored(at, scores, [*scores], carried, notes))


def _score(models: RunModels, batch: list[_Item]) -> None:
    """Every step of the scoring, each on the whole batch's frame of feature rows.

    The OpenMP libraries (LightGBM's learners, scikit-learn's k-means) run on one thread
    here, this thread only: a batch is a few rows, and the team of threads each call
    starts spins on after it. At 1M customers that spinning was a quarter of an order's CPU
    (bench/api.py), taken from the requests being answered beside it; a run in progress
    in another thread keeps its threads."""
    numbers = BatchNumbers([item.row for item in batch])
    owns = _own_rows(models, [item.customer_id for item in batch])
    with models.threads.limit(limits=1, user_api="openmp"):
        values = _value_arrays(models, batch)
        _value_scores(models, numbers, batch, values)
        _learner_scores(models, numbers, batch, values)
        for item, own in zip(batch, owns, strict=True):
            _lenses(models, item, own)
        _cluster(models, numbers, batch)
        _action(models, batch, owns)


def _value_arrays(models: RunModels, batch: list[_Item]) -> ValueArrays | None:
    """The value models' numbers of the batch from arrays (:mod:`.score_arrays`); None:
    no value model, or one the frame functions must score (BG/BB, a summary not finite)."""
    model = models.estimators.get("value_model")
    if model is None or models.value_name is None:
        return None
    summary = [np.array([item.rebuilt[k] for item in batch], np.float64) for k in _SUMMARY]
    spend_model = models.estimators.get("spend_model")
    return value_arrays(model, spend_model, summary, models.freq, models.horizon_days)


def _own_rows(models: RunModels, ids: Sequence[str]) -> list[dict[str, Any] | None]:
    """Each customer's row of the run's rankings (:attr:`RunModels.distribution`: the
    R, F and M columns, predicted CLV, whether they have recommendations), each found by
    its index entry (:func:`~valueseg.web.run_rows.index_positions`); None for a customer
    the run did not see."""
    columns = models.ranking_columns
    at = index_positions(models.distribution.index, ids)
    return [None if i < 0 else {name: got[i] for name, got in columns.items()} for i in at]


def _note_all(batch: list[_Item], note: str) -> None:
    for item in batch:
        item.rescored.notes.append(note)


def _set(batch: list[_Item], column: str, values: Sequence[Any]) -> None:
    """Column ``column`` of each item's scores, and name it recomputed."""
    for item, value in zip(batch, values, strict=True):
        item.rescored.scores[column] = value
        item.rescored.recomputed.append(column)


def _value_scores(
    models: RunModels, numbers: BatchNumbers, batch: list[_Item], values: ValueArrays | None
) -> None:
    """P(alive), expected purchases, CLV and the expected next order, in closed form:
    from ``values`` (arrays), else by the frame functions."""
    model = models.estimators.get("value_model")
    if model is None or models.value_name is None:
        _note_all(batch, "the run kept no value model: no P(alive), expected purchases or CLV")
        return
    names = ["p_alive", "expected_purchases_90d", "expected_purchases_365d", "predicted_clv_365d"]
    if values is not None:
        got = [values.p_alive, values.purchases_90d, values.purchases_365d, values.clv_365d]
        periods = values.next_order_periods
    else:
        spend_model = models.estimators.get("spend_model")
        summary = numbers.frame[["customer_id", *_SUMMARY]]
        scored = score_customers(models.value_name, model, spend_model, summary, models.freq)
        got = [scored[name].to_numpy() for name in names]
        with np.errstate(all="ignore"):
            periods = next_order_periods(models.value_name, model, summary)
    for name, column in zip(names, got, strict=True):
        _set(batch, name, [_number(v) for v in column])
    if models.clv_learner is not None:
        _note_all(
            batch,
            f"predicted_clv_365d from the value models: the run's own came from the "
            f"{models.clv_learner} learner, which the run does not keep",
        )
    moments = [item.rescored.at for item in batch]  # each counts from its own moment
    found = order_dates(moments, periods, models.freq)
    _set(batch, "expected_next_order_date", found)


def _learner_scores(
    models: RunModels, numbers: BatchNumbers, batch: list[_Item], values: ValueArrays | None
) -> None:
    """Churn probability and the horizon's spend: the run's learners, else the baseline;
    on the arrays (:mod:`.score_arrays`) where they stand for the frame."""
    model = models.estimators.get("value_model")
    if model is None or models.value_name is None:
        return
    not_kept = models.estimators.get("not_kept") or []
    if not_kept:  # the run chose a learner that reads the order sequence
        _note_all(
            batch,
            f"churn probability and spend not recomputed: the run's {', '.join(not_kept)} "
            "learner reads the order sequence and is not rerun per event",
        )
        return
    if values is not None:
        try:
            churn, spend = _learners(models, _array_matrix(numbers, values.btyd), values.btyd)
        except (_NotArrays, ValuesegError, ValueError):
            pass  # the frame route scores them, and says which row a learner refuses
        else:
            _set(batch, "churn_probability", churn)
            _set(batch, "predicted_spend_90d", spend)
            return
    frame = numbers.frame
    fit = ValueFit(models.value_name, model, models.estimators.get("spend_model"))
    btyd = value_features(fit, frame[list(_SUMMARY)], models.horizon_days, models.freq)
    X = pd.concat([frame.drop(columns=btyd.columns, errors="ignore"), btyd], axis=1)
    try:
        churn, spend = _learners(models, _frame_matrix(X), btyd)
    except (ValuesegError, ValueError):  # a row the learner refuses: each row on its own,
        for i, item in enumerate(batch):  # so the others are scored
            try:
                churn, spend = _learners(models, _frame_matrix(X.iloc[[i]]), btyd.iloc[[i]])
            except (ValuesegError, ValueError) as exc:  # a feature the row lacks: say so
                item.rescored.notes.append(f"churn probability and spend not recomputed: {exc}")
                continue
            _set([item], "churn_probability", churn)
            _set([item], "predicted_spend_90d", spend)
        return
    _set(batch, "churn_probability", churn)
    _set(batch, "predicted_spend_90d", spend)


_MatrixOf = Callable[[Any], np.ndarray]


class _NotArrays(Exception):
    """The batch's arrays cannot stand for the frame (:mod:`.score_arrays`)."""


def _frame_matrix(X: pd.DataFrame) -> _MatrixOf:
    """A learner's checked matrix of the frame ``X`` (its ``matrix``: scikit-learn's checks)."""
    return lambda learner: learner.matrix(X)


def _array_matrix(numbers: BatchNumbers, btyd: Mapping[str, np.ndarray]) -> _MatrixOf:
    """A learner's matrix from the batch's arrays, ``btyd`` in place of the rows' own
    value-model columns (as the frame route's ``X``); :class:`_NotArrays` where they
    cannot stand for the frame."""

    def matrix(learner: Any) -> np.ndarray:
        names = getattr(learner, "feature_names_in_", None)
        got = None if names is None else numbers.matrix(list(names), btyd)
        if got is None:
            raise _NotArrays
        return got

    return matrix


def _learners(
    models: RunModels, matrix_of: _MatrixOf, btyd: Any
) -> tuple[list[float | None], list[float | None]]:
    """Churn probability and spend of the learners (each reads ``matrix_of(learner)``),
    or the value model's baseline columns of ``btyd`` where the run kept none."""
    churn, calibration = models.estimators.get("churn"), models.estimators.get("churn_calibration")
    spend = models.estimators.get("spend")
    matrix = None  # made once where both learners read the same columns
    if churn is not None:
        matrix = matrix_of(churn)
        p = churn.predict_proba_matrix(matrix)[:, 1]
    else:
        p = btyd["btyd_p_churn"]
    if churn is not None and calibration is not None:
        p = calibration.transform(np.asarray(p))
    if spend is None:
        spent = btyd["btyd_expected_spend"]
    else:
        if matrix is None or not _same_columns(churn, spend):
            matrix = matrix_of(spend)
        spent = spend.predict_matrix(matrix)
    return [_number(v) for v in np.asarray(p)], [_number(v) for v in np.asarray(spent)]


def _same_columns(a: Any, b: Any) -> bool:
    """Whether two fitted learners read the same feature columns, in the same order."""
    names = [getattr(e, "feature_names_in_", None) for e in (a, b)]
    return names[0] is not None and names[1] is not None and list(names[0]) == list(names[1])


def _number(value: Any) -> float | None:
    number = float(value)
    return number if np.isfinite(number) else None


def _lenses(models: RunModels, item: _Item, own: dict[str, Any] | None) -> None:
    """R, F, M against the run's customers, the grid's name, and the value tier. ``own``:
    the customer's row of the run's rankings (:func:`_own_rows`; None: not in the run)."""
    rebuilt, got = item.rebuilt, item.rescored
    out = got.scores
    n = models.customers + (0 if own is not None else 1)
    for score, column in _RFM.items():
        x = float(_round(rebuilt[column]))
        ordered = models.sorted_values[column]
        old = None if own is None else float(_round(own[column]))
        if score == "r":  # fewer days is better: worse is more days
            worse = len(ordered) - int(np.searchsorted(ordered, x, side="right"))
            worse -= int(old is not None and old > x)
        else:
            worse = int(np.searchsorted(ordered, x, side="left"))
            worse -= int(old is not None and old < x)
        out[f"rfm_{score}"] = int(1 + (5 * worse) // max(n, 1))
    out["rfm_segment"] = str(models.grid.lookup(out["rfm_r"], out["rfm_f"]))
    got.recomputed += ["rfm_r", "rfm_f", "rfm_m", "rfm_segment"]
    clv = out.get("predicted_clv_365d")
    if clv is None or models.clv_learner is not None:
        got.notes.append("value tier not recomputed: no predicted CLV comparable to the run's")
        return
    ordered = models.sorted_values["predicted_clv_365d"]
    value = float(_round(clv))
    above = len(ordered) - int(np.searchsorted(ordered, value, side="right"))
    if own is not None and np.isfinite(own["predicted_clv_365d"]):
        above -= int(float(_round(own["predicted_clv_365d"])) > value)
    tier = int(np.searchsorted(np.array(DEFAULT_CUTS) * n, above, side="right"))
    out["value_tier"] = tier_labels(DEFAULT_CUTS)[tier]
    got.recomputed.append("value_tier")


def _cluster(models: RunModels, numbers: BatchNumbers, batch: list[_Item]) -> None:
    """The run's segmenter's cluster: on the arrays (:mod:`.score_arrays`) where they
    stand for the frame, else on the frame (each row on its own where one fails)."""
    segmenter = models.estimators.get("segmenter")
    if segmenter is None:
        _note_all(batch, "the run kept no segmenter: cluster not recomputed")
        return
    if any(str(c).startswith("embedding_") for c in getattr(segmenter, "columns_", [])):
        _note_all(
            batch,
            "cluster not recomputed: the run's clusters also read the sequence learner's "
            "embedding (--cluster-features +embedding), which is not rerun per event",
        )
        return
    names = getattr(segmenter, "feature_names_in_", None)
    matrix = None if names is None else numbers.matrix(list(names))
    if matrix is not None:
        try:
            labels = [int(v) for v in segmenter.predict_matrix(matrix)]
        except (ValuesegError, ValueError):
            pass  # the frame route says which row fails
        else:
            for item, label in zip(batch, labels, strict=True):
                _set_cluster(models, item, label)
            return
    frame = numbers.frame
    try:
        labels = [int(v) for v in segmenter.predict(frame)]
    except (ValuesegError, ValueError, KeyError):  # each row on its own: the others go on
        for i, item in enumerate(batch):
            try:
                label = int(segmenter.predict(frame.iloc[[i]])[0])
            except (ValuesegError, ValueError, KeyError) as exc:
                item.rescored.notes.append(f"cluster not recomputed: {exc}")
                continue
            _set_cluster(models, item, label)
        return
    for item, label in zip(batch, labels, strict=True):
        _set_cluster(models, item, label)


def _set_cluster(models: RunModels, item: _Item, label: int) -> None:
    ident, name = models.clusters.get(label, (label, "Noise" if label < 0 else str(label)))
    item.rescored.scores["cluster"], item.rescored.scores["segment"] = ident, name
    item.rescored.recomputed += ["cluster", "segment"]


def _action(models: RunModels, batch: list[_Item], owns: list[dict[str, Any] | None]) -> None:
    """The next-best action of the new scores, by the run's playbook and recommendations
    (a customer the run did not see has none of its recommendations)."""
    recommended = np.array([own is not None and bool(own["recommended"]) for own in owns])
    rows = [{**item.rescored.scores, "customer_id": item.customer_id} for item in batch]
    found = first_rules_of_rows(rows, models.playbook, recommended)  # row by row: no frame
    if found is None:  # a value the frame converts (see first_rules_of_rows)
        chosen, rules, _ = first_rules(pd.DataFrame(rows), models.playbook, recommended)
    else:
        chosen, rules = found
    for item, first in zip(batch, chosen, strict=True):
        got = item.rescored
        if first < 0:
            got.notes.append("no rule of the playbook meets the new scores: no next-best action")
            got.scores["action"] = None
            got.recomputed.append("action")
            continue
        rule = rules[int(first)]
        got.scores["action"], got.scores["action_rule"] = str(rule.action), str(rule.text)
        got.recomputed += ["action", "action_rule"]
