"""Reference data (the BTYD literature's CDNOW and donations sets) and lifetimes."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def cdnow(shared_data) -> pd.DataFrame:
    """CDNOW sample, 39-week calibration: frequency, recency, T (weeks), monetary_value."""
    frame = pd.read_csv(shared_data / "cdnow_customers_summary_with_transactions.csv")
    return frame.rename(
        columns={"ID": "customer_id", "x": "frequency", "t_x": "recency", "zbar": "monetary_value"}
    )


@pytest.fixture(scope="session")
def donations(shared_data) -> pd.DataFrame:
    """Donation patterns over 6 yearly opportunities, with the number of donors (weights)."""
    return pd.read_csv(shared_data / "donations.csv").rename(columns={"periods": "n_periods"})


@pytest.fixture(scope="session")
def lifetimes() -> SimpleNamespace:
    """lifetimes' fitters, imported without its deprecation warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes
    return SimpleNamespace(
        BetaGeo=lifetimes.BetaGeoFitter,
        ModifiedBetaGeo=lifetimes.ModifiedBetaGeoFitter,
        ParetoNBD=lifetimes.ParetoNBDFitter,
        BetaGeoBetaBinom=lifetimes.BetaGeoBetaBinomFitter,
        GammaGamma=lifetimes.GammaGammaFitter,
    )
