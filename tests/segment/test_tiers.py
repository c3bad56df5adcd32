"""Value tiers: cut points, ties, missing values, which value column."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from valueseg.errors import InputError
from valueseg.segment import value_tiers


def _frame(values, column="spend_total"):
    return pd.DataFrame({"customer_id": [f"c{i}" for i in range(len(values))], column: values})


def test_default_cuts_on_two_hundred_customers():
    out = value_tiers(_frame(np.arange(200, 0, -1.0)))
    counts = out["value_tier"].value_counts(sort=False)
    assert counts.to_dict() == {"Top 1%": 2, "Top 5%": 8, "Top 20%": 30, "Rest": 160}
    assert out["value_tier"].iloc[:3].tolist() == ["Top 1%", "Top 1%", "Top 5%"]
    assert out["value_tier"].cat.ordered


def test_ties_share_a_tier_and_missing_values_rank_last():
    # 10 customers, top 10 %: fewer than 1 customer above -> the two tied at 50 both
    out = value_tiers(_frame([50, 50, 40, None, 30, 20, 10, 5, 1, 0]), cuts=[0.1, 0.5])
    assert (
        out["value_tier"].tolist()
        == ["Top 10%", "Top 10%", "Top 50%", "Rest", "Top 50%"] + ["Top 50%"] + ["Rest"] * 4
    )
    assert np.isnan(out["value"].iloc[3])


def test_predicted_clv_wins_over_spend_when_present():
    frame = _frame([1.0, 2.0, 3.0]).assign(predicted_clv_365d=[30.0, 20.0, 10.0])
    out = value_tiers(frame, cuts=[0.33, 0.34])  # fewer than 0.99 / 1.02 customers above
    assert out["value"].tolist() == [30.0, 20.0, 10.0]
    assert out["value_tier"].tolist() == ["Top 33%", "Top 34%", "Rest"]
    empty_clv = frame.assign(predicted_clv_365d=np.nan)
    assert value_tiers(empty_clv, cuts=[0.34])["value"].tolist() == [1.0, 2.0, 3.0]


def test_custom_labels():
    out = value_tiers(_frame([3, 2, 1]), cuts=[0.3], labels=["Gold", "Other"])
    assert out["value_tier"].tolist() == ["Gold", "Other", "Other"]


@pytest.mark.parametrize("cuts", [[], [0.2, 0.1], [0.0, 0.5], [1.0], [0.1, 0.1], ["a"]])
def test_bad_cuts(cuts):
    msg = (
        "The 'cuts' parameter of value_tiers must be increasing shares between 0 and 1, "
        f"such as (0.01, 0.05, 0.2). Got {cuts!r}."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        value_tiers(_frame([1.0]), cuts=cuts)


def test_bad_labels_and_missing_value_column():
    msg = (
        "The 'labels' parameter of value_tiers needs 3 distinct labels (one per cut and one "
        "for the rest). Got ['a', 'b']."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        value_tiers(_frame([1.0]), cuts=[0.1, 0.2], labels=["a", "b"])
    msg = (
        "No value column to rank customers by: expected predicted_clv_365d (from the value "
        "models) or spend_total (from the feature table). Pass column=NAME."
    )
    with pytest.raises(InputError, match=re.escape(msg)):
        value_tiers(_frame([1.0], column="x"))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=1, max_size=80))
def test_tier_invariants(values):
    out = value_tiers(_frame([float(v) for v in values]))
    n = len(values)
    code = out["value_tier"].cat.codes.to_numpy()
    value = out["value"].to_numpy()
    # equal values, equal tier; a higher value never gets a worse tier
    order = np.argsort(-value, kind="stable")
    assert np.all(np.diff(code[order]) >= 0)
    for v in set(values):
        assert len(set(code[value == v])) == 1
    # top p holds every customer with fewer than p*n above them, and no one else
    for i, cut in enumerate([0.01, 0.05, 0.20]):
        above = (value[None, :] > value[:, None]).sum(axis=1)
        assert set(np.flatnonzero(code <= i)) == set(np.flatnonzero(above < cut * n))
