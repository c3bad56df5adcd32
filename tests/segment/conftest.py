"""A synthetic shop's feature table with its planted segments, built once per session."""

from __future__ import annotations

from functools import cache

import pandas as pd
import pytest

from valueseg.features.compute import compute_features
from valueseg.io import ingest
from valueseg.pipeline import default_as_of
from valueseg.store import Store


@cache
def shop_features(n_customers: int, seed: int) -> pd.DataFrame:
    """The feature table of ``make_shop(n_customers, random_state=seed)``, taken through
    the same path as a user's export (ingest, then the feature expressions), with the
    planted segment of each customer in column ``planted`` (for tests only)."""
    from valueseg.synth import make_shop

    shop = make_shop(n_customers, random_state=seed)
    with Store(":memory:") as store:
        for kind in ("transactions", "events", "customers"):
            ingest(getattr(shop, kind), kind=kind, db=store)
        features = compute_features(store, default_as_of(store)).to_pandas()
    truth = shop.truth.set_index("customer_id")["segment"]
    features["planted"] = features["customer_id"].map(truth).to_numpy()
    assert features["planted"].notna().all()
    return features


@pytest.fixture(scope="session")
def features_of():
    """``features_of(n_customers, seed)``: a shop's features, cached for the session."""
    return shop_features


@pytest.fixture(scope="session")
def shop50k() -> pd.DataFrame:
    """make_shop(50_000, random_state=0): features and planted segments."""
    return shop_features(50_000, 0)


#: A word of a cluster's name -> whether a customer bears it out, checked here on the
#: feature table itself (not through the profile code that chose the word).
_CLAIMS = {
    "one-time": lambda f: f["orders_total"] <= 1,
    "Lapsed": lambda f: f["days_since_last_order"] > f["days_since_last_order"].median(),
    "Active": lambda f: f["days_since_last_order"] <= f["days_since_last_order"].median(),
    "New": lambda f: f["tenure_days"] <= f["tenure_days"].median(),
    "High-value": lambda f: f["spend_total"] > f["spend_total"].quantile(2 / 3),
    "Low-value": lambda f: f["spend_total"] <= f["spend_total"].quantile(1 / 3),
    "big spenders": lambda f: f["avg_order_value"] > f["avg_order_value"].quantile(2 / 3),
    "frequent": lambda f: f["orders_total"] > max(f["orders_total"].quantile(2 / 3), 2),
    "occasional": lambda f: f["orders_total"] <= f["orders_total"].median(),
    "Discount-driven": lambda f: f["discount_order_share"] >= 0.5,
    "Return-prone": lambda f: f["return_rate"] > max(f["return_rate"].quantile(2 / 3), 0),
    "browsers": lambda f: (
        (f["view_to_purchase_rate"] <= f["view_to_purchase_rate"].quantile(1 / 3))
        | (f["cart_abandonment_rate"] > max(f["cart_abandonment_rate"].quantile(2 / 3), 0))
    ),
}


def assert_readable_segments(features, labels, names, rules):
    """The issue's bar for clusters a marketer can use: 3 to 8 of them, at most 2 rules of
    at most 3 conditions each, in words, placing at least 80 % of customers right, and
    distinct names every word of which most members bear out."""
    import re

    import numpy as np

    clusters = sorted(set(np.asarray(labels).tolist()))
    assert 3 <= len(clusters) <= 8, clusters
    most_rules, most_conditions = rules.longest()
    assert most_rules <= 2 and most_conditions <= 3
    assert rules.fidelity >= 0.8, rules.fidelity
    for cluster in clusters:
        text = rules.text(cluster)
        assert text and not re.search(r"\binf\b|missing|\bnan\b|_", text), text
        assert len(text.splitlines()) <= 2
    assert len(set(names.values())) == len(names) == len(clusters)
    for cluster, name in names.items():
        assert not re.search(r"[()\d]", name), name
        members = np.asarray(labels) == cluster
        for word, claim in _CLAIMS.items():
            if word.lower() in name.lower():
                share = float(claim(features)[members].mean())
                assert share > 0.5, (name, word, share)


@pytest.fixture(scope="session")
def readable():
    """``readable(features, labels, names, rules)``: :func:`assert_readable_segments`."""
    return assert_readable_segments
