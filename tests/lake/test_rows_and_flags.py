"""The lake run's row rules (quarantine with reasons; accepted + rejected = rows read), its
printed counts, ``valueseg report --from``, and the one-line refusals of bad flags.

The CLI runs in this process (``main()`` as the console script calls it), so the lake run
uses the tests' one Spark session; the refusals that come before Spark are checked with
Spark forbidden."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.lake.conftest import SPARK_WARNINGS, needs_spark

BAD = """CustomerID,InvoiceDate,Revenue,Invoice
c1,2024-01-01,10,o1
c1,2024-02-01,20,o2
c1,2024-02-01,20,o2
,2024-01-03,5,o3
c2,yesterday,5,o4
c2,2024-01-05,x,o5
c3,2030-01-01,5,o6
c2,2024-01-06,7,o7
c3,2024-01-07T23:00:00-02:00,8,o8
c3,2024-03-07,9,o9
c4,,3,o10
c4,2024-01-02,,o11
"""
REASONS = {
    "o2": "duplicate order line",
    "o3": "missing customer_id",
    "o4": "unparseable timestamp",
    "o5": "non-numeric amount",
    "o6": "timestamp more than a day in the future",
    "o10": "missing timestamp",
    "o11": "missing amount",
}


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


def cli(*args: str) -> Done:
    """``valueseg ARGS`` through the console script's ``main()``, in this process."""
    from valueseg.cli import main

    out, err, argv = io.StringIO(), io.StringIO(), sys.argv
    sys.argv = ["valueseg", *args]
    code: int | str | None = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.argv = argv
    return Done(
        code if isinstance(code, int) else int(code is not None), out.getvalue(), err.getvalue()
    )


@pytest.fixture
def no_spark(monkeypatch):
    """Starting Spark fails the test (the refusal must come first)."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("Spark was started")

    monkeypatch.setattr("valueseg.features.compute.spark_session", refuse)


@pytest.fixture(scope="module")
def quarantined(spark, tmp_path_factory) -> tuple[Done, Path]:
    """One lake run over BAD (as CSV), by the CLI."""
    folder = tmp_path_factory.mktemp("bad")
    orders = folder / "orders.csv"
    orders.write_text(BAD)
    out = folder / "lake"
    done = cli(
        "run", "--engine", "spark", "--transactions", str(orders), "--out", str(out),
        "--map", "amount=Revenue", "--learners", "none",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done, out


@pytest.mark.slow
@needs_spark
@SPARK_WARNINGS
def test_bad_rows_are_quarantined_with_their_reasons_and_counted(quarantined):
    done, out = quarantined
    assert "transactions: 12 rows read = 5 accepted + 7 rejected (" in done.stdout
    rejected = pq.read_table(out / "rejected_rows").to_pandas()
    assert len(rejected) == 7
    assert set(rejected.kind) == {"transactions"}
    by_order = dict(
        zip(rejected.raw.map(lambda r: json.loads(r)["Invoice"]), rejected.reason, strict=True)
    )
    assert by_order == REASONS
    assert json.loads(rejected.raw[rejected.reason == "unparseable timestamp"].iloc[0]) == {
        "CustomerID": "c2", "InvoiceDate": "yesterday", "Revenue": "5", "Invoice": "o4",
    }  # fmt: skip
    features = pq.read_table(out / "customer_features" / "run_id=1").to_pandas()
    assert sorted(features.customer_id) == ["c1", "c2", "c3"]
    scores = pq.read_table(out / "customer_scores" / "run_id=1").to_pandas()
    assert sorted(scores.customer_id) == ["c1", "c2", "c3"]
    runs = pq.read_table(out / "runs").to_pandas()
    assert runs.status.tolist() == ["succeeded"]
    counts = json.loads(runs.parameters[0])["counts"]["transactions"]
    assert (counts["rows_read"], counts["accepted"], counts["rejected"]) == (12, 5, 7)


@pytest.mark.slow
@needs_spark
@SPARK_WARNINGS
def test_learners_none_skips_them_and_says_so(quarantined):
    done, out = quarantined
    scores = pq.read_table(out / "customer_scores" / "run_id=1").to_pandas()
    for col in ("churn_probability", "predicted_spend_90d", "expected_next_order_date"):
        assert scores[col].isna().all(), col
    assert scores["p_alive"].notna().any()  # the value models still score
    assert not (out / "predict_fits").exists()
    notes = pq.read_table(out / "run_notes" / "run_id=1").to_pandas()
    assert "the churn and spend learners were skipped (--learners none)" in " ".join(notes.note)
    runs = pq.read_table(out / "runs").to_pandas()
    assert json.loads(runs.parameters[0])["learners"] == "none"
    assert "Learners:" not in done.stdout


@pytest.mark.slow
@needs_spark
@SPARK_WARNINGS
def test_the_first_purchase_reads_offsets_as_utc(quarantined):
    """c3's order at 23:00 -02:00 on 7 January is on 8 January in UTC: T counts from it
    (its order of 2030 is rejected; the last accepted line, 7 March, makes as_of 8 March)."""
    _, out = quarantined
    features = pq.read_table(out / "customer_features" / "run_id=1").to_pandas()
    c3 = features.set_index("customer_id").loc["c3"]
    assert c3["T"] == 60  # from 2024-01-08 (not 01-07: 61) to as_of 2024-03-08
    assert c3["recency"] == 59


@pytest.mark.slow
@needs_spark
@SPARK_WARNINGS
def test_the_report_reads_the_run(quarantined, tmp_path):
    _, out = quarantined
    report = tmp_path / "report.html"
    shown = cli("report", "--from", str(out), "--out", str(report))
    assert shown.returncode == 0, shown.stderr
    assert "Report of run 1" in shown.stdout
    assert "c1" not in shown.stderr and report.stat().st_size > 10_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--transactions", "t.parquet", "--out", "o"],
            "Error: --transactions and --out read and write the lake, which only --engine "
            "spark does (got --engine duckdb). Add --engine spark, or load the file with "
            "`valueseg ingest FILE` and run on the store without them.",
        ),
        (
            ["--engine", "spark", "--out", "o"],
            "Error: The lake run needs --transactions URI (Parquet or CSV of order lines, any "
            "path Spark reads). Pass it, or leave out --out/--events/--customers to run on the "
            "store.",
        ),
        (
            ["--engine", "spark", "--transactions", "t.parquet"],
            "Error: The lake run needs --out URI: the folder its tables are written to "
            "(customer_features, customer_scores, segments, model_fits, runs). Pass --out.",
        ),
        (
            ["--engine", "spark", "--transactions", "t", "--out", "o", "--map", "amount"],
            "Error: Cannot read --map 'amount'. Expected TARGET=SOURCE, e.g. --map amount=Revenue.",
        ),
        (
            ["--engine", "spark", "--transactions", "t", "--out", "o", "--learners", "+sequence"],
            "Error: The lake run does not run the sequence learner (--learners +sequence): it "
            "reads each customer's order sequence with PyTorch, which the lake run does not put "
            "on Spark's executors. Leave it out (default: --learners lr,tree,rf,lgbm), or "
            "ingest the orders and run `valueseg run --learners +sequence` on the store.",
        ),
        (
            ["--engine", "spark", "--transactions", "t", "--out", "o", "--learners", "none,lr"],
            "Error: --learners none skips the churn and spend learners; it takes no other name. "
            "Got none,lr.",
        ),
        (
            ["--engine", "spark", "--transactions", "t", "--out", "o", "--map", "orders:x=y"],
            "Error: Cannot read --map orders:x=y: 'orders' is not an input. Expected "
            "TARGET=SOURCE for the transactions, or events:TARGET=SOURCE, "
            "customers:TARGET=SOURCE.",
        ),
    ],
)
def test_bad_flags_are_refused_in_one_line(no_spark, args, message):
    done = cli("run", *args)
    assert done.returncode == 1
    assert done.stderr.strip() == message


@pytest.mark.slow
@needs_spark
@SPARK_WARNINGS
def test_a_path_spark_cannot_read_is_named(spark, tmp_path):
    missing = tmp_path / "nowhere.parquet"
    done = cli(
        "run", "--engine", "spark", "--transactions", str(missing), "--out", str(tmp_path / "o")
    )
    assert done.returncode == 1
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith(f"Error: Cannot read --transactions {missing}: ")
    assert "PATH_NOT_FOUND" in line
    assert line.endswith(
        "Pass a Parquet or CSV path Spark can read (a local path, a glob, s3a://, abfss://, "
        "hdfs://); object stores need their connector on the classpath (README, Spark on a "
        "cluster)."
    )


def test_report_from_a_folder_without_a_run(tmp_path):
    done = cli("report", "--from", str(tmp_path), "--out", str(tmp_path / "r.html"))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"Error: No lake run in {tmp_path}: {tmp_path / 'runs'} is not there. Expected the "
        "--out folder of `valueseg run --engine spark --transactions URI --out URI` (copied "
        "down when it lies on object storage)."
    )


def test_the_console_script_refuses_in_one_line_and_exits_1(tmp_path):
    """The same refusal through the installed entry point, in a process of its own."""
    done = subprocess.run(
        [sys.executable, "-m", "valueseg", "run", "--transactions", "t", "--out", "o"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith("Error: --transactions and --out read and write the lake")
    assert len(done.stderr.strip().splitlines()) == 1


def test_import_valueseg_does_not_import_pyspark():
    code = "import sys, valueseg, valueseg.lake, valueseg.cli; print('pyspark' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
