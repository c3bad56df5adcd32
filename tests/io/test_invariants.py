"""Invariants: no row is ever lost, and a load is all or nothing."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from valueseg.io import ingest
from valueseg.store import Store

NOW = datetime(2025, 1, 1)

# Any text but NUL (a file with NUL bytes is refused whole as binary, tested elsewhere).
_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=4)
customer = st.one_of(st.sampled_from(["c1", "c2", "c3", "", " "]), _text)
stamp = st.one_of(
    st.sampled_from(
        [
            "2024-01-01",
            "2024-01-01 10:00:00",
            "1/2/2024 10:00",
            "2031-01-01",
            "",
            "yesterday",
            "2024-02-30",
        ]
    ),
    st.dates().map(str),
)
amount = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "abc", "1,5", "-3", "10"]),
    st.integers(-1000, 1000).map(str),
)
rows = st.lists(st.tuples(customer, stamp, amount), min_size=1, max_size=40)


def _check_invariant(source, n_rows: int) -> None:
    with Store(":memory:") as store:
        report = ingest(source, db=store, now=NOW)
        counts = store.table_counts()
    assert report.rows_read == n_rows
    assert report.accepted + report.rejected == report.rows_read
    assert counts["transactions"] == report.accepted
    assert counts["rejected_rows"] == report.rejected
    assert sum(report.rejected_by_reason.values()) == report.rejected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows)
def test_accepted_plus_rejected_is_rows_read_for_frames(rows):
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"])
    _check_invariant(frame, len(rows))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(rows=rows)
def test_accepted_plus_rejected_is_rows_read_for_csv_files(tmp_path, rows):
    path = tmp_path / "orders.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n", quoting=csv.QUOTE_ALL)
        writer.writerow(["customer_id", "timestamp", "amount"])
        writer.writerows(rows)
    _check_invariant(path, len(rows))


_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from valueseg.io import ingest

    def progress(stage, pct):
        # Every insert of the load has run, the transaction is not committed yet.
        if stage == "writing" and pct >= 100:
            os.kill(os.getpid(), signal.SIGKILL)

    ingest(sys.argv[1], db=sys.argv[2], progress=progress)
    """
)


def _orders(path: Path, n: int, first: int = 0) -> Path:
    lines = ["customer_id,order_id,timestamp,amount"]
    lines += [f"c{i % 997},o{i},2024-01-{1 + i % 28:02d},{i % 50}.5" for i in range(first, n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _counts(db: Path) -> dict[str, int]:
    with Store(db) as store:
        return store.table_counts()


def test_killed_load_leaves_the_store_as_before(tmp_path):
    db = tmp_path / "shop.duckdb"
    ingest(_orders(tmp_path / "first.csv", 1000), db=db)
    before = _counts(db)
    second = _orders(tmp_path / "second.csv", 50_000, first=1000)
    child = subprocess.run([sys.executable, "-c", _CHILD, str(second), str(db)], check=False)
    assert child.returncode == -signal.SIGKILL
    assert _counts(db) == before
    report = ingest(second, db=db)  # and the same file loads in full afterwards
    assert report.accepted == 49_000
    assert _counts(db)["transactions"] == 50_000


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.3, 0.8, 1.5])
def test_load_killed_at_any_moment_is_all_or_nothing(tmp_path, delay):
    db = tmp_path / "shop.duckdb"
    big = _orders(tmp_path / "big.csv", 300_000)
    code = "import sys; from valueseg.io import ingest; ingest(sys.argv[1], db=sys.argv[2])"
    proc = subprocess.Popen([sys.executable, "-c", code, str(big), str(db)])
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    if not db.exists():
        return  # killed before the store was even created: nothing to check
    counts = _counts(db)
    assert counts["transactions"] in (0, 300_000)
    assert counts["loads"] == (1 if counts["transactions"] else 0)


status = st.sampled_from(["paid", "", "cancelled", "Refunded", "partially_refunded", "odd"])
order_rows = st.lists(
    st.tuples(
        st.sampled_from(["o1", "o2", "o3", ""]),  # order
        customer,
        stamp,
        amount,
        status,
        st.sampled_from(["", "5", "x", "-2.5"]),  # refund
        st.sampled_from(["EUR", "", "eur "]),  # currency
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=order_rows)
def test_no_row_is_lost_with_statuses_refunds_and_carried_fields(rows):
    columns = ["order_id", "customer_id", "timestamp", "amount", "status", "refund", "currency"]
    frame = pd.DataFrame(rows, columns=columns)
    with Store(":memory:") as store:
        report = ingest(frame, db=store, now=NOW)
        counts = store.table_counts()
    assert report.accepted + report.rejected == report.rows_read == len(rows)
    assert counts["kept_aside"] == report.kept_aside
    assert counts["transactions"] == report.accepted - report.kept_aside + report.refunds
    assert counts["rejected_rows"] == report.rejected
