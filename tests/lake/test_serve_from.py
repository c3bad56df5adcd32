"""The web app serves a lake run: ``valueseg serve --from OUT`` imports the run into a
store and serves it; the pages and the API show the lake run's own numbers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from tests.lake.conftest import SPARK_WARNINGS, needs_spark
from tests.web.web_testing import TestClient
from valueseg.errors import InputError
from valueseg.store import Store

pytestmark = [pytest.mark.slow, needs_spark, SPARK_WARNINGS]


def _cli() -> typer.Typer:
    from valueseg.cli_web import register

    app = typer.Typer()
    register(app, Console(width=200))
    return app


def test_serve_from_imports_the_lake_run_and_serves_it(both, tmp_path: Path, monkeypatch) -> None:
    from valueseg.web import create_app, serve
    from valueseg.web.auth import create_key

    _, out, *_ = both
    served: list[Path] = []
    monkeypatch.setattr(serve, "serve", lambda db, host, port, **_: served.append(Path(db)))
    db = tmp_path / "lake.duckdb"
    args = ["serve", "--from", out, "--db", str(db)]
    first = CliRunner().invoke(_cli(), args)
    assert first.exit_code == 0, first.output
    assert f"Run 1 of {out} is in {db}." in first.output.replace("\n", "")
    again = CliRunner().invoke(_cli(), args)  # the run is there already: left as it is
    assert again.exit_code == 0, again.output
    assert served == [db, db]

    with Store(db) as store:
        key = create_key(store, "admin", "test")[1]
    headers = {"Authorization": f"Bearer {key}"}
    scores = pq.read_table(f"{out}/customer_scores/run_id=1").to_pandas()
    segments = pq.read_table(f"{out}/segments/run_id=1").to_pandas()
    with TestClient(create_app(db)) as client:
        runs = client.get("/v1/runs", headers=headers).json()
        assert [(r["run_id"], r["status"]) for r in runs] == [(1, "succeeded")]
        lenses = client.get("/v1/segments", headers=headers).json()["lenses"]
        got = {(lens["lens"], s["segment"]): s["size"] for lens in lenses for s in lens["segments"]}
        keys = zip(segments["lens"], segments["segment"], strict=True)
        want = dict(zip(keys, segments["size"], strict=True))
        assert got == want
        row = scores.sort_values("customer_id").iloc[0]
        one = client.get(f"/v1/customers/{row['customer_id']}", headers=headers).json()
        assert one["run_id"] == 1
        for column in ("p_alive", "predicted_clv_365d", "churn_probability"):
            assert one["scores"][column] == pytest.approx(float(row[column]), rel=1e-12)
        for column in ("rfm_segment", "value_tier", "segment"):
            assert one["scores"][column] == row[column]
        for page in ("/", "/segments", "/runs/1"):
            assert client.get(page, headers=headers).status_code == 200, page
        order = {"customer_id": row["customer_id"], "timestamp": "2025-01-05T10:00:00"}
        posted = client.post("/v1/events", headers=headers, json={**order, "amount": 20.0})
        assert posted.status_code == 200, posted.text
        body = posted.json()  # stored, not scored against a history the store lacks
        assert body["recomputed"] == [] and body["changes"] == []
        assert "run 1 is a lake run" in body["notes"][0]


def test_a_store_with_another_run_of_that_id_is_refused(both, tmp_path: Path) -> None:
    from valueseg.lake.load import load_lake_run

    _, out, *_ = both
    db = tmp_path / "other.duckdb"
    with Store(db) as store:
        store.con.execute(
            "INSERT INTO runs (run_id, as_of, started_at, status) VALUES (1, ?, ?, 'succeeded')",
            [datetime(2024, 1, 1), datetime(2024, 1, 1, 9)],
        )
        with pytest.raises(InputError, match="already holds a run 1 that is not run 1 of"):
            load_lake_run(store, out)
        assert store.con.execute("SELECT count(*) FROM customer_scores").fetchone() == (0,)


def test_run_without_from_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(_cli(), ["serve", "--run", "2", "--db", str(tmp_path / "x.db")])
    assert isinstance(result.exception, InputError)
    assert str(result.exception) == "--run picks a lake run: give it with --from OUT."
    assert result.exit_code != 0
