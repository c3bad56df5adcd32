"""Staged posted orders move into their tables exactly as a direct append writes them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from valueseg.io.one_order import append_checked, assign_loads, check_orders
from valueseg.store import Store
from valueseg.store.many_customers import write_changes
from valueseg.store.staged import move_staged, stage_rows, staged_count
from valueseg.store.web import LINE_COLUMNS

NOW = datetime(2024, 3, 10, 12, 0, 0, 250001)
_TABLES = {
    "transactions": "SELECT * FROM transactions ORDER BY load_id",
    "loads": "SELECT * FROM loads ORDER BY load_id",
    "segment_changes": "SELECT * EXCLUDE (changed_at) FROM segment_changes ORDER BY rowid",
}
_HOSTILE_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=12,
).filter(lambda t: t[0] > " " and t[-1] not in " \t\r\n" and not t.endswith("0"))


def _orders(amounts: list[float], ids: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "customer_id": f"C{i}-{text}",
            "order_id": f"O{i}-{text}",
            "timestamp": f"2024-03-0{1 + i % 9} 10:00:{i % 60:02d}.{i:06d}",
            "amount": amount,
            "category": text,
        }
        for i, (amount, text) in enumerate(zip(amounts, ids, strict=False))
    ]


def _rows(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    return {name: store.con.execute(sql).fetchall() for name, sql in _TABLES.items()}


def _changes(n: int) -> list[tuple[str, str, str | None, str | None, str]]:
    return [(f"C{i}", "rfm", None if i % 2 else "Lost", 'é"\\\n', f"order {i}") for i in range(n)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    amounts=st.lists(
        st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=6
    ),
    ids=st.lists(_HOSTILE_TEXT, min_size=6, max_size=6),
)
def test_staged_rows_move_as_a_direct_append_writes_them(amounts: list[float], ids: list[str]):
    orders = _orders(amounts, ids)
    with Store(":memory:") as direct, Store(":memory:") as staged:
        checked = check_orders(direct, orders, LINE_COLUMNS, NOW)
        with direct.transaction():
            append_checked(direct, checked)
            write_changes(direct, 1, _changes(len(checked.new)))
        via = check_orders(staged, orders, LINE_COLUMNS, NOW)
        lines = assign_loads(via, 1)
        assert [r and r.load_id for r in via.reports] == [r and r.load_id for r in checked.reports]
        seq = 0
        rows: list[tuple[int, str, dict[str, Any]]] = []
        for line in lines:
            rows.append(
                (seq := seq + 1, "transactions", {k: v for k, v in line.items() if k != "load"})
            )
            rows.append((seq := seq + 1, "loads", line["load"]))
        for customer, lens, before, after, cause in _changes(len(lines)):
            change = {"changed_at": NOW, "run_id": 1, "customer_id": customer, "lens": lens}
            change |= {"before_value": before, "after_value": after, "cause": cause}
            rows.append((seq := seq + 1, "segment_changes", change))
        stage_rows(staged, rows)
        assert _rows(staged) == {name: [] for name in _TABLES}  # nothing moved yet
        assert move_staged(staged) == len(rows)
        assert staged_count(staged) == 0
        assert _rows(staged) == _rows(direct)
        # the values are the floats and times posted, to the bit and the microsecond
        stored = staged.con.execute('SELECT amount, "timestamp" FROM transactions').fetchall()
        posted = [(orders[i]["amount"], checked.timestamp(i)) for i in checked.new]
        assert sorted((a.hex(), t) for a, t in stored) == sorted((a.hex(), t) for a, t in posted)


def test_rows_move_in_their_order_and_only_up_to_the_seq_given() -> None:
    with Store(":memory:") as store:
        changes = [
            {"changed_at": NOW, "run_id": 1, "customer_id": "C", "lens": "rfm", "after_value": v}
            for v in ("a", "b", "c")
        ]
        stage_rows(store, [(3, "segment_changes", changes[2]), (1, "segment_changes", changes[0])])
        stage_rows(store, [(2, "segment_changes", changes[1])])
        assert move_staged(store, upto=2) == 2
        assert staged_count(store) == 1
        order = "SELECT after_value FROM segment_changes ORDER BY rowid"
        assert store.con.execute(order).fetchall() == [("a",), ("b",)]
        assert move_staged(store) == 1
        assert store.con.execute(order).fetchall() == [("a",), ("b",), ("c",)]
        assert move_staged(store) == 0


def test_a_store_opened_for_writing_moves_what_a_killed_server_staged(tmp_path: Path) -> None:
    db = tmp_path / "shop.duckdb"
    with Store(db) as store:
        line = {"customer_id": "C1", "order_id": "O1", "timestamp": NOW, "amount": 2.5}
        line |= {"is_return": False, "load_id": 1, "line": 1}
        stage_rows(store, [(1, "transactions", line)])
    with Store(db, read_only=True) as reader:  # a reader cannot move them: still staged
        assert staged_count(reader) == 1
    with Store(db) as store:
        assert staged_count(store) == 0
        got = store.con.execute('SELECT customer_id, "timestamp", amount FROM transactions')
        assert got.fetchall() == [("C1", NOW, 2.5)]


def test_only_the_three_tables_are_staged() -> None:
    with Store(":memory:") as store, pytest.raises(ValueError, match="not of"):
        stage_rows(store, [(1, "runs", {"run_id": 1})])
    with Store(":memory:") as store, pytest.raises(TypeError, match="no JSON form"):
        stage_rows(store, [(1, "loads", {"load_id": object()})])
