"""Experiments: design (size, feasibility, stable split, record) and analysis."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from valueseg.actions import analyze_experiment, assign_arms, design_experiment
from valueseg.actions.stats import mde_proportions, sample_size_means, sample_size_proportions
from valueseg.errors import InputError
from valueseg.store import Store
from valueseg.store.actions import read_experiment

AS_OF = datetime(2024, 7, 1)  # the as_of of the shop's run (conftest)


def _history(store: Store) -> pd.DataFrame:
    """Per-customer purchases in the 90 days before AS_OF, computed here with pandas."""
    tx = store.con.execute("SELECT customer_id, timestamp, amount FROM transactions").df()
    tx = tx[(tx.timestamp >= AS_OF - timedelta(days=90)) & (tx.timestamp < AS_OF)]
    return tx.groupby("customer_id")["amount"].sum()


def test_a_conversion_design_sizes_checks_and_records(shop, tmp_path):
    store, _ = shop
    out = tmp_path / "assign.csv"
    d = design_experiment(store, name="recall", action="win-back", baseline=0.05, mde=0.02,
                          control_share=0.4, out=out)  # fmt: skip
    n = sample_size_proportions(0.05, 0.07, ratio=0.6 / 0.4)
    assert (d.needed_control, d.needed_treatment) == (math.ceil(n), math.ceil(n * 1.5))
    size = store.con.execute(
        "SELECT count(*) FROM customer_actions WHERE run_id = 1 AND action = 'win-back'"
    ).fetchone()[0]
    assert d.audience_size == size == d.control + d.treatment
    assert not d.feasible  # a few hundred customers cannot show 2 points on 5 %
    assert d.mde_at_size == pytest.approx(mde_proportions(0.05, size * 0.4, size * 0.6))
    assert d.summary().endswith(f"at its size the test detects +{d.mde_at_size * 100:.4g} "
                                "points or more.")  # fmt: skip
    row = read_experiment(store, d.experiment_id)
    assert row["name"] == "recall" and row["status"] == "designed"
    assert row["segment"] == "win-back"
    assert row["design"]["needed_control"] == d.needed_control
    assert row["design"]["pre_period_end"] == AS_OF.isoformat()  # the history ends there
    written = pd.read_csv(out, dtype=str)
    assert written.columns.tolist() == ["customer_id", "arm"]
    assert (written["arm"].to_numpy() == d.assignment["arm"].to_numpy()).all()


def test_assignment_is_stable_across_runs_and_stores(shop, store, filled):
    first_store, _ = shop
    filled(store)
    a = design_experiment(first_store, name="same", mde=0.05, baseline=0.1).assignment
    b = design_experiment(store, name="same", mde=0.05, baseline=0.1).assignment
    assert a.equals(b)
    again = assign_arms("same", a["customer_id"][::-1])[::-1]
    assert (again == a["arm"].to_numpy()).all()  # order does not matter either
    other = assign_arms("another", a["customer_id"])
    assert 0.4 < (other == a["arm"].to_numpy()).mean() < 0.6  # a new name: a fresh split
    share = (a["arm"] == "control").mean()
    assert abs(share - 0.5) < 4 * math.sqrt(0.25 / len(a))


def test_baseline_and_variance_come_from_the_audiences_history(shop):
    store, scores = shop
    spend = _history(store).reindex(scores.customer_id, fill_value=0.0)
    conv = design_experiment(store, name="c", mde=0.1)
    assert conv.baseline == pytest.approx((spend > 0).mean())
    assert conv.baseline_source.startswith("share of the audience who bought in the 90 days")
    rev = design_experiment(store, name="r", metric="revenue", mde=10.0)
    assert rev.sd == pytest.approx(spend.std(ddof=1))
    assert rev.baseline == pytest.approx(spend.mean())
    assert rev.needed_control == math.ceil(sample_size_means(10.0, spend.std(ddof=1)))
    assert rev.feasible


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mde": 0}, "--mde must be a positive effect. Got 0."),
        ({"mde": 0.01, "alpha": 0.7}, "--alpha must be in (0, 0.5). Got 0.7."),
        ({"mde": 0.01, "control_share": 1.0}, "--control-share must be in (0, 1). Got 1.0."),
        ({"mde": 0.01, "metric": "clicks"}, "Unknown --metric 'clicks'. Expected conversion "
         "or revenue."),
        ({"mde": 0.5, "baseline": 0.6}, "--baseline must be a conversion rate in (0, 1) with "
         "baseline + mde below 1. Got baseline 0.6, mde 0.5."),
        ({"mde": 0.01, "segment": "Nobody"}, "Run 1 has no segment 'Nobody'."),
        ({"mde": 0.01, "name": " "}, "--name must be a non-empty experiment name"),
    ],
)  # fmt: skip
def test_bad_designs_are_refused(shop, kwargs, message):
    store, _ = shop
    kwargs = {"name": "x", **kwargs}
    with pytest.raises(InputError, match=re.escape(message)):
        design_experiment(store, **kwargs)


def test_a_name_is_used_once(shop):
    store, _ = shop
    design_experiment(store, name="once", mde=0.05, baseline=0.1)
    with pytest.raises(InputError, match=re.escape("An experiment named 'once' exists (id 1).")):
        design_experiment(store, name="once", mde=0.05, baseline=0.1)


def _outcomes(assignment: pd.DataFrame, rates: tuple[float, float], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    treated = assignment["arm"].to_numpy() == "treatment"
    p = np.where(treated, rates[1], rates[0])
    return pd.DataFrame(
        {"customer_id": assignment["customer_id"], "outcome": (rng.uniform(size=len(p)) < p) * 1}
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_planted_lift_is_found_and_its_absence_too(shop, seed):
    store, _ = shop
    d = design_experiment(store, name=f"lift-{seed}", mde=0.05, baseline=0.2, alpha=0.001)
    won = analyze_experiment(store, d.experiment_id, _outcomes(d.assignment, (0.2, 0.4), seed))
    assert won.verdict.startswith("Treatment won: conversion ")
    assert won.overall.ci_low < 0.2 < won.overall.ci_high
    assert not won.srm
    flat = analyze_experiment(store, d.experiment_id, _outcomes(d.assignment, (0.2, 0.2), seed))
    assert flat.verdict.startswith("No detectable difference: conversion ")
    assert flat.overall.ci_low < 0 < flat.overall.ci_high
    assert read_experiment(store, d.experiment_id)["status"] == "analyzed"


def test_a_planted_sample_ratio_mismatch_overrules_the_verdict(shop):
    store, _ = shop
    d = design_experiment(store, name="srm", mde=0.05, baseline=0.2)
    results = _outcomes(d.assignment, (0.2, 0.4), 0)
    control = results.index[d.assignment["arm"] == "control"]
    lost = results.drop(control[: len(control) // 4])  # a quarter of control never reported
    a = analyze_experiment(store, d.experiment_id, lost)
    assert a.srm and a.srm_p < 0.001
    assert a.verdict.startswith("Sample ratio mismatch: ")
    assert "do not trust the result" in a.verdict
    assert not analyze_experiment(store, d.experiment_id, results).srm


def test_cuped_sits_next_to_the_raw_estimate_and_narrows_it(shop):
    store, scores = shop
    d = design_experiment(store, name="rev", metric="revenue", mde=10.0)
    pre = _history(store).reindex(d.assignment["customer_id"], fill_value=0.0).to_numpy()
    rng = np.random.default_rng(7)
    treated = d.assignment["arm"].to_numpy() == "treatment"
    y = 0.9 * pre + rng.normal(0, 10, len(pre)) + 6.0 * treated
    results = pd.DataFrame({"customer_id": d.assignment["customer_id"], "outcome": y})
    a = analyze_experiment(store, d.experiment_id, results)
    assert a.cuped is not None and a.variance_reduction is not None
    assert a.variance_reduction > 0.5
    raw_width = a.overall.ci_high - a.overall.ci_low
    assert a.cuped.ci_high - a.cuped.ci_low < 0.7 * raw_width
    assert a.cuped.ci_low < 6.0 < a.cuped.ci_high
    assert "CUPED (pre-period spend) estimate: +" in a.verdict
    assert set(a.segments["segment"]) <= set(scores["rfm_segment"])
    assert (a.segments["control_units"] >= 2).all()
    assert a.arms()["arm"].tolist() == ["control", "treatment"]


def test_results_outside_the_audience_are_left_out_and_noted(shop):
    store, _ = shop
    d = design_experiment(store, name="vip", action="vip", mde=0.1, baseline=0.2)
    results = _outcomes(d.assignment, (0.2, 0.2), 0)
    extra = pd.DataFrame({"customer_id": ["C09999", "nobody"], "outcome": [1, 0]})
    a = analyze_experiment(store, d.experiment_id, pd.concat([results, extra]))
    assert a.overall.control.units + a.overall.treatment.units == len(results)
    assert (
        "2 customers of the results are not in the experiment's audience and were left "
        in (a.notes[0])
    )


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"customer_id": ["C00001"], "result": [1]}),
         "Column 'outcome' not found in the results frame. Expected customer_id, outcome"),
        (pd.DataFrame({"customer_id": ["C00001", "C00001"], "outcome": [1, 0]}),
         "the results frame lists customer 'C00001' more than once (1 repeats)."),
        (pd.DataFrame({"customer_id": ["C00001", "C00002"], "outcome": [1, 2]}),
         "Column 'outcome' of the results frame must be 0 or 1 for a conversion experiment"),
        (pd.DataFrame({"customer_id": ["C00001", "C00002"], "outcome": [1, "x"]}),
         "Column 'outcome' of the results frame has 1 missing or non-numeric values (first: "
         "customer 'C00002')."),
        (pd.DataFrame({"customer_id": ["C00001"], "outcome": [1]}),
         "each arm needs at least 2."),
    ],
)  # fmt: skip
def test_bad_results_are_refused(shop, frame, message):
    store, _ = shop
    d = design_experiment(store, name="bad", mde=0.05, baseline=0.2)
    with pytest.raises(InputError, match=re.escape(message)):
        analyze_experiment(store, d.experiment_id, frame)


def test_an_unknown_experiment_and_a_wrong_arm_are_refused(shop, tmp_path):
    store, _ = shop
    with pytest.raises(InputError, match=re.escape("No experiment 9 in :memory:. Experiments: "
                                                   "none yet.")):  # fmt: skip
        analyze_experiment(store, 9, pd.DataFrame())
    d = design_experiment(store, name="arms", mde=0.05, baseline=0.2)
    results = _outcomes(d.assignment, (0.2, 0.3), 0)
    results["arm"] = "treatment"
    path = tmp_path / "results.csv"
    results.to_csv(path, index=False)
    with pytest.raises(InputError, match=re.escape("customers have an arm other than the design")):
        analyze_experiment(store, d.experiment_id, path)
