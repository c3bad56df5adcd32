"""Every row rule, with the reason it leaves in rejected_rows."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
import pytest

from valueseg.io import ingest

NOW = datetime(2025, 1, 1, 12, 0)


def _rejected(store):
    return store.con.execute("SELECT line, reason, raw FROM rejected_rows ORDER BY line").fetchall()


def test_each_rule_quarantines_with_reason_and_line(store, write):
    path = write(
        "orders.csv",
        "customer_id,order_id,timestamp,amount\n"
        "c1,o1,2024-01-01 10:00:00,10.5\n"  # line 2: fine
        ",o2,2024-01-02,5\n"  # line 3: missing customer
        "c3,o3,,5\n"  # line 4: missing timestamp
        "c4,o4,not a date,5\n"  # line 5: unparseable
        "c5,o5,2025-01-03,5\n"  # line 6: > now + 1 day
        "c6,o6,2024-01-02,\n"  # line 7: missing amount
        "c7,o7,2024-01-02,abc\n"  # line 8: non-numeric
        "c8,o8,2024-01-02,NaN\n"  # line 9
        "c9,o9,2024-01-02,inf\n"  # line 10
        "c1,o1,2024-01-01 10:00:00,10.5\n",  # line 11: duplicate of line 2
    )
    report = ingest(path, db=store, now=NOW)
    assert (report.rows_read, report.accepted, report.rejected) == (10, 1, 9)
    rows = _rejected(store)
    assert [(line, reason) for line, reason, _ in rows] == [
        (3, "missing customer_id"),
        (4, "missing timestamp"),
        (5, "unparseable timestamp"),
        (6, "timestamp more than a day in the future"),
        (7, "missing amount"),
        (8, "non-numeric amount"),
        (9, "amount is NaN or infinite"),
        (10, "amount is NaN or infinite"),
        (11, "duplicate order line (first on 2)"),
    ]
    assert json.loads(rows[3][2]) == {
        "customer_id": "c5",
        "order_id": "o5",
        "timestamp": "2025-01-03",
        "amount": "5",
    }
    assert report.rejected_by_reason["duplicate order line"] == 1
    assert sum(report.rejected_by_reason.values()) == report.rejected


def test_a_timestamp_within_a_day_of_now_is_kept(store, write):
    path = write("o.csv", "customer_id,timestamp,amount\nc1,2025-01-02 11:00,1\n")
    assert ingest(path, db=store, now=NOW).accepted == 1


def test_quantity_times_unit_price_and_its_rules(store, write):
    path = write(
        "uci.csv",
        "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n"
        "536365,85123A,6,12/1/2010 8:26,2.55,17850\n"
        "C536379,D,-1,12/1/2010 9:41,27.50,14527\n"
        "536366,22633,x,12/1/2010 8:28,1.85,17850\n"
        "536367,22634,2,12/1/2010 8:28,,17850\n",
    )
    report = ingest(path, db=store, now=NOW)
    assert report.rejected_by_reason == {"non-numeric quantity": 1, "missing unit_price": 1}
    got = store.con.execute(
        'SELECT order_id, "timestamp", amount, is_return FROM transactions ORDER BY line'
    ).fetchall()
    assert got == [
        ("536365", datetime(2010, 12, 1, 8, 26), pytest.approx(15.3), False),
        ("C536379", datetime(2010, 12, 1, 9, 41), pytest.approx(-27.5), True),
    ]
    assert report.returns == 1
    assert report.revenue == pytest.approx(15.3)  # returns are not revenue
    assert "amount computed as Quantity × UnitPrice" in report.notes


def test_returns_are_kept_and_flagged_never_counted_as_purchases(store):
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a"],
            "order_id": ["o1", "o1-r", "o2"],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-02-01"]),
            "amount": [50.0, -20.0, 10.0],
            "quantity": [1, -1, 1],
        }
    )
    report = ingest(frame, db=store, now=NOW)
    assert report.accepted == 3
    assert report.orders == 2
    assert report.revenue == pytest.approx(60.0)
    flags = store.con.execute("SELECT is_return FROM transactions ORDER BY line").fetchall()
    assert flags == [(False,), (True,), (False,)]


def test_duplicates_of_rows_already_loaded_are_rejected(store, write):
    first = write("a.csv", "customer_id,timestamp,amount\nc1,2024-01-01,1\nc2,2024-01-01,2\n")
    second = write("b.csv", "customer_id,timestamp,amount\nc2,2024-01-01,2\nc3,2024-01-01,3\n")
    ingest(first, db=store, now=NOW)
    report = ingest(second, db=store, now=NOW)
    assert report.rejected_by_reason == {"duplicate order line already loaded": 1}
    assert store.con.execute("SELECT count(*) FROM transactions").fetchone() == (3,)


def test_loading_the_same_file_twice_changes_nothing(store, write):
    path = write("a.csv", "customer_id,timestamp,amount\nc1,2024-01-01,1\nc2,x,2\n")
    ingest(path, db=store, now=NOW)
    before = {
        t: store.con.execute(f"SELECT * FROM {t}").fetchall()
        for t in ("transactions", "rejected_rows")
    }
    again = ingest(path, db=store, now=NOW)
    assert again.already_loaded == 1
    assert str(again) == "a.csv: already loaded as load 1; nothing changed."
    for table, rows in before.items():
        assert store.con.execute(f"SELECT * FROM {table}").fetchall() == rows


def test_optional_numeric_columns_are_checked_too(store, write):
    path = write(
        "o.csv", "customer_id,timestamp,amount,discount\nc1,2024-01-01,1,x\nc2,2024-01-01,2,\n"
    )
    report = ingest(path, db=store, now=NOW)
    assert report.rejected_by_reason == {"non-numeric discount": 1}
    assert store.con.execute("SELECT discount FROM transactions").fetchall() == [(None,)]


def test_money_spellings(store, write):
    path = write(
        "o.csv",
        "customer_id;timestamp;amount\n"
        'a;2024-01-01;"1,234.50"\nb;2024-01-01;12,5\nc;2024-01-01;"1.234,50"\n'
        "d;2024-01-01;$ 7.25\ne;2024-01-01;-3\n",
    )
    ingest(path, db=store, now=NOW)
    got = store.con.execute("SELECT customer_id, amount FROM transactions ORDER BY 1").fetchall()
    assert got == [("a", 1234.5), ("b", 12.5), ("c", 1234.5), ("d", 7.25), ("e", -3.0)]


def test_timestamps_with_offsets_become_utc_and_naive_stay(store, write):
    path = write(
        "o.csv",
        "customer_id,timestamp,amount\n"
        "a,2024-01-01T10:00:00+02:00,1\nb,2024-01-01T10:00:00Z,1\nc,2024-01-01 10:00:00,1\n",
    )
    ingest(path, db=store, now=NOW)
    got = store.con.execute(
        'SELECT customer_id, "timestamp" FROM transactions ORDER BY 1'
    ).fetchall()
    assert got == [
        ("a", datetime(2024, 1, 1, 8)),
        ("b", datetime(2024, 1, 1, 10)),
        ("c", datetime(2024, 1, 1, 10)),
    ]


def test_day_first_dates_are_recognised_and_ambiguity_is_said(store, write):
    day_first = write("d.csv", "customer_id,timestamp,amount\na,13/01/2024,1\nb,02/01/2024,1\n")
    ingest(day_first, db=store, now=NOW)
    got = store.con.execute('SELECT "timestamp" FROM transactions ORDER BY 1').fetchall()
    assert got == [(datetime(2024, 1, 2),), (datetime(2024, 1, 13),)]
    ambiguous = write("m.csv", "customer_id,timestamp,amount\nz,02/03/2024,1\n")
    report = ingest(ambiguous, db=store, now=NOW)
    assert any("fit both month-first and day-first" in n for n in report.notes)


def test_missing_order_id_is_derived_from_customer_and_time(store, write):
    path = write(
        "o.csv",
        "customer_id,timestamp,product_id,amount\n"
        "a,2024-01-01 10:00:00,p1,1\na,2024-01-01 10:00:00,p2,2\na,2024-01-03,p1,1\n",
    )
    report = ingest(path, db=store, now=NOW)
    assert report.orders == 2
    ids = store.con.execute("SELECT DISTINCT order_id FROM transactions ORDER BY 1").fetchall()
    assert ids == [("a@2024-01-01T10:00:00",), ("a@2024-01-03T00:00:00",)]


def test_float_customer_ids_lose_their_decimal_zero(store):
    frame = pd.DataFrame(
        {
            "CustomerID": [17850.0, float("nan")],
            "InvoiceDate": ["2024-01-01"] * 2,
            "amount": [1.0, 2.0],
        }
    )
    report = ingest(frame, db=store, now=NOW)
    assert report.rejected_by_reason == {"missing customer_id": 1}
    assert store.con.execute("SELECT customer_id FROM transactions").fetchall() == [("17850",)]


def test_ids_a_csv_wrote_as_floats_match_the_same_ids_written_as_integers(store, write):
    # a UCI export saved by pandas: CustomerID has blanks, so every id is written '17850.0'
    orders = write(
        "retail.csv",
        "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n"
        "536365.0,85123A,6,2010-12-01 08:26:00,2.55,17850.0\n"
        "536366,71053,6,2010-12-01 08:28:00,3.39, 17850.00 \n"
        "536367,84406B,8,2010-12-01 08:34:00,2.75,\n"
        "536368,84029.50,6,2010-12-01 08:34:00,3.39,13047\n",
    )
    customers = write("customers.csv", "customer_id,region\n17850,north\n13047,south\n")
    report = ingest(orders, db=store, now=NOW)
    assert (report.accepted, report.rejected_by_reason) == (3, {"missing customer_id": 1})
    ingest(customers, kind="customers", db=store, now=NOW)
    got = store.con.execute(
        "SELECT t.customer_id, order_id, product_id, c.region FROM transactions t "
        "LEFT JOIN customers c USING (customer_id) ORDER BY order_id"
    ).fetchall()
    assert got == [
        ("17850", "536365", "85123A", "north"),
        ("17850", "536366", "71053", "north"),
        ("13047", "536368", "84029.50", "south"),
    ]
