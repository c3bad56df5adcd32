"""`valueseg ingest`: the status breakdown and what was normalised, per load, and its flags."""

from __future__ import annotations

import re
import subprocess
import sys

SHOP = (
    "Name,Email,Financial Status,Currency,Created at,Lineitem quantity,Lineitem price,"
    "Lineitem sku,Cancelled at,Refunded Amount\n"
    "#1,Anna@Example.org,paid,EUR,2024-07-23 12:06:00 +0200,1,10.00,A,,\n"
    "#1,Anna@Example.org,,,2024-07-23 12:06:00 +0200,2,10.00,B,,\n"
    "#2,anna@example.org,refunded,EUR,2024-07-24 09:00:00 +0200,1,20.00,C,,20.00\n"
    "#3,bob@example.org,paid,EUR,2024-07-25 10:00:00 +0200,1,15.00,D,"
    "2024-07-25 11:00:00 +0200,\n"
    "#4,bob@example.org,awaiting shipment,EUR,2024-07-26 10:00:00 +0200,1,5.00,E,,\n"
)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "valueseg", *args], capture_output=True, text=True, check=False
    )


def test_ingest_prints_statuses_and_normalisations_in_one_block(tmp_path):
    path = tmp_path / "orders_export.csv"
    path.write_text(SHOP)
    done = run("ingest", str(path), "--db", str(tmp_path / "s.duckdb"))
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())  # Rich wraps long lines
    assert "orders_export.csv: 2 customers, 3 orders, revenue 55.00 EUR, 1 return lines" in out
    assert "refunded: 1 order, 20.00 EUR netted as return rows (net revenue 35.00 EUR)" in out
    assert "1 cancelled order kept aside, 15.00 EUR (1 line)" in out
    assert "statuses valueseg does not know, counted as purchases (orders): " in out
    assert (
        "normalised: 5 times with a UTC offset converted to UTC; 1 e-mail id differed only "
        "in case and was merged; lines with blanks filled from their order's first line: "
        "status 1, currency 1" in out
    )


def test_ingest_status_and_currency_flags(tmp_path):
    path = tmp_path / "orders_export.csv"
    path.write_text(SHOP)
    statuses = tmp_path / "statuses.toml"
    statuses.write_text('refunded = ["paid"]\n')
    done = run(
        "ingest",
        str(path),
        "--db",
        str(tmp_path / "s.duckdb"),
        "--status",
        "awaiting shipment=not_purchase",
        "--statuses",
        str(statuses),
        "--currency",
        "eur",
    )
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    assert "1 awaiting shipment order kept aside, 5.00 EUR" in out
    assert "refunded: 2 orders, 50.00 EUR netted" in out  # paid means refunded here
    info = run("info", "--db", str(tmp_path / "s.duckdb"))
    assert info.returncode == 0, info.stderr
    assert re.search(r"revenue [\d,.]+ EUR, returns -?[\d,.]+ EUR", info.stdout), info.stdout


def test_a_bad_status_flag_is_one_line(tmp_path):
    done = run("ingest", "x.csv", "--status", "paid", "--db", str(tmp_path / "s.duckdb"))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "Error: Cannot read --status 'paid'. Expected VALUE=MEANING, e.g. "
        '--status "awaiting shipment=purchase".'
    )
