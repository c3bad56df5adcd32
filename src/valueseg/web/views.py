"""What the API and the pages show, gathered once for both from the store's readers.

Each function returns plain data (dicts and lists of JSON-ready values) that the API
checks against its response models and the pages hand to their templates; a customer or
segment or run that does not exist raises :class:`~valueseg.web.deps.ApiError` (404).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd

from valueseg.errors import InputError
from valueseg.segment.stored import stored_segments
from valueseg.store import Store
from valueseg.store.estimators import estimator_names
from valueseg.store.lookup import CHANGE_FIELDS, LookupRows, lookup_rows
from valueseg.store.pii import customer_attributes, personal_columns
from valueseg.store.predict import read_predict_fits
from valueseg.store.recommend import read_recommendations
from valueseg.store.runs import chosen_run, list_runs, run_notes
from valueseg.store.web import (
    customer_is_known,
    customer_orders,
    finished_runs,
    loads_rows,
    model_fit_rows,
    overview_numbers,
    rejected_by_reason,
    run_row,
    segment_customers,
    segment_history,
)
from valueseg.web.cache import ReadCache
from valueseg.web.deps import not_found
from valueseg.web.schemas import clean, records
from valueseg.web.staging import StagedOrders

__all__ = [
    "LENSES",
    "attributes_view",
    "customer_view",
    "latest_run",
    "orders_view",
    "overview_view",
    "quality_view",
    "recommendations_view",
    "run_view",
    "runs_view",
    "segment_page",
    "segments_view",
]

#: The three lenses in the order pages show them.
LENSES = ("rfm", "value_tier", "cluster")
_T = TypeVar("_T")


def latest_run(store: Store) -> int | None:
    """The newest finished run (None: none finished yet)."""
    try:
        return chosen_run(store)
    except InputError:
        return None


def _require_run(store: Store) -> int:
    run_id = latest_run(store)
    if run_id is None:
        raise not_found(
            f"A finished run in store {store.path}",
            f"Run the pipeline first: valueseg run --db {store.path}",
        )
    return run_id


def runs_view(store: Store) -> list[dict[str, Any]]:
    """Every run, newest first."""
    return records(list_runs(store))[::-1]


def run_view(store: Store, run_id: int) -> dict[str, Any]:
    """A run's row, notes, value-model fits, learners' leaderboard and kept estimators."""
    row = run_row(store, run_id)
    if row is None:
        raise not_found(f"Run {run_id}", "GET /v1/runs lists the runs.")
    return clean(
        {
            **row,
            "notes": records(run_notes(store, run_id)),
            "value_models": model_fit_rows(store, run_id),
            "learners": read_predict_fits(store, run_id),
            "estimators": estimator_names(store, run_id),
        }
    )


def segments_view(store: Store, lens: str | None = None, run: int | None = None) -> dict[str, Any]:
    """The latest run's segments (or run ``run``'s), lens by lens (one lens when ``lens``
    is given)."""
    run_id = _require_run(store)
    if run is not None:
        try:
            run_id = chosen_run(store, run)
        except InputError as exc:
            raise not_found(f"Run {run} with segments", str(exc)) from None
    try:
        frame = stored_segments(store, run_id)
    except InputError:  # a finished run without segments
        frame = None
    lenses = []
    for name in LENSES if lens is None else (lens,):
        rows = [] if frame is None else records(frame[frame["lens"] == name])
        segments = [
            {**row, "profile": clean(json.loads(row["profile"])) if row["profile"] else None}
            for row in rows
        ]
        lenses.append({"lens": name, "segments": segments})
    return {"run_id": run_id, "lenses": lenses}


def segment_page(
    store: Store, lens: str, name: str, page: int, size: int, sort: str, order: str
) -> dict[str, Any]:
    """One page of a segment's customers in the latest run, sorted by an allowed column."""
    view = segments_view(store, lens)
    known = [s["segment"] for s in view["lenses"][0]["segments"]]
    if name not in known:
        raise not_found(
            f"Segment {name!r} of lens {lens} in run {view['run_id']}",
            f"Its segments: {', '.join(known) or 'none'}.",
        )
    frame, total = segment_customers(
        store,
        view["run_id"],
        lens,
        name,
        sort=sort,
        descending=order == "desc",
        limit=size,
        offset=(page - 1) * size,
    )
    return {
        "run_id": view["run_id"],
        "lens": lens,
        "segment": name,
        "sort": sort,
        "order": order,
        "page": page,
        "size": size,
        "total": total,
        "pages": max(1, -(-total // size)),
        "customers": records(frame),
        "profile": next(s for s in view["lenses"][0]["segments"] if s["segment"] == name),
    }


def customer_view(
    store: Store,
    customer_id: str,
    *,
    personal: bool = False,
    cache: ReadCache | None = None,
    staged: StagedOrders | None = None,
) -> dict[str, Any]:
    """A customer's scores and reasons in the latest run, segments across runs, the
    segment changes real-time scoring logged, and their attributes: the columns tagged as
    personal data (:mod:`valueseg.io.pii`) only when ``personal`` (an admin).

    ``cache`` (the server's :class:`~valueseg.web.cache.ReadCache`) keeps the finished
    runs and the personal-data columns between requests; ``staged``, its posted orders
    not moved into their tables yet (their changes are shown with the others).
    """
    finished = _cached(cache, "finished_runs", lambda: finished_runs(store))
    run_id = max(finished) if finished else None

    def read() -> tuple[LookupRows, list[dict[str, Any]], bool]:
        rows = lookup_rows(store, customer_id)  # scores, reasons, actions, changes: one read
        if staged is None:
            return rows, [], False
        return rows, staged.changes_of(customer_id), bool(staged.orders_of(customer_id))

    rows, more, ordered = read() if staged is None else staged.read(read)
    rows.changes += [{k: change[k] for k in CHANGE_FIELDS} for change in more]
    scores = next((dict(r) for r in rows.scores if r["run_id"] == run_id), None)
    if scores is None and not ordered and not customer_is_known(store, customer_id):
        raise not_found(
            f"Customer {customer_id!r}",
            "Check the id (ids are compared exactly), or look one up in a segment's list.",
        )
    reasons = [] if run_id is None else records(rows.reasons.get(run_id, []))
    if scores is not None and run_id is not None:
        scores.pop("run_id")
        action = rows.actions.get(run_id)
        scores |= {"action": None, "action_rule": None}
        if action is not None:
            scores["action"], scores["action_rule"] = action
    return {
        "customer_id": customer_id,
        "run_id": run_id,
        "scores": None if scores is None else clean(scores),
        "reasons": reasons,
        "segment_history": records(segment_history(store, customer_id, rows.scores, finished)),
        "changes": records(rows.changes),
        **attributes_view(store, customer_id, personal=personal, cache=cache),
    }


def attributes_view(
    store: Store, customer_id: str, *, personal: bool, cache: ReadCache | None = None
) -> dict[str, Any]:
    """The customer's attributes; personal-data columns only when ``personal``, else
    counted in ``hidden_columns``."""
    row = customer_attributes(store, customer_id) or {}
    tagged = _cached(cache, "personal_columns", lambda: personal_columns(store))
    shown = {k: v for k, v in row.items() if personal or k not in tagged}
    return {
        "attributes": clean(shown),
        "personal_columns": sorted(k for k in tagged if k in shown),
        "hidden_columns": len(row) - len(shown),
    }


def _cached(cache: ReadCache | None, name: str, load: Callable[[], _T]) -> _T:
    return load() if cache is None else cache.get(name, load)


def recommendations_view(store: Store, customer_id: str) -> dict[str, Any]:
    """The customer's recommendations in the latest run, best first."""
    run_id = _require_run(store)
    if not customer_is_known(store, customer_id):
        raise not_found(f"Customer {customer_id!r}", "Check the id (compared exactly).")
    frame = read_recommendations(store, run_id, customer_id)
    return {"customer_id": customer_id, "run_id": run_id, "recommendations": records(frame)}


def orders_view(
    store: Store, customer_id: str, limit: int = 100, staged: StagedOrders | None = None
) -> dict[str, Any]:
    """The customer's newest orders and returns; ``staged``: the server's posted orders
    not moved into their tables yet (counted with the others)."""

    def read() -> tuple[list[dict[str, Any]], pd.DataFrame]:
        lines = [] if staged is None else staged.orders_of(customer_id)
        return lines, customer_orders(store, customer_id, limit, lines)

    lines, orders = read() if staged is None else staged.read(read)
    if not lines and not customer_is_known(store, customer_id):
        raise not_found(f"Customer {customer_id!r}", "Check the id (compared exactly).")
    return {"customer_id": customer_id, "orders": records(orders)}


def overview_view(store: Store) -> dict[str, Any]:
    """The store's totals, the latest run's KPIs and its segments' sizes and revenue."""
    summary = store.totals()
    run_id = latest_run(store)
    kpis = None if run_id is None else clean(overview_numbers(store, run_id))
    lenses = segments_view(store)["lenses"] if run_id is not None else []
    totals = {k: summary[k] for k in ("customers", "orders", "revenue", "currency")}
    totals |= {"first_order": summary["first_order"], "last_order": summary["last_order"]}
    return {"run_id": run_id, "totals": clean(totals), "kpis": kpis, "lenses": lenses}


def quality_view(store: Store, *, examples: bool) -> dict[str, Any]:
    """The newest loads and the quarantined rows by reason (an example row: admin only)."""
    rejected = records(rejected_by_reason(store))
    if not examples:
        rejected = [{**row, "example": None} for row in rejected]
    return {"loads": records(loads_rows(store)), "rejected": rejected}
