"""Read an input where it lies: Parquet, CSV or Delta, at any URI Spark reads."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from valueseg.errors import InputError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_CSV = (".csv", ".csv.gz", ".tsv", ".txt")
FLAGS = {"transactions": "--transactions", "events": "--events", "customers": "--customers"}


def input_format(uri: str) -> str:
    """``csv`` for a name ending .csv (.csv.gz, .tsv, .txt), ``delta`` for a local Delta
    table (a folder with ``_delta_log``), else ``parquet``.

    Examples
    --------
    >>> input_format("s3a://shop/orders/*.csv"), input_format("s3a://shop/orders/")
    ('csv', 'parquet')
    """
    lowered = uri.lower().rstrip("/")
    if lowered.endswith(_CSV):
        return "csv"
    if "://" not in uri and (Path(uri) / "_delta_log").is_dir():
        return "delta"
    return "parquet"


def read_input(spark: SparkSession, uri: str, kind: str) -> DataFrame:
    """The rows of ``uri`` as Spark reads them (CSV: every column as text, with a header).

    Raises :class:`InputError` naming the flag when Spark finds nothing there.
    """
    from pyspark.errors import AnalysisException

    fmt = input_format(uri)
    reader = spark.read.format(fmt)
    if fmt == "csv":
        sep = "\t" if uri.lower().endswith(".tsv") else ","
        reader = reader.option("header", "true").option("sep", sep)
    try:
        frame = reader.load(uri)
    except AnalysisException as exc:
        text = str(exc).splitlines()[0]
        raise InputError(
            f"Cannot read {FLAGS[kind]} {uri}: {text}. Pass a Parquet or CSV path Spark can "
            "read (a local path, a glob, s3a://, abfss://, hdfs://); object stores need "
            "their connector on the classpath (README, Spark on a cluster)."
        ) from exc
    if not frame.columns:
        raise InputError(f"{FLAGS[kind]} {uri} has no columns. Expected a table of {kind}.")
    return frame
