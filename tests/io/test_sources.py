"""Every kind of source, and every file that is refused, with the exact message."""

from __future__ import annotations

import gzip
import re
import sqlite3
from datetime import datetime

import duckdb
import pandas as pd
import polars as pl
import pytest

from valueseg.errors import InputError, SourceNotFoundError
from valueseg.io import ingest

NOW = datetime(2025, 1, 1)
ROWS = "c1,2024-01-01,10.5\nc2,2024-02-01,3\n"


def _amounts(store):
    return store.con.execute(
        "SELECT customer_id, amount FROM transactions ORDER BY customer_id"
    ).fetchall()


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("comma.csv", "customer_id,timestamp,amount\n" + ROWS),
        ("semi.csv", "customer_id;timestamp;amount\n" + ROWS.replace(",", ";")),
        ("tab.tsv", "customer_id\ttimestamp\tamount\n" + ROWS.replace(",", "\t")),
        ("pipe.txt", "customer_id|timestamp|amount\n" + ROWS.replace(",", "|")),
        ("bom.csv", "\ufeffcustomer_id,timestamp,amount\n" + ROWS),
        ("crlf.csv", ("customer_id,timestamp,amount\n" + ROWS).replace("\n", "\r\n")),
        # aligned text export (CDNOW's master file): runs of blanks between fields
        (
            "aligned.txt",
            " customer_id   timestamp  amount\n" + ROWS.replace(",", "   ").replace("\n", "\n "),
        ),
    ],
)
def test_csv_dialects_are_sniffed(store, write, name, text):
    report = ingest(write(name, text), db=store, now=NOW)
    assert (report.accepted, report.rejected) == (2, 0)
    assert _amounts(store) == [("c1", 10.5), ("c2", 3.0)]


def test_latin1_csv_is_read(store, write):
    path = write("latin.csv", "customer_id,timestamp,amount\nJosé,2024-01-01,1\n", "latin-1")
    ingest(path, db=store, now=NOW)
    assert _amounts(store) == [("José", 1.0)]


def test_gzip_csv_is_read(store, tmp_path):
    path = tmp_path / "o.csv.gz"
    path.write_bytes(gzip.compress(("customer_id,timestamp,amount\n" + ROWS).encode()))
    assert ingest(path, db=store, now=NOW).accepted == 2


def test_parquet_and_jsonl(store, tmp_path):
    frame = pd.DataFrame(
        {
            "customer_id": ["c1", "c2"],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-02-01"]),
            "amount": [10.5, 3.0],
        }
    )
    frame.to_parquet(tmp_path / "o.parquet")
    (tmp_path / "o.jsonl").write_text(
        '{"customer_id": "c3", "timestamp": "2024-01-01", "amount": 1}\n'
        '{"customer_id": "c4", "timestamp": "2024-01-02", "amount": "x"}\n'
    )
    assert ingest(tmp_path / "o.parquet", db=store, now=NOW).accepted == 2
    report = ingest(tmp_path / "o.jsonl", db=store, now=NOW)
    assert report.rejected_by_reason == {"non-numeric amount": 1}
    assert store.con.execute(
        "SELECT line FROM rejected_rows WHERE source = 'o.jsonl'"
    ).fetchall() == [(2,)]


def test_pandas_and_polars_frames(store):
    data = {
        "customer_id": ["c1", "c2"],
        "timestamp": ["2024-01-01", "2024-02-01"],
        "amount": [10.5, 3.0],
    }
    assert ingest(pd.DataFrame(data), db=store, now=NOW).accepted == 2
    data["customer_id"] = ["c3", "c4"]
    assert ingest(pl.DataFrame(data), db=store, now=NOW).accepted == 2
    assert len(_amounts(store)) == 4


def test_database_tables_by_url(store, tmp_path):
    lite = tmp_path / "shop.db"
    with sqlite3.connect(lite) as con:
        con.execute("CREATE TABLE orders (customer_id TEXT, timestamp TEXT, amount REAL)")
        con.executemany(
            "INSERT INTO orders VALUES (?, ?, ?)",
            [("c1", "2024-01-01", 10.5), ("c2", "2024-02-01", 3.0)],
        )
    duck = tmp_path / "shop.duckdb"
    with duckdb.connect(str(duck)) as con:
        con.execute(
            "CREATE TABLE orders AS SELECT 'c3' AS customer_id, "
            "TIMESTAMP '2024-01-01' AS timestamp, 1.5 AS amount"
        )
    assert ingest(f"sqlite:///{lite}?table=orders", db=store, now=NOW).accepted == 2
    assert ingest(f"duckdb:///{duck}?table=orders", db=store, now=NOW).accepted == 1
    assert _amounts(store) == [("c1", 10.5), ("c2", 3.0), ("c3", 1.5)]


def test_database_url_without_table(store, tmp_path):
    msg = "Database URL sqlite:///x.db names no table. Add ?table=NAME, e.g. sqlite:///shop.db?table=orders."
    with pytest.raises(InputError, match=re.escape(msg)):
        ingest("sqlite:///x.db", db=store)


def test_malformed_csv_lines_are_quarantined_not_lost(store, write):
    path = write(
        "o.csv",
        "customer_id,timestamp,amount\nc1,2024-01-01,1\nc2,2024-01-01,2,extra\nc3,2024-01-01,3\n",
    )
    report = ingest(path, db=store, now=NOW)
    assert (report.rows_read, report.accepted, report.rejected) == (3, 2, 1)
    line, reason, raw = store.con.execute("SELECT line, reason, raw FROM rejected_rows").fetchone()
    assert (line, raw) == (3, "c2,2024-01-01,2,extra")
    assert reason.startswith("malformed CSV line")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "empty.csv",
            "",
            "File empty.csv is empty. Expected a header line and at least one data row.",
        ),
        (
            "blank.csv",
            "\n\n  \n",
            "File blank.csv is empty. Expected a header line and at least one data row.",
        ),
        (
            "header.csv",
            "customer_id,timestamp,amount\n",
            "File header.csv has a header but no data rows. Expected at least one data row.",
        ),
        (
            "binary.csv",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "File binary.csv does not look like text: it contains binary (NUL) bytes. "
            "Expected a CSV, Parquet, JSON lines or Excel (.xlsx) file.",
        ),
        (
            "fake.parquet",
            "customer_id,timestamp,amount\nc1,2024-01-01,1\n",
            "File fake.parquet is not a Parquet file (it does not start with the Parquet magic "
            "bytes 'PAR1'). Expected a Parquet file; if it is CSV, rename it to .csv.",
        ),
        (
            "fake.xlsx",
            "customer_id,timestamp,amount\nc1,2024-01-01,1\n",
            "File fake.xlsx is not an Excel workbook (an .xlsx file is a zip archive, and this "
            "one is not). If it is CSV, rename it to .csv.",
        ),
        (
            "old.xls",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00",
            "File old.xls is an Excel 97-2003 workbook (.xls), which valueseg does not read. "
            "Save it as .xlsx or as CSV (UTF-8) and ingest that.",
        ),
        (
            "locked.xlsx",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00",
            "File locked.xlsx is a password-protected workbook (or an Excel 97-2003 file named "
            ".xlsx), which valueseg does not read. Remove the password, or save it as .xlsx or "
            "as CSV (UTF-8), and ingest that.",
        ),
        (
            "broken.xlsx",
            b"PK\x03\x04 not really a zip archive",
            "Cannot read broken.xlsx as an Excel workbook: ",
        ),
    ],
)
def test_unreadable_files_are_refused(store, write, name, content, message):
    with pytest.raises(InputError, match=re.escape(message)):
        ingest(write(name, content), db=store)
    assert store.table_counts()["loads"] == 0


def test_broken_jsonl_is_refused(store, write):
    path = write("o.jsonl", '{"customer_id": "c1", "timestamp": "2024-01-01"\n')
    with pytest.raises(InputError, match=r"^Cannot read o\.jsonl as JSONL: .*Expected a "):
        ingest(path, db=store)


def test_missing_file_and_folder(store, tmp_path):
    with pytest.raises(SourceNotFoundError, match=re.escape("File not found: ")):
        ingest(tmp_path / "nope.csv", db=store)
    with pytest.raises(InputError, match=re.escape("is a folder. Expected a file")):
        ingest(tmp_path, db=store)


def test_unknown_source_type(store):
    msg = "Cannot read a source of type int. Expected a file path, a pandas or polars DataFrame"
    with pytest.raises(InputError, match=re.escape(msg)):
        ingest(42, db=store)


def test_a_csv_the_sniffer_gives_up_on_is_read_line_by_line(store, write):
    # A bare carriage return inside a field: DuckDB cannot guess the dialect of this tiny
    # file; Python's csv module reads it, and \r ends a line there as in most readers.
    path = write("odd.csv", "customer_id,timestamp,amount\n0\r,2024-01-01,0.0\nc1,2024-01-01,1\n")
    report = ingest(path, db=store, now=NOW)
    assert (report.rows_read, report.accepted, report.rejected) == (3, 1, 2)
    assert store.con.execute("SELECT line, reason FROM rejected_rows ORDER BY line").fetchall() == [
        (2, "malformed CSV line (wrong number of fields)"),
        (3, "missing customer_id"),
    ]


def test_blank_text_counts_as_missing(store, write):
    path = write("o.csv", 'customer_id,timestamp,amount\n"\r",2024-01-01,1\n"\t ",2024-01-01,1\n')
    assert ingest(path, db=store, now=NOW).rejected_by_reason == {"missing customer_id": 2}


def test_a_line_with_extra_fields_is_one_rejected_row(store, write):
    # DuckDB reports one error per extra field; the line is still one row read.
    path = write(
        "o.csv",
        "customer_id,timestamp,amount\n"
        "c1,2024-01-01,1\n"  # line 2
        "c2,2024-01-01,2,extra,more\n"  # line 3: two extra fields
        "c3,2024-01-01,3\n"  # line 4
        "c4,2024-01-01,x\n"  # line 5: non-numeric amount
        "c5,2024-01-01,5\n",  # line 6
    )
    report = ingest(path, db=store, now=NOW)
    assert (report.rows_read, report.accepted, report.rejected) == (5, 3, 2)
    assert store.con.execute(
        "SELECT line, reason, raw FROM rejected_rows ORDER BY line"
    ).fetchall() == [
        (3, "malformed CSV line (TOO MANY COLUMNS)", "c2,2024-01-01,2,extra,more"),
        (5, "non-numeric amount", '{"customer_id":"c4","timestamp":"2024-01-01","amount":"x"}'),
    ]
    lines = store.con.execute("SELECT customer_id, line FROM transactions ORDER BY line")
    assert lines.fetchall() == [("c1", 2), ("c3", 4), ("c5", 6)]
    assert store.con.execute("SELECT rows_read, rejected FROM loads").fetchall() == [(5, 2)]


def test_lines_stay_exact_after_many_malformed_lines(store, write):
    # Past a few malformed lines the numbering is fixed by a join rather than a CASE.
    text = ["customer_id,timestamp,amount"]
    kept: dict[str, int] = {}  # customer -> line of its accepted row
    bad: list[int] = []
    repeats: dict[int, int] = {}  # line of a repeated row -> line it repeats
    for i in range(300):
        line = len(text) + 1
        if i % 3 == 1:
            text.append(f"b{i},2024-01-01,{i},extra")
            bad.append(line)
        elif i % 7 == 0 and kept:
            last = max(kept.values())
            text.append(text[last - 1])
            repeats[line] = last
        else:
            text.append(f"c{i},2024-01-02,{i}")
            kept[f"c{i}"] = line
    report = ingest(write("o.csv", "\n".join(text) + "\n"), db=store, now=NOW)
    assert (report.rows_read, report.rejected) == (300, len(bad) + len(repeats))
    got = dict(store.con.execute("SELECT customer_id, line FROM transactions").fetchall())
    assert got == kept
    rows = store.con.execute("SELECT line, reason FROM rejected_rows ORDER BY line").fetchall()
    assert [ln for ln, why in rows if why.startswith("malformed")] == bad
    assert {ln: why for ln, why in rows if not why.startswith("malformed")} == {
        ln: f"duplicate order line (first on {first})" for ln, first in repeats.items()
    }


def test_a_column_named_rowid_is_read_and_lines_are_right(store, write):
    path = write(
        "o.csv",
        "rowid,customer_id,timestamp,amount\n9,c1,2024-01-01,1\n8,c2,2024-01-01,x\n",
    )
    report = ingest(path, db=store, now=NOW)
    assert (report.accepted, report.rejected) == (1, 1)
    assert store.con.execute("SELECT line FROM transactions").fetchall() == [(2,)]
    line, raw = store.con.execute("SELECT line, raw FROM rejected_rows").fetchone()
    assert line == 3
    assert raw == '{"rowid":"8","customer_id":"c2","timestamp":"2024-01-01","amount":"x"}'


def test_an_excel_workbook_is_read_with_its_row_numbers(store, tmp_path):
    """The first sheet of an .xlsx: typed cells as Excel typed them, a column of mixed cells
    as text; a rejected row names its sheet row; other sheets are said, not read."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Orders 2024"
    sheet.append(["InvoiceNo", "InvoiceDate", "CustomerID", "Quantity", "UnitPrice"])
    sheet.append([536365, datetime(2024, 1, 2, 8, 26), 17850, 6, 2.55])
    sheet.append([536366, datetime(2024, 1, 3, 9, 0), 17850, 2, "abc"])  # row 3: bad price
    sheet.append([536367, "2024-01-04 10:00", None, 1, 3.0])  # row 4: no customer
    sheet.append([536368, "2024-01-05", 13047.0, 1, "1,5"])  # text date, decimal comma
    book.create_sheet("Returns").append(["InvoiceNo"])
    path = tmp_path / "retail.xlsx"
    book.save(path)
    report = ingest(path, db=store, now=NOW)
    assert (report.rows_read, report.accepted, report.rejected) == (4, 2, 2)
    assert any(
        "read the first sheet, 'Orders 2024'" in n and "'Returns'" in n for n in report.notes
    )
    rejected = store.con.execute(
        "SELECT source, line, reason FROM rejected_rows ORDER BY line"
    ).fetchall()
    assert rejected == [
        ("retail.xlsx", 3, "non-numeric unit_price"),
        ("retail.xlsx", 4, "missing customer_id"),
    ]
    rows = store.con.execute(
        'SELECT customer_id, order_id, "timestamp", amount FROM transactions ORDER BY line'
    ).fetchall()
    assert rows == [
        ("17850", "536365", datetime(2024, 1, 2, 8, 26), pytest.approx(6 * 2.55)),
        ("13047", "536368", datetime(2024, 1, 5), pytest.approx(1.5)),
    ]
