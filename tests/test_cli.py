"""The command line: output, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime

import pytest

from valueseg.io.one_order import load_orders
from valueseg.store import Store


def run(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "valueseg", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def test_ingest_then_info(tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text("CustomerID,InvoiceDate,Revenue\nc1,2024-01-01,10\nc2,2024-01-02,x\n")
    db = tmp_path / "s.duckdb"
    done = run("ingest", str(orders), "--map", "amount=Revenue", "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert "Ingest summary" in done.stdout
    assert "non-numeric amount" in done.stdout
    info = run("info", "--db", str(db))
    assert info.returncode == 0, info.stderr
    assert "transactions" in info.stdout
    assert "1 customers, 1 orders, revenue 10.00" in info.stdout
    assert "Loads" in info.stdout and "the newest" not in info.stdout  # one load: all shown


def test_info_names_how_many_loads_it_leaves_out(tmp_path):
    db = tmp_path / "s.duckdb"
    with Store(db) as store:  # a load per posted order, as the web app writes them
        load_orders(store, [
            {"customer_id": f"c{i}", "timestamp": "2024-01-01 10:00:00", "amount": 1.0}
            for i in range(25)
        ], now=datetime(2024, 1, 2))  # fmt: skip
    info = run("info", "--db", str(db))
    assert info.returncode == 0, info.stderr
    assert "Loads (the newest 20 of 25)" in info.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "Error: File bad.csv is empty. Expected a header line and at least one data row."),
        ("who,when\n1,2\n", "Error: Column 'customer_id' not found in bad.csv."),
    ],
)
def test_refused_file_is_one_line_and_exit_1(tmp_path, content, message):
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    done = run("ingest", str(bad), "--db", str(tmp_path / "s.duckdb"))
    assert done.returncode == 1
    assert done.stderr.startswith(message)
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_debug_shows_the_traceback(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("")
    done = run("--debug", "ingest", str(bad), "--db", str(tmp_path / "s.duckdb"))
    assert done.returncode == 1
    assert "Traceback" in done.stderr


def test_bad_map_syntax(tmp_path):
    done = run("ingest", "x.csv", "--map", "amount", "--db", str(tmp_path / "s.duckdb"))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "Error: Cannot read --map 'amount'. Expected TARGET=SOURCE, e.g. --map amount=Revenue."
    )


def test_info_on_a_missing_store(tmp_path):
    done = run("info", "--db", str(tmp_path / "none.duckdb"))
    assert done.returncode == 1
    assert "does not exist" in done.stderr


def test_demo_loads_the_sample_shop_through_ingest(tmp_path):
    done = run("demo", "--customers", "500", "--out", str(tmp_path / "demo"))
    assert done.returncode == 0, done.stderr
    assert "transactions.parquet" in done.stdout
    assert "500 customers" in done.stdout
    from valueseg.store import Store

    with Store(tmp_path / "demo" / "valueseg.duckdb", read_only=True) as store:
        counts = store.table_counts()
    assert counts["loads"] == 3
    assert counts["rejected_rows"] == 0
    assert counts["customers"] == 500
    assert counts["transactions"] > 500
    # every customer scored, explained and given an action; every buyer of a product a list
    assert counts["customer_reasons"] == 3 * 500
    assert counts["customer_actions"] == 500
    assert counts["recommendations"] > 0 and counts["recommend_evaluation"] > 0
    # an audience file per action, one designed experiment, the report beside the store
    demo = tmp_path / "demo"
    audiences = sorted(p.name for p in (demo / "audiences").glob("audience-*.csv"))
    with Store(demo / "valueseg.duckdb", read_only=True) as store:
        actions = store.con.execute("SELECT DISTINCT action FROM customer_actions").fetchall()
        experiments = store.con.execute("SELECT name FROM experiments").fetchall()
    assert len(audiences) == len(actions) > 0
    assert experiments == [("churn-recall (demo)",)]
    assert (demo / "report.html").stat().st_size > 10_000
    assert f"Report: {demo / 'report.html'}" in done.stdout


@pytest.mark.slow
def test_demo_on_cdnow_loads_the_real_shop_through_ingest(tmp_path):
    out = tmp_path / "demo"
    done = run("demo", "--data", "cdnow", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "cdnow_master.parquet" in done.stdout
    assert "23,570 customers" in done.stdout
    from datetime import datetime

    from valueseg.store import Store

    assert (out / "data" / "cdnow_master.parquet").exists()
    with Store(out / "valueseg.duckdb", read_only=True) as store:
        counts = store.table_counts()
        summary = store.summary()
    assert counts["loads"] == 1  # transactions only: CDNOW has no events or customer table
    assert counts["transactions"] + counts["rejected_rows"] == 69_659  # every line accounted
    assert counts["rejected_rows"] == 0  # each line is a purchase (order_id = its line)
    assert summary["revenue"] == pytest.approx(2_500_315.63)
    assert counts["customer_features"] == summary["customers"] == 23_570
    assert (summary["first_order"], summary["last_order"]) == (
        datetime(1997, 1, 1),
        datetime(1998, 6, 30),
    )


def test_demo_refuses_an_unknown_data_set(tmp_path):
    done = run("demo", "--data", "shopify", "--out", str(tmp_path / "demo"))
    assert done.returncode == 1
    assert done.stderr.strip() == "Error: Unknown --data 'shopify'. Expected synth or cdnow."
    assert not (tmp_path / "demo").exists()


def test_demo_help_names_both_shops():
    done = run("demo", "--help")
    assert done.returncode == 0, done.stderr
    text = " ".join("".join(c for c in done.stdout if c not in "│╭╮╰╯─").split())
    assert "--data <str> synth: a generated shop; cdnow: CDNOW's real order log" in text
    assert "--customers <int> Customers in the generated shop (--data synth only)." in text


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_synth_writes_every_table(tmp_path, fmt):
    out = tmp_path / "shop"
    done = run("synth", "--customers", "300", "--out", str(out), "--format", fmt, "--seed", "1")
    assert done.returncode == 0, done.stderr
    for table in ("transactions", "events", "customers", "products", "truth"):
        assert (out / f"{table}.{fmt}").exists()


def test_synth_refuses_an_unknown_format(tmp_path):
    done = run("synth", "--format", "xlsx", "--out", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip() == "Error: Unknown --format 'xlsx'. Expected parquet or csv."
