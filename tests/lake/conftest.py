"""A synthetic shop written as Parquet, run once by each engine for the lake tests."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from valueseg.io import ingest
from valueseg.store import Store


def spark_ready() -> bool:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return shutil.which("java") is not None or "JAVA_HOME" in os.environ


needs_spark = pytest.mark.skipif(not spark_ready(), reason="needs the spark extra and Java")
#: Warnings of py4j and pyspark that are not ours to fix (as in tests/features).
SPARK_WARNINGS = pytest.mark.filterwarnings(
    "ignore::ResourceWarning",
    "ignore::pytest.PytestUnraisableExceptionWarning",
    "ignore:The copy keyword is deprecated",
)
NOW = datetime(2025, 1, 2)


def write_parquet(frame: pd.DataFrame, path: Path) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, coerce_timestamps="us", allow_truncated_timestamps=True)
    return str(path)


@pytest.fixture(scope="session")
def spark():
    from valueseg.features.compute import spark_session

    session = spark_session("local[2]")
    session.sparkContext.setLogLevel("ERROR")
    return session


@dataclass
class Shop:
    files: dict[str, str]
    folder: Path


@pytest.fixture(scope="session")
def shop_files(tmp_path_factory) -> Shop:
    from valueseg.synth import make_shop

    folder = tmp_path_factory.mktemp("lake")
    shop = make_shop(700, random_state=3)
    files = {
        name: write_parquet(getattr(shop, name), folder / f"{name}.parquet")
        for name in ("transactions", "events", "customers")
    }
    return Shop(files, folder)


@pytest.fixture(scope="session")
def both(shop_files, spark, tmp_path_factory):
    """The lake run (into ``OUT``) and the DuckDB run's stages over the same files: ``lake,
    out, as_of, features, values, segments, predicted``."""
    from valueseg.features.compute import compute_features
    from valueseg.lake import run_lake
    from valueseg.pipeline import _value_models, default_as_of
    from valueseg.predict.stage import predict_stage
    from valueseg.segment.lenses import segment_customers

    out = str(tmp_path_factory.mktemp("out") / "lake")
    files = shop_files.files
    lake = run_lake(
        files["transactions"],
        events=files["events"],
        customers=files["customers"],
        out=out,
        now=NOW,
        spark=spark,
    )
    with Store(shop_files.folder / "duck.duckdb") as store:
        for kind, path in files.items():
            ingest(path, kind=kind, db=store, now=NOW)
        as_of = default_as_of(store)
        features = compute_features(store, as_of).to_pandas()
        values = _value_models(store, as_of, features, "D")
        segments = segment_customers(features, values.scores)
        predicted = predict_stage(store, as_of, features, values, random_state=0)
    return lake, out, as_of, features, values, segments, predicted
