"""Shops for the predict tests: synthetic (truth known) and hand-made, loaded into stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from valueseg.features.compute import compute_features
from valueseg.io import ingest
from valueseg.models.choice import ValueModels
from valueseg.predict import PredictResult, predict_stage
from valueseg.store import Store
from valueseg.synth import Shop, make_shop

AS_OF = datetime(2025, 1, 1)  # make_shop's default end is 2024-12-31
NOW = datetime(2025, 1, 2)


def load(store: Store, shop: Shop, *, events: bool = False) -> Store:
    """``shop``'s order lines (and events and customers) ingested into ``store``."""
    ingest(shop.transactions, db=store, now=NOW)
    if events:
        ingest(shop.events, kind="events", db=store, now=NOW)
        ingest(shop.customers, kind="customers", db=store, now=NOW)
    return store


def value_models_at(store: Store, as_of: datetime, features: pd.DataFrame) -> ValueModels:
    """The run's value stage, as ``valueseg run`` calls it."""
    from valueseg.pipeline import _value_models

    return _value_models(store, as_of, features, "D")


def stage(store: Store, as_of: datetime = AS_OF, **kwargs: object) -> PredictResult:
    """Features and value models at ``as_of``, then the predict stage."""
    features = compute_features(store, as_of).to_pandas()
    values = value_models_at(store, as_of, features)
    return predict_stage(store, as_of, features, values, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def run_stage():
    """The stage function above, for the tests (conftest helpers are not importable)."""
    return stage


@pytest.fixture(scope="session")
def load_shop():
    """The loader above."""
    return load


@pytest.fixture(scope="package")
def small_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Shop, Store]]:
    """2,000 customers over two years, order lines only."""
    shop = make_shop(2_000, random_state=5)
    with Store(Path(tmp_path_factory.mktemp("small")) / "shop.duckdb") as store:
        yield shop, load(store, shop)


@pytest.fixture(scope="package")
def small_run(small_shop: tuple[Shop, Store]) -> PredictResult:
    """The stage on the small shop with two quick learners."""
    return stage(small_shop[1], learners=("lr", "tree"))
