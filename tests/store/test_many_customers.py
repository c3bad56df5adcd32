"""Several customers' reads (a batch of posted orders) go through the tables' indexes by
customer, and answer as the one-customer reads do for each customer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from tests.store.test_one_customer import (  # noqa: F401 (filled: a fixture)
    WHO,
    _scans,
    fill_loads,
    filled,
)
from valueseg.store import Store
from valueseg.store.lines import DEDUP_COLUMNS
from valueseg.store.many_customers import (
    actions_of,
    earlier_loads,
    feature_rows_of,
    latest_changes_of,
    line_rows_of,
    lines_and_keys_of,
    score_rows_of,
    stored_lines_of,
    views_of,
)
from valueseg.store.web import (
    LINE_COLUMNS,
    customer_action,
    customer_feature_row,
    customer_line_rows,
    customer_score_row,
    customer_views,
)

IDS = [WHO, "c7", "c2999", "nobody"]
UNTIL = datetime(2023, 6, 1)

_READS: dict[str, tuple[str, Callable[[Store], Any]]] = {
    "score rows": ("customer_scores", lambda s: score_rows_of(s, 2, IDS, ["p_alive"])),
    "feature rows": ("customer_features", lambda s: feature_rows_of(s, 2, IDS)),
    "actions": ("customer_actions", lambda s: actions_of(s, 2, IDS)),
    "line rows": ("transactions", lambda s: line_rows_of(s, IDS, LINE_COLUMNS)),
    "views": ("events", lambda s: views_of(s, dict.fromkeys(IDS, UNTIL))),
    "stored lines": ("transactions", lambda s: stored_lines_of(s, IDS, DEDUP_COLUMNS)),
    "lines and keys": (
        "transactions",
        lambda s: lines_and_keys_of(s, IDS, DEDUP_COLUMNS, LINE_COLUMNS),
    ),
    "latest changes": ("segment_changes", lambda s: latest_changes_of(s, 2, IDS)),
}


@pytest.mark.parametrize("name", list(_READS))
def test_each_read_of_several_customers_scans_the_index(filled: Store, name: str) -> None:  # noqa: F811
    table, read = _READS[name]
    _, scans = _scans(filled, lambda: read(filled))
    assert scans.get(table) == "Index Scan", scans


def test_several_customers_read_as_one_customer_each(filled: Store) -> None:  # noqa: F811
    scores = score_rows_of(filled, 2, IDS, ["p_alive", "rfm_segment"])
    features = feature_rows_of(filled, 2, IDS)
    actions = actions_of(filled, 2, IDS)
    lines = line_rows_of(filled, IDS, LINE_COLUMNS)
    views = views_of(filled, dict.fromkeys(IDS, UNTIL))
    for who in IDS:
        one = customer_score_row(filled, 2, who)
        assert (None if one is None else {k: one[k] for k in ("p_alive", "rfm_segment")}) == (
            None if who not in scores else {k: scores[who][k] for k in ("p_alive", "rfm_segment")}
        )
        assert features.get(who) == customer_feature_row(filled, 2, who)
        assert actions.get(who) == customer_action(filled, 2, who)
        assert lines.get(who, []) == customer_line_rows(filled, who, datetime(2100, 1, 1))
        assert views[who] == customer_views(filled, who, UNTIL)
    keys, both = lines_and_keys_of(filled, IDS, DEDUP_COLUMNS, LINE_COLUMNS)
    assert keys == stored_lines_of(filled, IDS, DEDUP_COLUMNS) and len(keys) > 8
    assert both == lines
    assert set(scores) == set(features) == set(actions) == {WHO, "c7", "c2999"}
    assert len(lines[WHO]) == 8 and views[WHO] > 0


def test_loads_are_found_by_fingerprint_through_the_index() -> None:
    with Store(":memory:") as store:
        fill_loads(store)
        found, scans = _scans(
            store, lambda: earlier_loads(store, "transactions", ["fp7", "fp9", "none"])
        )
        assert scans.get("loads") == "Index Scan", scans
        assert found == {"fp7": 28, "fp9": 36}  # fp7: loads 28-31, the first even one 28


def test_stored_lines_are_found_in_both_tables(filled: Store) -> None:  # noqa: F811
    line = ("c7", "o7", datetime(2023, 1, 8), 7.0, None, None, None, None)
    assert line in stored_lines_of(filled, ["c7"], DEDUP_COLUMNS)
    filled.con.execute(
        "INSERT INTO kept_aside (customer_id, order_id, timestamp, amount, load_id, "
        "line, reason) VALUES ('c8', 'x1', '2023-02-01', 3.5, 2, 1, 'cancelled')"
    )
    try:
        keys = stored_lines_of(filled, ["c8"], DEDUP_COLUMNS)
        assert ("c8", "x1", datetime(2023, 2, 1), 3.5, None, None, None, None) in keys
    finally:
        filled.con.execute("DELETE FROM kept_aside WHERE customer_id = 'c8'")


def test_the_latest_changes_are_each_lens_newest_under_the_run(filled: Store) -> None:  # noqa: F811
    """Through the index, the same as a plain filter: the newest after_value per customer
    and lens, among the rows of run 2 only."""
    got = latest_changes_of(filled, 2, IDS)
    rows = filled.con.execute(
        "SELECT customer_id, lens, arg_max(after_value, rowid) FROM segment_changes "
        "WHERE run_id = 2 AND list_contains(?, customer_id) GROUP BY ALL",
        [IDS],
    ).fetchall()
    expected: dict[str, dict[str, str]] = {}
    for customer, lens, value in rows:
        expected.setdefault(customer, {})[lens] = value
    assert got == expected
    assert set(got[WHO]) == {"rfm", "value_tier"} and "nobody" not in got


@pytest.mark.parametrize("after", [None, 0, 2, 3, 5])
def test_the_next_load_ids_are_free_whatever_load_the_caller_saw(after: int | None) -> None:
    """insert_order_lines' ``after`` reads the next id from a load the caller saw on:
    from one at or below the newest it is the newest + 1, as without it; from one above
    (a batch rolled back after the caller noted it) it is above every load still."""
    from valueseg.store.many_customers import insert_order_lines

    with Store(":memory:") as store:
        line = {
            "customer_id": "c1",
            "order_id": "o1",
            "timestamp": datetime(2024, 1, 2),
            "amount": 5.0,
            "is_return": False,
        }

        def insert(i: int, after: int | None) -> list[int]:
            lines = [{**line, "order_id": f"o{i}-{j}"} for j in range(2)]
            return insert_order_lines(
                store, lines, source="t", fingerprints=[f"f{i}a", f"f{i}b"],
                mappings=[{}, {}], after=after,
            )  # fmt: skip

        assert insert(0, None) == [1, 2]
        assert insert(1, None) == [3, 4]
        ids = insert(2, after)
        assert ids == ([6, 7] if after == 5 else [5, 6])
        stored = store.con.execute("SELECT load_id FROM loads ORDER BY 1").fetchall()
        assert [r[0] for r in stored] == [1, 2, 3, 4, *ids]
