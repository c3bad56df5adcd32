"""A lookup's rows read in one statement equal the separate readers', field for field."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

from valueseg.store import Store
from valueseg.store.lookup import lookup_rows
from valueseg.store.many_customers import write_changes
from valueseg.store.predict import customer_reasons
from valueseg.store.web import customer_action, customer_score_rows, segment_changes


def _same(a: Any, b: Any) -> bool:
    """Equal, of the same type (NaN equal to NaN)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b


def _rows_equal(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    assert [list(r) for r in got] == [list(r) for r in want]  # the same fields, in order
    for g, w in zip(got, want, strict=True):
        assert all(_same(g[k], w[k]) for k in w), (g, w)


def _store() -> Store:
    store = Store(":memory:")
    con = store.con
    scores = (
        "INSERT INTO customer_scores (run_id, customer_id, p_alive, predicted_clv_365d, "
        "churn_probability, rfm_r, rfm_segment, cluster, expected_next_order_date) VALUES "
    )
    con.execute(
        scores + "(2, 'a', 0.1 + 0.2, 'inf'::DOUBLE, 'nan'::DOUBLE, 5, 'Champions', 3, "
        "DATE '2025-02-20'), (1, 'a', 1e-320, -0.0, NULL, NULL, 'Lost', NULL, NULL), "
        "(1, 'b', 3.0, 1e16, 0.5, 1, 'quote \" and \\ back', 0, DATE '2024-12-31')"
    )
    con.execute(
        "INSERT INTO customer_reasons (run_id, customer_id, rank, feature, value, "
        "contribution, text) VALUES (2, 'a', 2, 'recency', 10.0, -0.25, 'second'), "
        "(2, 'a', 1, 'frequency', NULL, 'nan'::DOUBLE, 'first'), "
        "(1, 'a', 1, 'monetary', 1.5, 0.125, 'older run'), (1, 'b', 1, 'x', 2.0, 0.1, 'b''s')"
    )
    con.execute(
        "INSERT INTO customer_actions (run_id, customer_id, action, priority, value_at_stake, "
        "rule) VALUES (2, 'a', 'win-back', 1, 10.0, 'r1'), (1, 'a', 'thank', 2, 1.0, 'r2')"
    )
    write_changes(store, 2, [("a", "rfm", "Lost", "Champions", "order 1 (load 3)")])
    write_changes(
        store, 2, [("a", "action", None, "win-back", "order 2"), ("b", "rfm", "x", None, None)]
    )
    con.execute(  # a change with a fraction of a second, logged before the others
        "INSERT INTO segment_changes VALUES (TIMESTAMP '2000-01-01 00:00:00.5', 1, 'a', "
        "'cluster', NULL, 'Loyal', 'run')"
    )
    return store


def test_one_read_equals_the_separate_readers() -> None:
    with _store() as store:
        for customer in ("a", "b", "nobody"):
            got = lookup_rows(store, customer)
            _rows_equal(got.scores, customer_score_rows(store, customer))
            _rows_equal(got.changes, segment_changes(store, customer))
            for run in (1, 2, 3):
                _rows_equal(got.reasons.get(run, []), customer_reasons(store, run, customer))
                assert got.actions.get(run) == customer_action(store, run, customer)
        a = lookup_rows(store, "a")
        assert [r["run_id"] for r in a.scores] == [1, 2]
        assert a.scores[1]["expected_next_order_date"] == date(2025, 2, 20)
        assert math.isinf(a.scores[1]["predicted_clv_365d"]) and a.scores[0]["p_alive"] == 1e-320
        assert [r["rank"] for r in a.reasons[2]] == [1, 2]
        assert a.changes[0]["changed_at"] == datetime(2000, 1, 1, 0, 0, 0, 500000)
        assert [c["lens"] for c in a.changes] == ["cluster", "rfm", "action"]
