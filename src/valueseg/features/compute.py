"""Run the feature expressions on DuckDB (over the store) or on Spark (over Parquet)."""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from valueseg.features._input import duckdb_memory
from valueseg.features.table import feature_expr
from valueseg.store import Store

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import SparkSession

_INPUTS = ("transactions", "events", "customers")


def _present(store: Store) -> list[str]:
    counts = store.table_counts()
    return [t for t in _INPUTS if counts.get(t, 0) > 0]


def _expr(tables: dict[str, ir.Table], as_of: datetime, freq: str) -> ir.Table:
    """The feature expression over ``tables`` (by input name)."""
    return feature_expr(
        tables["transactions"],
        as_of,
        events=tables.get("events"),
        customers=tables.get("customers"),
        freq=freq,
    )


def _run(tables: dict[str, ir.Table], as_of: datetime, freq: str) -> pa.Table:
    """Build the feature expression over ``tables`` and execute it into Arrow."""
    return _expr(tables, as_of, freq).to_pyarrow()


def compute_features(
    store: Store,
    as_of: datetime,
    *,
    engine: str = "duckdb",
    freq: str = "D",
    spark_master: str = "local[2]",
) -> pa.Table:
    """The feature table of ``store`` at ``as_of`` as a pyarrow Table."""
    if engine == "spark":
        return _on_spark(store, as_of, freq, spark_master)
    con = ibis.duckdb.from_connection(store.con)
    tables = {name: con.table(name) for name in _present(store)}
    return _run(tables, as_of, freq)


def features_from_parquet(
    paths: dict[str, str],
    as_of: datetime,
    *,
    freq: str = "D",
    memory_limit: str | None = None,
    out: str | Path | None = None,
) -> pa.Table | Path:
    """Features straight from Parquet files (``{"transactions": path, ...}``) on DuckDB.

    DuckDB streams the files and spills to a temporary folder past ``memory_limit`` (e.g.
    ``"4GB"``), so the log may be larger than memory. Files need the store's column names;
    ``is_return`` defaults to false when absent. With ``out`` the table is streamed into
    that Parquet file (and its path returned) instead of being returned as a pyarrow Table:
    a few million customers' features need not fit in memory at once either.
    """
    con = duckdb_memory()
    with tempfile.TemporaryDirectory(prefix="valueseg-spill-") as spill:
        con.raw_sql(f"SET temp_directory = '{spill}'")
        if memory_limit:
            con.raw_sql(f"SET memory_limit = '{memory_limit}'")
        tables = {name: con.read_parquet(path) for name, path in paths.items()}
        tx = tables["transactions"]
        if "is_return" not in tx.columns:
            tables["transactions"] = tx.mutate(is_return=ibis.literal(False))
        if out is None:
            return _run(tables, as_of, freq)
        _expr(tables, as_of, freq).to_parquet(str(out))
        con.disconnect()
        return Path(out)


def spark_session(master: str = "local[2]") -> SparkSession:
    """A SparkSession for valueseg: UTC, no UI, modest shuffle partitions for local runs.

    On a local master the Python workers run this interpreter (where valueseg is
    installed) unless ``PYSPARK_PYTHON`` says otherwise; a cluster's executors need
    valueseg installed in theirs (README, Spark on a cluster).
    """
    from pyspark.sql import SparkSession

    if master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (
        SparkSession.builder.master(master)
        .appName("valueseg")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.driver.memory", "4g")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )


def _on_spark(store: Store, as_of: datetime, freq: str, master: str) -> pa.Table:
    with tempfile.TemporaryDirectory(prefix="valueseg-spark-") as tmp:
        paths = {}
        for name in _present(store):
            path = Path(tmp) / f"{name}.parquet"
            drop = "EXCLUDE (load_id, line)"
            store.con.execute(f"COPY (SELECT * {drop} FROM {name}) TO '{path}' (FORMAT parquet)")
            paths[name] = str(path)
        return features_on_spark(paths, as_of, freq=freq, master=master)


def features_on_spark(
    paths: dict[str, str], as_of: datetime, *, freq: str = "D", master: str = "local[2]"
) -> pa.Table:
    """The same feature expression, run by Spark over Parquet files (one per input)."""
    session = spark_session(master)
    session.sparkContext.setLogLevel("ERROR")
    con = ibis.pyspark.connect(session)
    tables = {name: con.read_parquet(path) for name, path in paths.items()}
    return _run(tables, as_of, freq)
