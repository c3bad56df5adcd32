"""Turn what a user passes (pandas, polars, a Parquet path, a Store) into an Ibis table."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias, cast

import ibis
import ibis.expr.types as ir
import numpy as np

from valueseg.errors import InputError

if TYPE_CHECKING:
    import datetime

    import duckdb
    import pandas as pd
    import polars as pl
    from ibis.backends.duckdb import Backend as DuckDBBackend

    from valueseg.store import Store

    #: What the summaries read: a pandas or polars frame, a Parquet file, or a store.
    OrdersInput: TypeAlias = pd.DataFrame | pl.DataFrame | str | Path | Store
    #: A date or moment as the summaries and reports take it (read by ``pandas.Timestamp``).
    DateLike: TypeAlias = str | datetime.date | np.datetime64


def duckdb_memory() -> DuckDBBackend:
    """An in-memory DuckDB for Ibis, without DuckDB's own progress bar on the terminal."""
    con = ibis.duckdb.connect()
    con.raw_sql("SET enable_progress_bar = false")
    return con


_shared: list[duckdb.DuckDBPyConnection] = []  # the process's in-memory DuckDB, once opened
_shared_lock = threading.Lock()


def _close_shared() -> None:
    """Close the shared database (before a fork: a child that inherits an open DuckDB
    crashes when it exits, as the database's threads stayed in the parent)."""
    with _shared_lock:
        for con in _shared:
            con.close()
        _shared.clear()


os.register_at_fork(before=_close_shared)


@contextmanager
def duckdb_session() -> Iterator[DuckDBBackend]:
    """A connection (for Ibis) to this process's in-memory DuckDB, closed on exit.

    Every summary of a frame or file gets its own connection, so what it registers is
    private and gone when it ends, but they share one database: its memory is already
    mapped, where a new database pays for fresh pages again (a tenth of a summary of a
    million customers). The database is closed before the process forks.
    """
    import duckdb

    with _shared_lock:
        if not _shared:
            _shared.append(duckdb.connect())
        cursor = _shared[0].cursor()
    try:
        con = ibis.duckdb.from_connection(cursor)
        con.raw_sql("SET enable_progress_bar = false")
        yield con
    finally:
        cursor.close()


#: Rows per Arrow batch handed to DuckDB (its row-group size: one batch per thread task).
_BATCH_ROWS = 122_880


def _frame_columns(frame: pd.DataFrame | pl.DataFrame) -> list[str]:
    return [str(c) for c in frame.columns]


def _check_columns(available: Sequence[str], needed: Sequence[str], what: str) -> None:
    from valueseg.errors import did_you_mean

    for col in needed:
        if col not in available:
            hint = did_you_mean(col, available)
            tip = f" Did you mean '{hint}'?" if hint else ""
            raise InputError(
                f"Column '{col}' not found in {what}. Available: {', '.join(available)}.{tip} "
                "Pass the right name with customer_id_col=, datetime_col= or "
                "monetary_value_col=."
            )


#: Column orders_table adds: the position of each line in the input (see its docstring).
ROW = "_vs_row"


@contextmanager
def orders_table(
    transactions: OrdersInput, needed: Sequence[str], datetime_col: str
) -> Iterator[ir.Table]:
    """The table of purchase lines (DuckDB, for Ibis) of any supported input, while open.

    pandas and polars frames are scanned in place by DuckDB (no copy); a Store gives its
    ``transactions`` table without the return lines. The table has a column ``ROW`` that
    orders the lines as the input does: the row number of a frame or a Parquet file, the
    load and line of a Store. Frames and files are read through a :func:`duckdb_session`.
    """
    from valueseg.store import Store

    if isinstance(transactions, Store):
        con = ibis.duckdb.from_connection(transactions.con)
        table = con.table("transactions")
        _check_columns(table.columns, needed, "the store's transactions")
        row = table.load_id.cast("int64") * (1 << 40) + table.line.cast("int64")
        yield table.filter(~table.is_return).mutate(**{ROW: row})
        return
    with duckdb_session() as con:
        yield _input_table(con, transactions, needed, datetime_col)


def _input_table(
    con: DuckDBBackend, transactions: OrdersInput, needed: Sequence[str], datetime_col: str
) -> ir.Table:
    if isinstance(transactions, (str, Path)):
        path = Path(transactions)
        if not path.exists():
            raise InputError(f"File not found: {path}. Expected a Parquet file of orders.")
        table = con.read_parquet(str(path), file_row_number=True)
        _check_columns(table.columns, needed, path.name)
        _check_text_values(table, needed, datetime_col, path.name)
        return table.rename({ROW: "file_row_number"})
    module = type(transactions).__module__.split(".")[0]
    if module in ("pandas", "polars") and type(transactions).__name__ == "DataFrame":
        # (checked by name: importing polars to ask isinstance would cost every caller)
        frame = cast("pd.DataFrame | pl.DataFrame", transactions)
        _check_columns(_frame_columns(frame), needed, "the DataFrame")
        if module == "pandas":
            # As Arrow: pandas' Arrow-backed strings pass without a copy, while DuckDB's
            # pandas scan would turn each into a Python object first.
            import pyarrow as pa

            # (a time column it converts is the only one copied)
            naive = _naive_utc(cast("pd.DataFrame", frame), datetime_col)
            arrow = pa.Table.from_pandas(naive, columns=list(needed), preserve_index=False)
            rows = np.arange(len(arrow), dtype=np.int32 if len(arrow) < 2**31 else np.int64)
            arrow = arrow.append_column(ROW, pa.array(rows))
            # in DuckDB-sized batches: one big chunk would be scanned by one thread
            scanned = pa.Table.from_batches(arrow.to_batches(max_chunksize=_BATCH_ROWS))
        else:
            scanned = cast("pl.DataFrame", frame).select(list(needed)).with_row_index(ROW)
        con.con.register("_vs_orders", scanned)
        table = con.table("_vs_orders")
        _check_text_values(table, needed, datetime_col, "the DataFrame")
        return table
    raise InputError(
        f"Cannot summarise a {type(transactions).__name__}. Expected a pandas or polars "
        "DataFrame, a Parquet path or a valueseg Store."
    )


def _check_text_values(
    table: ir.Table, needed: Sequence[str], datetime_col: str, what: str
) -> None:
    """A time or amount column stored as text must read as one, or the error says where.

    (The engine would stop at the first bad value with a message about casting.)
    """
    for col in needed[1:]:  # the customer id is text anyway
        if not table[col].type().is_string():
            continue
        target, kind = ("timestamp", "dates") if col == datetime_col else ("float64", "numbers")
        bad = table.filter(table[col].notnull() & table[col].try_cast(target).isnull())
        found = bad.aggregate(n=bad.count(), example=bad[col].min()).to_pyarrow().to_pylist()[0]
        if found["n"]:
            fix = (
                "Write the times as YYYY-MM-DD HH:MM:SS"
                if kind == "dates"
                else "Write the amounts as plain numbers (a dot for decimals)"
            )
            n = found["n"]
            values = f"{n:,} values that are" if n != 1 else "1 value that is"
            raise InputError(
                f"Column '{col}' of {what} holds {values} not {kind} "
                f"(for example {found['example']!r}). {fix}, or load the orders with "
                "`valueseg ingest`, which reads common formats and quarantines the rows it "
                "cannot read, and summarise the store."
            )


def _naive_utc(frame: pd.DataFrame, col: str) -> pd.DataFrame:
    """A time-zone aware, text or mixed timestamp column becomes naive UTC, as in ingest."""
    import pandas as pd

    if col not in frame.columns:
        return frame
    series = frame[col]
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return frame.assign(**{col: series.dt.tz_convert("UTC").dt.tz_localize(None)})
    if pd.api.types.is_datetime64_dtype(series.dtype):
        return frame
    try:
        parsed = pd.to_datetime(series, utc=True, format="mixed")
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"Column '{col}' of the DataFrame holds values that are not dates ({exc}). "
            "Convert it with pandas.to_datetime first."
        ) from exc
    return frame.assign(**{col: parsed.dt.tz_localize(None)})
