"""``POST /v1/events``: store an order or a browse event, and score the customer again.

The event is loaded as :func:`valueseg.io.ingest` loads a one-row DataFrame, so it
passes the same checks as a file: a plain order by ingest's rules in Python, appended by
one INSERT (:mod:`valueseg.io.one_order`), anything else by ingest itself. A row ingest
would quarantine is refused here with its reason (422, naming the field), and stays in
``rejected_rows`` as it would from a file. The same event posted twice is loaded once
(409 the second time).

An order is then scored at once with the latest finished run's estimators
(:mod:`valueseg.web.realtime`), at the later of the order's time and the run's ``as_of``;
the lenses that changed are logged in ``segment_changes`` and the answer holds the scores
before (the run's, with the changes logged since) and after. A browse event is stored
only: the run's event features are carried as they were (docs/web.md).

Orders are loaded and scored by the server's batcher (:mod:`valueseg.web.batcher`):
those posted while a batch is scored are loaded and scored together, as the next batch
(:func:`post_orders`); each gets the answer it would get alone. A plain order is scored
before it is written, from its customer's lines as read for the duplicate check with
the new line added; its line, its load and the segment changes it made are then
staged by one statement (:mod:`valueseg.web.staging`), so a store never holds one of
them without the others, and move into their tables within half a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from valueseg.errors import ValuesegError
from valueseg.io import ingest
from valueseg.io.one_order import CheckedOrders, assign_loads, check_orders, load_orders_reading
from valueseg.io.report import IngestReport
from valueseg.store import Store
from valueseg.store.many_customers import (
    actions_of,
    aside_customers,
    feature_rows_of,
    latest_changes_of,
    score_rows_of,
    write_changes,
)
from valueseg.store.web import CHANGE_COLUMNS, LINE_COLUMNS, SCORE_COLUMNS, request_store
from valueseg.web.auth import Caller
from valueseg.web.batcher import Pending
from valueseg.web.deps import ApiError, WebState
from valueseg.web.realtime import Rescored, RunModels, rescore_many, stored_rows
from valueseg.web.schemas import EventIn, clean, plain
from valueseg.web.views import latest_run

__all__ = ["post_browse", "post_event", "post_orders", "queue_order"]

_FIELDS = ("customer_id", "order_id", "timestamp", "amount", "event_type", "product_id")
_SUMMARY = ("frequency", "recency", "T", "monetary_value")
#: The read cache's name for the customers with lines in kept_aside (aside_customers).
_ASIDE = "aside_customers"


def _frame(event: EventIn, kind: str) -> pd.DataFrame:
    values = event.model_dump(exclude_none=True)
    if kind == "transactions":
        values.pop("session_id", None)
    else:
        for name in ("amount", "order_id", "category", "channel"):
            values.pop(name, None)
    return pd.DataFrame([values])


def _refused(report: IngestReport) -> ApiError | None:
    """A 409 for an event loaded before, a 422 naming the field for a quarantined one."""
    if report.already_loaded is not None:
        return ApiError(
            409,
            "conflict",
            f"This event was loaded before (load {report.already_loaded}); nothing changed.",
        )
    if not report.rejected:
        return None
    reason = next(iter(report.rejected_by_reason), "rejected")
    field = next((f for f in _FIELDS if f in reason), None)
    return ApiError(
        422,
        "rejected",
        f"The event was refused by ingest's rules: {reason}. It is kept in rejected_rows "
        f"(load {report.load_id}); fix the field and post it again.",
        field,
    )


def post_event(state: WebState, event: EventIn, caller: Caller) -> dict[str, Any]:
    """Load ``event`` and, for an order, score its customer again (see the module); wait
    for the answer in this thread.

    An order goes to the server's batcher (:mod:`valueseg.web.batcher`), which loads and
    scores it with the orders posted beside it (:func:`post_orders`); a browse event is
    loaded here (:func:`post_browse`)."""
    queued = queue_order(state, event, caller)
    return queued.result() if queued is not None else post_browse(state, event, caller)


def queue_order(state: WebState, event: EventIn, caller: Caller) -> Future[dict[str, Any]] | None:
    """An order queued for its batch, its answer to come in the future returned; None for
    a browse event (:func:`post_browse` loads it). 422 for an order without an amount."""
    if event.event_type:
        return None
    if event.amount is None:
        raise ApiError(
            422,
            "invalid",
            "Field 'amount': an order needs its amount (or give event_type for a browse event).",
            "amount",
        )
    return state.orders.enqueue(event.customer_id, event, caller)


def post_browse(state: WebState, event: EventIn, caller: Caller) -> dict[str, Any]:
    """Load a browse event (ingest's rules) under the write lock, on a connection of its
    own; it is not scored."""
    store = request_store(state.root)
    try:
        # a browse event changes no run, key, personal-data column or line kept aside:
        # the read cache stays
        with state.writing(f"an event of customer {event.customer_id!r}", clears=False):
            report = ingest(_frame(event, "events"), kind="events", db=store)
            refused = _refused(report)
            if refused is not None:
                raise refused
            out = _unscored(event, report, "events")
            _audit(state, caller, event, report, out)
    finally:
        store.close()
    return out


def post_orders(state: WebState, batch: Sequence[Pending]) -> None:
    """Load a batch of posted orders (one per customer) and score their customers again,
    together, under the write lock; each order's answer (or error) set on its
    :class:`Pending`.

    Plain orders are checked by a few reads for them all
    (:func:`~valueseg.io.one_order.check_orders`: the duplicate checks and the customers'
    lines), scored from those lines with each estimator applied once
    (:func:`~valueseg.web.realtime.rescore_many`), then staged with their loads and the
    segment changes they made by one statement (:mod:`valueseg.web.staging`). Any other
    order is then loaded by ingest itself (the staged ones moved first) and scored on its
    own."""
    store, side = request_store(state.root), request_store(state.root)
    try:
        # orders change no run, key or personal-data column: the read cache stays
        with state.writing(f"{len(batch)} posted order(s)", clears=False, orders=True):
            prepared = _prepare(state, store, side, batch)
            if prepared is None:
                _load_and_score(state, store, batch)
            else:
                _finish_prepared(state, store, batch, prepared)
    finally:
        side.close()
        store.close()


@dataclass
class _Prepared:
    """What a batch of orders read before any of it is written (:func:`_prepare`)."""

    checked: CheckedOrders
    run_id: int | None
    models: RunModels | None
    features: dict[str, dict[str, Any]]
    before: dict[str, dict[str, Any]]


def _prepare(
    state: WebState, store: Store, side: Store, batch: Sequence[Pending]
) -> _Prepared | None:
    """The reads of a batch: the duplicate checks and the customers' lines (those on
    ``side``, a second connection, in the state's reader thread, while ``store`` finds the
    fingerprints and earlier loads), the latest run's estimators, the customers' rows and
    their scores before the orders. None: the run's estimators cannot be loaded
    (:func:`_load_and_score` says why per order)."""
    orders = [p.order.model_dump() for p in batch]
    # kept_aside is written only by ingest: a load clears the cache, an order that is not
    # plain forgets this (_load_and_score)
    aside = state.cache.get(_ASIDE, lambda: aside_customers(store))
    checked = state.staged.read(  # read again if staged rows moved meanwhile
        lambda: check_orders(
            store,
            orders,
            LINE_COLUMNS,
            side=(state.reader, side),
            staged=state.staged,
            aside=aside,
        )
    )
    # the read cache is cleared when a run finishes (orders leave it as it is)
    run_id = state.cache.get("latest_run", lambda: latest_run(store))
    ids = [batch[i].customer_id for i in checked.new]
    if run_id is None or not ids:
        return _Prepared(checked, run_id, None, {}, {})
    try:
        models = state.run_models(store, run_id)
    except ValuesegError:
        return None
    return _Prepared(checked, run_id, models, *_starting_rows(store, models, run_id, ids))


def _starting_rows(
    store: Store, models: RunModels, run_id: int, ids: Sequence[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The customers' feature rows of the run (the rescoring starts from them) and their
    scores before the orders (:func:`_befores`)."""
    features = stored_rows(models, ids)
    return features, _befores(store, run_id, ids, features, models)


def _finish_prepared(
    state: WebState, store: Store, batch: Sequence[Pending], prepared: _Prepared
) -> None:
    """Score the new plain orders, append them, their loads and the changes together;
    answer each order (an order not plain: loaded by ingest, scored on its own)."""
    checked, models, run_id = prepared.checked, prepared.models, prepared.run_id
    new = checked.new
    scored: list[tuple[datetime, Rescored | ValuesegError] | None] = [None] * len(new)
    if models is not None and run_id is not None and new:
        ats = [max(checked.timestamp(i), models.as_of) for i in new]
        results = rescore_many(
            store,
            models,
            [(batch[i].customer_id, at) for i, at in zip(new, ats, strict=True)],
            stored={batch[i].customer_id: prepared.features.get(batch[i].customer_id) for i in new},
            lines=checked.lines_after,
        )
        scored = list(zip(ats, results, strict=True))
    loaded: list[tuple[EventIn, IngestReport]] = []
    answers: list[dict[str, Any]] = []
    if new:  # else nothing to write: every order was loaded before, or is left to ingest
        stored = assign_loads(checked, state.staged.next_loads(store, len(new)))  # reports set
        loaded = [(batch[i].order, r) for i in new if (r := checked.reports[i]) is not None]
        answers, rows = _answers(run_id, loaded, scored, prepared.before)
        state.staged.stage(store, stored, run_id, rows)  # committed in one statement
        if models is not None:  # committed: the next batch starts from them
            models.changes.add(rows)
    for i, (event, report), out in zip(new, loaded, answers, strict=True):
        _audit(state, batch[i].caller, event, report, out)
        batch[i].answer.set_result(out)
    for pending, got in zip(batch, checked.reports, strict=True):
        if got is None:  # not plain: ingest loads it, then it is scored on its own
            _load_and_score(state, store, [pending])
        elif not pending.answer.done():  # loaded before: 409
            pending.answer.set_exception(_refused(got) or RuntimeError("not loaded"))


def _load_and_score(state: WebState, store: Store, batch: Sequence[Pending]) -> None:
    """Load and score a batch under the write lock, each order's answer (or error) set
    (the path of orders that are not plain, and of a run whose estimators cannot be
    loaded): plain orders by a few statements for them all
    (:func:`~valueseg.io.one_order.load_orders_reading`), any other by ingest itself; the
    scoring reads the customers' rows together and applies each estimator once
    (:func:`~valueseg.web.realtime.rescore_many`)."""
    state.staged.move(store)  # ingest checks and loads against the tables
    state.staged.forget_loads()
    state.cache.forget(_ASIDE)  # ingest may set lines aside: the next batch reads them again
    orders = [p.order.model_dump() for p in batch]
    reports, lines = load_orders_reading(store, orders, LINE_COLUMNS)
    loaded: list[tuple[Pending, IngestReport]] = []
    for pending, report in zip(batch, reports, strict=True):
        try:
            got = report or ingest(
                _frame(pending.order, "transactions"), kind="transactions", db=store
            )
            refused = _refused(got)
        except Exception as exc:  # this order's error; the others go on
            pending.answer.set_exception(exc)
            continue
        if refused is not None:
            pending.answer.set_exception(refused)
        else:
            loaded.append((pending, got))
    answers = _scored(state, store, [(p.order, r) for p, r in loaded], lines)
    for (pending, report), out in zip(loaded, answers, strict=True):
        _audit(state, pending.caller, pending.order, report, out)
        pending.answer.set_result(out)


def _audit(
    state: WebState, caller: Caller, event: EventIn, report: IngestReport, out: dict[str, Any]
) -> None:
    detail = {"load_id": report.load_id, "run_id": out["run_id"], "changes": out["changes"]}
    state.audit.add(caller.key_id, caller.role, "post_event", event.customer_id, detail)


def _unscored(event: EventIn, report: IngestReport, kind: str) -> dict[str, Any]:
    note = (
        "browse event stored; scores change with the next run (event features are not "
        "recomputed in real time)"
        if kind == "events"
        else "order stored; no finished run to score it with yet"
    )
    return {
        "kind": "event" if kind == "events" else "order",
        "customer_id": event.customer_id,
        "load_id": report.load_id,
        "run_id": None,
        "changes": [],
        "recomputed": [],
        "carried": [],
        "notes": [note],
    }


def _befores(
    store: Store,
    run_id: int,
    ids: Sequence[str],
    features: dict[str, dict[str, Any]],
    models: RunModels | None = None,
) -> dict[str, dict[str, Any]]:
    """Each customer's scores in the run before the order (absent: the run did not score
    them), with the summary from their stored feature rows ``features`` and the changes
    logged since the run. The run's scores, actions and changes come from ``models`` (the
    server's copies, :attr:`RunModels.rows` and :attr:`RunModels.changes`) when given,
    else from the store."""
    if models is not None:
        scores, actions = models.rows.scores(ids, SCORE_COLUMNS), models.rows.actions(ids)
        logged = models.changes.of(ids)
    else:
        scores = score_rows_of(store, run_id, ids, SCORE_COLUMNS)
        actions = actions_of(store, run_id, ids)
        logged = latest_changes_of(store, run_id, ids)
    before: dict[str, dict[str, Any]] = {}
    for customer_id, row in scores.items():
        stored = features.get(customer_id) or {}
        row |= {k: stored.get(k) for k in _SUMMARY}
        action = actions.get(customer_id)
        row |= {"action": None if action is None else action[0]}
        row |= {"action_rule": None if action is None else action[1]}
        for lens, value in logged.get(customer_id, {}).items():
            if lens in CHANGE_COLUMNS:
                row[CHANGE_COLUMNS[lens]] = value
        before[customer_id] = dict(clean(row))
    return before


def _scored(
    state: WebState,
    store: Store,
    loaded: Sequence[tuple[EventIn, IngestReport]],
    lines: dict[str, list[tuple[Any, ...]]] | None = None,
) -> list[dict[str, Any]]:
    """The answers of loaded orders (one per customer): each customer scored again, the
    lenses that changed logged in ``segment_changes``. ``lines``: the customers' order
    lines after the load, where the load read them (the others are read)."""
    # the read cache is cleared when a run finishes (orders leave it as it is)
    run_id = state.cache.get("latest_run", lambda: latest_run(store))
    todo = [i for i, (_, report) in enumerate(loaded) if report.last_timestamp is not None]
    unscored = [_unscored(event, report, "transactions") for event, report in loaded]
    if run_id is None or not todo:
        return unscored
    ids = [loaded[i][0].customer_id for i in todo]
    try:
        models = state.run_models(store, run_id)
    except ValuesegError as exc:
        before = _befores(store, run_id, ids, feature_rows_of(store, run_id, ids, _SUMMARY))
        out = unscored
        for i in todo:
            event, report = loaded[i]
            out[i] = _not_scored(run_id, event, report, before, report.last_timestamp, exc)
        return out
    features, before = _starting_rows(store, models, run_id, ids)
    ats = {i: max(loaded[i][1].last_timestamp or models.as_of, models.as_of) for i in todo}
    results = rescore_many(
        store,
        models,
        [(loaded[i][0].customer_id, ats[i]) for i in todo],
        stored={c: features.get(c) for c in ids},
        lines=lines,
    )
    scored: list[tuple[datetime, Rescored | ValuesegError] | None] = [None] * len(loaded)
    for i, rescored in zip(todo, results, strict=True):
        scored[i] = (ats[i], rescored)
    out, rows = _answers(run_id, loaded, scored, before)
    write_changes(store, run_id, rows)
    models.changes.add(rows)
    return out


def _answers(
    run_id: int | None,
    loaded: Sequence[tuple[EventIn, IngestReport]],
    scored: Sequence[tuple[datetime, Rescored | ValuesegError] | None],
    before: dict[str, dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[tuple[str, str, str | None, str | None, str]]]:
    """Each loaded order's answer from its scoring (``scored``: its moment and new scores
    or error; None: not scored), and the ``segment_changes`` rows of the lenses that
    changed."""
    out: list[dict[str, Any]] = []
    rows: list[tuple[str, str, str | None, str | None, str]] = []
    for (event, report), got in zip(loaded, scored, strict=True):
        if got is None or run_id is None:
            out.append(_unscored(event, report, "transactions"))
            continue
        at, rescored = got
        if isinstance(rescored, ValuesegError):
            out.append(_not_scored(run_id, event, report, before, at, rescored))
            continue
        old = before.get(event.customer_id) or {}
        after = dict(clean({"customer_id": event.customer_id, **rescored.scores}))
        changes = [
            (lens, _text(old.get(column)), _text(after.get(column)))
            for lens, column in CHANGE_COLUMNS.items()
            if column in rescored.recomputed and old.get(column) != after.get(column)
        ]
        cause = f"order {event.order_id or '(no id)'} posted to /v1/events (load {report.load_id})"
        rows += [(event.customer_id, lens, b, a, cause) for lens, b, a in changes]
        out.append(
            {
                **_base(event, report),
                "run_id": run_id,
                "at": plain(at),
                "before": before.get(event.customer_id),
                "after": after,
                "changes": [{"lens": lens, "before": b, "after": a} for lens, b, a in changes],
                "recomputed": rescored.recomputed,
                "carried": rescored.carried,
                "notes": rescored.notes,
            }
        )
    return out, rows


def _base(event: EventIn, report: IngestReport) -> dict[str, Any]:
    return {"kind": "order", "customer_id": event.customer_id, "load_id": report.load_id}


def _not_scored(
    run_id: int,
    event: EventIn,
    report: IngestReport,
    before: dict[str, dict[str, Any]],
    at: Any,
    exc: ValuesegError,
) -> dict[str, Any]:
    return {
        **_base(event, report),
        "run_id": run_id,
        "at": plain(at),
        "before": before.get(event.customer_id),
        "changes": [],
        "recomputed": [],
        "carried": [],
        "notes": [f"order stored; not scored again: {exc}"],
    }


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
