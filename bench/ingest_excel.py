"""Ingest of an Excel workbook: valueseg against pandas' default Excel reader + ``to_sql``.

Writes (once, cached in ``--workdir``) an .xlsx shaped like the UCI Online Retail workbook
(one sheet; customer ids missing on 2 % of rows, so Excel stores them as numbers with
blanks), then times, in this process, side by side:

* ``valueseg ingest``: read the sheet (python-calamine), parse, validate, quarantine,
  de-duplicate and write a fresh store;
* ``pandas read_excel + to_sql``: ``pandas.read_excel`` with its default engine (openpyxl)
  and ``DataFrame.to_sql`` into SQLite, what a user would write by hand (no checks).

Run: ``python bench/ingest_excel.py`` (``--rows 100000`` by default; ``--repeat`` runs each,
best and median shown). Needs openpyxl (the dev extra) to write the workbook.
"""

from __future__ import annotations

import argparse
import datetime
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from valueseg.io import ingest
from valueseg.store import Store

HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice"]
HEADER += ["CustomerID", "Country"]


def make_workbook(workdir: Path, rows: int) -> Path:
    import openpyxl

    path = workdir / f"online_retail_{rows}.xlsx"
    if path.exists():
        return path
    workdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Online Retail")
    sheet.append(HEADER)
    start = datetime.datetime(2010, 12, 1, 8, 0)
    for i in range(rows):
        customer = 12346 + (i // 4 * 7919) % max(rows // 25, 1) if i % 50 else None
        sheet.append(
            [
                536365 + i // 4,
                f"{85000 + i % 4000}",
                "WHITE HANGING HEART T-LIGHT HOLDER",
                rng.randint(1, 24),
                start + datetime.timedelta(minutes=i // 4 * 7),
                round(rng.uniform(0.3, 12.0), 2),
                customer,
                "United Kingdom",
            ]
        )
    book.save(path)
    return path


def time_valueseg(path: Path, tmp: Path, run: int) -> tuple[float, int]:
    store = Store(tmp / f"vs_{run}.duckdb")
    start = time.perf_counter()
    report = ingest(path, db=store, now=datetime.datetime(2025, 1, 1))
    seconds = time.perf_counter() - start
    store.close()
    return seconds, report.accepted


def time_pandas(path: Path, tmp: Path, run: int) -> tuple[float, int]:
    start = time.perf_counter()
    frame = pd.read_excel(path, engine="openpyxl")  # pandas' default engine for .xlsx
    with sqlite3.connect(tmp / f"pd_{run}.sqlite") as con:
        frame.to_sql("transactions", con, index=False)
    return time.perf_counter() - start, len(frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("bench/_data"))
    args = parser.parse_args()
    path = make_workbook(args.workdir, args.rows)
    print(f"{path.name}: {args.rows:,} rows, {path.stat().st_size / 1e6:.1f} MB")
    times: dict[str, list[float]] = {"valueseg ingest": [], "pandas read_excel + to_sql": []}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.repeat):  # round-robin
            seconds, accepted = time_valueseg(path, Path(tmp), run)
            times["valueseg ingest"].append(seconds)
            seconds, rows = time_pandas(path, Path(tmp), run)
            times["pandas read_excel + to_sql"].append(seconds)
    print(f"valueseg accepted {accepted:,} rows (the rest lack a customer id); pandas {rows:,}")
    ours = min(times["valueseg ingest"])
    for name, values in times.items():
        best = min(values)
        print(
            f"{name:<28} best {best:6.2f} s  median {statistics.median(values):6.2f} s  "
            f"{args.rows / best:>10,.0f} rows/s  {best / ours:5.1f}x valueseg's time"
        )


if __name__ == "__main__":
    main()
