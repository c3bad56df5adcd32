"""valueseg run: one transaction per run, and the messages for what cannot run."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime

import pandas as pd
import pytest

from valueseg.errors import InputError
from valueseg.io import ingest
from valueseg.pipeline import run
from valueseg.store import Store


@pytest.fixture
def filled(store):
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "timestamp": ["2024-01-01", "2024-01-05 13:00", "2024-01-03"],
            "amount": [10.0, 20.0, 5.0],
        }
    )
    ingest(tx, db=store, now=datetime(2024, 2, 1))
    return store


def test_run_writes_features_with_its_run_id(filled):
    first = run(filled)
    second = run(filled, as_of="2024-01-04")
    assert (first.run_id, second.run_id) == (1, 2)
    assert first.as_of == datetime(2024, 1, 6)  # midnight after the last order
    rows = filled.con.execute(
        'SELECT run_id, customer_id, frequency, "T" FROM customer_features ORDER BY 1, 2'
    ).fetchall()
    assert rows == [(1, "a", 1.0, 5.0), (1, "b", 0.0, 3.0), (2, "a", 0.0, 3.0), (2, "b", 0.0, 1.0)]
    runs = filled.con.execute("SELECT run_id, status FROM runs ORDER BY 1").fetchall()
    assert runs == [(1, "succeeded"), (2, "succeeded")]


def test_an_interrupted_run_is_marked_failed_by_the_next(filled):
    filled.con.execute("INSERT INTO runs (run_id, started_at, status) VALUES (7, now(), 'running')")
    result = run(filled)
    assert result.run_id == 8
    status = filled.con.execute("SELECT status, message FROM runs WHERE run_id = 7").fetchone()
    assert status == ("failed", "interrupted before it finished")


def test_as_of_before_any_order(filled):
    msg = (
        "No orders before --as-of 2023-01-01: the store holds 3 purchase lines from "
        "2024-01-01 to 2024-01-05. Pick an --as-of after the first order."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        run(filled, as_of="2023-01-01")


def test_empty_store(store):
    with pytest.raises(InputError, match=re.escape("holds no transactions. Load orders first")):
        run(store)


def test_unknown_engine(filled):
    with pytest.raises(
        InputError, match=re.escape("Unknown engine 'polars'. Expected one of: duckdb, spark.")
    ):
        run(filled, engine="polars")


def test_cli_run(tmp_path):
    db = tmp_path / "s.duckdb"
    orders = tmp_path / "o.csv"
    orders.write_text("customer_id,timestamp,amount\na,2024-01-01,1\na,2024-01-03,2\n")
    ingest(orders, db=db)
    done = subprocess.run(
        [sys.executable, "-m", "valueseg", "run", "--db", str(db)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Run 1 (as of 2024-01-04, duckdb): 1 customers" in done.stdout
    with Store(db, read_only=True) as store:
        assert store.table_counts()["customer_features"] == 1
