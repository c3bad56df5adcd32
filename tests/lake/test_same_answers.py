"""A lake run on Spark and a DuckDB run over the same Parquet files give the same answers:
features and scores to 1e-9, the value model's choice and parameters to 1e-6, the same RFM
segments and value tiers, and (the sample being every customer here) the same clusters."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.lake.conftest import NOW, SPARK_WARNINGS, needs_spark
from valueseg.io import ingest
from valueseg.store import Store

pytestmark = [pytest.mark.slow, needs_spark, SPARK_WARNINGS]


def _read(out, table, run_id=1) -> pd.DataFrame:
    return pq.read_table(f"{out}/{table}/run_id={run_id}").to_pandas()


@pytest.fixture(scope="module")
def both(shop_files, spark, tmp_path_factory):
    from valueseg.features.compute import compute_features
    from valueseg.lake import run_lake
    from valueseg.pipeline import _value_models, default_as_of
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
    return lake, out, as_of, features, values, segments


def test_the_same_features(both):
    lake, out, as_of, features, _, _ = both
    assert lake.as_of == as_of
    spark = _read(out, "customer_features").sort_values("customer_id", ignore_index=True)
    assert sorted(spark.columns) == sorted(features.columns)
    assert spark.customer_id.tolist() == features.customer_id.tolist()
    for col in features.columns[1:]:
        np.testing.assert_allclose(
            spark[col].to_numpy(float),
            features[col].to_numpy(float),
            rtol=1e-9,
            atol=1e-9,
            equal_nan=True,
            err_msg=col,
        )


def test_the_same_model_choice_and_parameters(both):
    _, out, _, _, values, _ = both
    fits = _read(out, "model_fits").set_index("model")
    assert fits.loc[fits.chosen].index.tolist() == [values.chosen.name, "gamma_gamma"]
    duck = {row["model"]: row for row in values.fits()}
    assert sorted(fits.index) == sorted(duck)
    for model, row in duck.items():
        if row["params"] is None:
            continue
        params = json.loads(fits.loc[model, "params"])
        assert params.keys() == row["params"].keys()
        for name, value in row["params"].items():
            assert params[name] == pytest.approx(value, rel=1e-6), (model, name)
        backtest = json.loads(fits.loc[model, "backtest"])
        if "rmse" in row["backtest"]:
            assert backtest["rmse"] == pytest.approx(row["backtest"]["rmse"], rel=1e-9)
            assert backtest["alive_auc"] == pytest.approx(row["backtest"]["alive_auc"], rel=1e-9)


def test_the_same_scores_segments_and_tiers(both):
    _, out, _, _, values, segments = both
    spark = _read(out, "customer_scores").sort_values("customer_id", ignore_index=True)
    duck = values.scores.merge(segments.customers, on="customer_id").sort_values(
        "customer_id", ignore_index=True
    )
    assert spark.customer_id.tolist() == duck.customer_id.tolist()
    for col in (
        "p_alive",
        "expected_purchases_90d",
        "expected_purchases_365d",
        "predicted_clv_365d",
    ):
        np.testing.assert_allclose(
            spark[col].to_numpy(float), duck[col].to_numpy(float), rtol=1e-9, atol=1e-9, err_msg=col
        )
    for col in ("rfm_r", "rfm_f", "rfm_m", "rfm_segment", "value_tier", "cluster", "segment"):
        assert spark[col].astype(str).tolist() == duck[col].astype(str).tolist(), col


def test_the_same_segment_rows(both):
    _, out, _, _, _, segments = both
    spark = _read(out, "segments")
    key = ["lens", "segment"]
    duck = segments.segments.sort_values(key, ignore_index=True)
    spark = spark.sort_values(key, ignore_index=True)
    assert spark[key].values.tolist() == duck[key].values.tolist()
    assert spark["size"].tolist() == duck["size"].tolist()
    np.testing.assert_allclose(spark["revenue_share"], duck["revenue_share"], rtol=1e-9)
