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
