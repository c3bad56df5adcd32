"""Profiles, names and surrogate rules on fixtures small enough to check by hand."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from valueseg.errors import InputError
from valueseg.segment import cluster_rules, name_clusters, profile_clusters
from valueseg.segment.rules import readable_threshold

# Eight customers, two clusters of four.
FRAME = pd.DataFrame(
    {
        "customer_id": list("abcdefgh"),
        "orders_total": [1, 1, 2, 1, 9, 12, 10, 11],
        "spend_total": [20.0, 30, 50, 25, 900, 1500, 1100, 1300],
        "days_since_last_order": [300.0, 280, 320, 350, 5, 12, 3, 9],
    }
)
LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 1])


def test_profile_numbers_by_hand():
    prof = profile_clusters(FRAME, LABELS)
    summary = prof.summary.loc[[0, 1]]
    assert summary["size"].tolist() == [4, 4]
    assert summary["share"].tolist() == [0.5, 0.5]
    # revenue: 125 of 4925
    assert summary["revenue_share"].tolist() == pytest.approx([125 / 4925, 4800 / 4925])
    assert prof.mean.loc[0, "spend_total"] == 31.25
    assert prof.median.loc[1, "orders_total"] == 10.5
    assert prof.lift.loc[1, "spend_total"] == pytest.approx(1200 / 615.625)
    # positions: cluster 1 holds the four largest spends -> mid-ranks 5..8 of 8, minus 1/2
    assert prof.position.loc[1, "spend_total"] == pytest.approx((4.5 + 5.5 + 6.5 + 7.5) / 4 / 8)
    assert prof.position.loc[0, "days_since_last_order"] == pytest.approx(0.75)
    assert prof.summary.loc[1, "top_features"] == [
        "orders_total high",
        "spend_total high",
        "days_since_last_order low",
    ]
    assert prof.names() == {
        0: "Lapsed low-value one-time buyers",
        1: "Active high-value frequent buyers",
    }
    assert list(prof.population.columns) == ["mean", "median", "std"]


def test_names_come_from_the_vocabulary_and_are_distinct():
    position = pd.DataFrame(
        {
            "days_since_last_order": [0.5, 0.8, 0.5, 0.5, 0.5],
            "avg_order_value": [0.5, 0.8, 0.5, 0.5, 0.5],
            "spend_total": [0.8, 0.9, 0.5, 0.5, 0.5],
            "orders_total": [0.9, 0.6, 0.4, 0.4, 0.4],
            "discount_order_share": [0.5, 0.5, 0.9, 0.9, 0.9],
            "cat_share_toys": [0.5, 0.5, 0.8, 0.5, 0.5],
            "return_rate": [0.5, 0.5, 0.5, 0.5, 0.5],
        }
    )
    median = pd.DataFrame({"orders_total": [12, 6, 2, 2, 2]})
    names = name_clusters(position, median, pd.Series([10, 9, 8, 7, 6]))
    assert names == {
        0: "High-value frequent buyers",
        1: "Lapsed big spenders",
        2: "Discount-driven customers",
        3: "Discount-driven customers (toys)",
        4: "Discount-driven customers (toys) 2",
    }
    assert len(set(names.values())) == len(names)


def test_noise_is_unclustered():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, -1])
    prof = profile_clusters(FRAME, labels)
    assert prof.names()[-1] == "Unclustered"


def test_rules_by_hand():
    result = cluster_rules(FRAME, LABELS, columns=["days_since_last_order"])
    assert result.fidelity == 1.0
    # the tree splits half way between 12 and 280 (146); 100 keeps everyone on their side
    assert result.rules == {0: "days_since_last_order > 100", 1: "days_since_last_order <= 100"}
    assert result.per_cluster["recall"].tolist() == [1.0, 1.0]
    assert result.leaves["customers"].tolist() == [4, 4]


def test_rules_read_zero_and_merge_same_cluster_leaves():
    rng = np.random.default_rng(0)
    n = 600
    spend_180d = np.where(np.arange(n) < 300, 0.0, rng.uniform(40, 400, n))
    aov = rng.uniform(10, 300, n)
    frame = pd.DataFrame({"spend_180d": spend_180d, "avg_order_value": aov})
    labels = np.where(spend_180d == 0, np.where(aov > 120, 2, 1), 0)
    result = cluster_rules(frame, labels)
    assert result.fidelity == 1.0
    assert result.rules[0] == "spend_180d > 0"
    assert result.rules[2] == "spend_180d = 0 and avg_order_value > 120"
    assert result.rules[1] == "spend_180d = 0 and avg_order_value <= 120"


def test_missing_values_follow_the_tree_and_say_so():
    frame = pd.DataFrame({"ipt_mean_days": [5.0, 7, 6, 8, np.nan, np.nan, 90, 80, 100, 95]})
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    result = cluster_rules(frame, labels)
    assert result.fidelity == 1.0
    assert result.rules[1] == "(ipt_mean_days > 40 or missing)"
    assert result.rules[0] == "ipt_mean_days <= 40"


def test_fidelity_counts_what_the_rounded_rules_do():
    x = np.linspace(0, 1000, 2001)
    frame = pd.DataFrame({"value": x + 0.123})
    labels = (x > 500).astype(int)
    result = cluster_rules(frame, labels)
    assert result.rules == {0: "value <= 500", 1: "value > 500"}
    assert result.fidelity == np.mean(result.assigned == labels)
    assert result.fidelity > 0.999


def test_readable_thresholds():
    values = np.concatenate([np.zeros(50), np.linspace(1, 400, 950)])
    assert readable_threshold(0.5, values) == 0.0
    # 200 and 180 would each move more than 0.5 % of the 1000 values; 183 moves 3
    assert readable_threshold(183.37, values) == 183.0
    assert readable_threshold(183.37, np.round(values)) == 183.0
    assert readable_threshold(150.4, np.array([100.0, 120, 180, 190])) == 200.0 - 50
    assert readable_threshold(3.5, np.arange(10.0)) == 3.0


def test_label_length_checked():
    msg = "profile_clusters got 3 labels for 8 customers; pass one label per row."
    with pytest.raises(InputError, match=re.escape(msg)):
        profile_clusters(FRAME, [0, 1, 0])
    msg = "cluster_rules got 3 labels for 8 customers; pass one label per row."
    with pytest.raises(InputError, match=re.escape(msg)):
        cluster_rules(FRAME, [0, 1, 0])


def test_the_tree_has_two_leaves_per_cluster_grown_best_first():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.normal(size=3_000), "b": rng.normal(size=3_000)})
    # cluster 0 is a band of "a"; on either side of it "b" splits clusters 1 and 2
    a, b = frame["a"].to_numpy(), frame["b"].to_numpy()
    labels = np.where(np.abs(a) < 0.5, 0, np.where(b > 0, 1, 2))
    result = cluster_rules(frame, labels)
    assert result.tree.get_n_leaves() <= 6
    assert result.fidelity > 0.99
    assert "-0.5 < a <= 0.5" in result.rules[0]
    assert cluster_rules(frame, labels, max_leaves=3).tree.get_n_leaves() == 3
