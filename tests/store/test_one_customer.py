"""One customer's reads go through the tables' indexes by customer, and answer as a plain
filter would.

DuckDB scans an ART index only when the customer id is the scan's one filter; a read
written as ``WHERE run_id = ? AND customer_id = ?`` silently scans the whole table (4 to
135 ms at 1M customers instead of about 1: docs/web.md, Speed). Each read here runs with
DuckDB's profiler on, and the test reads the plan it executed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest

from valueseg.store import Store
from valueseg.store.lines import DEDUP_COLUMNS, earlier_load, earlier_load_row
from valueseg.store.many_customers import stored_lines_of
from valueseg.store.pii import customer_attributes
from valueseg.store.predict import customer_reasons, read_reasons
from valueseg.store.recommend import read_recommendations
from valueseg.store.web import (
    customer_action,
    customer_feature_row,
    customer_is_known,
    customer_line_rows,
    customer_orders,
    customer_score_row,
    customer_score_rows,
    customer_views,
    segment_changes,
    segment_history,
)

N = 3_000  # customers; two runs of each per-customer table
WHO = "c1234"


@pytest.fixture(scope="module")
def filled() -> Iterator[Store]:
    store = Store(":memory:")
    con = store.con
    con.execute(
        "INSERT INTO runs (run_id, started_at, status, as_of) "
        "VALUES (1, now(), 'succeeded', '2024-01-01'), (2, now(), 'succeeded', '2024-06-01')"
    )
    con.execute(
        "INSERT INTO transactions (customer_id, order_id, timestamp, amount, is_return, "
        "load_id, line) SELECT 'c' || (i % $n), 'o' || i, TIMESTAMP '2023-01-01' + "
        "INTERVAL (i % 487) DAY, i % 97, false, 1, i FROM range(8 * $n) t(i)",
        {"n": N},
    )
    for table, extra in (
        ("customer_scores", ", 0.5 AS p_alive, 'Champions' AS rfm_segment"),
        ("customer_actions", ", 'win back' AS action, 'r1' AS rule"),
        ("customer_features", ""),
    ):
        con.execute(
            f"INSERT INTO {table} BY NAME SELECT r AS run_id, 'c' || i AS customer_id{extra} "
            "FROM range($n) t(i), range(1, 3) s(r)",
            {"n": N},
        )
    for table, extra in (
        ("customer_reasons", ", 'recency' AS feature, 'long ago' AS text"),
        ("recommendations", ", 'p' || k AS product_id"),
    ):
        con.execute(
            f"INSERT INTO {table} BY NAME SELECT r AS run_id, 'c' || i AS customer_id, k AS rank"
            f"{extra} FROM range($n) t(i), range(1, 3) s(r), range(1, 4) u(k)",
            {"n": N},
        )
    con.execute(
        "INSERT INTO events (customer_id, event_type, timestamp, load_id, line) "
        "SELECT 'c' || (i % $n), CASE WHEN i % 2 = 0 THEN 'view' ELSE 'cart' END, "
        "TIMESTAMP '2023-01-01' + INTERVAL (i % 487) DAY, 1, i FROM range(9 * $n) t(i)",
        {"n": N},
    )
    con.execute(
        "INSERT INTO customers (customer_id, load_id, line) "
        "SELECT 'c' || i, 1, i FROM range($n) t(i)",
        {"n": N},
    )
    con.execute(  # two lenses' changes, under each run, for every customer
        "INSERT INTO segment_changes (changed_at, run_id, customer_id, lens, before_value, "
        "after_value, cause) SELECT TIMESTAMP '2024-06-02' + INTERVAL (i) SECOND, r, "
        "'c' || (i % $n), CASE WHEN (i // $n) % 2 = 0 THEN 'rfm' ELSE 'value_tier' END, 'a' || i, "
        "'b' || i, 'order' FROM range(4 * $n) t(i), range(1, 3) s(r)",
        {"n": N},
    )
    yield store
    store.close()


def _scans(store: Store, read: Callable[[], Any]) -> tuple[Any, dict[str, str]]:
    """What ``read`` returns, and how its last query scanned each table."""
    store.con.execute("PRAGMA enable_profiling = 'no_output'")
    try:
        result = read()
        plan = json.loads(store.con.get_profiling_information(format="json"))
    finally:
        store.con.execute("PRAGMA disable_profiling")
    scans: dict[str, str] = {}

    def walk(node: dict[str, Any]) -> None:
        info = node.get("extra_info") or {}
        if node.get("operator_type") == "TABLE_SCAN" and "Table" in info:
            scans[str(info["Table"]).rsplit(".", 1)[-1]] = str(info.get("Type"))
        for child in node.get("children", []):
            walk(child)

    walk(plan)
    return result, scans


_READS: dict[str, tuple[str, Callable[[Store], Any]]] = {
    "score row": ("customer_scores", lambda s: customer_score_row(s, 2, WHO)),
    "action": ("customer_actions", lambda s: customer_action(s, 2, WHO)),
    "feature row": ("customer_features", lambda s: customer_feature_row(s, 2, WHO)),
    "orders": ("transactions", lambda s: customer_orders(s, WHO, 5)),
    "score rows": ("customer_scores", lambda s: customer_score_rows(s, WHO)),
    "reasons": ("customer_reasons", lambda s: read_reasons(s, 2, WHO)),
    "lookup reasons": ("customer_reasons", lambda s: customer_reasons(s, 2, WHO)),
    "recommendations": ("recommendations", lambda s: read_recommendations(s, 2, WHO)),
    "views": ("events", lambda s: customer_views(s, WHO, datetime(2023, 6, 1))),
    "line rows": ("transactions", lambda s: customer_line_rows(s, WHO, datetime(2023, 6, 1))),
    "attributes": ("customers", lambda s: customer_attributes(s, WHO)),
    "known": ("transactions", lambda s: customer_is_known(s, WHO)),
    "changes": ("segment_changes", lambda s: segment_changes(s, WHO)),
}


def _stored_line(store: Store) -> dict[str, Any]:
    """WHO's first order line as ingest would match it (found in ``transactions``, so the
    read stops there)."""
    row = store.con.execute(
        "SELECT order_id, timestamp, amount, line FROM transactions WHERE order_id = 'o1234'"
    ).fetchone()
    assert row is not None
    return dict(zip(("order_id", "timestamp", "amount", "line"), row, strict=True)) | {
        "customer_id": WHO
    }


@pytest.mark.parametrize("name", list(_READS))
def test_a_customers_read_scans_the_index(filled: Store, name: str) -> None:
    table, read = _READS[name]
    _, scans = _scans(filled, lambda: read(filled))
    assert scans.get(table) == "Index Scan", (name, scans)


def test_the_reads_answer_as_a_plain_filter(filled: Store) -> None:
    con = filled.con
    score = customer_score_row(filled, 2, WHO)
    assert score is not None and score["p_alive"] == 0.5 and score["customer_id"] == WHO
    assert customer_score_row(filled, 3, WHO) is None
    assert customer_action(filled, 2, WHO) == ("win back", "r1")
    lines = customer_line_rows(filled, WHO, datetime(2023, 6, 1))
    expected = con.execute(
        "SELECT order_id FROM transactions WHERE customer_id = ? AND timestamp <= ? "
        "ORDER BY timestamp, order_id",
        [WHO, datetime(2023, 6, 1)],
    ).fetchall()
    assert 0 < len(lines) < 8 and [r[0] for r in lines] == [r[0] for r in expected]
    assert [row["run_id"] for row in segment_history(filled, WHO)] == [1, 2]
    assert [row["run_id"] for row in customer_score_rows(filled, WHO)] == [1, 2]
    feature_row = customer_feature_row(filled, 2, WHO)
    assert feature_row is not None and feature_row["customer_id"] == WHO
    assert "run_id" not in feature_row and customer_feature_row(filled, 3, WHO) is None
    assert [r["rank"] for r in customer_reasons(filled, 2, WHO)] == [1, 2, 3]
    assert customer_reasons(filled, 3, WHO) == []
    reasons = read_reasons(filled, 2, WHO)
    assert list(reasons["rank"]) == [1, 2, 3] and set(reasons["customer_id"]) == {WHO}
    assert list(read_recommendations(filled, 1, WHO)["product_id"]) == ["p1", "p2", "p3"]
    assert read_recommendations(filled, 3, WHO).empty
    assert read_recommendations(filled, 1, "nobody").empty
    views = con.execute(
        "SELECT count(*) FROM events WHERE customer_id = ? AND event_type = 'view' "
        "AND timestamp <= ?",
        [WHO, datetime(2023, 6, 1)],
    ).fetchone()
    assert views is not None and customer_views(filled, WHO, datetime(2023, 6, 1)) == views[0] > 0
    same = _stored_line(filled)  # ingest's duplicate check, for a batch of posted orders
    keys = stored_lines_of(filled, [WHO, "c1"], DEDUP_COLUMNS)
    assert tuple(same.get(k) for k in DEDUP_COLUMNS) in keys
    assert tuple({**same, "amount": None}.get(k) for k in DEDUP_COLUMNS) not in keys
    assert tuple({**same, "customer_id": "c1"}.get(k) for k in DEDUP_COLUMNS) not in keys
    assert customer_is_known(filled, WHO) and not customer_is_known(filled, "nobody")


def fill_loads(store: Store) -> None:
    """8,000 loads, four of each fingerprint ``fp<k>`` (loads 4k to 4k + 3), even ones of
    orders and odd ones of events."""
    store.con.execute(
        "INSERT INTO loads (load_id, source, kind, fingerprint, rows_read, accepted, "
        "rejected, mapping, loaded_at) SELECT i, 'api', CASE WHEN i % 2 = 0 THEN "
        "'transactions' ELSE 'events' END, 'fp' || (i // 4), 4, 3, 1, '{}', now() "
        "FROM range(1, 8001) t(i)"
    )


def test_an_earlier_load_is_found_through_the_index_by_fingerprint() -> None:
    """Ingest's "loaded before" (and each posted order's) reads ``loads`` by fingerprint
    through its index (schema 7): ``loads`` gains a row per posted order."""
    with Store(":memory:") as store:
        fill_loads(store)
        found, scans = _scans(store, lambda: earlier_load_row(store, "events", "fp7"))
        assert scans.get("loads") == "Index Scan", scans
        assert found == (29, 4, 3, 1)  # fp7: loads 28-31; the first events load is 29
        assert earlier_load(store, "transactions", "fp7") == 28
        assert earlier_load(store, "customers", "fp7") is None
        assert earlier_load(store, "events", "nothing") is None
