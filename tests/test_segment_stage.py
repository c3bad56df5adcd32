"""The segment stage of a run: three lenses per customer, segment rows, CLI, migration."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from valueseg.cli import app
from valueseg.errors import InputError
from valueseg.io import ingest
from valueseg.pipeline import run
from valueseg.segment.stored import run_migration, stored_segments
from valueseg.store import Store
from valueseg.synth import make_shop

# Only the value models and segments are under test here: one learner, no tuning.
_FAST = {"learners": "lr", "recommender": "popularity"}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The same shop run twice at the same as_of, then once three months earlier."""
    shop = make_shop(3_000, random_state=4)
    path = tmp_path_factory.mktemp("seg") / "shop.duckdb"
    with Store(path) as store:
        ingest(shop.transactions, db=store, now=pd.Timestamp("2025-01-02").to_pydatetime())
        ingest(shop.events, kind="events", db=store)
        results = [
            run(store, **_FAST, as_of="2025-01-01"),
            run(store, **_FAST, as_of="2025-01-01"),
            run(store, **_FAST, as_of="2024-10-01"),
        ]
    return path, results


def test_every_customer_gets_three_lenses(two_runs):
    path, results = two_runs
    with Store(path, read_only=True) as store:
        scores = store.con.execute(
            "SELECT rfm_r, rfm_f, rfm_m, rfm_segment, value_tier, cluster, segment "
            "FROM customer_scores WHERE run_id = 1"
        ).df()
        rows = stored_segments(store, 1)
    assert len(scores) == results[0].customers
    assert scores.notna().all().all()
    assert scores[["rfm_r", "rfm_f", "rfm_m"]].isin(range(1, 6)).all().all()
    # one segments row per segment of each lens, sizes adding up to the customers
    for lens, column in (
        ("rfm", "rfm_segment"),
        ("value_tier", "value_tier"),
        ("cluster", "segment"),
    ):
        part = rows[rows["lens"] == lens]
        assert set(part["segment"]) == set(scores[column])
        assert part["size"].sum() == len(scores)
        assert part["revenue_share"].sum() == pytest.approx(1.0)
    clusters = rows[rows["lens"] == "cluster"]
    assert clusters["segment"].is_unique
    profile = json.loads(clusters["profile"].iloc[0])
    assert {"cluster", "centroid", "lift", "top_features"} <= set(profile)
    assert results[0].segments.fidelity is not None


def test_a_rerun_keeps_cluster_identities_and_names(two_runs):
    path, _ = two_runs
    with Store(path, read_only=True) as store:
        matrix = run_migration(store, 1, 2, lens="cluster")
        same = store.con.execute(
            "SELECT count(*) FROM customer_scores a JOIN customer_scores b USING (customer_id) "
            "WHERE a.run_id = 1 AND b.run_id = 2 AND a.cluster = b.cluster "
            "AND a.segment = b.segment"
        ).fetchone()[0]
        total = store.con.execute(
            "SELECT count(*) FROM customer_scores WHERE run_id = 1"
        ).fetchone()[0]
    # same data, same seed: everyone stays in a cluster of the same number and name
    assert same == total
    inner = matrix.drop(index="(new)", columns="(gone)")
    assert int(inner.to_numpy().trace()) == total


def test_migration_counts_new_customers(two_runs):
    path, results = two_runs
    with Store(path, read_only=True) as store:
        matrix = run_migration(store, 3, 1, lens="rfm")
    assert int(matrix.loc["(new)"].sum()) == results[0].customers - results[2].customers
    assert int(matrix.to_numpy().sum()) == results[0].customers
    assert int(matrix["(gone)"].sum()) == 0


def test_cli_segments_and_migration(two_runs):
    path, _ = two_runs
    runner = CliRunner()
    done = runner.invoke(app, ["segments", "--db", str(path), "--lens", "cluster"])
    assert done.exit_code == 0, done.output
    assert "Run 3: cluster segments (rules place " in done.output
    done = runner.invoke(app, ["migration", "--db", str(path), "--from", "3", "--to", "1"])
    assert done.exit_code == 0, done.output
    assert "Champions" in done.output and "(new)" in done.output


def test_unknown_run_and_lens_are_refused(two_runs):
    path, _ = two_runs
    with Store(path, read_only=True) as store:
        with pytest.raises(
            InputError,
            match=re.escape("Run 9 has no segments in"),
        ):
            stored_segments(store, 9)
        with pytest.raises(
            InputError,
            match=re.escape("Unknown lens 'tiers'. Expected one of: rfm, value_tier, cluster."),
        ):
            run_migration(store, 1, 2, lens="tiers")


def test_segments_config_replaces_the_grid(tmp_path, store):
    grid = tmp_path / "grid.toml"
    cells = "\n".join(
        f'[[segment]]\nname = "{name}"\nr = [{r}]\nf = [1, 2, 3, 4, 5]\n'
        for name, r in (("Cold", "1, 2"), ("Warm", "3, 4"), ("Hot", "5"))
    )
    grid.write_text(cells)
    tx = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(20)],
            "timestamp": pd.date_range("2024-01-01", periods=20, freq="7D"),
            "amount": [10.0 + i for i in range(20)],
        }
    )
    ingest(tx, db=store, now=pd.Timestamp("2024-12-01").to_pydatetime())
    result = run(store, **_FAST, segments_config=grid)
    names = set(result.segments.customers["rfm_segment"])
    assert names == {"Cold", "Warm", "Hot"}
    assert any("too few to cluster" in n for n in result.segments.notes)


def test_a_store_without_runs_says_how_to_get_segments(store):
    with pytest.raises(
        InputError,
        match=re.escape(
            "Store :memory: holds no segments yet. Run the pipeline first: "
            "valueseg run --db :memory:"
        ),
    ):
        stored_segments(store)


def test_cli_prints_each_clusters_rules_on_one_or_two_lines(two_runs):
    path, _ = two_runs
    with Store(path, read_only=True) as store:
        rows = stored_segments(store, 1, "cluster")
    done = CliRunner().invoke(
        app, ["segments", "--db", str(path), "--run", "1", "--lens", "cluster"]
    )
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    profile = json.loads(rows["profile"].iloc[0])
    assert f"Why {len(rows)} clusters: {profile['k_reason']}" in lines
    assert lines.index(
        "Rules (right: share of those they describe who are in the cluster; "
        "cover: share of the cluster they describe):"
    )
    for row in rows.to_dict("records"):
        at = lines.index(f"  {row['segment']}")
        rules = [line.strip() for line in lines[at + 1 : at + 3] if line.startswith("    ")]
        assert rules == row["rules"].splitlines()
        assert 1 <= len(rules) <= 2 and not rules[0].startswith("or ")
        fit = json.loads(row["profile"])["rule_fit"]
        table_row = next(line for line in lines if line.startswith(f"│ {row['segment']} "))
        assert f"{100 * fit['precision']:.0f} %" in table_row
        assert f"{100 * fit['recall']:.0f} %" in table_row


def test_clusters_flag_fixes_or_bounds_k(tmp_path):
    shop = make_shop(800, random_state=2)
    with Store(tmp_path / "k.duckdb") as store:
        ingest(shop.transactions, db=store)
        result = run(store, **_FAST, clusters="4")
        assert result.segments.segmenter.n_clusters_ == 4
        assert "behavioural clusters: 4, as asked (--clusters 4)." in result.segments.notes
        params = store.con.execute("SELECT parameters FROM runs WHERE run_id = 1").fetchone()
        assert json.loads(params[0])["clusters"] == "4-4"
        bounded = run(store, **_FAST, clusters=(3, 5))
        assert 3 <= bounded.segments.segmenter.n_clusters_ <= 5
