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
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from valueseg.errors import ValuesegError
from valueseg.io import ingest
from valueseg.io.one_order import load_one_order
from valueseg.io.report import IngestReport
from valueseg.store import Store
from valueseg.store.web import (
    CHANGE_COLUMNS,
    customer_action,
    customer_feature_row,
    customer_score_row,
    latest_changes,
    write_segment_changes,
)
from valueseg.web.auth import Caller
from valueseg.web.deps import ApiError, WebState
from valueseg.web.realtime import rescore
from valueseg.web.schemas import EventIn, clean, plain
from valueseg.web.views import latest_run

__all__ = ["post_event"]

_FIELDS = ("customer_id", "order_id", "timestamp", "amount", "event_type", "product_id")
_SUMMARY = ("frequency", "recency", "T", "monetary_value")


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


def post_event(state: WebState, store: Store, event: EventIn, caller: Caller) -> dict[str, Any]:
    """Load ``event`` and, for an order, score its customer again (see the module)."""
    kind = "events" if event.event_type else "transactions"
    if kind == "transactions" and event.amount is None:
        raise ApiError(
            422,
            "invalid",
            "Field 'amount': an order needs its amount (or give event_type for a browse event).",
            "amount",
        )
    with state.writing(f"an order of customer {event.customer_id!r}"):
        report = load_one_order(store, event.model_dump()) if kind == "transactions" else None
        report = report or ingest(_frame(event, kind), kind=kind, db=store)
        refused = _refused(report)
        if refused is not None:
            raise refused
        out = _scored(state, store, event, report) if kind == "transactions" else None
        out = out or _unscored(event, report, kind)
        detail = {"load_id": report.load_id, "run_id": out["run_id"], "changes": out["changes"]}
        state.audit.add(caller.key_id, caller.role, "post_event", event.customer_id, detail)
    return out


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


def _before(
    store: Store, run_id: int, customer_id: str
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The customer's scores in the run before the order, and their stored feature row
    (read once: the rescoring starts from it)."""
    scores = customer_score_row(store, run_id, customer_id)
    if scores is None:
        return None, None
    stored = customer_feature_row(store, run_id, customer_id)
    features = stored or {}
    scores |= {k: features.get(k) for k in _SUMMARY}
    action = customer_action(store, run_id, customer_id)
    scores |= {"action": None if action is None else action[0]}
    scores |= {"action_rule": None if action is None else action[1]}
    for lens, value in latest_changes(store, run_id, customer_id).items():
        if lens in CHANGE_COLUMNS:
            scores[CHANGE_COLUMNS[lens]] = value
    return dict(clean(scores)), stored


def _scored(
    state: WebState, store: Store, event: EventIn, report: IngestReport
) -> dict[str, Any] | None:
    run_id = latest_run(store)
    if run_id is None or report.last_timestamp is None:
        return None
    customer_id = event.customer_id
    before, stored = _before(store, run_id, customer_id)
    at = report.last_timestamp
    base = {"kind": "order", "customer_id": customer_id, "load_id": report.load_id}
    try:
        models = state.run_models(store, run_id)
        at = max(report.last_timestamp, models.as_of)
        rescored = rescore(store, models, customer_id, at, stored=stored)
    except ValuesegError as exc:
        note = f"order stored; not scored again: {exc}"
        return {**base, "run_id": run_id, "at": plain(at), "before": before, "changes": [],
                "recomputed": [], "carried": [], "notes": [note]}  # fmt: skip
    after = dict(clean({"customer_id": customer_id, **rescored.scores}))
    changes = [
        (lens, (before or {}).get(column), after.get(column))
        for lens, column in CHANGE_COLUMNS.items()
        if column in rescored.recomputed and (before or {}).get(column) != after.get(column)
    ]
    changes = [(lens, _text(b), _text(a)) for lens, b, a in changes]
    cause = f"order {event.order_id or '(no id)'} posted to /v1/events (load {report.load_id})"
    write_segment_changes(store, run_id, customer_id, changes, cause)
    return {
        **base,
        "run_id": run_id,
        "at": plain(at),
        "before": before,
        "after": after,
        "changes": [{"lens": lens, "before": b, "after": a} for lens, b, a in changes],
        "recomputed": rescored.recomputed,
        "carried": rescored.carried,
        "notes": rescored.notes,
    }


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
