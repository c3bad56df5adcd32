"""valueseg run: one transaction per run, and the messages for what cannot run."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime

import pandas as pd
import pytest

from valueseg.errors import InputError
from valueseg.io import ingest
from valueseg.pipeline import run
from valueseg.store import Store


@pytest.fixture
def filled(store):
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "timestamp": ["2024-01-01", "2024-01-05 13:00", "2024-01-03"],
            "amount": [10.0, 20.0, 5.0],
        }
    )
    ingest(tx, db=store, now=datetime(2024, 2, 1))
    return store


def test_run_writes_features_with_its_run_id(filled):
    first = run(filled)
    second = run(filled, as_of="2024-01-04")
    assert (first.run_id, second.run_id) == (1, 2)
    assert first.as_of == datetime(2024, 1, 6)  # midnight after the last order
    rows = filled.con.execute(
        'SELECT run_id, customer_id, frequency, "T" FROM customer_features ORDER BY 1, 2'
    ).fetchall()
    assert rows == [(1, "a", 1.0, 5.0), (1, "b", 0.0, 3.0), (2, "a", 0.0, 3.0), (2, "b", 0.0, 1.0)]
    runs = filled.con.execute("SELECT run_id, status FROM runs ORDER BY 1").fetchall()
    assert runs == [(1, "succeeded"), (2, "succeeded")]


def test_an_interrupted_run_is_marked_failed_by_the_next(filled):
    filled.con.execute("INSERT INTO runs (run_id, started_at, status) VALUES (7, now(), 'running')")
    result = run(filled)
    assert result.run_id == 8
    status = filled.con.execute("SELECT status, message FROM runs WHERE run_id = 7").fetchone()
    assert status == ("failed", "interrupted before it finished")


def test_as_of_before_any_order(filled):
    msg = (
        "No orders before --as-of 2023-01-01: the store holds 3 purchase lines from "
        "2024-01-01 to 2024-01-05. Pick an --as-of after the first order."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        run(filled, as_of="2023-01-01")


def test_empty_store(store):
    with pytest.raises(InputError, match=re.escape("holds no transactions. Load orders first")):
        run(store)


def test_unknown_engine(filled):
    with pytest.raises(
        InputError, match=re.escape("Unknown --engine 'polars'. Expected one of: duckdb, spark.")
    ):
        run(filled, engine="polars")


def test_cli_run(tmp_path):
    db = tmp_path / "s.duckdb"
    orders = tmp_path / "o.csv"
    orders.write_text("customer_id,timestamp,amount\na,2024-01-01,1\na,2024-01-03,2\n")
    ingest(orders, db=db)
    done = subprocess.run(
        [sys.executable, "-m", "valueseg", "run", "--db", str(db)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Run 1 (as of 2024-01-04, duckdb): 1 customers" in done.stdout
    with Store(db, read_only=True) as store:
        assert store.table_counts()["customer_features"] == 1


# -- parameters are checked before the run leaves a trace ---------------------------------
def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "valueseg", *args], capture_output=True, text=True, check=False
    )


@pytest.fixture
def orders_db(tmp_path):
    db = tmp_path / "s.duckdb"
    orders = tmp_path / "o.csv"
    orders.write_text("customer_id,timestamp,amount\na,2024-01-01,1\na,2024-01-03,2\n")
    ingest(orders, db=db)
    return db


_BAD_FLAGS = [
    (["--freq", "X"], "Error: Unknown --freq 'X'. Expected one of: D, W, M, h."),
    (["--engine", "polars"], "Error: Unknown --engine 'polars'. Expected one of: duckdb, spark."),
    (
        ["--as-of", "yesterday"],
        "Error: --as-of 'yesterday' is not a date. Expected an ISO date or date-time, "
        "e.g. --as-of 2024-06-30 or --as-of '2024-06-30 18:00'.",
    ),
    (
        ["--as-of", "2023-12-31"],
        "Error: No orders before --as-of 2023-12-31: the store holds 2 purchase lines from "
        "2024-01-01 to 2024-01-03. Pick an --as-of after the first order.",
    ),
    (["--seed", "-1"], "Error: --seed must be from 0 to 4,294,967,295. Got -1."),
    (["--horizon", "0"], "Error: --horizon must be from 1 to 3,650 days. Got 0."),
    (
        ["--learners", "lr,xgb"],
        "Error: Unknown learner 'xgb' in --learners. Expected a comma-separated list of: "
        "lr, tree, rf, lgbm (default: all of them).",
    ),
    (
        ["--recommender", "svd"],
        "Error: Unknown --recommender 'svd'. Expected one of: auto, als, bpr, item_item, "
        "segment_popularity, popularity (auto: tune them all and keep the best).",
    ),
    (
        ["--segments-config", "missing.toml"],
        "Error: Cannot use --segments-config: Segments config missing.toml not found.",
    ),
    (
        ["--segments-config", "{bad}"],
        "Error: Cannot use --segments-config: Segments config {bad} is not valid TOML:",
    ),
]


@pytest.mark.parametrize(("flags", "message"), _BAD_FLAGS, ids=lambda v: str(v)[:24])
def test_a_bad_flag_is_one_line_and_leaves_no_run(orders_db, tmp_path, flags, message):
    if flags[-1] == "{bad}":
        bad = tmp_path / "bad.toml"
        bad.write_text('[[segment]]\nname = "Champions\n')
        flags = [flags[0], str(bad)]
        message = message.replace("{bad}", str(bad))
    done = _cli("run", "--db", str(orders_db), *flags)
    assert done.returncode == 1
    assert done.stderr.startswith(message), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    with Store(orders_db, read_only=True) as store:
        assert store.con.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_a_grid_that_does_not_cover_the_cells_is_refused_before_the_run(filled, tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text('[[segment]]\nname = "All"\nr = [1, 2, 3, 4, 5]\nf = [1, 2, 3, 4]\n')
    with pytest.raises(InputError, match=re.escape("Cannot use --segments-config: ")):
        run(filled, segments_config=grid)
    assert filled.con.execute("SELECT count(*) FROM runs").fetchone() == (0,)


@pytest.mark.parametrize("seed", [1.5, "3", True])
def test_a_seed_that_is_not_a_whole_number(filled, seed):
    with pytest.raises(
        InputError, match=re.escape(f"--seed must be a whole number. Got {seed!r}.")
    ):
        run(filled, random_state=seed)


def test_as_of_with_an_offset_is_read_as_utc(filled):
    result = run(filled, as_of="2024-01-04T02:00+02:00")
    assert result.as_of == datetime(2024, 1, 4)


# -- a run that fails is marked failed at once and leaves the previous run intact ----------
_DERIVED = (
    "customer_features",
    "customer_scores",
    "segments",
    "model_fits",
    "predict_fits",
    "customer_reasons",
    "run_notes",
)


def _rows_per_run(store: Store) -> dict[str, list[tuple[int, int]]]:
    return {
        t: store.con.execute(f"SELECT run_id, count(*) FROM {t} GROUP BY 1 ORDER BY 1").fetchall()
        for t in _DERIVED
    }


def _planted(*_args, **_kwargs):
    raise ZeroDivisionError("planted failure")


@pytest.mark.parametrize(
    "target",
    [
        "valueseg.features.compute.compute_features",
        "valueseg.pipeline._value_models",
        "valueseg.pipeline._predict",
        "valueseg.pipeline._segments",
        "valueseg.pipeline._recommend",
        "valueseg.pipeline.write_fits",
        "valueseg.pipeline.write_reasons",
        "valueseg.pipeline.finish_run",
    ],
)
def test_a_failure_in_any_stage_marks_the_run_failed_at_once(filled, monkeypatch, target):
    run(filled)
    before = _rows_per_run(filled)
    assert all(before[t] and before[t][0][0] == 1 for t in _DERIVED)
    monkeypatch.setattr(target, _planted)
    with pytest.raises(ZeroDivisionError, match="planted failure"):
        run(filled)
    runs = filled.con.execute("SELECT run_id, status, message FROM runs ORDER BY 1").fetchall()
    assert runs == [
        (1, "succeeded", None),
        (2, "failed", "ZeroDivisionError: planted failure"),
    ]
    assert _rows_per_run(filled) == before  # nothing of run 2, all of run 1


def test_a_library_error_is_kept_as_its_message(filled, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise InputError("No customer has two orders.")

    monkeypatch.setattr("valueseg.pipeline._segments", refuse)
    with pytest.raises(InputError):
        run(filled)
    row = filled.con.execute("SELECT status, message, finished_at IS NOT NULL FROM runs")
    assert row.fetchone() == ("failed", "No customer has two orders.", True)


def test_info_lists_runs_with_status_and_message(orders_db):
    assert _cli("run", "--db", str(orders_db)).returncode == 0
    with Store(orders_db) as store:
        store.con.execute(
            "INSERT INTO runs (run_id, started_at, status) VALUES (2, now(), 'running')"
        )
    assert _cli("run", "--db", str(orders_db), "--as-of", "2024-01-03").returncode == 0
    info = _cli("info", "--db", str(orders_db))
    assert info.returncode == 0, info.stderr
    runs = info.stdout[info.stdout.index("Runs") :].splitlines()
    lines = [line for line in runs if line.strip("│ ").startswith(("1 ", "2 ", "3 "))]
    assert "succeeded" in lines[-3]
    assert "failed" in lines[-2] and "interrupted before it finished" in lines[-2]
    assert "succeeded" in lines[-1] and "2024-01-03" in lines[-1]


# -- --clusters: how many behavioural clusters to look for -------------------------------
@pytest.mark.parametrize("clusters", ["9-3", "1-5", "3-31", "three", "3-", "", (2.0, 5), (1, 4)])
def test_a_clusters_range_that_is_not_low_high_is_refused(filled, clusters):
    shown = "-".join(map(str, clusters)) if isinstance(clusters, tuple) else repr(clusters)
    msg = f"--clusters {shown} must be LOW-HIGH with 2 <= LOW <= HIGH <= 30. Got {clusters!r}."
    with pytest.raises(InputError, match=re.escape(msg)):
        run(filled, clusters=clusters)
    assert filled.con.execute("SELECT count(*) FROM runs").fetchone() == (0,)


@pytest.mark.parametrize(
    ("clusters", "expected"),
    [("3-8", (3, 8)), (" 2 - 12 ", (2, 12)), ("5", (5, 5)), ((4, 6), (4, 6))],
)
def test_a_clusters_range_is_read_as_low_high(clusters, expected):
    from valueseg.params import check_run_params

    params = check_run_params(clusters=clusters)
    assert params.clusters == expected
    record = params.record(datetime(2024, 1, 1))
    assert record["clusters"] == f"{expected[0]}-{expected[1]}"


def test_the_cli_refuses_a_bad_clusters_flag_in_one_line(orders_db):
    done = _cli("run", "--db", str(orders_db), "--clusters", "9-3")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "Error: --clusters '9-3' must be LOW-HIGH with 2 <= LOW <= HIGH <= 30. Got '9-3'."
    )
    with Store(orders_db, read_only=True) as store:
        assert store.con.execute("SELECT count(*) FROM runs").fetchone() == (0,)
