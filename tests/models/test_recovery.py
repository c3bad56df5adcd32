"""Simulate from known parameters, refit: the parameters come back (200k customers, within 5 %).

The populations are chosen so that 5 % is at least 3.5 standard errors of every parameter,
so the tests hold for any seed, not for one lucky seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from valueseg.models import BetaGeo, BetaGeoBetaBinom, GammaGamma, ModifiedBetaGeo, ParetoNBD

N = 200_000


def ages(rng: np.random.Generator, low: int, high: int) -> np.ndarray:
    """Customer ages in whole days, as a summary with daily periods has them."""
    return rng.integers(low, high + 1, N).astype(np.float64)


def assert_recovered(model, truth: dict[str, float]) -> None:
    assert model.converged_
    for name, value in truth.items():
        assert model.params_[name] == pytest.approx(value, rel=0.05), name
        # the truth lies within 4 standard errors: the errors are honest too
        assert abs(model.params_[name] - value) < 4 * model.standard_errors_[name], name


@pytest.mark.slow
@pytest.mark.parametrize("model", [BetaGeo, ModifiedBetaGeo], ids=lambda m: m.__name__)
def test_beta_geo_recovers_its_parameters(model):
    truth = {"r": 0.8, "alpha": 40.0, "a": 0.8, "b": 2.5}
    rng = np.random.default_rng(20240)
    summary = model.from_params(**truth).simulate(N, T=ages(rng, 180, 730), random_state=rng)
    assert_recovered(model().fit(summary), truth)


@pytest.mark.slow
def test_pareto_nbd_recovers_its_parameters():
    truth = {"r": 2.0, "alpha": 40.0, "s": 2.0, "beta": 200.0}
    rng = np.random.default_rng(20241)
    summary = ParetoNBD.from_params(**truth).simulate(N, T=ages(rng, 365, 1095), random_state=rng)
    assert_recovered(ParetoNBD().fit(summary), truth)


def test_bg_bb_recovers_its_parameters():
    truth = {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8}
    summary = BetaGeoBetaBinom.from_params(**truth).simulate(N, n_periods=12, random_state=5)
    assert_recovered(BetaGeoBetaBinom().fit(summary), truth)


def test_gamma_gamma_recovers_its_parameters():
    p, q, v = 6.0, 3.5, 15.0
    rng = np.random.default_rng(6)
    x = rng.integers(1, 15, N)
    nu = rng.gamma(q, 1 / v, N)
    mean_spend = rng.gamma(p * x, 1 / (nu * x))  # the mean of x purchases of Gamma(p, nu)
    fitted = GammaGamma().fit(pd.DataFrame({"frequency": x, "monetary_value": mean_spend}))
    assert_recovered(fitted, {"p": p, "q": q, "v": v})


@pytest.mark.slow
def test_on_the_synthetic_shop_p_alive_and_expected_purchases_track_the_truth():
    from sklearn.metrics import roc_auc_score

    from valueseg.features import rfm_summary
    from valueseg.synth import make_shop

    shop = make_shop(20_000, random_state=11)
    orders = shop.transactions[shop.transactions["amount"] > 0]  # returns are not purchases
    end = pd.Timestamp(shop.params["as_of"]) - pd.Timedelta(seconds=1)
    summary = rfm_summary(orders, observation_end=end, freq="D")
    truth = shop.truth.set_index("customer_id").loc[summary["customer_id"]]
    model = BetaGeo().fit(summary)
    x, tx, age = summary["frequency"], summary["recency"], summary["T"]
    auc = roc_auc_score(truth["alive_at_end"], model.probability_alive(x, tx, age))
    future = model.expected_purchases(180.0, x, tx, age)
    corr = np.corrcoef(future, truth["future_purchases_180d"])[0, 1]
    assert auc >= 0.80
    assert corr >= 0.6
    assert future.sum() == pytest.approx(truth["future_purchases_180d"].sum(), rel=0.1)
