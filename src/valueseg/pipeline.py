"""One run: features (and, as later capabilities land, models and segments) into the store.

A run is a row of ``runs``. Everything it derives is written in one transaction with its
``run_id``: a run killed half way leaves the previous runs intact, and the next run marks
it ``failed``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from valueseg.errors import InputError
from valueseg.store import DEFAULT_DB, Store

ENGINES = ("duckdb", "spark")


@dataclass
class RunResult:
    """What a run did."""

    run_id: int
    as_of: datetime
    engine: str
    customers: int
    feature_columns: list[str]
    seconds: dict[str, float] = field(default_factory=dict)
    values: Any = None  # valueseg.models.selection.ValueModels
    segments: Any = None  # valueseg.segment.lenses.SegmentResult


def default_as_of(store: Store) -> datetime:
    """Midnight after the day of the last order: the last day counts in full."""
    row = store.con.execute('SELECT max("timestamp") FROM transactions').fetchone()
    if row is None or row[0] is None:
        raise InputError(
            f"Store {store.path} holds no transactions. Load orders first: "
            f"valueseg ingest FILE --db {store.path}"
        )
    last: datetime = row[0]
    return datetime(last.year, last.month, last.day) + timedelta(days=1)


def _input_fingerprint(store: Store) -> str:
    rows = store.con.execute("SELECT kind, fingerprint FROM loads ORDER BY load_id").fetchall()
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:32]


def _start(store: Store, as_of: datetime, params: dict[str, Any]) -> int:
    con = store.con
    con.execute(
        "UPDATE runs SET status = 'failed', message = 'interrupted before it finished' "
        "WHERE status = 'running'"
    )
    row = con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM runs").fetchone()
    run_id = int(row[0]) if row else 1
    con.execute(
        "INSERT INTO runs (run_id, as_of, started_at, status, parameters, input_fingerprint) "
        "VALUES (?, ?, now()::TIMESTAMP, 'running', ?, ?)",
        [run_id, as_of, json.dumps(params), _input_fingerprint(store)],
    )
    return run_id


def _check_as_of(store: Store, as_of: datetime) -> None:
    row = store.con.execute(
        'SELECT min("timestamp"), max("timestamp"), count(*) FROM transactions WHERE NOT is_return'
    ).fetchone()
    assert row is not None
    if row[0] is None or as_of <= row[0]:
        span = f"{row[0]:%Y-%m-%d} to {row[1]:%Y-%m-%d}" if row[0] is not None else "none"
        raise InputError(
            f"No orders before --as-of {as_of:%Y-%m-%d}: the store holds {row[2]:,} purchase "
            f"lines from {span}. Pick an --as-of after the first order."
        )


def run(
    db: str | Path | Store = DEFAULT_DB,
    *,
    as_of: Any = None,
    engine: str = "duckdb",
    freq: str = "D",
    spark_master: str = "local[2]",
    segments_config: str | Path | None = None,
    random_state: int = 0,
    progress: Callable[[str], None] | None = None,
) -> RunResult:
    """Compute this run's customer features into the store.

    Parameters
    ----------
    db : path or Store
    as_of : date, optional
        Observation end. Default: midnight after the last order.
    engine : {"duckdb", "spark"}
        Where the features are computed; both give the same numbers.
    freq : {"D", "W", "h", "M"}
        Period of the RFM summary.
    spark_master : str
        ``spark.master`` for ``engine="spark"`` (``local[2]`` here; a cluster URL there).
    segments_config : path, optional
        TOML file with an R×F grid replacing the packaged one.
    random_state : int
        Seed of the clustering.
    """
    if engine not in ENGINES:
        raise InputError(f"Unknown engine {engine!r}. Expected one of: {', '.join(ENGINES)}.")
    own = not isinstance(db, Store)
    store = Store(db) if not isinstance(db, Store) else db
    say = progress or (lambda _msg: None)
    try:
        when = default_as_of(store) if as_of is None else pd.Timestamp(as_of).to_pydatetime()
        _check_as_of(store, when)
        params = {"as_of": when.isoformat(), "engine": engine, "freq": freq}
        run_id = _start(store, when, params)
        seconds: dict[str, float] = {}
        started = time.perf_counter()
        say(f"computing features on {engine}")
        from valueseg.features.compute import compute_features

        features = compute_features(
            store, when, engine=engine, freq=freq, spark_master=spark_master
        )
        seconds["features"] = time.perf_counter() - started
        started = time.perf_counter()
        say("back-testing and fitting value models")
        table = features.to_pandas()
        values = _value_models(store, when, table, freq)
        seconds["models"] = time.perf_counter() - started
        started = time.perf_counter()
        say("segmenting customers")
        segments = _segments(store, table, values.scores, segments_config, random_state)
        seconds["segments"] = time.perf_counter() - started
        say("writing")
        started = time.perf_counter()
        scores = values.scores.merge(segments.customers, on="customer_id", how="outer")
        with store.transaction():
            _write_features(store, run_id, features)
            _write_frame(store, "customer_scores", run_id, scores)
            _write_frame(store, "segments", run_id, segments.segments)
            _write_fits(store, run_id, values.fits())
            store.con.execute(
                "UPDATE runs SET status = 'succeeded', finished_at = now()::TIMESTAMP "
                "WHERE run_id = ?",
                [run_id],
            )
        seconds["write"] = time.perf_counter() - started
        columns = [c for c in features.column_names if c != "customer_id"]
        return RunResult(
            run_id,
            when,
            engine,
            features.num_rows,
            columns,
            seconds,
            values=values,
            segments=segments,
        )
    finally:
        if own:
            store.close()


def _write_features(store: Store, run_id: int, features: Any) -> None:
    """Add columns the table lacks, then insert this run's rows by column name."""
    con = store.con
    existing = set(store.columns("customer_features"))
    con.register("_vs_features", features)
    try:
        for name, dtype, *_ in con.execute("DESCRIBE _vs_features").fetchall():
            if name not in existing:
                con.execute(f'ALTER TABLE customer_features ADD COLUMN "{name}" {dtype}')
    finally:
        con.unregister("_vs_features")
    _write_frame(store, "customer_features", run_id, features)


def _value_models(store: Store, as_of: datetime, features: pd.DataFrame, freq: str) -> Any:
    """Back-test the purchase models on a holdout before ``as_of``, choose one, score all."""
    from valueseg.features import calibration_holdout
    from valueseg.models.selection import holdout_start, value_models

    summary = features[["customer_id", "frequency", "recency", "T", "monetary_value"]]
    row = store.con.execute(
        'SELECT min("timestamp") FROM transactions WHERE NOT is_return AND "timestamp" <= ?',
        [as_of],
    ).fetchone()
    assert row is not None and row[0] is not None  # _check_as_of saw orders
    cal_end = holdout_start(row[0], as_of)
    cal, why = None, ""
    if (as_of - cal_end).days < 1 or cal_end <= row[0]:
        why = f"history from {row[0]:%Y-%m-%d} to {as_of:%Y-%m-%d} is too short for a holdout"
    else:
        try:
            cal = calibration_holdout(
                store, calibration_end=cal_end, observation_end=as_of, freq=freq
            )
        except InputError as exc:
            why = str(exc)
    if cal is not None:
        spend = store.con.execute(
            "SELECT customer_id, sum(amount) AS spend_holdout FROM transactions "
            'WHERE NOT is_return AND "timestamp" > ? AND "timestamp" <= ? GROUP BY customer_id',
            [cal_end, as_of],
        ).df()
        cal = cal.merge(spend, on="customer_id", how="left").fillna({"spend_holdout": 0.0})
    return value_models(cal, summary, freq=freq, why_no_cal=why)


def _segments(
    store: Store,
    features: pd.DataFrame,
    scores: pd.DataFrame,
    grid: str | Path | None,
    random_state: int,
) -> Any:
    """RFM segments, value tiers and clusters; cluster names carried from the last run."""
    from valueseg.segment.lenses import segment_customers
    from valueseg.segment.stored import previous_segments

    return segment_customers(
        features, scores, grid=grid, previous=previous_segments(store), random_state=random_state
    )


def _write_frame(store: Store, table: str, run_id: int, frame: Any) -> None:
    """Insert ``frame``'s rows (pandas or Arrow) into ``table`` by name, with ``run_id``."""
    con = store.con
    con.register("_vs_frame", frame)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT {run_id} AS run_id, * FROM _vs_frame")
    finally:
        con.unregister("_vs_frame")


def _write_fits(store: Store, run_id: int, fits: list[dict[str, Any]]) -> None:
    for fit in fits:
        store.con.execute(
            "INSERT INTO model_fits (run_id, model, params, loglik, aic, bic, converged, "
            "chosen, backtest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                fit["model"],
                json.dumps(fit["params"]),
                fit["loglik"],
                fit["aic"],
                fit["bic"],
                fit["converged"],
                fit["chosen"],
                json.dumps(fit["backtest"]),
            ],
        )
