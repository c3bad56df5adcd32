"""``valueseg run --engine spark --transactions URI --out URI``: the run, lake to lake."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from valueseg.errors import InputError, ValuesegError
from valueseg.lake.frames import as_ibis, as_spark, path, remove
from valueseg.lake.inputs import InputCounts, load_input, split_mapping
from valueseg.lake.learners import NONE, lake_learners
from valueseg.lake.write import (
    fit_rows,
    next_run_id,
    predict_fit_rows,
    run_row,
    write,
    write_rows,
)
from valueseg.params import RunParams, check_run_params
from valueseg.predict.learners import LEARNERS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from valueseg.lake.learners import FittedLearners
    from valueseg.models.choice import ValueModels

__all__ = ["LakeResult", "run_lake"]


@dataclass
class LakeResult:
    """What a lake run did and where it wrote it."""

    run_id: int
    as_of: datetime
    out: str
    customers: int
    inputs: list[InputCounts]
    feature_columns: list[str]
    values: ValueModels | None = None
    notes: list[tuple[str, str]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    learners: FittedLearners | None = None


def run_lake(
    transactions: str,
    *,
    out: str,
    events: str | None = None,
    customers: str | None = None,
    mapping: Mapping[str, str] | None = None,
    as_of: Any = None,
    freq: str = "D",
    spark_master: str = "local[2]",
    segments_config: str | Path | None = None,
    random_state: int = 0,
    clusters: str | tuple[int, int] = "3-8",
    horizon_days: int = 90,
    learners: str | Sequence[str] = LEARNERS,
    now: datetime | None = None,
    spark: SparkSession | None = None,
    progress: Callable[[str], None] | None = None,
) -> LakeResult:
    """Features, value models, scores and segments of every customer, from Parquet (or CSV,
    Delta) at ``transactions`` to Parquet under ``out``, computed by Spark.

    Parameters are those of :func:`valueseg.pipeline.run` where they share a name; the
    inputs are URIs (local paths, globs, ``s3a://``, ``abfss://``, ``hdfs://``) and
    ``mapping`` is ``--map``: ``TARGET=SOURCE`` for the transactions, ``events:TARGET``
    or ``customers:TARGET`` for the others. ``now`` (default: the clock) is the moment
    against which future timestamps are rejected. ``spark``: a session to use instead of
    one built for ``spark_master``. ``learners`` is ``--learners`` (``"none"``: skip the
    churn and spend learners; the sequence learner is refused): they are fitted on the
    clusters' sample of customers and applied to all (:mod:`valueseg.lake.learners`).
    """
    wanted = lake_learners(learners)
    params = check_run_params(
        as_of=as_of,
        engine="spark",
        freq=freq,
        spark_master=spark_master,
        segments_config=segments_config,
        random_state=random_state,
        clusters=clusters,
        horizon_days=horizon_days,
        learners=LEARNERS if wanted is None else wanted,
    )
    fit_learners = wanted is not None
    maps = split_mapping(mapping or {})
    if not str(out).strip():
        raise InputError("--out must name a folder (a path or URI) to write the run to.")
    if spark is None:
        from valueseg.features.compute import spark_session

        spark = spark_session(params.spark_master)
        spark.sparkContext.setLogLevel("ERROR")
    out = str(out).rstrip("/")
    run_id = next_run_id(spark, out)
    started = datetime.now()
    say = progress or (lambda _msg: None)
    sources = {"transactions": transactions, "events": events, "customers": customers}
    record = {**params.record(params.as_of or started), "inputs": sources}
    if not fit_learners:
        record["learners"] = NONE
    try:
        result = _stages(
            spark, out, run_id, sources, maps, params, fit_learners, now or datetime.now(), say
        )
    except BaseException as exc:
        message = str(exc) if isinstance(exc, ValuesegError) else f"{type(exc).__name__}: {exc}"
        try:
            write_rows(
                spark,
                [run_row(params.as_of, started, "failed", record, message)],
                out,
                "runs",
                run_id,
            )
        finally:
            remove(spark, path(out, "_staging"))
        raise
    record["as_of"] = result.as_of.isoformat()
    record["counts"] = {c.kind: c.__dict__ for c in result.inputs}
    write_rows(spark, [run_row(result.as_of, started, "succeeded", record)], out, "runs", run_id)
    remove(spark, path(out, "_staging"))
    return result


def _stages(
    spark: SparkSession,
    out: str,
    run_id: int,
    sources: dict[str, str | None],
    maps: dict[str, dict[str, str]],
    params: RunParams,
    fit_learners: bool,
    now: datetime,
    say: Callable[[str], None],
) -> LakeResult:
    import ibis
    from pyspark.sql import functions as F

    from valueseg.features.table import feature_expr
    from valueseg.lake.learners import explain_customers
    from valueseg.lake.learners import fit_learners as fit_on_sample
    from valueseg.lake.memory import release
    from valueseg.lake.segments import (
        apply_lenses,
        cluster_sample,
        edges,
        feature_sample,
        lens_rows,
        ranked,
    )
    from valueseg.lake.values import check_as_of, value_stage

    seconds: dict[str, float] = {}
    tick = time.perf_counter()
    say("reading and checking the inputs")
    loaded = {
        kind: load_input(
            spark, uri, kind, out=out, run_id=run_id, mapping=maps.get(kind, {}), now=now
        )
        for kind, uri in sources.items()
        if uri is not None
    }
    lines = loaded["transactions"].rows
    when = params.as_of or _default_as_of(lines)
    purchases = lines.filter(~F.col("is_return"))
    check_as_of(purchases, when)
    seconds["read"], tick = time.perf_counter() - tick, time.perf_counter()

    say("computing features on Spark")
    con = ibis.pyspark.connect(spark)
    tables = {k: as_ibis(con, v.rows, f"vs_{k}") for k, v in loaded.items()}
    expr = feature_expr(
        tables["transactions"],
        when,
        events=tables.get("events"),
        customers=tables.get("customers"),
        freq=params.freq,
    )
    features = spark.read.parquet(write(as_spark(con, expr), out, "customer_features", run_id))
    n = features.count()
    if n == 0:
        raise InputError(f"No customer bought by --as-of {when:%Y-%m-%d}. Pick a later --as-of.")
    seconds["features"], tick = time.perf_counter() - tick, time.perf_counter()

    say("back-testing and fitting value models")
    stage = value_stage(con, purchases, features, when, params.freq, n)
    staged = path(out, "_staging/scores", run_id)
    stage.scores.write.mode("overwrite").parquet(staged)
    joined = features.join(spark.read.parquet(staged), "customer_id")
    release()
    seconds["models"], tick = time.perf_counter() - tick, time.perf_counter()

    say("collecting the sample of customers")
    sample = feature_sample(features, n, params.random_state)
    seconds["sample"], tick = time.perf_counter() - tick, time.perf_counter()
    fitted = None
    if fit_learners:
        say("training churn and spend learners on a sample")
        inputs = {kind: v.rows for kind, v in loaded.items()}
        fitted = fit_on_sample(inputs, sample.copy(), n, stage.values, when, params, say)
        release()
        seconds["learners"], tick = time.perf_counter() - tick, time.perf_counter()
    scorer = None if fitted is None else spark.sparkContext.broadcast(fitted.scorer)

    say("segmenting customers")
    clv = joined.filter(F.col("predicted_clv_365d").isNotNull()).limit(1).count()
    value_column = "predicted_clv_365d" if clv else "spend_total"
    ranks_path = path(out, "_staging/ranked", run_id)
    ranked(joined, value_column).write.mode("overwrite").parquet(ranks_path)
    cuts = edges(spark.read.parquet(ranks_path), n, value_column)
    clustered = cluster_sample(
        features,
        n,
        grid=params.grid,
        random_state=params.random_state,
        clusters=params.clusters,
        sample=sample,
    )
    del sample
    release()
    final_path = path(out, "_staging/final", run_id)
    lensed = apply_lenses(joined, cuts, params.grid, clustered, features.columns, scorer)
    lensed.write.mode("overwrite").parquet(final_path)
    seconds["segments"], tick = time.perf_counter() - tick, time.perf_counter()
    if scorer is not None:
        if fitted is not None and fitted.scorer.explainer is not None:
            say("explaining each customer's churn score")
            write(explain_customers(features, scorer), out, "customer_reasons", run_id)
            seconds["reasons"], tick = time.perf_counter() - tick, time.perf_counter()
        scorer.destroy()
    final = spark.read.parquet(final_path)
    write(final.drop("_revenue"), out, "customer_scores", run_id)
    write_rows(spark, lens_rows(final, clustered), out, "segments", run_id)
    seconds["segments"] += time.perf_counter() - tick
    tick = time.perf_counter()

    say("writing")
    values = stage.values
    write_rows(spark, fit_rows(values.fits()), out, "model_fits", run_id)
    if fitted is not None:
        from valueseg.predict.sample import validation_sample

        write_rows(spark, predict_fit_rows(fitted.result.fits), out, "predict_fits", run_id)
        shown = validation_sample(fitted.result.validation, random_state=params.random_state)
        if len(shown):
            write_rows(spark, shown, out, "predict_validation", run_id)
    skipped = (
        "the churn and spend learners were skipped (--learners none): churn_probability, "
        "predicted_spend_90d and expected_next_order_date are left empty"
    )
    notes = [
        *(
            ("ingest", f"{c.kind}: {note}")
            for c in (v.counts for v in loaded.values())
            for note in c.notes
        ),
        *(("models", note) for note in values.notes),
        *(("predict", note) for note in (fitted.notes if fitted is not None else [skipped])),
        *(("segments", note) for note in clustered.notes),
    ]
    if notes:
        write_rows(spark, [{"stage": s, "note": t} for s, t in notes], out, "run_notes", run_id)
    seconds["write"] = time.perf_counter() - tick
    columns = [c for c in features.columns if c != "customer_id"]
    counts = [v.counts for v in loaded.values()]
    return LakeResult(run_id, when, out, n, counts, columns, values, notes, seconds, fitted)


def _default_as_of(lines: DataFrame) -> datetime:
    """Midnight after the day of the last line (returns included), as the DuckDB run."""
    from pyspark.sql import functions as F

    row = lines.agg(F.max("timestamp")).first()
    assert row is not None and row[0] is not None  # load_input refused an empty input
    last = row[0]
    return datetime(last.year, last.month, last.day) + timedelta(days=1)
