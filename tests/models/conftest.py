"""Reference data (the BTYD literature's CDNOW and donations sets) and lifetimes."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import pandas as pd
import pytest

from valueseg.datasets import load_cdnow_summary, load_donations


@pytest.fixture(scope="session")
def cdnow() -> pd.DataFrame:
    """CDNOW sample, 39-week calibration: frequency, recency, T (weeks), monetary_value."""
    return load_cdnow_summary()


@pytest.fixture(scope="session")
def donations() -> pd.DataFrame:
    """Donation patterns over 6 yearly opportunities, with the number of donors (weights)."""
    return load_donations()


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
