"""The actions commands, on an app built here: export, experiment design and analyze."""

from __future__ import annotations

import pandas as pd
import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from valueseg.cli_actions import register
from valueseg.errors import InputError
from valueseg.store import Store


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """A root like valueseg's, so that commands are named."""

    register(app, Console(width=200), Console(stderr=True, width=200))
    return app


@pytest.fixture
def db(tmp_path, filled):
    path = tmp_path / "s.duckdb"
    with Store(path) as store:
        filled(store, n=600)
    return path


def test_export_writes_the_file_and_says_so(app, db, tmp_path):
    out = tmp_path / "vip.csv"
    done = CliRunner().invoke(
        app, ["export", "--db", str(db), "--action", "vip", "--out", str(out), "--top", "2"]
    )
    assert done.exit_code == 0, done.output
    rows = pd.read_csv(out)
    assert f"Wrote {len(rows):,} customers of run 1 to {out} (csv; action 'vip', top 2;" in (
        done.stdout
    )
    assert set(rows["action"]) == {"vip"}


def test_export_notes_go_to_stderr(app, db, tmp_path):
    done = CliRunner().invoke(
        app, ["export", "--db", str(db), "--where", "p_alive > 5", "--out", str(tmp_path / "x")]
    )
    assert done.exit_code == 0
    assert "Note: no customer of run 1 matched the filters" in done.stderr


def test_a_bad_filter_raises_input_error_for_the_callers_handler(app, db, tmp_path):
    done = CliRunner().invoke(
        app, ["export", "--db", str(db), "--where", "x = 1; --", "--out", str(tmp_path / "a")]
    )
    assert done.exit_code == 1
    assert isinstance(done.exception, InputError)
    assert str(done.exception).startswith("--where: unexpected character ';' at position 6.")


def test_design_then_analyze(app, db, tmp_path):
    assignment = tmp_path / "arms.csv"
    done = CliRunner().invoke(
        app,
        ["experiment", "design", "--db", str(db), "--name", "recall", "--segment", "Top 20%",
         "--baseline", "0.05", "--mde", "0.01", "--out", str(assignment)],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "Experiment 1: recall (segment 'Top 20%', run 1)" in done.stdout
    assert "It is too small: at its size the test detects" in done.stdout
    assert "Warning: To detect +1 points" in done.stderr
    assert "valueseg experiment analyze --id 1 RESULTS.csv" in done.stdout
    arms = pd.read_csv(assignment, dtype=str)
    arms["outcome"] = (arms["arm"] == "treatment").astype(int)
    results = tmp_path / "results.csv"
    arms[["customer_id", "outcome"]].to_csv(results, index=False)
    done = CliRunner().invoke(
        app, ["experiment", "analyze", "--db", str(db), "--id", "1", str(results)]
    )
    assert done.exit_code == 0, done.output
    assert "Sample-ratio check: p = " in done.stdout
    assert "Treatment won: conversion 0.00 % in control, 100.00 % in treatment" in done.stdout
    assert "Per segment" in done.stdout


def test_analyze_an_unknown_experiment(app, db, tmp_path):
    results = tmp_path / "r.csv"
    results.write_text("customer_id,outcome\nC00001,1\n")
    done = CliRunner().invoke(
        app, ["experiment", "analyze", "--db", str(db), "--id", "4", str(results)]
    )
    assert isinstance(done.exception, InputError)
    assert str(done.exception).startswith("No experiment 4 in ")
