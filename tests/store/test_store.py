"""The store: schema versions, migrations, transactions, what it holds."""

from __future__ import annotations

import re
from datetime import datetime

import duckdb
import pytest

from valueseg.errors import StoreError
from valueseg.io.one_order import load_orders
from valueseg.store import MIGRATIONS, SCHEMA_VERSION, Store
from valueseg.store.schema import DATA_TABLES
from valueseg.store.store import LOADS_SHOWN


def test_new_store_has_every_table_of_the_contract(store):
    tables = {r[0] for r in store.con.execute("SHOW TABLES").fetchall()}
    assert set(DATA_TABLES) <= tables
    assert store.schema_version == SCHEMA_VERSION == MIGRATIONS[-1][0]
    assert [m[0] for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_reopening_does_not_migrate_twice(tmp_path):
    db = tmp_path / "s.duckdb"
    Store(db).close()
    with Store(db) as store:
        rows = store.con.execute("SELECT count(*) FROM schema_version").fetchone()
        assert rows == (len(MIGRATIONS),)


def test_a_newer_store_is_refused(tmp_path):
    db = tmp_path / "s.duckdb"
    Store(db).close()
    with duckdb.connect(str(db)) as con:
        con.execute("INSERT INTO schema_version VALUES (99, 'future', now()::TIMESTAMP)")
    msg = (
        f"Store {db} has schema version 99, newer than this valueseg understands "
        f"({SCHEMA_VERSION}). Upgrade valueseg to read it."
    )
    with pytest.raises(StoreError, match=re.escape(msg)):
        Store(db)


def test_read_only_needs_an_existing_file(tmp_path):
    db = tmp_path / "none.duckdb"
    msg = f"Store {db} does not exist. Create it by loading data: valueseg ingest FILE --db {db}"
    with pytest.raises(StoreError, match=re.escape(msg)):
        Store(db, read_only=True)


def test_transaction_rolls_back_on_error(store):
    with pytest.raises(ZeroDivisionError), store.transaction() as con:
        con.execute("INSERT INTO runs (run_id, started_at, status) VALUES (1, now(), 'x')")
        raise ZeroDivisionError
    assert store.table_counts()["runs"] == 0


def test_summary_of_an_empty_store(store):
    summary = store.summary()
    assert summary["customers"] == 0
    assert summary["first_order"] is None
    assert summary["tables"]["transactions"] == 0


def test_summary_lists_the_newest_loads_and_counts_them_all(store):
    """A store that takes orders holds a load per order: the summary lists the newest."""
    orders = [
        {"customer_id": f"c{i}", "timestamp": "2024-01-01 10:00:00", "amount": 1.0 + i}
        for i in range(LOADS_SHOWN + 5)
    ]
    loaded = load_orders(store, orders, now=datetime(2024, 1, 2))
    summary = store.summary()
    ids = [row[0] for row in summary["loads"]]
    assert summary["loads_total"] == summary["tables"]["loads"] == LOADS_SHOWN + 5
    assert ids == sorted(r.load_id for r in loaded if r)[-LOADS_SHOWN:]  # newest, oldest first
    assert [row[0] for row in store.summary(loads=2)["loads"]] == ids[-2:]
    assert store.summary(loads=0)["loads"] == []


def test_the_declared_input_columns_are_the_store_s_columns(store):
    # One home per fact: ingest maps, parses, de-duplicates and inserts by INPUT_COLUMNS;
    # a migration that adds a column the declaration lacks (or the reverse) fails here.
    from valueseg.store.schema import INPUT_COLUMNS

    # kept_aside (the orders that are not purchases) has the transactions' columns.
    added_by_ingest = {"is_return", "load_id", "line", "reason"}
    tables = [(kind, kind) for kind in INPUT_COLUMNS] + [("kept_aside", "transactions")]
    for table, kind in tables:
        rows = store.con.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
        stored = [r for r in rows if r[0] not in added_by_ingest]
        declared = [c for c in INPUT_COLUMNS[kind] if table == "kept_aside" or not c.aside]
        expected = [(c.name, c.sql_type, "NO" if c.not_null else "YES") for c in declared]
        assert stored == expected, table


def test_kept_aside_has_the_transactions_columns(store):
    from valueseg.store.schema import column_names

    rows = store.con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'kept_aside' "
        "ORDER BY ordinal_position"
    ).fetchall()
    assert [r[0] for r in rows] == [*column_names("transactions"), "reason", "load_id", "line"]
    assert "kept_aside" in store.table_counts()


def test_a_version_1_store_is_migrated_and_keeps_its_rows(tmp_path):
    db = tmp_path / "v1.duckdb"
    with duckdb.connect(str(db)) as con:  # a store as valueseg 1 wrote it
        con.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description VARCHAR, "
            "applied_at TIMESTAMP)"
        )
        con.execute(MIGRATIONS[0][2])
        con.execute("INSERT INTO schema_version VALUES (1, 'initial', now()::TIMESTAMP)")
        con.execute(
            'INSERT INTO transactions (customer_id, order_id, "timestamp", amount, is_return, '
            "load_id, line) VALUES ('a', 'o1', TIMESTAMP '2024-01-01', 5, false, 1, 2)"
        )
    msg = (
        f"Store {db} has schema version 1; this valueseg needs {SCHEMA_VERSION}. Open it once "
        "for writing (any valueseg command with --db) to migrate it."
    )
    with pytest.raises(StoreError, match=re.escape(msg)):
        Store(db, read_only=True)
    with Store(db) as store:
        assert store.schema_version == SCHEMA_VERSION
        row = store.con.execute("SELECT customer_id, line_item FROM transactions")
        assert row.fetchall() == [("a", None)]
        assert store.table_counts()["kept_aside"] == 0
