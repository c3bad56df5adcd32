"""Profiles, names and short rules on fixtures small enough to check by hand."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from valueseg.errors import InputError
from valueseg.segment import cluster_rules, name_clusters, profile_clusters
from valueseg.segment._words import Kind, describe
from valueseg.segment.rules import Condition, _nicer

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
    assert list(prof.population.columns) == ["mean", "median", "std"]


def test_every_word_of_a_name_is_backed_by_the_members():
    prof = profile_clusters(FRAME, LABELS)
    assert prof.names() == {
        0: "Lapsed low-value one-time buyers",
        1: "Active high-value frequent buyers",
    }
    assert prof.words == {
        0: ["Lapsed", "Low-value", "one-time buyers"],
        1: ["Active", "High-value", "frequent buyers"],
    }
    # by hand: 3 of 4 have one order; all four last ordered more than 146 days ago (the
    # median of the eight); 20, 30, 25 are in the bottom third (below 36.67)
    assert prof.evidence[0] == [
        "Lapsed: 100% of members, last order longer ago than the shop's median (146 days)",
        "Low-value: 75% of members, spend in the shop's bottom third (below 36.67)",
        "one-time buyers: 75% of members, one order",
    ]
    assert prof.evidence[1][2] == (
        "frequent buyers: 75% of members, more orders than two thirds of the shop (9.667), "
        "and at least 3"
    )


def test_a_word_most_members_do_not_bear_out_is_left_out():
    # cluster 0: two of four have one order (not most); spend and recency are the same
    # for both clusters, so nothing else sets either apart
    frame = FRAME.assign(
        orders_total=[1, 1, 2, 3, 9, 12, 10, 11],
        spend_total=[20.0, 900, 30, 1500, 25, 1100, 50, 1300],
        days_since_last_order=[300.0, 5, 280, 12, 320, 3, 350, 9],
    )
    prof = profile_clusters(frame, LABELS)
    assert "one-time" not in prof.names()[0]
    assert prof.backing.loc[0, "once:one-time buyers:orders_total"] == 0.5
    assert prof.names()[0] == "Occasional buyers"


def test_a_taken_name_gets_words_that_say_how_the_cluster_differs():
    position = pd.DataFrame(
        {
            "days_since_last_order": [0.5, 0.8, 0.5, 0.5, 0.5],
            "avg_order_value": [0.5, 0.8, 0.5, 0.6, 0.7],
            "spend_total": [0.8, 0.9, 0.5, 0.5, 0.5],
            "orders_total": [0.9, 0.6, 0.4, 0.4, 0.4],
            "discount_order_share": [0.5, 0.5, 0.9, 0.9, 0.9],
            "cat_share_toys": [0.5, 0.5, 0.8, 0.5, 0.3],
            "return_rate": [0.5, 0.5, 0.5, 0.5, 0.5],
        }
    )
    backing = pd.DataFrame(
        {
            "value:High-value:spend_total": [0.9, 0.9, 0.1, 0.1, 0.1],
            "noun:frequent buyers:orders_total": [0.8, 0.2, 0.1, 0.1, 0.1],
            "status:Lapsed:days_since_last_order": [0.4, 0.9, 0.5, 0.5, 0.5],
            "noun:big spenders:avg_order_value": [0.3, 0.8, 0.3, 0.3, 0.3],
            "habit:Discount-driven:discount_order_share": [0.1, 0.1, 0.9, 0.8, 0.9],
        }
    )
    names = name_clusters(position, backing, pd.Series([10, 9, 8, 7, 6]))
    assert names == {
        0: "High-value frequent buyers",
        1: "Lapsed big spenders",
        2: "Discount-driven customers",
        3: "Discount-driven customers buying less in toys",
        4: "Discount-driven customers buying less in toys with bigger baskets",
    }
    assert len(set(names.values())) == len(names)
    assert not any(re.search(r"\(|\d", name) for name in names.values())


def test_noise_is_unclustered():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, -1])
    prof = profile_clusters(FRAME, labels)
    assert prof.names()[-1] == "Unclustered"


# ---- rules


def test_rules_by_hand():
    result = cluster_rules(FRAME, LABELS, columns=["days_since_last_order"])
    assert result.fidelity == 1.0
    # any threshold in the gap from 12 to 280 separates them; the middle of the
    # candidates there (151) reads 200, which keeps everyone on their side
    assert result.text(0) == "last order more than 200 days ago"
    assert result.text(1) == "last order at most 200 days ago"
    assert result.rules[0][0].conditions == (Condition("days_since_last_order", 200.0, None),)
    assert result.per_cluster["recall"].tolist() == [1.0, 1.0]
    assert result.per_cluster["precision"].tolist() == [1.0, 1.0]


def test_counts_read_at_the_edge_of_the_data():
    result = cluster_rules(FRAME, LABELS, columns=["orders_total"])
    assert (result.text(0), result.text(1)) == ("at most 2 orders", "more than 2 orders")


def test_precision_and_recall_of_imperfect_rules():
    # customer 4 (5 days) is in cluster 1, customer 8 (310 days) in cluster 0
    frame = pd.DataFrame({"days_since_last_order": [300.0, 280, 320, 350, 5, 12, 3, 9, 310, 8]})
    labels = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
    result = cluster_rules(frame, labels, max_rules=1)
    assert result.text(1) == "last order more than 200 days ago"
    # the rule describes 300, 280, 320, 350, 310: four of them in cluster 1, of its five
    assert result.per_cluster.loc[1, ["precision", "recall"]].tolist() == [0.8, 0.8]
    assert result.rules[1][0].customers == 5
    assert result.fidelity == 0.8
    np.testing.assert_array_equal(result.assigned, [1, 1, 1, 1, 0, 0, 0, 0, 1, 0])


def test_undefined_values_read_as_one_order_never_as_missing():
    """One-order customers have no time between orders: their cluster's rule says "one
    order only", and no condition on the time between orders describes them."""
    frame = pd.DataFrame(
        {
            "orders_total": [1, 1, 1, 1, 5, 6, 7, 8, 6, 7, 5, 8],
            "ipt_mean_days": [np.nan] * 4 + [10, 12, 15, 20, 120, 150, 200, 130],
        }
    )
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1])
    result = cluster_rules(frame, labels)
    assert result.fidelity == 1.0
    assert result.text(1) == "one order only\nor orders more than 70 days apart on average"
    assert result.text(0) == "orders at most 70 days apart on average"
    ipt = result.rules[0][0].conditions[0]
    assert not ipt.holds(np.array([np.nan])).any()


def test_a_condition_does_not_stand_in_for_has_a_value():
    """Three-order customers have a spread of gaps; a condition that keeps nearly all of
    them (``> 0``) would only say "three orders or more"; it is not used."""
    rng = np.random.default_rng(0)
    orders = rng.integers(1, 8, 600)
    spread = np.where(orders >= 3, rng.uniform(1, 50, 600), np.nan)
    frame = pd.DataFrame({"orders_total": orders, "ipt_std_days": spread})
    result = cluster_rules(frame, (orders >= 3).astype(int))
    assert result.text(1) == "more than 2 orders"
    assert result.fidelity == 1.0


def test_thresholds_are_round_while_the_rules_hold():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(0, 140, 500), rng.uniform(160, 300, 500)])
    result = cluster_rules(pd.DataFrame({"days_since_last_order": x}), (x > 150).astype(int))
    assert result.text(1) == "last order more than 150 days ago"
    spend = np.linspace(0, 1000, 2001) + 0.123
    result = cluster_rules(pd.DataFrame({"spend_total": spend}), (spend > 500).astype(int))
    assert result.text(1) == "spent more than 500 in total"
    assert result.fidelity == np.mean(result.assigned == (spend > 500))
    assert result.fidelity > 0.999
    assert _nicer(155.0, Kind()) == [200.0, 150.0, 160.0]
    assert _nicer(0.32, Kind(share=True)) == [0.3]
    assert _nicer(37.0, Kind(count=True)) == [40.0, 35.0]


def test_two_conditions_on_one_column_are_one_range():
    rng = np.random.default_rng(3)
    days = rng.uniform(0, 400, 3_000)
    labels = np.where(days <= 100, 0, np.where(days <= 200, 1, 2))
    result = cluster_rules(pd.DataFrame({"days_since_last_order": days}), labels)
    assert result.text(1) == "last order more than 100 and at most 200 days ago"
    assert len(result.rules[1][0].conditions) == 1
    assert result.fidelity > 0.99


NONNEG, COUNT, SHARE = Kind(nonneg=True), Kind(count=True), Kind(share=True)
COUNT0, SHARE0 = Kind(count=True, nonneg=True), Kind(share=True, nonneg=True)


@pytest.mark.parametrize(
    ("column", "lo", "hi", "kind", "text"),
    [
        ("days_since_last_order", 150.0, None, NONNEG, "last order more than 150 days ago"),
        ("tenure_days", None, 90.0, NONNEG, "first order at most 90 days ago"),
        ("orders_total", None, 1.0, COUNT, "one order only"),
        ("orders_total", 1.0, None, COUNT, "more than one order"),
        ("orders_total", 2.0, 3.0, COUNT, "3 orders"),
        ("orders_total", 2.0, 5.0, COUNT, "3 to 5 orders"),
        ("spend_total", 600.0, None, NONNEG, "spent more than 600 in total"),
        ("spend_180d", None, 0.0, NONNEG, "nothing spent in the last 180 days"),
        ("orders_90d", 0.0, None, COUNT0, "ordered in the last 90 days"),
        ("avg_order_value", 2200.0, None, Kind(), "average order more than 2,200"),
        ("discount_order_share", 0.3, None, SHARE, "more than 30 % of orders discounted"),
        ("return_rate", None, 0.0, SHARE0, "nothing returned"),
        ("cat_share_home_garden", 0.0, None, SHARE0, "bought in home garden"),
        ("channel_share_app", 0.5, None, SHARE, "more than 50 % of orders via app"),
        ("view_to_purchase_rate", None, 0.25, SHARE, "view-to-purchase rate at most 25 %"),
        ("loyalty_points", None, 300.0, Kind(), "loyalty points at most 300"),
    ],
)  # fmt: skip
def test_conditions_in_words(column, lo, hi, kind, text):
    assert describe(column, lo, hi, kind) == text


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(2, 6))
def test_rules_are_short_and_never_say_missing_or_inf(seed, k):
    rng = np.random.default_rng(seed)
    n = 400
    orders = rng.geometric(0.4, n)
    frame = pd.DataFrame(
        {
            "orders_total": orders,
            "spend_total": orders * rng.gamma(2, 30, n),
            "days_since_last_order": rng.uniform(0, 400, n).round(),
            "ipt_mean_days": np.where(orders > 1, rng.uniform(1, 200, n), np.nan),
            "discount_order_share": rng.uniform(0, 1, n),
        }
    )
    labels = rng.integers(0, k, n)
    result = cluster_rules(frame, labels)
    rules, conditions = result.longest()
    assert rules <= 2 and conditions <= 3
    assert result.fidelity == np.mean(result.assigned == labels)
    text = " ".join(result.text(c) for c in range(k))
    assert not re.search(r"inf|missing|nan", text)
    for cluster, own in result.rules.items():
        for rule in own:
            held = rule.holds(frame)
            assert rule.customers == held.sum()
            assert rule.precision == pytest.approx((labels[held] == cluster).mean())


def test_label_length_checked():
    msg = "profile_clusters got 3 labels for 8 customers; pass one label per row."
    with pytest.raises(InputError, match=re.escape(msg)):
        profile_clusters(FRAME, [0, 1, 0])
    msg = "cluster_rules got 3 labels for 8 customers; pass one label per row."
    with pytest.raises(InputError, match=re.escape(msg)):
        cluster_rules(FRAME, [0, 1, 0])
