"""What a lake run writes under ``OUT``: one partition ``run_id=N`` per table and run.

``OUT/runs`` gets the run's row last, ``succeeded`` (or ``failed`` with the message): a
run killed on the way leaves partitions no ``runs`` row points to, which readers ignore.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from valueseg.lake.frames import exists, path

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: Spark DDL of the small tables, in the store's column order (docs/lake.md).
SCHEMAS = {
    "runs": "as_of TIMESTAMP, started_at TIMESTAMP, finished_at TIMESTAMP, status STRING, "
    "parameters STRING, input_fingerprint STRING, message STRING",
    "model_fits": "model STRING, params STRING, loglik DOUBLE, aic DOUBLE, bic DOUBLE, "
    "converged BOOLEAN, chosen BOOLEAN, backtest STRING",
    "segments": "lens STRING, segment STRING, size BIGINT, revenue_share DOUBLE, "
    "profile STRING, rules STRING",
    "run_notes": "stage STRING, note STRING",
    "predict_fits": "task STRING, model STRING, params STRING, metrics STRING, "
    "chosen BOOLEAN, reason STRING",
    "predict_validation": "task STRING, row INT, target DOUBLE, model STRING, prediction DOUBLE",
}


def next_run_id(spark: SparkSession, out: str) -> int:
    """One more than the highest ``run_id`` under ``OUT/runs`` (1 for a new ``OUT``)."""
    from pyspark.sql import functions as F

    runs = path(out, "runs")
    if not exists(spark, runs):
        return 1
    row = spark.read.parquet(runs).agg(F.max("run_id")).first()
    return 1 if row is None or row[0] is None else int(row[0]) + 1


def write(frame: DataFrame, out: str, table: str, run_id: int) -> str:
    """Write ``frame`` as the run's partition of ``OUT/table``; return its path."""
    target = path(out, table, run_id)
    frame.write.mode("overwrite").parquet(target)
    return target


def write_rows(
    spark: SparkSession,
    rows: pd.DataFrame | list[dict[str, Any]],
    out: str,
    table: str,
    run_id: int,
) -> None:
    """Write a small table of rows (driver-side) with its schema of :data:`SCHEMAS`."""
    frame = pd.DataFrame(rows)
    columns = [c.split()[0] for c in SCHEMAS[table].split(", ")]
    data = [tuple(_plain(r[c]) for c in columns) for r in frame.to_dict("records")]
    write(spark.createDataFrame(data, SCHEMAS[table]).coalesce(1), out, table, run_id)


def _plain(value: Any) -> Any:
    """A JSON-ready Python value (numpy scalars as Python ones, NaN as None)."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def fit_rows(fits: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``model_fits`` rows: parameters and back-test as JSON, as the store keeps them."""
    return [
        {
            **{k: fit[k] for k in ("model", "loglik", "aic", "bic", "converged", "chosen")},
            "params": json.dumps(fit["params"]),
            "backtest": json.dumps(fit["backtest"]),
        }
        for fit in fits
    ]


def predict_fit_rows(fits: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``predict_fits`` rows: parameters and metrics as JSON, as
    :func:`valueseg.store.predict.write_predict_fits` keeps them."""
    return [
        {
            "task": fit["task"],
            "model": fit["model"],
            "params": json.dumps(fit["params"]),
            "metrics": json.dumps(fit["metrics"]),
            "chosen": bool(fit["chosen"]),
            "reason": fit.get("reason"),
        }
        for fit in fits
    ]


def run_row(
    as_of: datetime | None,
    started: datetime,
    status: str,
    parameters: Mapping[str, Any],
    message: str | None = None,
) -> dict[str, Any]:
    """The run's ``runs`` row."""
    return {
        "as_of": as_of,
        "started_at": started,
        "finished_at": datetime.now(),
        "status": status,
        "parameters": json.dumps(parameters, default=str),
        "input_fingerprint": None,
        "message": message,
    }
