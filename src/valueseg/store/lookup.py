"""A customer lookup's rows in one statement: scores, reasons and actions of every run,
and the segment changes logged for them.

A lookup (``GET /v1/customers/{id}`` and the customer page) read these by four
statements, each with a cost of its own whatever it reads (about half a millisecond at 1M
customers, the most of what a lookup costs). Here the four are branches of one ``UNION
ALL``, each row of a branch packed as JSON text so the branches share one shape, and
read back in Python: 1.5 to 1.8 ms against 2.5 to 2.7 for the four statements and the
attributes' (medians of 600 lookups at 1M customers). Each branch keeps the customer id
as its scan's one filter, so DuckDB reads it through the table's index by customer.

JSON gives back what DuckDB holds: a DOUBLE is written so that it reads back as the same
float (NaN and infinities as JavaScript's names, which :func:`json.loads` reads), an
integer as an integer; the one DATE and the one TIMESTAMP column among these tables are
read back to their types here. tests/store/test_lookup.py compares every field with the
separate readers'.

No SQL here is built from request text: the customer id is a bound parameter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

from valueseg.store.store import Store
from valueseg.store.web import SCORE_COLUMNS

__all__ = ["CHANGE_FIELDS", "LookupRows", "lookup_rows"]

_PARTS: Final = (
    ("customer_scores", ("run_id", *SCORE_COLUMNS)),
    ("customer_reasons", ("run_id", "rank", "feature", "value", "contribution", "text")),
    ("customer_actions", ("run_id", "action", "rule")),
    (
        "segment_changes",
        ("seq := rowid", "changed_at", "run_id", "lens", "before_value", "after_value", "cause"),
    ),
)
#: A change's fields, in ``segment_changes``' order (valueseg.store.web.segment_changes).
CHANGE_FIELDS: Final = ("changed_at", "run_id", "lens", "before_value", "after_value", "cause")
_SQL: Final = " UNION ALL ".join(
    f"SELECT {part} AS part, to_json(struct_pack({', '.join(names)}))::VARCHAR AS row "
    f"FROM {table} WHERE customer_id = $1"
    for part, (table, names) in enumerate(_PARTS)
)


@dataclass
class LookupRows:
    """One customer's rows a lookup shows.

    ``scores``: their ``customer_scores`` rows of every run (``run_id`` and the shown
    columns), oldest run first; ``reasons``: run id -> their reasons in it (``rank,
    feature, value, contribution, text``), first reason first; ``actions``: run id ->
    ``(action, rule)``; ``changes``: the segment changes logged for them (``changed_at,
    run_id, lens, before_value, after_value, cause``), oldest first."""

    scores: list[dict[str, Any]] = field(default_factory=list)
    reasons: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    actions: dict[int, tuple[str, str]] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)


def lookup_rows(store: Store, customer_id: str) -> LookupRows:
    """The customer's :class:`LookupRows`, in one statement (see the module); empty for a
    customer the store has no such rows of.

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     lookup_rows(store, "nobody")
    LookupRows(scores=[], reasons={}, actions={}, changes=[])
    """
    out = LookupRows()
    changes: list[tuple[tuple[datetime, int], dict[str, Any]]] = []
    for part, text in store.con.execute(_SQL, [customer_id]).fetchall():
        row = json.loads(text)
        run_id = row.pop("run_id")
        if part == 0:
            when = row["expected_next_order_date"]
            row["expected_next_order_date"] = None if when is None else date.fromisoformat(when)
            out.scores.append({"run_id": run_id, **row})
        elif part == 1:
            out.reasons.setdefault(run_id, []).append(row)
        elif part == 2:
            out.actions[run_id] = (str(row["action"]), str(row["rule"]))
        else:
            at = datetime.fromisoformat(row["changed_at"])
            changes.append(((at, row.pop("seq")), {**row, "changed_at": at, "run_id": run_id}))
    out.scores.sort(key=lambda row: int(row["run_id"]))
    for reasons in out.reasons.values():
        reasons.sort(key=lambda row: int(row["rank"]))
    changes.sort(key=lambda pair: pair[0])
    out.changes = [{k: row[k] for k in CHANGE_FIELDS} for _, row in changes]
    return out
